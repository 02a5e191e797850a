//! Joins: stream-table, stream-global-table, stream-stream (windowed) and table-table.
//!
//! | join | method | triggered by | window |
//! |---|---|---|---|
//! | stream-table | `KStream::join_table`, `left_join_table` | stream records only | none: the table's current row |
//! | stream-global table | `KStream::join_global`, `left_join_global` | stream records only | none |
//! | stream-stream | `KStream::join`, `left_join`, `outer_join` | records of either side | [`JoinWindows`](crate::time::JoinWindows) |
//! | table-table | `KTable::join`, `left_join`, `outer_join` | updates of either side | none |
//!
//! Kafka Streams' overloaded `join(..)` becomes one method name per kind of partner here, so each
//! signature says what it joins.

use std::sync::Arc;

use super::builder::StreamsBuilder;
use super::kstream::KStream;
use super::ktable::KTable;
use super::materialized::Materialized;
use super::options::Consumed;
use crate::error::Error;
use crate::processor::Data;
use crate::processor::ops::global_table_source::RecordCheck;
use crate::processor::ops::pass_through::PassThrough;
use crate::processor::ops::stream_stream_join::{
    JoinKind, SharedJoinTime, StreamJoinSpec, StreamJoiner, StreamStreamJoin,
};
use crate::processor::ops::stream_table_join::{StreamTableJoin, StreamTableJoiner, TableKey, TableStore};
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::StoreBuilder;
use crate::time::{JoinWindows, duration};
use crate::topology::GlobalTableDef;

super::options::serde_options!(
    /// Options of a stream-table join: the serdes of the stream's key and value (used if the stream
    /// must be repartitioned first because its key may have changed) and the name of that
    /// repartition topic (`<application.id>-<name>-repartition`).
    Joined,
    "Joined with these serdes.",
    "Names the repartition topic."
);

/// Options of a stream-stream join: the serdes of the key and of both sides' values (for their
/// window stores, and for repartitioning a side whose key may have changed), a name for the join's
/// nodes and repartition topics, and a name for its stores (`<name>-this-join-store`,
/// `<name>-other-join-store`, `<name>-outer-shared-join-store`).
pub struct StreamJoined<K, V1, V2> {
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) left_serde: SharedSerde<V1>,
    pub(crate) right_serde: SharedSerde<V2>,
    pub(crate) name: Option<String>,
    pub(crate) store_name: Option<String>,
}

impl<K, V1, V2> std::fmt::Debug for StreamJoined<K, V1, V2> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamJoined")
            .field("name", &self.name)
            .field("store_name", &self.store_name)
            .finish_non_exhaustive()
    }
}

/// The default serdes of the three types.
impl<K: DefaultSerde, V1: DefaultSerde, V2: DefaultSerde> Default for StreamJoined<K, V1, V2> {
    fn default() -> Self {
        StreamJoined::with(K::default_serde(), V1::default_serde(), V2::default_serde())
    }
}

impl<K, V1, V2> StreamJoined<K, V1, V2> {
    /// Joined with these serdes.
    pub fn with(key_serde: SharedSerde<K>, left_serde: SharedSerde<V1>, right_serde: SharedSerde<V2>) -> Self {
        StreamJoined {
            key_serde,
            left_serde,
            right_serde,
            name: None,
            store_name: None,
        }
    }

    /// Names the join (its repartition topics are `<application.id>-<name>-left-repartition` and
    /// `-right-repartition`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Names the join's stores.
    pub fn with_store_name(mut self, name: impl Into<String>) -> Self {
        self.store_name = Some(name.into());
        self
    }
}

/// A table replicated in full to every instance: each instance reads every partition of its topic
/// into a store that all tasks read. Joined with a stream through a key taken from each stream
/// record, so the stream need not be co-partitioned with it.
pub struct GlobalKTable<K, V> {
    store: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K, V> std::fmt::Debug for GlobalKTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalKTable")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<K, V> GlobalKTable<K, V> {
    /// The name of the table's store.
    pub fn queryable_store_name(&self) -> &str {
        &self.store
    }
}

