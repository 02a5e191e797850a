//! [`KStream`]: an unbounded stream of records, each an independent event.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::branched::BranchedKStream;
use super::builder::Shared;
use super::deduplicated::Deduplicated;
use super::options::{Named, ProcessorOptions, Produced, Repartitioned};
use crate::error::Error;
use crate::processor::ops::dedupe::Dedupe;
use crate::processor::ops::filter::Filter;
use crate::processor::ops::flat_map::FlatMap;
use crate::processor::ops::flat_map_values::FlatMapValues;
use crate::processor::ops::map::Map;
use crate::processor::ops::map_values::MapValues;
use crate::processor::ops::pass_through::PassThrough;
use crate::processor::ops::peek::Peek;
use crate::processor::ops::select_key::SelectKey;
use crate::processor::ops::sink::SinkTopic;
use crate::processor::{Data, Processor};
use crate::serde::DefaultSerde;
use crate::state::StoreBuilder;
use crate::time::{duration, ms};
use crate::topology::TopicName;

/// A stream of records with keys `K` and values `V`.
///
/// A `KStream` is a handle on a node of the topology: operators take `&self` and add a child node,
/// so one stream can feed several operators (each sees every record).
///
/// Every operator keeps each record's timestamp and headers unless it says otherwise, and keeps
/// the order of records within a partition. Operators that may change the key (`map`, `flat_map`,
/// `select_key`, `process`) mark the stream as needing a repartition before a later grouping or
/// join, as Kafka Streams does.
pub struct KStream<K, V> {
    pub(crate) building: Shared,
    /// `None` when adding this stream's node failed (the builder keeps the error for `build`).
    pub(crate) node: Option<usize>,
    pub(crate) key_changed: bool,
    types: PhantomData<fn() -> (K, V)>,
}

