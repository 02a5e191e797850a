//! The logical graph: source, processor and sink nodes, split into sub-topologies.
//!
//! A [`Topology`] is plain data plus factories: it describes what to run and creates fresh
//! processor instances for each task. The DSL ([`StreamsBuilder`](crate::dsl::StreamsBuilder))
//! builds one; the methods here build one by hand, as Kafka Streams' `Topology` does.
//!
//! Nodes connected by edges form a **sub-topology**; sub-topologies meet only through topics
//! (repartition topics, or a topic one writes and another reads). Each sub-topology runs as one
//! task per partition of its source topics. Sub-topologies are numbered in the order of their first
//! node.
//!
//! Internal topics (repartition topics) are named in the topology without the application id, and
//! resolved to `<application.id>-<name>` when tasks are created, as in Kafka Streams.
//!
//! ```
//! use streams_core::topology::Topology;
//! use streams_core::processor::{Processor, ProcessorContext, Record};
//!
//! struct Upper;
//! impl Processor<String, String> for Upper {
//!     fn process(&mut self, r: Record<String, String>, ctx: &mut ProcessorContext<'_, String, String>) -> streams_core::Result<()> {
//!         let value = r.value.to_uppercase();
//!         ctx.forward(r.with_value(value))
//!     }
//! }
//!
//! let mut topology = Topology::new();
//! topology
//!     .add_source::<String, String>("words", &["words"])?
//!     .add_processor("upper", || Upper, &["words"])?
//!     .add_sink::<String, String>("loud", "loud-words", &["upper"])?;
//! assert!(topology.describe().to_string().contains("Processor: upper (stores: [])"));
//! # Ok::<(), streams_core::Error>(())
//! ```

mod describe;

use std::any::{TypeId, type_name};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use describe::TopologyDescription;

use crate::error::{Error, Result};
use crate::processor::node::{Node, ProcessorNode};
use crate::processor::ops::global_table_source::RecordCheck;
use crate::processor::ops::sink::{SinkNode, SinkTopic};
use crate::processor::ops::source::SourceNode;
use crate::processor::{Data, Processor};
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::{StoreBuilder, StoreKind};

/// Creates a node instance for a task, given the application id.
pub(crate) type NodeFactory = Arc<dyn Fn(&str) -> Box<dyn Node> + Send + Sync>;

/// The key and value types on one side of a node, to check edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Types {
    key: TypeId,
    value: TypeId,
    key_name: &'static str,
    value_name: &'static str,
}

impl Types {
    pub(crate) fn of<K: 'static, V: 'static>() -> Types {
        Types {
            key: TypeId::of::<K>(),
            value: TypeId::of::<V>(),
            key_name: type_name::<K>(),
            value_name: type_name::<V>(),
        }
    }
}

impl fmt::Display for Types {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}, {}>", self.key_name, self.value_name)
    }
}

/// A topic as a node names it: internal topics get the application id as a prefix when resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TopicName {
    pub(crate) name: String,
    pub(crate) internal: bool,
}

impl TopicName {
    pub(crate) fn user(name: impl Into<String>) -> Self {
        TopicName {
            name: name.into(),
            internal: false,
        }
    }

    pub(crate) fn internal(name: impl Into<String>) -> Self {
        TopicName {
            name: name.into(),
            internal: true,
        }
    }

