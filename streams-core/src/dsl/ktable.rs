//! [`KTable`]: a changelog stream read as a table, one current value per key.

use std::marker::PhantomData;
use std::sync::Arc;

use super::builder::{Shared, StreamsBuilder};
use super::grouped::Grouped;
use super::kstream::KStream;
use super::materialized::Materialized;
use super::options::{Consumed, Named};
use crate::error::Error;
use crate::processor::ops::pass_through::PassThrough;
use crate::processor::ops::stream_aggregate::{aggregating, counting, reducing};
use crate::processor::ops::suppress::{Suppress, WindowEnd};
use crate::processor::ops::table_aggregate::{Adder, Subtractor, TableAggregate};
use crate::processor::ops::table_filter::TableFilter;
use crate::processor::ops::table_group_by::TableGroupBy;
use crate::processor::ops::table_map_values::TableMapValues;
use crate::processor::ops::table_materialize::TableMaterialize;
use crate::processor::ops::table_source::TableSource;
use crate::processor::ops::table_table_join::{TableJoinKind, TableJoiner, TableTableJoin};
use crate::processor::ops::table_to_stream::TableToStream;
use crate::processor::{Change, ChangeSerde, Data, Processor};
use crate::serde::{DefaultSerde, OptionSerde, SharedSerde};
use crate::state::StoreBuilder;
use crate::time::{SuppressKind, Suppressed};
use crate::topology::TopicName;

/// What a windowed table knows of its windows, for `suppress(until_window_closes)`.
pub(crate) struct TableWindow<K> {
    pub(crate) grace_ms: i64,
    pub(crate) end: WindowEnd<K>,
}

impl<K> Clone for TableWindow<K> {
    fn clone(&self) -> Self {
        TableWindow {
            grace_ms: self.grace_ms,
            end: self.end.clone(),
        }
    }
}

/// A table: for each key, its latest value. Updates flow downstream as changes (new value, old
/// value); a `None` new value is a tombstone, which deletes the key and is forwarded (it reaches
/// `to_stream` as a `None` value, and a topic as a null value).
///
/// Tables come from [`StreamsBuilder::table`] (a topic read as a changelog) and from
/// aggregations.
pub struct KTable<K, V> {
    pub(crate) building: Shared,
    pub(crate) node: Option<usize>,
    store: Option<String>,
    key_serde: SharedSerde<K>,
    value_serde: Option<SharedSerde<V>>,
    window: Option<TableWindow<K>>,
    types: PhantomData<fn() -> V>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            building: self.building.clone(),
            node: self.node,
            store: self.store.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            window: self.window.clone(),
            types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for KTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KTable")
            .field("store", &self.store)
            .field("windowed", &self.window.is_some())
            .finish_non_exhaustive()
    }
}

impl StreamsBuilder {
    /// The records of `topic` read as a table: each record replaces its key's row, a null value
    /// deletes it. Materialized in a key-value store named `<topic>-STATE-STORE-<n>`.
    pub fn table<K, V>(&self, topic: &str) -> KTable<K, V>
    where
        K: DefaultSerde + Data,
        V: DefaultSerde + Data,
    {
        self.table_with(topic, Consumed::default(), Materialized::default())
    }

    /// [`table`](Self::table) with serdes for reading and for the store.
    pub fn table_with<K: Data, V: Data>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let building = self.shared();
        let mut state = building.borrow_mut();
        let source_name = state.name("KSTREAM-SOURCE-", consumed.name);
        let store = state.name(&format!("{topic}-STATE-STORE-"), materialized.name.clone());
        let values: SharedSerde<Option<V>> = Arc::new(OptionSerde::new(consumed.value_serde));
        let source =
            state
                .topology
                .add_source_node(&source_name, vec![TopicName::user(topic)], consumed.key_serde, values);
        let source = state.keep(source);
        let name = state.name("KTABLE-SOURCE-", None);
        let spec = StoreBuilder::key_value(&store).timestamped();
        let spec = materialized.configure(spec);
        let (ks, vs) = (materialized.key_serde.clone(), materialized.value_serde.clone());
        let store_name = store.clone();
        let node = state.add_stateful(&name, source, spec, move || TableSource {
            store: store_name.clone(),
            key_serde: ks.clone(),
            value_serde: vs.clone(),
            handle: None,
        });
        drop(state);
        KTable::new(
            building,
            node,
            Some(store),
            materialized.key_serde,
            Some(materialized.value_serde),
            None,
        )
    }
}

