//! Tests against a real Kafka broker.
//!
//! A test finds the broker through one environment variable, [`BOOTSTRAP_ENV`]
//! (`STREAMS_BOOTSTRAP_SERVERS`), which `scripts/test` sets after starting `scripts/kafka-local`:
//!
//! - variable set: the broker must answer, or the test **fails** with a message saying so;
//! - variable unset and `CI` set: the test **fails** (CI must never skip the broker's tests);
//! - variable unset locally: the test is skipped with one printed line saying how to run it.
//!
//! Each test creates its own uniquely named topics, deleted when dropped, so tests run in parallel
//! against one broker without seeing each other's records.
//!
//! ```no_run
//! use streams_core::testing::kafka::TestKafka;
//!
//! #[test]
//! fn copies_records() {
//!     let Some(kafka) = TestKafka::from_env() else { return };
//!     let input = kafka.create_topic("input", 4);
//!     kafka.produce(&input, [(Some(b"k".to_vec()), Some(b"v".to_vec()))]);
//!     let records = kafka.read(&input, 1, std::time::Duration::from_secs(10));
//!     assert_eq!(records[0].record.value.as_deref(), Some(&b"v"[..]));
//! }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::runtime::{RawRecord, send};

/// The environment variable that names the test broker, e.g. `127.0.0.1:9092`.
pub const BOOTSTRAP_ENV: &str = "STREAMS_BOOTSTRAP_SERVERS";

/// How long a test waits for the broker's answers.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A live test broker, found through [`BOOTSTRAP_ENV`].
pub struct TestKafka {
    bootstrap_servers: String,
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl std::fmt::Debug for TestKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKafka")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .finish()
    }
}

/// A topic created for one test; deleted when dropped.
#[derive(Debug)]
pub struct TestTopic {
    name: String,
    partitions: i32,
    admin: Arc<AdminClient<DefaultClientContext>>,
}

/// A record read back from a topic, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The record: key, value, timestamp, headers.
    pub record: RawRecord,
}