    /// The topic's name on the cluster.
    pub(crate) fn resolve(&self, application_id: &str) -> String {
        if self.internal {
            format!("{application_id}-{}", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// What a node is.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Source {
        topics: Vec<TopicName>,
    },
    Processor,
    /// `topic` is `None` when a function chooses the topic per record.
    Sink {
        topic: Option<TopicName>,
    },
}

/// One node of the graph.
pub(crate) struct NodeDef {
    pub(crate) name: String,
    pub(crate) kind: NodeKind,
    pub(crate) parents: Vec<usize>,
    pub(crate) children: Vec<usize>,
    pub(crate) stores: Vec<String>,
    factory: NodeFactory,
    /// The types it forwards (`None` for a sink), to check its children's.
    output: Option<Types>,
}

impl NodeDef {
    pub(crate) fn instantiate(&self, application_id: &str) -> Box<dyn Node> {
        (self.factory)(application_id)
    }

    /// The resolved topics a source node reads; none for other nodes.
    pub(crate) fn source_topics(&self, application_id: &str) -> Vec<String> {
        match &self.kind {
            NodeKind::Source { topics } => topics.iter().map(|t| t.resolve(application_id)).collect(),
            _ => Vec::new(),
        }
    }
}

/// What an internal topic is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPurpose {
    /// Records re-keyed for a grouping: `<application.id>-<name>-repartition`.
    Repartition,
    /// A logged store's changelog: `<application.id>-<store>-changelog`.
    Changelog {
        /// The store it logs.
        store: String,
    },
}

/// A topic the application creates and owns, with the topic settings Kafka Streams gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    /// Its name on the cluster.
    pub name: String,
    /// What it is for.
    pub purpose: TopicPurpose,
    /// Topic settings: `cleanup.policy=compact` for key-value changelogs; `compact,delete` with
    /// `retention.ms` = store retention + 1 day for window and session changelogs;
    /// `cleanup.policy=delete`, `retention.ms=-1` and 50 MB / 10 min segments for repartition
    /// topics (whose records the runtime deletes itself once they are committed, so records of any
    /// age are kept until processed).
    pub config: BTreeMap<String, String>,
}

/// Kafka Streams' repartition topic settings: records never expire by time (an application
/// reprocessing old data must not lose its re-keyed records to the broker's default 7-day
/// retention); the runtime purges what it has committed instead.
const REPARTITION_TOPIC_CONFIG: [(&str, &str); 4] = [
    ("cleanup.policy", "delete"),
    ("retention.ms", "-1"),
    ("segment.bytes", "52428800"),
    ("segment.ms", "600000"),
];

/// How much longer than its store a window or session changelog keeps records (Kafka Streams'
/// `windowstore.changelog.additional.retention.ms` default).
const CHANGELOG_ADDITIONAL_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// A connected part of the graph; runs as one task per partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubTopology {
    pub(crate) id: usize,
    /// Global node indices, ascending.
    pub(crate) nodes: Vec<usize>,
}

/// A processing graph: see the module docs.
#[derive(Default)]
pub struct Topology {
    nodes: Vec<NodeDef>,
    stores: Vec<StoreBuilder>,
    global_tables: Vec<GlobalTableDef>,
    /// Groups of nodes (the two sides of a join) whose source topics must be co-partitioned.
    copartitioned: Vec<Vec<usize>>,
    /// Whether some processor dead-letters records by itself, whatever the error handlers say.
    dead_letters: bool,
}