impl<K: Data, V: Data> KTable<K, V> {
    pub(crate) fn new(
        building: Shared,
        node: Option<usize>,
        store: Option<String>,
        key_serde: SharedSerde<K>,
        value_serde: Option<SharedSerde<V>>,
        window: Option<TableWindow<K>>,
    ) -> Self {
        KTable {
            building,
            node,
            store,
            key_serde,
            value_serde,
            window,
            types: PhantomData,
        }
    }

    /// The name of the store holding this table, when it has one (aggregations and source tables).
    pub fn queryable_store_name(&self) -> Option<&str> {
        self.store.as_deref()
    }

    pub(crate) fn key_serde(&self) -> SharedSerde<K> {
        self.key_serde.clone()
    }

    /// This table kept in a store of its own, described by `materialized`: for a derived table
    /// (after `filter` or `map_values`) that is joined, or queried by name.
    pub fn materialized(&self, materialized: Materialized<K, V>) -> KTable<K, V> {
        let mut building = self.building.borrow_mut();
        let store = building.name("KTABLE-MATERIALIZE-STATE-STORE-", materialized.name.clone());
        let name = building.name("KTABLE-MATERIALIZE-", None);
        let spec = materialized.configure(StoreBuilder::key_value(&store).timestamped());
        let (ks, vs, store_name) = (
            materialized.key_serde.clone(),
            materialized.value_serde.clone(),
            store.clone(),
        );
        let node = building.add_stateful(&name, self.node, spec, move || TableMaterialize {
            store: store_name.clone(),
            key_serde: ks.clone(),
            value_serde: vs.clone(),
            handle: None,
        });
        drop(building);
        KTable::new(
            self.building.clone(),
            node,
            Some(store),
            materialized.key_serde,
            Some(materialized.value_serde),
            self.window.clone(),
        )
    }

    /// This table as a join reads it: itself when it has a store, a materialized copy when its
    /// value serde is known. `None` (with the builder failing) otherwise.
    pub(crate) fn materialize(&self) -> Option<(KTable<K, V>, String, SharedSerde<V>)> {
        match (&self.store, &self.value_serde) {
            (Some(store), Some(serde)) => Some((self.clone(), store.clone(), serde.clone())),
            (None, Some(serde)) => {
                let table = self.materialized(Materialized::with(self.key_serde.clone(), serde.clone()));
                let store = table.store.clone()?;
                Some((table, store, serde.clone()))
            }
            (_, None) => {
                self.building.borrow_mut().fail(Error::Topology(
                    "a joined table must be kept in a store, and this one's value type has no known serde: \
                     call .materialized(Materialized::with(key_serde, value_serde)) on it before the join"
                        .into(),
                ));
                None
            }
        }
    }

