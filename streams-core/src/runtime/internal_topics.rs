//! Start-up: the partition count of every topic a topology touches, and the creation of its
//! internal topics (repartition and changelog topics) with Kafka Streams' settings.
//!
//! Partition counts follow Kafka Streams:
//! - a user source topic has the partitions it has on the cluster (it must exist);
//! - a repartition topic gets the largest partition count among the source topics of the
//!   sub-topology that writes to it;
//! - a changelog topic gets the partition count of its store's sub-topology (one partition per
//!   task).
//!
//! An internal topic that already exists is verified: a different partition count is a start-up
//! error that names the topic, the count found and the count required.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use tracing::info;

use crate::config::StreamsConfig;
use crate::error::{Error, Result};
use crate::runtime::client_config::admin_config;
use crate::topology::{NodeKind, SubTopology, TopicPurpose, Topology};

const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// What start-up learned about a topology's topics.
#[derive(Debug, Clone)]
pub(crate) struct TopicLayout {
    /// Per sub-topology, its resolved source topics.
    pub(crate) sources: Vec<Vec<String>>,
    /// Per sub-topology, how many tasks it has (its partition count).
    pub(crate) task_counts: Vec<i32>,
}

impl TopicLayout {
    /// The sub-topology reading `topic`, if any.
    pub(crate) fn subtopology_of(&self, topic: &str) -> Option<usize> {
        self.sources.iter().position(|topics| topics.iter().any(|t| t == topic))
    }
}

/// The partition count of `topic` on the cluster, `None` when it does not exist.
pub(crate) fn partitions_of(consumer: &BaseConsumer, topic: &str) -> Result<Option<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| Error::kafka(format!("fetching metadata of topic {topic}"), e))?;
    Ok(metadata
        .topics()
        .first()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32))
}

/// Works out every topic's partition count, checks co-partitioning, and creates the missing
/// internal topics (verifying the existing ones).
pub(crate) fn prepare(
    topology: &Topology,
    subtopologies: &[SubTopology],
    config: &StreamsConfig,
) -> Result<TopicLayout> {
    let app = config.application_id();
    let consumer: BaseConsumer = admin_config(config)
        .create()
        .map_err(|e| Error::kafka("creating a metadata client", e))?;

    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    for sub in subtopologies {
        let mut read = Vec::new();
        let mut written = Vec::new();
        for &n in &sub.nodes {
            let node = topology.node(n);
            match &node.kind {
                NodeKind::Source { topics } => read.extend(topics.iter().map(|t| (t.resolve(app), t.internal))),
                NodeKind::Sink { topic: Some(topic) } if topic.internal => written.push(topic.resolve(app)),
                _ => {}
            }
        }
        sources.push(read);
        sinks.push(written);
    }

    let mut partitions: HashMap<String, i32> = HashMap::new();
    for (topic, internal) in sources.iter().flatten() {
        if *internal {
            continue;
        }
        let count = partitions_of(&consumer, topic)?.ok_or_else(|| {
            Error::Config(format!(
                "source topic {topic} does not exist on {} (create it before starting the application)",
                config.bootstrap_servers()
            ))
        })?;
        partitions.insert(topic.clone(), count);
    }
    // Repartition topics: the largest source count of the writing sub-topology; iterate until every
    // one is known (a chain of repartitions resolves one link per pass).
    for _ in 0..=subtopologies.len() {
        for (index, written) in sinks.iter().enumerate() {
            let counts: Option<Vec<i32>> = sources[index].iter().map(|(t, _)| partitions.get(t).copied()).collect();
            if let Some(max) = counts.and_then(|c| c.into_iter().max()) {
                for topic in written {
                    partitions.entry(topic.clone()).or_insert(max);
                }
            }
        }
    }
    let mut task_counts = Vec::new();
    for (index, read) in sources.iter().enumerate() {
        let counts: Vec<i32> = read
            .iter()
            .map(|(t, _)| {
                partitions.get(t).copied().ok_or_else(|| {
                    Error::Topology(format!("cannot tell how many partitions repartition topic {t} needs"))
                })
            })
            .collect::<Result<_>>()?;
        let count = counts.iter().copied().max().unwrap_or(0);
        if counts.iter().any(|&c| c != count) {
            let listed: Vec<String> = read
                .iter()
                .map(|(t, _)| format!("{t} ({} partitions)", partitions[t]))
                .collect();
            return Err(Error::Config(format!(
                "the topics read by one sub-topology ({index}) must have the same number of partitions: {}",
                listed.join(", ")
            )));
        }
        task_counts.push(count);
    }
    topology.check_copartitioning(app, |topic| partitions.get(topic).copied())?;

    let changelog_partitions: HashMap<String, i32> = subtopologies
        .iter()
        .enumerate()
        .flat_map(|(index, sub)| {
            let count = task_counts[index];
            sub.nodes
                .iter()
                .flat_map(move |&n| topology.node(n).stores.clone().into_iter().map(move |s| (s, count)))
        })
        .collect();
    let mut wanted = Vec::new();
    for topic in topology.internal_topics(app) {
        let count = match &topic.purpose {
            TopicPurpose::Repartition => partitions.get(&topic.name).copied(),
            TopicPurpose::Changelog { store } => changelog_partitions.get(store).copied(),
        }
        .ok_or_else(|| Error::Topology(format!("cannot tell how many partitions {} needs", topic.name)))?;
        partitions.insert(topic.name.clone(), count);
        wanted.push((topic.name, count, topic.config));
    }
    // Where a failing instance asks the others to shut down (see `shutdown_signal`).
    wanted.push((
        super::shutdown_signal::topic(app),
        1,
        BTreeMap::from([
            ("cleanup.policy".to_string(), "delete".to_string()),
            ("retention.ms".to_string(), "3600000".to_string()),
        ]),
    ));
    if super::error_handling::ErrorPolicy::of(config).uses_dead_letter_topic() || topology.requires_dead_letter_topic()
    {
        let dlq = config.dead_letter_topic();
        if sources.iter().flatten().any(|(topic, _)| *topic == dlq) {
            return Err(Error::Config(format!(
                "the dead-letter topic {dlq} is also a source of the application: failed records would be read again"
            )));
        }
        // A user's topic: any existing one is used as it is; a missing one is created.
        if partitions_of(&consumer, &dlq)?.is_none() {
            let count = task_counts.iter().copied().max().unwrap_or(1).max(1);
            wanted.push((dlq, count, BTreeMap::new()));
        }
    }
    create_or_verify(&consumer, config, &wanted)?;
    Ok(TopicLayout {
        sources: sources
            .into_iter()
            .map(|read| read.into_iter().map(|(t, _)| t).collect())
            .collect(),
        task_counts,
    })
}