/// A global table: a topic read in full by every instance into a store every task can read.
#[derive(Clone)]
pub(crate) struct GlobalTableDef {
    /// The names `describe()` gives its source and its store-writing processor.
    pub(crate) source: String,
    pub(crate) processor: String,
    pub(crate) topic: String,
    pub(crate) store: StoreBuilder,
    /// Checks each record read into the table. Only the test driver runs global tables so far
    /// (the Kafka runtime refuses them), so without the `testing` feature nothing reads it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) check: RecordCheck,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Topology::default()
    }

    /// Declares that some processor of this topology dead-letters records by itself (through
    /// [`ProcessorContext::fail_record`](crate::processor::ProcessorContext::fail_record) with
    /// [`RecordErrorHandler::DeadLetter`](crate::runtime::RecordErrorHandler::DeadLetter)), so the
    /// runtime makes sure the dead-letter topic exists at start-up even when the configured error
    /// handlers do not use it.
    pub fn require_dead_letter_topic(&mut self) -> &mut Self {
        self.dead_letters = true;
        self
    }

    /// Whether [`require_dead_letter_topic`](Self::require_dead_letter_topic) was declared.
    pub fn requires_dead_letter_topic(&self) -> bool {
        self.dead_letters
    }

    /// Adds a source node named `name` reading `topics`, with the default serdes of `K` and `V`.
    pub fn add_source<K, V>(&mut self, name: &str, topics: &[&str]) -> Result<&mut Self>
    where
        K: DefaultSerde + Data,
        V: DefaultSerde + Data,
    {
        self.add_source_with(name, topics, K::default_serde(), V::default_serde())
    }

    /// Adds a source node with the given serdes.
    pub fn add_source_with<K: Data, V: Data>(
        &mut self,
        name: &str,
        topics: &[&str],
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Result<&mut Self> {
        let topics = topics.iter().map(|t| TopicName::user(*t)).collect();
        self.add_source_node(name, topics, key_serde, value_serde)?;
        Ok(self)
    }

    /// Adds a processor node named `name`, fed by the nodes named in `parents`. `supplier`
    /// creates one processor instance per task.
    pub fn add_processor<KIn, VIn, KOut, VOut, P>(
        &mut self,
        name: &str,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        parents: &[&str],
    ) -> Result<&mut Self>
    where
        P: Processor<KIn, VIn, KOut, VOut>,
        KIn: Data,
        VIn: Data,
        KOut: Data,
        VOut: Data,
    {
        let parents = self.indices(parents)?;
        self.add_processor_node(name, &parents, Vec::new(), supplier)?;
        Ok(self)
    }

    /// Adds a sink node writing to `topic` with the default serdes of `K` and `V`.
    pub fn add_sink<K, V>(&mut self, name: &str, topic: &str, parents: &[&str]) -> Result<&mut Self>
    where
        K: DefaultSerde + Data,
        V: DefaultSerde + Data,
    {
        self.add_sink_with(name, topic, parents, K::default_serde(), V::default_serde())
    }

    /// Adds a sink node with the given serdes.
    pub fn add_sink_with<K: Data, V: Data>(
        &mut self,
        name: &str,
        topic: &str,
        parents: &[&str],
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Result<&mut Self> {
        let parents = self.indices(parents)?;
        self.add_sink_node(
            name,
            &parents,
            SinkTopic::Fixed(TopicName::user(topic)),
            key_serde,
            value_serde,
        )?;
        Ok(self)
    }

    /// Adds a state store and connects it to the processors named in `processors` (they reach it
    /// through their context). Processors that share a store run in one sub-topology.
    pub fn add_state_store(&mut self, store: StoreBuilder, processors: &[&str]) -> Result<&mut Self> {
        let name = store.name().to_string();
        self.add_store(store)?;
        for processor in self.indices(processors)? {
            self.connect_store(processor, &name)?;
        }
        Ok(self)
    }

    /// Connects an existing store to more processors.
    pub fn connect_processor_and_state_store(&mut self, processor: &str, store: &str) -> Result<&mut Self> {
        let index = self.indices(&[processor])?[0];
        self.connect_store(index, store)?;
        Ok(self)
    }

    /// The internal topics the application needs: repartition topics, and a changelog for every
    /// logged store, in name order.
    pub fn internal_topics(&self, application_id: &str) -> Vec<InternalTopic> {
        let mut topics: Vec<InternalTopic> = self
            .nodes
            .iter()
            .filter_map(|node| match &node.kind {
                NodeKind::Source { topics } => Some(topics.iter().filter(|t| t.internal)),
                _ => None,
            })
            .flatten()
            .map(|topic| InternalTopic {
                name: topic.resolve(application_id),
                purpose: TopicPurpose::Repartition,
                config: REPARTITION_TOPIC_CONFIG
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect(),
            })
            .collect();
        // Global tables restore from their own topic: no changelog.
        for store in self.stores.iter().filter(|s| s.is_logged()) {
            let retention = match store.kind() {
                StoreKind::KeyValue => None,
                StoreKind::Window { retention_ms, .. } | StoreKind::Session { retention_ms } => Some(retention_ms),
            };
            let config = match retention {
                None => BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]),
                Some(retention_ms) => BTreeMap::from([
                    ("cleanup.policy".to_string(), "compact,delete".to_string()),
                    (
                        "retention.ms".to_string(),
                        (retention_ms + CHANGELOG_ADDITIONAL_RETENTION_MS).to_string(),
                    ),
                ]),
            };
            topics.push(InternalTopic {
                name: store.changelog_topic(application_id),
                purpose: TopicPurpose::Changelog {
                    store: store.name().to_string(),
                },
                config,
            });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
    }

    /// The topology as text, in Kafka Streams' `describe()` format, and as a Mermaid diagram.
    pub fn describe(&self) -> TopologyDescription {
        TopologyDescription::of(self)
    }

    // --- for the DSL and tasks ----------------------------------------------------------------

    pub(crate) fn node(&self, index: usize) -> &NodeDef {
        &self.nodes[index]
    }

    pub(crate) fn nodes(&self) -> &[NodeDef] {
        &self.nodes
    }

    /// The declared store named `name`.
    pub(crate) fn store(&self, name: &str) -> Option<&StoreBuilder> {
        self.stores.iter().find(|s| s.name() == name)
    }

    /// The global tables.
    pub(crate) fn global_tables(&self) -> &[GlobalTableDef] {
        &self.global_tables
    }

    /// Declares a global table. Its topic may not be read by any source node, and its store name
    /// must be unique.
    pub(crate) fn add_global_table(&mut self, table: GlobalTableDef) -> Result<()> {
        let topic = TopicName::user(&table.topic);
        if self.reads(&topic) || self.global_tables.iter().any(|g| g.topic == table.topic) {
            return Err(Error::Topology(format!(
                "topic {} is read already; a global table needs a topic of its own",
                table.topic
            )));
        }
        if self.store(table.store.name()).is_some()
            || self.global_tables.iter().any(|g| g.store.name() == table.store.name())
        {
            return Err(Error::Topology(format!(
                "the store name {} is used twice",
                table.store.name()
            )));
        }
        self.global_tables.push(table);
        Ok(())
    }

    /// Requires the source topics upstream of `nodes` (within their sub-topology) to have the same
    /// number of partitions: the two sides of a join.
    pub(crate) fn copartition(&mut self, nodes: &[usize]) {
        self.copartitioned.push(nodes.to_vec());
    }

    /// The groups of topics that must have the same number of partitions (the sources of each
    /// join's two sides), resolved, each group in name order.
    pub fn copartition_groups(&self, application_id: &str) -> Vec<Vec<String>> {
        self.copartitioned
            .iter()
            .map(|nodes| {
                let mut topics = std::collections::BTreeSet::new();
                let mut stack = nodes.clone();
                let mut seen = vec![false; self.nodes.len()];
                while let Some(n) = stack.pop() {
                    if std::mem::replace(&mut seen[n], true) {
                        continue;
                    }
                    topics.extend(self.nodes[n].source_topics(application_id));
                    stack.extend(&self.nodes[n].parents);
                }
                topics.into_iter().collect()
            })
            .collect()
    }

    /// Checks that every co-partitioned group's topics have the same number of partitions, given
    /// `partitions(topic)` (from the cluster's metadata; `None` for a topic that does not exist).
    ///
    /// # Errors
    /// [`Error::Config`] naming the topics and their partition counts.
    pub fn check_copartitioning(&self, application_id: &str, partitions: impl Fn(&str) -> Option<i32>) -> Result<()> {
        for group in self.copartition_groups(application_id) {
            let counts: Vec<(String, Option<i32>)> = group.iter().map(|t| (t.clone(), partitions(t))).collect();
            let known: Vec<i32> = counts.iter().filter_map(|(_, c)| *c).collect();
            if known.windows(2).any(|w| w[0] != w[1]) {
                let listed: Vec<String> = counts
                    .iter()
                    .map(|(t, c)| {
                        format!(
                            "{t} ({})",
                            c.map_or("missing".to_string(), |c| format!("{c} partitions"))
                        )
                    })
                    .collect();
                return Err(Error::Config(format!(
                    "topics joined with each other must have the same number of partitions: {}",
                    listed.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether a source node reads `topic`.
    fn reads(&self, topic: &TopicName) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(&n.kind, NodeKind::Source { topics } if topics.contains(topic)))
    }

    /// Declares a store (not yet connected to any processor).
    pub(crate) fn add_store(&mut self, store: StoreBuilder) -> Result<()> {
        if self.store(store.name()).is_some() || self.global_tables.iter().any(|g| g.store.name() == store.name()) {
            return Err(Error::Topology(format!(
                "the store name {} is used twice",
                store.name()
            )));
        }
        if store.name().is_empty()
            || !store
                .name()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Error::Topology(format!(
                "store name {:?} must be non-empty ASCII letters, digits, '.', '_' or '-' (it names a changelog topic)",
                store.name()
            )));
        }
        self.stores.push(store);
        Ok(())
    }

    /// Lets processor `node` use store `store`.
    pub(crate) fn connect_store(&mut self, node: usize, store: &str) -> Result<()> {
        if self.store(store).is_none() {
            return Err(Error::Topology(format!("no store named {store}")));
        }
        let node = &mut self.nodes[node];
        if !matches!(node.kind, NodeKind::Processor) {
            return Err(Error::Topology(format!(
                "{} is not a processor: it cannot use store {store}",
                node.name
            )));
        }
        if !node.stores.iter().any(|s| s == store) {
            node.stores.push(store.to_string());
        }
        Ok(())
    }

    pub(crate) fn add_source_node<K: Data, V: Data>(
        &mut self,
        name: &str,
        topics: Vec<TopicName>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Result<usize> {
        if topics.is_empty() {
            return Err(Error::Topology(format!("source {name} reads no topic")));
        }
        for topic in &topics {
            if self
                .global_tables
                .iter()
                .any(|g| !topic.internal && g.topic == topic.name)
            {
                return Err(Error::Topology(format!(
                    "topic {} is read by a global table already",
                    topic.name
                )));
            }
            if let Some(other) = self.nodes.iter().find(|n| match &n.kind {
                NodeKind::Source { topics } => topics.contains(topic),
                _ => false,
            }) {
                return Err(Error::Topology(format!(
                    "topic {} is read by source {} already; a topic has one source node (merge streams instead)",
                    topic.name, other.name
                )));
            }
        }
        let factory: NodeFactory = Arc::new(move |_: &str| -> Box<dyn Node> {
            Box::new(SourceNode::new(key_serde.clone(), value_serde.clone()))
        });
        self.push(
            name,
            NodeKind::Source { topics },
            &[],
            Vec::new(),
            factory,
            None,
            Some(Types::of::<K, V>()),
        )
    }

    pub(crate) fn add_processor_node<KIn, VIn, KOut, VOut, P>(
        &mut self,
        name: &str,
        parents: &[usize],
        stores: Vec<String>,
        supplier: impl Fn() -> P + Send + Sync + 'static,
    ) -> Result<usize>
    where
        P: Processor<KIn, VIn, KOut, VOut>,
        KIn: Data,
        VIn: Data,
        KOut: Data,
        VOut: Data,
    {
        let factory: NodeFactory = Arc::new(move |_: &str| -> Box<dyn Node> {
            Box::new(ProcessorNode::<P, KIn, VIn, KOut, VOut>::new(supplier()))
        });
        self.push(
            name,
            NodeKind::Processor,
            parents,
            stores,
            factory,
            Some(Types::of::<KIn, VIn>()),
            Some(Types::of::<KOut, VOut>()),
        )
    }

    pub(crate) fn add_sink_node<K: Data, V: Data>(
        &mut self,
        name: &str,
        parents: &[usize],
        topic: SinkTopic<K, V>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Result<usize> {
        let described = match &topic {
            SinkTopic::Fixed(topic) => Some(topic.clone()),
            SinkTopic::PerRecord(_) => None,
        };
        let factory: NodeFactory = Arc::new(move |application_id: &str| -> Box<dyn Node> {
            Box::new(SinkNode::new(
                topic.resolve(application_id),
                key_serde.clone(),
                value_serde.clone(),
            ))
        });
        self.push(
            name,
            NodeKind::Sink { topic: described },
            parents,
            Vec::new(),
            factory,
            Some(Types::of::<K, V>()),
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        name: &str,
        kind: NodeKind,
        parents: &[usize],
        stores: Vec<String>,
        factory: NodeFactory,
        input: Option<Types>,
        output: Option<Types>,
    ) -> Result<usize> {
        if name.is_empty() {
            return Err(Error::Topology("a node name is empty".into()));
        }
        if self.nodes.iter().any(|n| n.name == name) {
            return Err(Error::Topology(format!("the node name {name} is used twice")));
        }
        if !matches!(kind, NodeKind::Source { .. }) && parents.is_empty() {
            return Err(Error::Topology(format!("{name} has no parent")));
        }
        for &parent in parents {
            let parent = &self.nodes[parent];
            match parent.output {
                None => return Err(Error::Topology(format!("{name} cannot follow sink {}", parent.name))),
                Some(types) if Some(types) != input => {
                    return Err(Error::Topology(format!(
                        "{name} takes records of {} but its parent {} forwards {types}",
                        input.map_or_else(|| "none".to_string(), |t| t.to_string()),
                        parent.name
                    )));
                }
                Some(_) => {}
            }
        }
        let index = self.nodes.len();
        for &parent in parents {
            self.nodes[parent].children.push(index);
        }
        self.nodes.push(NodeDef {
            name: name.to_string(),
            kind,
            parents: parents.to_vec(),
            children: Vec::new(),
            stores,
            factory,
            output,
        });
        Ok(index)
    }

    fn indices(&self, names: &[&str]) -> Result<Vec<usize>> {
        names
            .iter()
            .map(|name| {
                self.nodes
                    .iter()
                    .position(|n| n.name == *name)
                    .ok_or_else(|| Error::Topology(format!("no node named {name}")))
            })
            .collect()
    }

    /// The connected parts of the graph, numbered in the order of their first node.
    pub(crate) fn sub_topologies(&self) -> Vec<SubTopology> {
        // Union-find over edges and shared state stores.
        let mut root: Vec<usize> = (0..self.nodes.len()).collect();
        fn find(root: &mut [usize], mut n: usize) -> usize {
            while root[n] != n {
                root[n] = root[root[n]];
                n = root[n];
            }
            n
        }
        fn union(root: &mut [usize], a: usize, b: usize) {
            let (a, b) = (find(root, a), find(root, b));
            root[a.max(b)] = a.min(b);
        }
        for (index, node) in self.nodes.iter().enumerate() {
            for &parent in &node.parents {
                union(&mut root, index, parent);
            }
            // Processors sharing a store run in one task.
            for store in &node.stores {
                if let Some(other) = self.nodes.iter().position(|n| n.stores.contains(store)) {
                    union(&mut root, index, other);
                }
            }
        }
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for index in 0..self.nodes.len() {
            let group = find(&mut root, index);
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, members)) => members.push(index),
                None => groups.push((group, vec![index])),
            }
        }
        groups
            .into_iter()
            .enumerate()
            .map(|(id, (_, nodes))| SubTopology { id, nodes })
            .collect()
    }
}