    /// Joins with another table on the key: whenever either side changes, the joined row is
    /// `joiner(&left, &right)` when both rows exist; when one side is missing, the key is absent
    /// from the result (a tombstone when it was present). The result's timestamp is the larger of
    /// the two rows'.
    ///
    /// ```
    /// use streams_core::StreamsConfig;
    /// use streams_core::dsl::{KTable, StreamsBuilder};
    /// use streams_core::testing::TopologyTestDriver;
    ///
    /// let builder = StreamsBuilder::new();
    /// let names: KTable<String, String> = builder.table("user-names");
    /// let cities: KTable<String, String> = builder.table("user-cities");
    /// names.join(&cities, |name, city| format!("{name} lives in {city}")).to_stream().to("profiles");
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("profiles"))?;
    /// driver.input_topic::<String, Option<String>>("user-names").pipe_input("u1".into(), Some("Ada".into()));
    /// driver.input_topic::<String, Option<String>>("user-cities").pipe_input("u1".into(), Some("London".into()));
    /// let profiles = driver.output_topic::<String, Option<String>>("profiles");
    /// assert_eq!(profiles.read_value(), Some("Ada lives in London".to_string()));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn join<V2: Data, VR: Data>(
        &self,
        other: &KTable<K, V2>,
        joiner: impl Fn(&V, &V2) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        let joiner: TableJoiner<K, V, V2, VR> = Arc::new(move |_, left, right| {
            joiner(
                left.expect("an inner join has both rows"),
                right.expect("an inner join has both rows"),
            )
        });
        self.table_join(other, TableJoinKind::Inner, joiner)
    }

    /// Like [`join`](Self::join), but every left row is in the result, joined with `None` while the
    /// right row is missing; right rows without a left row are not.
    pub fn left_join<V2: Data, VR: Data>(
        &self,
        other: &KTable<K, V2>,
        joiner: impl Fn(&V, Option<&V2>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        let joiner: TableJoiner<K, V, V2, VR> =
            Arc::new(move |_, left, right| joiner(left.expect("a left join has the left row"), right));
        self.table_join(other, TableJoinKind::Left, joiner)
    }

    /// Like [`join`](Self::join), but every key of either table is in the result, with `None` for
    /// the missing side.
    pub fn outer_join<V2: Data, VR: Data>(
        &self,
        other: &KTable<K, V2>,
        joiner: impl Fn(Option<&V>, Option<&V2>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(
            other,
            TableJoinKind::Outer,
            Arc::new(move |_, left, right| joiner(left, right)),
        )
    }

    fn table_join<V2: Data, VR: Data>(
        &self,
        other: &KTable<K, V2>,
        kind: TableJoinKind,
        joiner: TableJoiner<K, V, V2, VR>,
    ) -> KTable<K, VR> {
        let key_serde = self.key_serde.clone();
        let failed = |building: &Shared| KTable::new(building.clone(), None, None, key_serde.clone(), None, None);
        if !std::rc::Rc::ptr_eq(&self.building, &other.building) {
            self.building
                .borrow_mut()
                .fail(Error::Topology("a join of tables from two different builders".into()));
            return failed(&self.building);
        }
        let (Some((left, left_store, left_serde)), Some((right, right_store, right_serde))) =
            (self.materialize(), other.materialize())
        else {
            return failed(&self.building);
        };
        let prefix = match kind {
            TableJoinKind::Inner => "KTABLE-JOIN",
            TableJoinKind::Left => "KTABLE-LEFTJOIN",
            TableJoinKind::Outer => "KTABLE-OUTERJOIN",
        };
        let mut building = self.building.borrow_mut();
        let this_name = building.name(&format!("{prefix}THIS-"), None);
        let other_name = building.name(&format!("{prefix}OTHER-"), None);
        let merge_name = building.name("KTABLE-MERGE-", None);
        let (ks, rs, j) = (key_serde.clone(), right_serde, joiner.clone());
        let this = left.node.map(|parent| {
            let store = right_store.clone();
            building
                .topology
                .add_processor_node(&this_name, &[parent], vec![right_store.clone()], move || {
                    TableTableJoin::left(kind, store.clone(), ks.clone(), rs.clone(), j.clone())
                })
        });
        let this = this.and_then(|added| building.keep(added));
        let (ks, ls) = (key_serde.clone(), left_serde);
        let that = right.node.map(|parent| {
            let store = left_store.clone();
            building
                .topology
                .add_processor_node(&other_name, &[parent], vec![left_store.clone()], move || {
                    TableTableJoin::right(kind, store.clone(), ks.clone(), ls.clone(), joiner.clone())
                })
        });
        let that = that.and_then(|added| building.keep(added));
        let merged = match (this, that) {
            (Some(this), Some(that)) => {
                building.topology.copartition(&[this, that]);
                let added = building.topology.add_processor_node::<K, Change<VR>, K, Change<VR>, _>(
                    &merge_name,
                    &[this, that],
                    Vec::new(),
                    || PassThrough,
                );
                building.keep(added)
            }
            _ => None,
        };
        drop(building);
        KTable::new(self.building.clone(), merged, None, key_serde, None, None)
    }

    /// Adds a table operator after this table's node; the result keeps the key serde and windows.
    fn then<V2: Data, P: Processor<K, Change<V>, K, Change<V2>>>(
        &self,
        prefix: &str,
        named: Option<Named>,
        value_serde: Option<SharedSerde<V2>>,
        supplier: impl Fn() -> P + Send + Sync + 'static,
    ) -> KTable<K, V2> {
        let node =
            self.building
                .borrow_mut()
                .add_after(prefix, named.map(|n| n.0), self.node, |topology, name, parent| {
                    topology.add_processor_node(name, &[parent], Vec::new(), supplier)
                });
        KTable::new(
            self.building.clone(),
            node,
            None,
            self.key_serde.clone(),
            value_serde,
            self.window.clone(),
        )
    }

    /// Keeps the rows for which `predicate(key, value)` holds; a row that stops passing becomes a
    /// tombstone downstream.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KTable<K, V> {
        let predicate = Arc::new(predicate);
        self.then("KTABLE-FILTER-", None, self.value_serde.clone(), move || TableFilter {
            predicate: predicate.clone(),
            keep: true,
        })
    }

    /// Drops the rows for which `predicate(key, value)` holds.
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KTable<K, V> {
        let predicate = Arc::new(predicate);
        self.then("KTABLE-FILTER-", None, self.value_serde.clone(), move || TableFilter {
            predicate: predicate.clone(),
            keep: false,
        })
    }

    /// Each row's value through `mapper`; tombstones stay tombstones.
    pub fn map_values<V2: Data>(&self, mapper: impl Fn(V) -> V2 + Send + Sync + 'static) -> KTable<K, V2> {
        self.map_values_with_key(move |_, value| mapper(value))
    }

    /// Each row's value through `mapper(&key, value)`.
    pub fn map_values_with_key<V2: Data>(&self, mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static) -> KTable<K, V2> {
        let mapper = Arc::new(mapper);
        self.then("KTABLE-MAPVALUES-", None, None, move || TableMapValues(mapper.clone()))
    }

    /// The table's updates as a stream: each update's new value, `None` for a deleted row.
    pub fn to_stream(&self) -> KStream<K, Option<V>> {
        let node =
            self.building
                .borrow_mut()
                .add_after("KTABLE-TOSTREAM-", None, self.node, |topology, name, parent| {
                    topology.add_processor_node::<K, Change<V>, K, Option<V>, _>(name, &[parent], Vec::new(), || {
                        TableToStream
                    })
                });
        KStream::new(self.building.clone(), node, false)
    }

    /// Holds updates back as `suppressed` says (see [`Suppressed`]).
    ///
    /// `until_window_closes` needs a windowed table (from a windowed aggregation); on another table
    /// `build` fails.
    pub fn suppress(&self, suppressed: Suppressed) -> KTable<K, V> {
        let (grace_ms, end) = match (&suppressed.kind, &self.window) {
            (SuppressKind::UntilWindowCloses, Some(window)) => (window.grace_ms, Some(window.end.clone())),
            (SuppressKind::UntilWindowCloses, None) => {
                self.building.borrow_mut().fail(Error::Topology(
                    "suppress(until_window_closes) needs a windowed table (the result of a windowed aggregation)"
                        .into(),
                ));
                return KTable::new(
                    self.building.clone(),
                    None,
                    None,
                    self.key_serde.clone(),
                    self.value_serde.clone(),
                    None,
                );
            }
            (SuppressKind::UntilTimeLimit(_), _) => (0, None),
        };
        let key_serde = self.key_serde.clone();
        let Suppressed { kind, buffer, name } = suppressed;
        self.then(
            "KTABLE-SUPPRESS-",
            name.map(Named),
            self.value_serde.clone(),
            move || Suppress::new(kind, buffer, grace_ms, end.clone(), key_serde.clone()),
        )
    }

    /// Groups the rows by a new key, `selector(&key, &value) -> (new key, new value)`, for an
    /// aggregation that subtracts a row's old value and adds its new one. Always repartitions.
    pub fn group_by<K2, V2>(
        &self,
        selector: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KGroupedTable<K2, V2>
    where
        K2: Data + PartialEq + DefaultSerde,
        V2: Data + DefaultSerde,
    {
        self.group_by_with(selector, Grouped::default())
    }

    /// [`group_by`](Self::group_by) with serdes and a repartition topic name.
    pub fn group_by_with<K2, V2>(
        &self,
        selector: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
        grouped: Grouped<K2, V2>,
    ) -> KGroupedTable<K2, V2>
    where
        K2: Data + PartialEq,
        V2: Data,
    {
        let selector = Arc::new(selector);
        let node = self
            .building
            .borrow_mut()
            .add_after("KTABLE-SELECT-", None, self.node, |topology, name, parent| {
                topology.add_processor_node::<K, Change<V>, K2, Change<V2>, _>(name, &[parent], Vec::new(), move || {
                    TableGroupBy(selector.clone())
                })
            });
        KGroupedTable {
            building: self.building.clone(),
            node,
            grouped,
        }
    }
}

/// A table grouped by a new key: aggregations keep, per group, a value that the subtractor
/// updates when a row leaves the group (or changes) and the adder when a row joins it.
pub struct KGroupedTable<K, V> {
    building: Shared,
    node: Option<usize>,
    grouped: Grouped<K, V>,
}

impl<K, V> std::fmt::Debug for KGroupedTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KGroupedTable")
            .field("grouped", &self.grouped)
            .finish_non_exhaustive()
    }
}