impl TestKafka {
    /// The test broker, or `None` when the test should be skipped (see the module docs).
    ///
    /// # Panics
    /// When the variable is set but the broker does not answer a metadata request within 30 s,
    /// and when the variable is unset while `CI` is set.
    pub fn from_env() -> Option<TestKafka> {
        let test = std::thread::current().name().unwrap_or("this test").to_string();
        let bootstrap_servers = match std::env::var(BOOTSTRAP_ENV) {
            Ok(servers) if !servers.trim().is_empty() => servers,
            _ if std::env::var_os("CI").is_some() => panic!(
                "{test} needs a Kafka broker but {BOOTSTRAP_ENV} is not set, and tests never skip in CI: \
                 run them with scripts/test"
            ),
            _ => {
                println!(
                    "skipping {test}: needs Kafka; run `scripts/kafka-local start` and set \
                     {BOOTSTRAP_ENV}=127.0.0.1:9092 (scripts/test does both)"
                );
                return None;
            }
        };
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap_servers)
            .create()
            .unwrap_or_else(|e| panic!("{test}: cannot create an admin client for {bootstrap_servers}: {e}"));
        if let Err(e) = admin.inner().fetch_metadata(None, TIMEOUT) {
            panic!(
                "{test}: the Kafka broker at {bootstrap_servers} ({BOOTSTRAP_ENV}) does not answer: {e}; \
                 is it running? (scripts/kafka-local status)"
            );
        }
        Some(TestKafka {
            bootstrap_servers,
            admin: Arc::new(admin),
        })
    }

    /// The broker's bootstrap address, for a [`StreamsConfig`](crate::StreamsConfig).
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// A name no other test, process or earlier run uses: `<hint>-<pid>-<time>-<counter>`.
    /// Use it for topics, application ids and consumer groups.
    pub fn unique_name(&self, hint: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{hint}-{}-{millis}-{n}", std::process::id())
    }

    /// Creates a topic with a unique name starting with `hint` and waits until every partition has
    /// a leader. It is deleted when the returned value is dropped.
    ///
    /// # Panics
    /// When the broker refuses or does not answer in 30 s.
    pub fn create_topic(&self, hint: &str, partitions: i32) -> TestTopic {
        self.create_named_topic(&self.unique_name(hint), partitions)
    }

    /// The existing topic `name` (e.g. one the application created: its dead-letter topic), to read
    /// it; it is deleted when the returned value is dropped.
    ///
    /// # Panics
    /// When the topic does not exist, or the broker does not answer in 30 s.
    pub fn existing_topic(&self, name: &str) -> TestTopic {
        let metadata = self
            .admin
            .inner()
            .fetch_metadata(Some(name), TIMEOUT)
            .unwrap_or_else(|e| panic!("reading the metadata of {name}: {e}"));
        let partitions = metadata
            .topics()
            .first()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.partitions().len() as i32)
            .unwrap_or_else(|| panic!("topic {name} does not exist"));
        TestTopic {
            name: name.to_string(),
            partitions,
            admin: self.admin.clone(),
        }
    }

    /// Creates the topic `name` exactly (e.g. an application's changelog, to fill it before the
    /// application starts) and waits until every partition has a leader. It is deleted when the
    /// returned value is dropped.
    ///
    /// # Panics
    /// When the topic exists, or the broker refuses or does not answer in 30 s.
    pub fn create_named_topic(&self, name: &str, partitions: i32) -> TestTopic {
        self.create_named_topic_with_config(name, partitions, &[])
    }

    /// [`create_topic`](Self::create_topic) with topic settings, e.g. `("max.message.bytes", "1000")`.
    ///
    /// # Panics
    /// When the broker refuses or does not answer in 30 s.
    pub fn create_topic_with_config(&self, hint: &str, partitions: i32, settings: &[(&str, &str)]) -> TestTopic {
        self.create_named_topic_with_config(&self.unique_name(hint), partitions, settings)
    }

    /// [`create_named_topic`](Self::create_named_topic) with topic settings, e.g.
    /// `("cleanup.policy", "compact")` for a key-value store's changelog filled before the
    /// application starts.
    ///
    /// # Panics
    /// When the topic exists, or the broker refuses or does not answer in 30 s.
    pub fn create_named_topic_with_config(&self, name: &str, partitions: i32, settings: &[(&str, &str)]) -> TestTopic {
        let name = name.to_string();
        let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        let topic = settings.iter().fold(
            NewTopic::new(&name, partitions, TopicReplication::Fixed(1)),
            |topic, (key, value)| topic.set(key, value),
        );
        let results = block_on(self.admin.create_topics(&[topic], &options))
            .unwrap_or_else(|e| panic!("creating topic {name}: {e}"));
        for result in results {
            if let Err((topic, code)) = result {
                panic!("creating topic {topic}: {code}");
            }
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let metadata = self.admin.inner().fetch_metadata(Some(&name), TIMEOUT);
            let ready = metadata.as_ref().is_ok_and(|m| {
                m.topics().first().is_some_and(|t| {
                    t.error().is_none()
                        && t.partitions().len() == partitions as usize
                        && t.partitions().iter().all(|p| p.leader() >= 0)
                })
            });
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "topic {name} has no leaders after 30 s: {metadata:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TestTopic {
            name,
            partitions,
            admin: self.admin.clone(),
        }
    }

    /// Produces records (key, value) to `topic` with Java's key partitioner, in order, and waits
    /// until all are acknowledged.
    ///
    /// # Panics
    /// When a record is not acknowledged within 30 s.
    pub fn produce<I>(&self, topic: &TestTopic, records: I)
    where
        I: IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
    {
        self.produce_records(
            topic,
            records.into_iter().map(|(key, value)| RawRecord {
                key,
                value,
                ..RawRecord::default()
            }),
        );
    }

    /// Produces full records (key, value, timestamp, headers), partitioned by key, in order, and
    /// waits until all are acknowledged.
    ///
    /// # Panics
    /// When a record is not acknowledged within 30 s.
    pub fn produce_records<I>(&self, topic: &TestTopic, records: I)
    where
        I: IntoIterator<Item = RawRecord>,
    {
        self.produce_to(topic, None, records);
    }

    /// Produces full records to one partition of `topic`, in order, and waits until all are
    /// acknowledged.
    ///
    /// # Panics
    /// When a record is not acknowledged within 30 s.
    pub fn produce_to_partition<I>(&self, topic: &TestTopic, partition: i32, records: I)
    where
        I: IntoIterator<Item = RawRecord>,
    {
        self.produce_to(topic, Some(partition), records);
    }

    fn produce_to<I>(&self, topic: &TestTopic, partition: Option<i32>, records: I)
    where
        I: IntoIterator<Item = RawRecord>,
    {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .create()
            .expect("creating a test producer");
        for record in records {
            send(&producer, &topic.name, partition, &record).unwrap_or_else(|e| panic!("producing a test record: {e}"));
        }
        producer.flush(TIMEOUT).expect("test records acknowledged within 30 s");
    }

    /// Reads `topic` from the beginning of every partition until `count` records have been read or
    /// `timeout` has passed, and returns them in the order read (offset order within a partition).
    /// Reads `read_committed`: records of aborted or open transactions are not returned.
    pub fn read(&self, topic: &TestTopic, count: usize, timeout: Duration) -> Vec<ReadRecord> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("group.id", self.unique_name("test-reader"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("fetch.queue.backoff.ms", "10")
            .create()
            .expect("creating a test consumer");
        let mut assignment = TopicPartitionList::new();
        for partition in 0..topic.partitions {
            assignment
                .add_partition_offset(&topic.name, partition, Offset::Beginning)
                .expect("a valid partition");
        }
        consumer.assign(&assignment).expect("assigning the test consumer");
        let deadline = Instant::now() + timeout;
        let mut records = Vec::with_capacity(count);
        while records.len() < count && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => records.push(ReadRecord {
                    partition: message.partition(),
                    offset: message.offset(),
                    record: RawRecord::from_message(&message),
                }),
                Some(Err(e)) => panic!("reading {}: {e}", topic.name),
                None => {}
            }
        }
        records
    }

    /// The offsets group `group` has committed for `topic`, per partition (partitions without a
    /// commit are absent).
    pub fn committed_offsets(&self, group: &str, topic: &TestTopic) -> BTreeMap<i32, i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating a consumer to read committed offsets");
        let mut list = TopicPartitionList::new();
        for partition in 0..topic.partitions {
            list.add_partition(&topic.name, partition);
        }
        let committed = consumer
            .committed_offsets(list, TIMEOUT)
            .unwrap_or_else(|e| panic!("reading the offsets {group} committed for {}: {e}", topic.name));
        committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect()
    }

    /// The end offset (the next offset to be written) of every partition of `topic`.
    pub fn end_offsets(&self, topic: &TestTopic) -> BTreeMap<i32, i64> {
        self.end_offsets_of(&topic.name, topic.partitions)
    }

    /// The start offset (the first offset still kept: records before it were deleted) of
    /// partitions `0..partitions` of any topic, e.g. an application's repartition topic.
    pub fn start_offsets_of(&self, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
        (0..partitions)
            .map(|partition| {
                let (low, _) = self
                    .admin
                    .inner()
                    .fetch_watermarks(topic, partition, TIMEOUT)
                    .unwrap_or_else(|e| panic!("reading the start offsets of {topic}: {e}"));
                (partition, low)
            })
            .collect()
    }

    /// The end offset of partitions `0..partitions` of any topic, e.g. an application's changelog.
    pub fn end_offsets_of(&self, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
        (0..partitions)
            .map(|partition| {
                let (_, high) = self
                    .admin
                    .inner()
                    .fetch_watermarks(topic, partition, TIMEOUT)
                    .unwrap_or_else(|e| panic!("reading the end offsets of {topic}: {e}"));
                (partition, high)
            })
            .collect()
    }

    /// Deletes every topic whose name starts with `prefix` (an application's internal topics, after
    /// a test).
    pub fn delete_topics_with_prefix(&self, prefix: &str) {
        let Ok(metadata) = self.admin.inner().fetch_metadata(None, TIMEOUT) else {
            return;
        };
        let names: Vec<String> = metadata
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|name| name.starts_with(prefix))
            .collect();
        if names.is_empty() {
            return;
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        if let Err(e) = block_on(self.admin.delete_topics(&names, &options)) {
            eprintln!("could not delete topics {names:?}: {e}");
        }
    }
}

impl TestTopic {
    /// The topic's unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its number of partitions.
    pub fn partitions(&self) -> i32 {
        self.partitions
    }
}

impl Drop for TestTopic {
    fn drop(&mut self) {
        let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
        if let Err(e) = block_on(self.admin.delete_topics(&[&self.name], &options)) {
            eprintln!("could not delete test topic {}: {e}", self.name);
        }
    }
}
