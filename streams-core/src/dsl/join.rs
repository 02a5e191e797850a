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
use crate::processor::ops::stream_table_join::{StreamTableJoin, StreamTableJoiner, TableKey, TableStore};
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::StoreBuilder;
use crate::topology::GlobalTableDef;

/// Options of a stream-table join: the serdes of the stream's key and value (used if the stream
/// must be repartitioned first because its key may have changed) and the name of that repartition
/// topic.
pub struct Joined<K, V> {
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) name: Option<String>,
}

impl<K, V> std::fmt::Debug for Joined<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The default serdes of the key and value types.
impl<K: DefaultSerde, V: DefaultSerde> Default for Joined<K, V> {
    fn default() -> Self {
        Joined::with(K::default_serde(), V::default_serde())
    }
}

impl<K, V> Joined<K, V> {
    /// Joined with these serdes.
    pub fn with(key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Joined {
            key_serde,
            value_serde,
            name: None,
        }
    }

    /// Names the repartition topic (`<application.id>-<name>-repartition`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
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
        let Some((store, value_serde)) = table.materialize() else {
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