impl<K: Data, V: Data> KGroupedTable<K, V> {
    fn aggregate_with<VA: Data>(
        &self,
        prefix: &str,
        materialized: Materialized<K, VA>,
        add: Adder<K, V, VA>,
        subtract: Subtractor<K, V, VA>,
    ) -> KTable<K, VA> {
        let mut building = self.building.borrow_mut();
        let store = building.name(&format!("{prefix}STATE-STORE-"), materialized.name.clone());
        let base = self.grouped.name.clone().unwrap_or_else(|| store.clone());
        let changes: SharedSerde<Change<V>> = Arc::new(ChangeSerde(self.grouped.value_serde.clone()));
        let source = self
            .node
            .and_then(|parent| building.add_repartition(&base, parent, self.grouped.key_serde.clone(), changes));
        let name = building.name(prefix, None);
        let spec = StoreBuilder::key_value(&store).timestamped();
        let spec = materialized.configure(spec);
        let (ks, vs, store_name) = (
            materialized.key_serde.clone(),
            materialized.value_serde.clone(),
            store.clone(),
        );
        let node = building.add_stateful(&name, source, spec, move || TableAggregate {
            store: store_name.clone(),
            key_serde: ks.clone(),
            value_serde: vs.clone(),
            add: add.clone(),
            subtract: subtract.clone(),
            handle: None,
        });
        drop(building);
        KTable::new(
            self.building.clone(),
            node,
            Some(store),
            materialized.key_serde,
            Some(materialized.value_serde),
            None,
        )
    }