/// A clone is another handle on the same stream: operators applied to each both read it.
impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            building: self.building.clone(),
            node: self.node,
            key_changed: self.key_changed,
            types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for KStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let building = self.building.borrow();
        let name = self.node.map(|n| building.topology.node(n).name.clone());
        f.debug_struct("KStream")
            .field("node", &name)
            .field("key_changed", &self.key_changed)
            .finish()
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    pub(crate) fn new(building: Shared, node: Option<usize>, key_changed: bool) -> Self {
        KStream {
            building,
            node,
            key_changed,
            types: PhantomData,
        }
    }

    /// Adds a processor node after this stream's node; the one building block of every operator.
    fn then<K2: Data, V2: Data, P: Processor<K, V, K2, V2>>(
        &self,
        prefix: &str,
        named: Option<Named>,
        key_changed: bool,
        supplier: impl Fn() -> P + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        let node = self.add(prefix, named, |topology, name, parent| {
            topology.add_processor_node(name, &[parent], Vec::new(), supplier)
        });
        KStream::new(self.building.clone(), node, key_changed)
    }

    /// Names a new node and adds it with `add(topology, name, parent)`, keeping a failure for
    /// `build`.
    fn add(
        &self,
        prefix: &str,
        named: Option<Named>,
        add: impl FnOnce(&mut crate::topology::Topology, &str, usize) -> crate::Result<usize>,
    ) -> Option<usize> {
        self.building
            .borrow_mut()
            .add_after(prefix, named.map(|n| n.0), self.node, add)
    }

    /// Keeps the records for which `predicate(key, value)` holds.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KStream<K, V> {
        self.filter_inner(predicate, true, None)
    }

    /// [`filter`](Self::filter) with a node name.
    pub fn filter_with(
        &self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K, V> {
        self.filter_inner(predicate, true, named.into())
    }

    /// Drops the records for which `predicate(key, value)` holds.
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KStream<K, V> {
        self.filter_inner(predicate, false, None)
    }

    /// [`filter_not`](Self::filter_not) with a node name.
    pub fn filter_not_with(
        &self,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K, V> {
        self.filter_inner(predicate, false, named.into())
    }

    fn filter_inner<F>(&self, predicate: F, keep: bool, named: Option<Named>) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let predicate = Arc::new(predicate);
        self.then("KSTREAM-FILTER-", named, self.key_changed, move || Filter {
            predicate: predicate.clone(),
            keep,
        })
    }

    /// Replaces each record's key and value with `mapper(key, value)`. Marks the stream for
    /// repartitioning.
    pub fn map<K2: Data, V2: Data>(
        &self,
        mapper: impl Fn(K, V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        self.map_with(mapper, None)
    }

    /// [`map`](Self::map) with an optional node name.
    pub fn map_with<K2: Data, V2: Data>(
        &self,
        mapper: impl Fn(K, V) -> (K2, V2) + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K2, V2> {
        let mapper = Arc::new(mapper);
        self.then("KSTREAM-MAP-", named.into(), true, move || Map(mapper.clone()))
    }

    /// Replaces each record's value with `mapper(value)`; keys are unchanged, so no repartition.
    pub fn map_values<V2: Data>(&self, mapper: impl Fn(V) -> V2 + Send + Sync + 'static) -> KStream<K, V2> {
        self.map_values_with_key(move |_, value| mapper(value))
    }

    /// Replaces each record's value with `mapper(&key, value)`.
    pub fn map_values_with_key<V2: Data>(
        &self,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.map_values_with(mapper, None)
    }

    /// [`map_values_with_key`](Self::map_values_with_key) with an optional node name.
    pub fn map_values_with<V2: Data>(
        &self,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K, V2> {
        let mapper = Arc::new(mapper);
        self.then("KSTREAM-MAPVALUES-", named.into(), self.key_changed, move || {
            MapValues(mapper.clone())
        })
    }

    /// Replaces each record with the records `mapper(key, value)` yields (zero or more), in order.
    /// Marks the stream for repartitioning.
    pub fn flat_map<K2: Data, V2: Data, I>(&self, mapper: impl Fn(K, V) -> I + Send + Sync + 'static) -> KStream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)> + 'static,
    {
        self.flat_map_with(mapper, None)
    }

    /// [`flat_map`](Self::flat_map) with an optional node name.
    pub fn flat_map_with<K2: Data, V2: Data, I>(
        &self,
        mapper: impl Fn(K, V) -> I + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)> + 'static,
    {
        let mapper = Arc::new(mapper);
        self.then("KSTREAM-FLATMAP-", named.into(), true, move || FlatMap(mapper.clone()))
    }

    /// Replaces each record with one record per value `mapper(value)` yields, keeping the key.
    pub fn flat_map_values<V2: Data, I>(&self, mapper: impl Fn(V) -> I + Send + Sync + 'static) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2> + 'static,
    {
        self.flat_map_values_with(move |_, value| mapper(value), None)
    }

    /// [`flat_map_values`](Self::flat_map_values) with the key passed to the mapper and an
    /// optional node name.
    pub fn flat_map_values_with<V2: Data, I>(
        &self,
        mapper: impl Fn(&K, V) -> I + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2> + 'static,
    {
        let mapper = Arc::new(mapper);
        self.then("KSTREAM-FLATMAPVALUES-", named.into(), self.key_changed, move || {
            FlatMapValues(mapper.clone())
        })
    }

    /// Replaces each record's key with `selector(&key, &value)`. Marks the stream for
    /// repartitioning.
    pub fn select_key<K2: Data>(&self, selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static) -> KStream<K2, V> {
        self.select_key_with(selector, None)
    }

    /// [`select_key`](Self::select_key) with an optional node name.
    pub fn select_key_with<K2: Data>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K2, V> {
        let selector = Arc::new(selector);
        self.then("KSTREAM-KEY-SELECT-", named.into(), true, move || {
            SelectKey(selector.clone())
        })
    }

    /// Calls `action(&key, &value)` on each record and passes it on unchanged.
    pub fn peek(&self, action: impl Fn(&K, &V) + Send + Sync + 'static) -> KStream<K, V> {
        self.peek_with(action, None)
    }

    /// [`peek`](Self::peek) with an optional node name.
    pub fn peek_with(
        &self,
        action: impl Fn(&K, &V) + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K, V> {
        let action = Arc::new(action);
        self.then("KSTREAM-PEEK-", named.into(), self.key_changed, move || {
            Peek(action.clone())
        })
    }

    /// Calls `action(&key, &value)` on each record; ends the stream.
    pub fn foreach(&self, action: impl Fn(&K, &V) + Send + Sync + 'static) {
        self.foreach_with(action, None);
    }

    /// [`foreach`](Self::foreach) with an optional node name.
    pub fn foreach_with(&self, action: impl Fn(&K, &V) + Send + Sync + 'static, named: impl Into<Option<Named>>) {
        let action = Arc::new(action);
        let _ = self.then::<K, V, _>("KSTREAM-FOREACH-", named.into(), false, move || Peek(action.clone()));
    }

    /// Splits the stream: each record goes to the first branch whose predicate holds (see
    /// [`BranchedKStream`]).
    pub fn split(&self) -> BranchedKStream<K, V> {
        self.split_with(None)
    }

    /// [`split`](Self::split) with a name for the split node, which prefixes the branch names.
    pub fn split_with(&self, named: impl Into<Option<Named>>) -> BranchedKStream<K, V> {
        let name = self
            .building
            .borrow_mut()
            .name("KSTREAM-BRANCH-", named.into().map(|n| n.0));
        BranchedKStream::new(self.clone(), name)
    }

    /// One stream of the records of both, in the order they are processed.
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        self.merge_with(other, None)
    }

    /// [`merge`](Self::merge) with an optional node name.
    pub fn merge_with(&self, other: &KStream<K, V>, named: impl Into<Option<Named>>) -> KStream<K, V> {
        let key_changed = self.key_changed || other.key_changed;
        if !std::rc::Rc::ptr_eq(&self.building, &other.building) {
            self.building
                .borrow_mut()
                .fail(Error::Topology("merge of streams from two different builders".into()));
            return KStream::new(self.building.clone(), None, key_changed);
        }
        let other_node = other.node;
        let node = self.add("KSTREAM-MERGE-", named.into(), |topology, name, parent| {
            let other =
                other_node.ok_or_else(|| Error::Topology(format!("{name}: the other stream failed to build")))?;
            topology.add_processor_node::<K, V, K, V, _>(name, &[parent, other], Vec::new(), || PassThrough)
        });
        KStream::new(self.building.clone(), node, key_changed)
    }

    /// Runs a [`Processor`] on each record; `supplier` makes one per task. Marks the stream for
    /// repartitioning (the processor may change keys).
    pub fn process<K2: Data, V2: Data, P: Processor<K, V, K2, V2>>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        self.process_with(supplier, None)
    }

    /// [`process`](Self::process) with an optional node name.
    pub fn process_with<K2: Data, V2: Data, P: Processor<K, V, K2, V2>>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
    ) -> KStream<K2, V2> {
        self.process_with_stores(supplier, named, &[])
    }

    /// [`process`](Self::process) with access to state stores added with
    /// [`StreamsBuilder::add_state_store`](super::StreamsBuilder::add_state_store).
    pub fn process_with_stores<K2: Data, V2: Data, P: Processor<K, V, K2, V2>>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        named: impl Into<Option<Named>>,
        stores: &[&str],
    ) -> KStream<K2, V2> {
        let node = self.add("KSTREAM-PROCESSOR-", named.into(), |topology, name, parent| {
            let node = topology.add_processor_node(name, &[parent], Vec::new(), supplier)?;
            for store in stores {
                topology.connect_store(node, store)?;
            }
            Ok(node)
        });
        KStream::new(self.building.clone(), node, true)
    }

    /// Runs a [`Processor`] that keeps keys on each record; `supplier` makes one per task. Unlike
    /// [`process`](Self::process), the stream is not marked for repartitioning: the processor must
    /// forward each result with the key of the record it came from (Kafka Streams'
    /// `processValues`). This is how extensions such as model scoring add asynchronous processors.
    pub fn process_values<V2: Data, P: Processor<K, V, K, V2>>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.process_values_with(supplier, ProcessorOptions::default())
    }

    /// [`process_values`](Self::process_values) with options: a node name, state stores, and
    /// whether the processor dead-letters records by itself.
    pub fn process_values_with<V2: Data, P: Processor<K, V, K, V2>>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        options: ProcessorOptions,
    ) -> KStream<K, V2> {
        let ProcessorOptions {
            named,
            stores,
            dead_letters,
        } = options;
        let node = self.add("KSTREAM-PROCESSVALUES-", named.map(Named), |topology, name, parent| {
            let node = topology.add_processor_node(name, &[parent], Vec::new(), supplier)?;
            for store in &stores {
                topology.connect_store(node, store)?;
            }
            if dead_letters {
                topology.require_dead_letter_topic();
            }
            Ok(node)
        });
        KStream::new(self.building.clone(), node, self.key_changed)
    }

    /// Drops replays: a record whose id `id(&key, &value)` was already forwarded with a timestamp
    /// within `window` of its own (`|t - t'| <= window`, event time, both ends inclusive) is
    /// dropped; every other record is forwarded unchanged (key, value, timestamp, headers), and its
    /// id remembered at its timestamp. Ids use the default serde of `I`.
    ///
    /// This makes processing of an at-least-once input idempotent: a client re-posting the same
    /// transaction id, or a producer retrying a send, yields one record downstream.
    ///
    /// - **Time.** Only record timestamps count, never the wall clock. The first forwarded record of
    ///   an id holds the window; dropped replays do not extend it (KIP-655), so a replay more than
    ///   `window` after the original passes, and is remembered in turn.
    /// - **Order.** Replays are found in either order (an earlier timestamp arriving later) while
    ///   the record is at most the grace behind stream time; the grace is `window` unless
    ///   [`Deduplicated::with_grace`] says otherwise, and ids are kept for `window + grace + 1 ms` of
    ///   stream time. A record further behind is checked against the ids still kept: dropped if a
    ///   match is found, otherwise forwarded (a duplicate is preferred to a loss).
    /// - **Null ids.** An id its serde writes as null (`None`, with the default `Option<T>` serde)
    ///   is never checked nor remembered: the record passes.
    /// - **Partitions.** State is per task: a replay is found only in the partition of its
    ///   original, as when replays carry the original's key. Otherwise key the stream by the id
    ///   and [`repartition`](Self::repartition) first. No repartition is added here.
    /// - **Failures.** The ids live in a window store (RocksDB, logged to
    ///   `<application.id>-<store>-changelog`), restored after a crash or a move. Under
    ///   exactly-once the store and the outputs commit together, so deduplication is exact. Under
    ///   at-least-once a crash replays the records since the last commit: they may be forwarded
    ///   again (as by every operator), never lost. See `docs/deduplication.md`.
    ///
    /// Dropped replays are not counted in the dropped-records metric, which counts late records.
    ///
    /// ```
    /// use streams_core::StreamsConfig;
    /// use streams_core::dsl::StreamsBuilder;
    /// use streams_core::testing::TopologyTestDriver;
    /// use streams_core::time::minutes;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream::<String, String>("payments") // card → "txn-id:amount"
    ///     .dedupe_by(|_card, payment| payment.split(':').next().unwrap_or_default().to_string(), minutes(10))
    ///     .to("payments-once");
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("dedupe"))?;
    /// let payments = driver.input_topic::<String, String>("payments");
    /// payments.pipe_input_at("card-1".into(), "t1:500".into(), 0);
    /// payments.pipe_input_at("card-1".into(), "t1:500".into(), 60_000); // a retry a minute later
    /// payments.pipe_input_at("card-1".into(), "t2:700".into(), 61_000);
    /// let out = driver.output_topic::<String, String>("payments-once");
    /// assert_eq!(out.read_values_to_list(), vec!["t1:500".to_string(), "t2:700".to_string()]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn dedupe_by<I, F>(&self, id: F, window: Duration) -> KStream<K, V>
    where
        I: DefaultSerde,
        F: Fn(&K, &V) -> I + Send + Sync + 'static,
    {
        self.dedupe_by_with(id, window, Deduplicated::default())
    }

    /// [`dedupe_by`](Self::dedupe_by) with an id serde, node and store names, a grace, and the
    /// store's caching, logging and storage ([`Deduplicated`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use streams_core::dsl::{Deduplicated, StreamsBuilder};
    /// use streams_core::serde::I64Serde;
    /// use streams_core::time::{hours, minutes};
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream::<String, i64>("orders") // customer → order number
    ///     .dedupe_by_with(
    ///         |_customer, order| *order,
    ///         hours(24),
    ///         Deduplicated::with(Arc::new(I64Serde)).with_name("order-dedupe").with_grace(minutes(30)),
    ///     )
    ///     .to("orders-once");
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("Processor: order-dedupe (stores: [order-dedupe-store])"));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn dedupe_by_with<I, F>(&self, id: F, window: Duration, deduplicated: Deduplicated<I>) -> KStream<K, V>
    where
        I: 'static,
        F: Fn(&K, &V) -> I + Send + Sync + 'static,
    {
        let window_ms = ms(window);
        let grace_ms = deduplicated.grace.map_or(window_ms, ms);
        let retention_ms = window_ms.saturating_add(grace_ms).saturating_add(1);
        let mut building = self.building.borrow_mut();
        let store_name = (deduplicated.store_name.clone())
            .or_else(|| deduplicated.name.as_ref().map(|name| format!("{name}-store")));
        let store = building.name("KSTREAM-DEDUPLICATE-STATE-STORE-", store_name);
        let name = building.name("KSTREAM-DEDUPLICATE-", deduplicated.name.clone());
        let spec = StoreBuilder::window(&store, duration(window_ms), duration(retention_ms));
        let spec = deduplicated.configure(spec);
        let (id, id_serde) = (Arc::new(id), deduplicated.id_serde);
        let node = building.add_stateful(&name, self.node, spec, move || Dedupe {
            id: id.clone(),
            window_ms,
            grace_ms,
            store: store.clone(),
            id_serde: id_serde.clone(),
            handle: None,
            epoch: 0,
        });
        drop(building);
        KStream::new(self.building.clone(), node, self.key_changed)
    }

    /// Writes the stream to `topic` with the default serdes of `K` and `V`; ends the stream.
    pub fn to(&self, topic: &str)
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.to_with(topic, Produced::default());
    }

    /// Writes the stream to `topic` as `produced` says.
    pub fn to_with(&self, topic: &str, produced: Produced<K, V>) {
        self.sink(SinkTopic::Fixed(TopicName::user(topic)), produced);
    }

    /// Writes each record to the topic `choose(&key, &value)` names, with the default serdes.
    pub fn to_dynamic(&self, choose: impl Fn(&K, &V) -> String + Send + Sync + 'static)
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.to_dynamic_with(choose, Produced::default());
    }

    /// [`to_dynamic`](Self::to_dynamic) with serdes and a node name.
    pub fn to_dynamic_with(&self, choose: impl Fn(&K, &V) -> String + Send + Sync + 'static, produced: Produced<K, V>) {
        self.sink(SinkTopic::PerRecord(Arc::new(choose)), produced);
    }

    fn sink(&self, topic: SinkTopic<K, V>, produced: Produced<K, V>) -> Option<usize> {
        let named = produced.name.map(Named);
        let (key_serde, value_serde) = (produced.key_serde, produced.value_serde);
        self.add("KSTREAM-SINK-", named, |topology, name, parent| {
            topology.add_sink_node(name, &[parent], topic, key_serde, value_serde)
        })
    }

    /// Writes the stream through a repartition topic (`<application.id>-<name>-repartition`) and
    /// reads it back, so records are partitioned by their current key. Clears the repartition mark.
    pub fn repartition(&self) -> KStream<K, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.repartition_with(Repartitioned::default())
    }

    /// [`repartition`](Self::repartition) with serdes and a name.
    pub fn repartition_with(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let mut building = self.building.borrow_mut();
        let base = building.name("KSTREAM-REPARTITION-", repartitioned.name);
        let source = self.node.and_then(|parent| {
            building.add_repartition(&base, parent, repartitioned.key_serde, repartitioned.value_serde)
        });
        drop(building);
        KStream::new(self.building.clone(), source, false)
    }
}