fn create_or_verify(
    consumer: &BaseConsumer,
    config: &StreamsConfig,
    wanted: &[(String, i32, BTreeMap<String, String>)],
) -> Result<()> {
    let mut missing = Vec::new();
    for (name, count, settings) in wanted {
        match partitions_of(consumer, name)? {
            Some(found) if found == *count => {}
            Some(found) => {
                return Err(Error::Config(format!(
                    "internal topic {name} has {found} partitions, but the application needs {count} \
                     (delete it, or reset the application, to let it be recreated)"
                )));
            }
            None => missing.push((name, *count, settings)),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = admin_config(config)
        .create()
        .map_err(|e| Error::kafka("creating the admin client", e))?;
    let topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|(name, count, settings)| {
            settings.iter().fold(
                NewTopic::new(name, *count, TopicReplication::Fixed(-1)),
                |topic, (k, v)| topic.set(k, v),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    let results =
        block_on(admin.create_topics(&topics, &options)).map_err(|e| Error::kafka("creating internal topics", e))?;
    for result in results {
        match result {
            Ok(name) => info!(topic = %name, "created internal topic"),
            // Another instance created it at the same moment: verified below.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::Config(format!("could not create internal topic {name}: {code}")));
            }
        }
    }
    // Wait until the new topics are visible with their partitions.
    let deadline = std::time::Instant::now() + METADATA_TIMEOUT;
    for (name, count, _) in &missing {
        loop {
            match partitions_of(consumer, name)? {
                Some(found) if found == *count => break,
                Some(found) => {
                    return Err(Error::Config(format!(
                        "internal topic {name} has {found} partitions, but the application needs {count}"
                    )));
                }
                None if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => {
                    return Err(Error::Config(format!(
                        "internal topic {name} did not appear after creation"
                    )));
                }
            }
        }
    }
    Ok(())
}