    /// The number of rows per group.
    pub fn count(&self) -> KTable<K, i64>
    where
        K: DefaultSerde,
    {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) into the store `materialized` describes.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate_with(
            "KTABLE-AGGREGATE-",
            materialized,
            counting(),
            Arc::new(|_, _, count: i64| count - 1),
        )
    }

    /// Combines each group's values with `adder(aggregate, value)`, and removes a value with
    /// `subtractor(aggregate, value)`; a group's first value is its aggregate as it is.
    pub fn reduce(
        &self,
        adder: impl Fn(V, &V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(V, &V) -> V + Send + Sync + 'static,
    ) -> KTable<K, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.aggregate_with(
            "KTABLE-REDUCE-",
            Materialized::default(),
            reducing(adder),
            Arc::new(move |_, value: &V, aggregate: V| subtractor(aggregate, value)),
        )
    }

    /// Folds each group's values: `initializer()` for a new group, `adder(&key, &value, aggregate)`
    /// when a row joins, `subtractor(&key, &value, aggregate)` when it leaves. An update of a row
    /// subtracts its old value, then adds its new one.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        self.aggregate_with(
            "KTABLE-AGGREGATE-",
            materialized,
            aggregating(initializer, adder),
            Arc::new(subtractor),
        )
    }
}
