//! [`StreamsBuilder`]: where a DSL topology starts.

use std::cell::RefCell;
use std::rc::Rc;

use super::kstream::KStream;
use super::options::Consumed;
use crate::error::{Error, Result};
use crate::processor::ops::sink::SinkTopic;
use crate::processor::{Data, Processor};
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::StoreBuilder;
use crate::topology::{TopicName, Topology};

/// The topology being built, shared by the builder and every stream made from it.
pub(crate) struct Building {
    pub(crate) topology: Topology,
    counter: usize,
    /// The first error an operator met; `build` returns it.
    pub(crate) error: Option<Error>,
}

pub(crate) type Shared = Rc<RefCell<Building>>;

impl Building {
    /// A node name: the user's, or `<prefix><10-digit counter>` as Kafka Streams generates them.
    /// The counter advances either way, so generated names do not depend on which nodes are named.
    pub(crate) fn name(&mut self, prefix: &str, named: Option<String>) -> String {
        let index = self.counter;
        self.counter += 1;
        named.unwrap_or_else(|| format!("{prefix}{index:010}"))
    }

    /// Keeps the first error for `build`.
    pub(crate) fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    /// Names a new node (`<prefix><n>` or `named`) and, when its parent exists, adds it with
    /// `add(topology, name, parent)`; a failure is kept for `build`. The counter advances either way,
    /// so generated names do not depend on earlier failures.
    pub(crate) fn add_after(
        &mut self,
        prefix: &str,
        named: Option<String>,
        parent: Option<usize>,
        add: impl FnOnce(&mut Topology, &str, usize) -> Result<usize>,
    ) -> Option<usize> {
        let name = self.name(prefix, named);
        let added = add(&mut self.topology, &name, parent?);
        self.keep(added)
    }

    /// `Some(node)` as is; on an error, keeps it and gives `None`.
    pub(crate) fn keep(&mut self, added: Result<usize>) -> Option<usize> {
        added.map_err(|error| self.fail(error)).ok()
    }

    /// Adds a repartition topic `<base>-repartition` after `parent`: a sink writing to it and a
    /// source reading it back (`<base>-repartition-sink` / `-source`). Returns the source.
    pub(crate) fn add_repartition<K: Data, V: Data>(
        &mut self,
        base: &str,
        parent: usize,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Option<usize> {
        let topic = TopicName::internal(format!("{base}-repartition"));
        let sink = self.topology.add_sink_node(
            &format!("{base}-repartition-sink"),
            &[parent],
            SinkTopic::Fixed(topic.clone()),
            key_serde.clone(),
            value_serde.clone(),
        );
        self.keep(sink)?;
        let source = self.topology.add_source_node(
            &format!("{base}-repartition-source"),
            vec![topic],
            key_serde,
            value_serde,
        );
        self.keep(source)
    }

    /// Declares `store` and adds a processor after `parent` that uses it.
    pub(crate) fn add_stateful<KIn: Data, VIn: Data, KOut: Data, VOut: Data, P: Processor<KIn, VIn, KOut, VOut>>(
        &mut self,
        name: &str,
        parent: Option<usize>,
        store: StoreBuilder,
        supplier: impl Fn() -> P + Send + Sync + 'static,
    ) -> Option<usize> {
        let parent = parent?;
        let store_name = store.name().to_string();
        if let Err(error) = self.topology.add_store(store) {
            self.fail(error);
            return None;
        }
        let node = self
            .topology
            .add_processor_node(name, &[parent], vec![store_name], supplier);
        self.keep(node)
    }
}

/// Builds a [`Topology`] with the DSL.
///
/// Operators that fail to add their node (e.g. a name used twice) do not panic: the first error is
/// returned by [`build`](StreamsBuilder::build).
pub struct StreamsBuilder {
    building: Shared,
}

impl std::fmt::Debug for StreamsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsBuilder")
            .field("nodes", &self.building.borrow().topology.nodes().len())
            .finish()
    }
}

impl Default for StreamsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        StreamsBuilder {
            building: Rc::new(RefCell::new(Building {
                topology: Topology::new(),
                counter: 0,
                error: None,
            })),
        }
    }

    /// A stream of the records of `topic`, read with the default serdes of `K` and `V`.
    pub fn stream<K, V>(&self, topic: &str) -> KStream<K, V>
    where
        K: DefaultSerde + Data,
        V: DefaultSerde + Data,
    {
        self.stream_with(topic, Consumed::default())
    }

    /// A stream of the records of `topic`, read as `consumed` says.
    pub fn stream_with<K: Data, V: Data>(&self, topic: &str, consumed: Consumed<K, V>) -> KStream<K, V> {
        self.stream_from(&[topic], consumed)
    }

    /// One stream of the records of several topics (one source node reading them all).
    pub fn stream_from<K: Data, V: Data>(&self, topics: &[&str], consumed: Consumed<K, V>) -> KStream<K, V> {
        let node = {
            let mut building = self.building.borrow_mut();
            let name = building.name("KSTREAM-SOURCE-", consumed.name);
            let topics = topics.iter().map(|t| TopicName::user(*t)).collect();
            let added = building
                .topology
                .add_source_node(&name, topics, consumed.key_serde, consumed.value_serde);
            match added {
                Ok(node) => Some(node),
                Err(error) => {
                    building.fail(error);
                    None
                }
            }
        };
        KStream::new(self.building.clone(), node, false)
    }

    /// Declares a state store for processors added with
    /// [`KStream::process_with_stores`](super::KStream::process_with_stores).
    pub fn add_state_store(&self, store: StoreBuilder) -> &Self {
        let mut building = self.building.borrow_mut();
        if let Err(error) = building.topology.add_store(store) {
            building.fail(error);
        }
        drop(building);
        self
    }

    pub(crate) fn shared(&self) -> Shared {
        self.building.clone()
    }

    /// The topology built so far, or the first error an operator met.
    pub fn build(self) -> Result<Topology> {
        let building = Rc::try_unwrap(self.building)
            .map(RefCell::into_inner)
            .unwrap_or_else(|shared| {
                // Streams still hold the builder: take the topology out from under them.
                let mut building = shared.borrow_mut();
                Building {
                    topology: std::mem::take(&mut building.topology),
                    counter: building.counter,
                    error: building.error.take(),
                }
            });
        match building.error {
            Some(error) => Err(error),
            None => Ok(building.topology),
        }
    }
}