impl StreamsBuilder {
    /// The records of `topic` as a global table: every instance reads all of it; a record replaces
    /// its key's row, a null value deletes it.
    pub fn global_table<K, V>(&self, topic: &str) -> GlobalKTable<K, V>
    where
        K: DefaultSerde + Data,
        V: DefaultSerde + Data,
    {
        self.global_table_with(topic, Consumed::default(), Materialized::default())
    }

    /// [`global_table`](Self::global_table) with serdes and a store name. The store uses the
    /// topic's serdes (`consumed`); `materialized` names the store.
    pub fn global_table_with<K: Data, V: Data>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V> {
        let building = self.shared();
        let mut state = building.borrow_mut();
        let source = state.name("KSTREAM-SOURCE-", consumed.name.clone());
        let store = state.name(&format!("{topic}-STATE-STORE-"), materialized.name.clone());
        let processor = state.name("KTABLE-SOURCE-", None);
        let (key_serde, value_serde) = (consumed.key_serde, consumed.value_serde);
        let (ks, vs) = (key_serde.clone(), value_serde.clone());
        let check: RecordCheck = Arc::new(move |topic, record| {
            ks.deserialize(topic, record.key.as_deref())?;
            if record.value.is_some() {
                vs.deserialize(topic, record.value.as_deref())?;
            }
            Ok(())
        });
        let table = GlobalTableDef {
            source,
            processor,
            topic: topic.to_string(),
            store: StoreBuilder::key_value(&store).timestamped().without_logging(),
            check,
        };
        if let Err(error) = state.topology.add_global_table(table) {
            state.fail(error);
        }
        GlobalKTable {
            store,
            key_serde,
            value_serde,
        }
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Joins each record with the table's current row for its key: `joiner(&value, &row)`. Records
    /// without a row produce nothing. Only stream records trigger the join; the output keeps the
    /// stream record's key and timestamp. Repartitions the stream first if its key may have changed.
    ///
    /// ```
    /// use streams_core::StreamsConfig;
    /// use streams_core::dsl::{KTable, StreamsBuilder};
    /// use streams_core::testing::TopologyTestDriver;
    ///
    /// let builder = StreamsBuilder::new();
    /// let limits: KTable<String, i64> = builder.table("card-limits");
    /// builder
    ///     .stream::<String, i64>("payments")
    ///     .join_table(&limits, |amount, limit| amount > limit)
    ///     .to("over-limit");
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("limits"))?;
    /// driver.input_topic::<String, Option<i64>>("card-limits").pipe_input("card".into(), Some(100));
    /// driver.input_topic::<String, i64>("payments").pipe_input("card".into(), 250);
    /// assert_eq!(driver.output_topic::<String, bool>("over-limit").read_value(), true);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn join_table<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.join_table_with(table, joiner, Joined::default())
    }

    /// [`join_table`](Self::join_table) with serdes and a repartition topic name.
    pub fn join_table_with<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
        joined: Joined<K, V>,
    ) -> KStream<K, VR> {
        let joiner: StreamTableJoiner<K, V, VT, VR> =
            Arc::new(move |_, value, row| joiner(value, row.expect("an inner join has a row")));
        self.stream_table_join(table, joiner, false, joined)
    }

    /// Like [`join_table`](Self::join_table), but a record without a row is joined with `None`.
    pub fn left_join_table<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.left_join_table_with(table, joiner, Joined::default())
    }

    /// [`left_join_table`](Self::left_join_table) with serdes and a repartition topic name.
    pub fn left_join_table_with<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
        joined: Joined<K, V>,
    ) -> KStream<K, VR> {
        self.stream_table_join(table, Arc::new(move |_, value, row| joiner(value, row)), true, joined)
    }

    fn stream_table_join<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: StreamTableJoiner<K, V, VT, VR>,
        left: bool,
        joined: Joined<K, V>,
    ) -> KStream<K, VR> {
        let building = self.building.clone();
        if !std::rc::Rc::ptr_eq(&building, &table.building) {
            building.borrow_mut().fail(Error::Topology(
                "a join of a stream and a table from two different builders".into(),
            ));
            return KStream::new(building, None, false);
        }
        let Some((table, store, value_serde)) = table.materialize() else {
            return KStream::new(building, None, false);
        };
        let mut state = building.borrow_mut();
        let stream = if self.key_changed {
            let base = state.name("KSTREAM-REPARTITION-", joined.name);
            self.node
                .and_then(|parent| state.add_repartition(&base, parent, joined.key_serde.clone(), joined.value_serde))
        } else {
            self.node
        };
        let name = state.name("KSTREAM-JOIN-", None);
        let key_serde = table.key_serde();
        let node = stream.and_then(|parent| {
            let table_key: TableKey<K, V, K> = Arc::new(|key: &K, _: &V| key.clone());
            let store_name = store.clone();
            let added = state
                .topology
                .add_processor_node(&name, &[parent], vec![store.clone()], move || StreamTableJoin {
                    table: TableStore::Local {
                        name: store_name.clone(),
                        handle: None,
                    },
                    table_key: table_key.clone(),
                    key_serde: key_serde.clone(),
                    value_serde: value_serde.clone(),
                    joiner: joiner.clone(),
                    left,
                });
            state.keep(added)
        });
        if let (Some(node), Some(table_node)) = (node, table.node) {
            state.topology.copartition(&[node, table_node]);
        }
        drop(state);
        KStream::new(building, node, false)
    }

    /// Joins the records of two streams whose timestamps are close: a left record at `t` joins each
    /// right record of the same key in `[t - before, t + after]` (both ends inclusive), in whichever
    /// order they arrive: `joiner(&left, &right)`, once per pair, with the larger timestamp of the
    /// two. Records are kept in window stores for the window plus grace; a record arriving later than
    /// that is dropped and counted. Repartitions a side whose key may have changed.
    ///
    /// ```
    /// use streams_core::StreamsConfig;
    /// use streams_core::dsl::StreamsBuilder;
    /// use streams_core::testing::TopologyTestDriver;
    /// use streams_core::time::{JoinWindows, seconds};
    ///
    /// let builder = StreamsBuilder::new();
    /// let views = builder.stream::<String, String>("ad-views"); // ad → user
    /// let clicks = builder.stream::<String, String>("ad-clicks"); // ad → user
    /// views
    ///     .join(&clicks, |viewer, clicker| viewer == clicker, JoinWindows::of_time_difference_with_no_grace(seconds(10)))
    ///     .to("view-then-click");
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("ads"))?;
    /// driver.input_topic::<String, String>("ad-views").pipe_input_at("ad-1".into(), "ann".into(), 1_000);
    /// driver.input_topic::<String, String>("ad-clicks").pipe_input_at("ad-1".into(), "ann".into(), 9_000);
    /// driver.input_topic::<String, String>("ad-clicks").pipe_input_at("ad-1".into(), "ann".into(), 12_000);
    /// let joined = driver.output_topic::<String, bool>("view-then-click").read_records_to_list();
    /// assert_eq!(joined.len(), 1, "the second click is 11 s after the view");
    /// assert_eq!((joined[0].value, joined[0].timestamp), (true, 9_000));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn join<V2: Data + DefaultSerde, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        joiner: impl Fn(&V, &V2) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.join_with(other, joiner, windows, StreamJoined::default())
    }

    /// [`join`](Self::join) with serdes and names.
    pub fn join_with<V2: Data, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        joiner: impl Fn(&V, &V2) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, V2>,
    ) -> KStream<K, VR> {
        let joiner: StreamJoiner<K, V, V2, VR> = Arc::new(move |_, left, right| {
            joiner(
                left.expect("an inner join has both sides"),
                right.expect("an inner join has both sides"),
            )
        });
        self.stream_join(other, JoinKind::Inner, joiner, windows, joined)
    }

    /// Like [`join`](Self::join), and a left record that found no right record is joined with `None`
    /// once its window has closed (stream time past `t + after + grace`): never earlier, and not at
    /// all if a match arrived in time.
    pub fn left_join<V2: Data + DefaultSerde, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        joiner: impl Fn(&V, Option<&V2>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.left_join_with(other, joiner, windows, StreamJoined::default())
    }

    /// [`left_join`](Self::left_join) with serdes and names.
    pub fn left_join_with<V2: Data, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        joiner: impl Fn(&V, Option<&V2>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, V2>,
    ) -> KStream<K, VR> {
        let joiner: StreamJoiner<K, V, V2, VR> =
            Arc::new(move |_, left, right| joiner(left.expect("a left join has the left side"), right));
        self.stream_join(other, JoinKind::Left, joiner, windows, joined)
    }

    /// Like [`left_join`](Self::left_join) for both sides: a record of either side that found no
    /// partner is joined with `None` on the other side once its window has closed.
    pub fn outer_join<V2: Data + DefaultSerde, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        joiner: impl Fn(Option<&V>, Option<&V2>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.outer_join_with(other, joiner, windows, StreamJoined::default())
    }

    /// [`outer_join`](Self::outer_join) with serdes and names.
    pub fn outer_join_with<V2: Data, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        joiner: impl Fn(Option<&V>, Option<&V2>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        joined: StreamJoined<K, V, V2>,
    ) -> KStream<K, VR> {
        self.stream_join(
            other,
            JoinKind::Outer,
            Arc::new(move |_, left, right| joiner(left, right)),
            windows,
            joined,
        )
    }

    fn stream_join<V2: Data, VR: Data>(
        &self,
        other: &KStream<K, V2>,
        kind: JoinKind,
        joiner: StreamJoiner<K, V, V2, VR>,
        windows: JoinWindows,
        joined: StreamJoined<K, V, V2>,
    ) -> KStream<K, VR> {
        let building = self.building.clone();
        if !std::rc::Rc::ptr_eq(&building, &other.building) {
            building
                .borrow_mut()
                .fail(Error::Topology("a join of streams from two different builders".into()));
            return KStream::new(building, None, false);
        }
        let mut state = building.borrow_mut();
        let (this_prefix, other_prefix) = match kind {
            JoinKind::Inner => ("KSTREAM-JOINTHIS-", "KSTREAM-JOINOTHER-"),
            JoinKind::Left => ("KSTREAM-JOINTHIS-", "KSTREAM-OUTEROTHER-"),
            JoinKind::Outer => ("KSTREAM-OUTERTHIS-", "KSTREAM-OUTEROTHER-"),
        };
        let this_name = state.name(this_prefix, joined.name.as_ref().map(|n| format!("{n}-this-join")));
        let other_name = state.name(other_prefix, joined.name.as_ref().map(|n| format!("{n}-other-join")));
        let merge_name = state.name("KSTREAM-MERGE-", joined.name.as_ref().map(|n| format!("{n}-merge")));
        let base = joined.name.clone().unwrap_or_else(|| this_name.clone());
        let left = match (self.key_changed, self.node) {
            (true, Some(parent)) => state.add_repartition(
                &format!("{base}-left"),
                parent,
                joined.key_serde.clone(),
                joined.left_serde.clone(),
            ),
            (_, node) => node,
        };
        let right = match (other.key_changed, other.node) {
            (true, Some(parent)) => state.add_repartition(
                &format!("{base}-right"),
                parent,
                joined.key_serde.clone(),
                joined.right_serde.clone(),
            ),
            (_, node) => node,
        };
        let store = |suffix: &str, node: &str| match &joined.store_name {
            Some(name) => format!("{name}-{suffix}-join-store"),
            None => format!("{node}-store"),
        };
        let (left_store, right_store) = (store("this", &this_name), store("other", &other_name));
        let outer_store = (kind != JoinKind::Inner).then(|| {
            let outer_node = state.name("KSTREAM-OUTERSHARED-", None);
            store("outer-shared", &outer_node)
        });
        let size = duration(windows.size_ms());
        let retention = size + duration(windows.grace_ms());
        let mut stores = vec![left_store.clone(), right_store.clone()];
        let mut declared = vec![
            StoreBuilder::window(&left_store, size, retention).retaining_duplicates(),
            StoreBuilder::window(&right_store, size, retention).retaining_duplicates(),
        ];
        if let Some(outer) = &outer_store {
            stores.push(outer.clone());
            declared.push(StoreBuilder::key_value(outer));
        }
        for store in declared {
            if let Err(error) = state.topology.add_store(store) {
                state.fail(error);
                return KStream::new(building.clone(), None, false);
            }
        }
        let spec = StreamJoinSpec {
            windows,
            kind,
            left_store,
            right_store,
            outer_store,
            key_serde: joined.key_serde,
            left_value_serde: joined.left_serde,
            right_value_serde: joined.right_serde,
            joiner,
            shared_time: SharedJoinTime::default(),
        };
        let left_spec = spec.clone();
        let this = left.map(|parent| {
            state
                .topology
                .add_processor_node(&this_name, &[parent], stores.clone(), move || {
                    StreamStreamJoin::left(&left_spec)
                })
        });
        let this = this.and_then(|added| state.keep(added));
        let that = right.map(|parent| {
            state
                .topology
                .add_processor_node(&other_name, &[parent], stores.clone(), move || {
                    StreamStreamJoin::right(&spec)
                })
        });
        let that = that.and_then(|added| state.keep(added));
        let merged = match (this, that) {
            (Some(this), Some(that)) => {
                state.topology.copartition(&[this, that]);
                let added = state.topology.add_processor_node::<K, VR, K, VR, _>(
                    &merge_name,
                    &[this, that],
                    Vec::new(),
                    || PassThrough,
                );
                state.keep(added)
            }
            _ => None,
        };
        drop(state);
        KStream::new(building, merged, false)
    }

    /// Joins each record with the global table's row for `key_of(&key, &value)`:
    /// `joiner(&value, &row)`. Records without a row produce nothing. No repartition is ever
    /// needed: every instance has the whole table.
    ///
    /// ```
    /// use streams_core::StreamsConfig;
    /// use streams_core::dsl::StreamsBuilder;
    /// use streams_core::testing::TopologyTestDriver;
    ///
    /// let builder = StreamsBuilder::new();
    /// let countries = builder.global_table::<String, String>("merchant-countries");
    /// builder
    ///     .stream::<String, String>("payments") // card → merchant
    ///     .join_global(&countries, |_card, merchant| merchant.clone(), |merchant, country| format!("{merchant}@{country}"))
    ///     .to("payments-with-country");
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("countries"))?;
    /// driver.input_topic::<String, Option<String>>("merchant-countries").pipe_input("m1".into(), Some("FR".into()));
    /// driver.input_topic::<String, String>("payments").pipe_input("card".into(), "m1".into());
    /// assert_eq!(driver.output_topic::<String, String>("payments-with-country").read_value(), "m1@FR");
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn join_global<KG: Data, VG: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KG, VG>,
        key_of: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: impl Fn(&V, &VG) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        let joiner: StreamTableJoiner<K, V, VG, VR> =
            Arc::new(move |_, value, row| joiner(value, row.expect("an inner join has a row")));
        self.global_join(table, Arc::new(key_of), joiner, false)
    }

    /// Like [`join_global`](Self::join_global), but a record without a row is joined with `None`.
    pub fn left_join_global<KG: Data, VG: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KG, VG>,
        key_of: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VG>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.global_join(
            table,
            Arc::new(key_of),
            Arc::new(move |_, value, row| joiner(value, row)),
            true,
        )
    }

    fn global_join<KG: Data, VG: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KG, VG>,
        table_key: TableKey<K, V, KG>,
        joiner: StreamTableJoiner<K, V, VG, VR>,
        left: bool,
    ) -> KStream<K, VR> {
        let (store, key_serde, value_serde) = (table.store.clone(), table.key_serde.clone(), table.value_serde.clone());
        let node = {
            let mut state = self.building.borrow_mut();
            let name = state.name("KSTREAM-JOIN-", None);
            let added = self.node.map(|parent| {
                state
                    .topology
                    .add_processor_node(&name, &[parent], Vec::new(), move || StreamTableJoin {
                        table: TableStore::Global {
                            name: store.clone(),
                            handle: None,
                        },
                        table_key: table_key.clone(),
                        key_serde: key_serde.clone(),
                        value_serde: value_serde.clone(),
                        joiner: joiner.clone(),
                        left,
                    })
            });
            added.and_then(|added| state.keep(added))
        };
        KStream::new(self.building.clone(), node, self.key_changed)
    }
}
