//! [`KGroupedStream`]: a stream grouped by key, ready to aggregate.

use super::kstream::KStream;
use super::ktable::KTable;
use super::materialized::Materialized;
use super::windowed::Windowing;
use crate::processor::Data;
use crate::processor::ops::stream_aggregate::{StreamAggregate, Updater, aggregating, counting, reducing};
use crate::serde::DefaultSerde;
use crate::state::StoreBuilder;

super::options::serde_options!(
    /// How a stream is grouped: the serdes of the key and value (used if a repartition topic is
    /// needed) and the name of that repartition topic (`<application.id>-<name>-repartition`; by
    /// default the name of the aggregation's store).
    Grouped,
    "Grouped with these serdes.",
    "Names the repartition topic."
);

/// A stream grouped by key. Aggregations turn it into a [`KTable`] with one row per key.
///
/// If the stream's key may have changed since it was read (`map`, `select_key`, `group_by`, …),
/// records go through a repartition topic first, so that all records of a key meet in one task.
///
/// Aggregations skip nothing: every record updates its key's row, and the row's timestamp is the
/// largest timestamp of the key's records.
pub struct KGroupedStream<K, V> {
    pub(crate) stream: KStream<K, V>,
    pub(crate) grouped: Grouped<K, V>,
    pub(crate) repartition: bool,
}

impl<K, V> Clone for KGroupedStream<K, V> {
    fn clone(&self) -> Self {
        KGroupedStream {
            stream: self.stream.clone(),
            grouped: self.grouped.clone(),
            repartition: self.repartition,
        }
    }
}

impl<K, V> std::fmt::Debug for KGroupedStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KGroupedStream")
            .field("stream", &self.stream)
            .field("repartition", &self.repartition)
            .finish_non_exhaustive()
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Groups by the current key, with the default serdes. Repartitions first if the key may have
    /// changed.
    pub fn group_by_key(&self) -> KGroupedStream<K, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.group_by_key_with(Grouped::default())
    }

    /// Groups by the current key, with serdes and a repartition topic name.
    pub fn group_by_key_with(&self, grouped: Grouped<K, V>) -> KGroupedStream<K, V> {
        KGroupedStream {
            stream: self.clone(),
            repartition: self.key_changed,
            grouped,
        }
    }

    /// Groups by a new key `selector(&key, &value)`, always through a repartition topic.
    pub fn group_by<K2: Data + DefaultSerde>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KGroupedStream<K2, V>
    where
        V: DefaultSerde,
    {
        self.group_by_with(selector, Grouped::default())
    }

    /// [`group_by`](Self::group_by) with serdes and a repartition topic name.
    pub fn group_by_with<K2: Data>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
        grouped: Grouped<K2, V>,
    ) -> KGroupedStream<K2, V> {
        KGroupedStream {
            stream: self.select_key(selector),
            repartition: true,
            grouped,
        }
    }
}

impl<K: Data, V: Data> KGroupedStream<K, V> {
    /// The stream the aggregation reads: through a repartition topic named after `store` (or the
    /// grouping's name) when needed.
    pub(crate) fn source(&self, store: &str) -> Option<usize> {
        if !self.repartition {
            return self.stream.node;
        }
        let base = self.grouped.name.clone().unwrap_or_else(|| store.to_string());
        let mut building = self.stream.building.borrow_mut();
        let parent = self.stream.node?;
        building.add_repartition(
            &base,
            parent,
            self.grouped.key_serde.clone(),
            self.grouped.value_serde.clone(),
        )
    }

    /// The name of a store: the materialized one, or `<prefix>STATE-STORE-<n>`.
    pub(crate) fn store_name<VA>(&self, prefix: &str, materialized: &Materialized<K, VA>) -> String {
        self.stream
            .building
            .borrow_mut()
            .name(&format!("{prefix}STATE-STORE-"), materialized.name.clone())
    }

    /// Adds the aggregation processor reading `source` with a key-value store, and its table.
    pub(crate) fn aggregate_with_updater<VA: Data>(
        &self,
        prefix: &str,
        materialized: Materialized<K, VA>,
        update: Updater<K, V, VA>,
    ) -> KTable<K, VA> {
        let store = self.store_name(prefix, &materialized);
        let source = self.source(&store);
        let spec = StoreBuilder::key_value(&store).timestamped();
        let spec = materialized.configure(spec);
        let (key_serde, value_serde) = (materialized.key_serde, materialized.value_serde);
        let node = {
            let mut building = self.stream.building.borrow_mut();
            let name = building.name(prefix, None);
            let (store, ks, vs) = (store.clone(), key_serde.clone(), value_serde.clone());
            building.add_stateful(&name, source, spec, move || StreamAggregate {
                store: store.clone(),
                key_serde: ks.clone(),
                value_serde: vs.clone(),
                update: update.clone(),
                handle: None,
            })
        };
        KTable::new(
            self.stream.building.clone(),
            node,
            Some(store),
            key_serde,
            Some(value_serde),
            None,
        )
    }

    /// The number of records per key.
    pub fn count(&self) -> KTable<K, i64>
    where
        K: DefaultSerde,
    {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) into the store `materialized` describes.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate_with_updater("KSTREAM-AGGREGATE-", materialized, counting())
    }

    /// Combines the values of each key: the first value as it is, then `reducer(aggregate, value)`.
    pub fn reduce(&self, reducer: impl Fn(V, &V) -> V + Send + Sync + 'static) -> KTable<K, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) into the store `materialized` describes.
    pub fn reduce_with(
        &self,
        reducer: impl Fn(V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        self.aggregate_with_updater("KSTREAM-REDUCE-", materialized, reducing(reducer))
    }

    /// Folds the values of each key into an aggregate: `initializer()` for a new key, then
    /// `aggregator(&key, &value, aggregate)` for each record.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        self.aggregate_with_updater("KSTREAM-AGGREGATE-", materialized, aggregating(initializer, aggregator))
    }

    /// Aggregates per key and window: `TimeWindows` and `SlidingWindows` give a
    /// [`TimeWindowedKStream`](super::TimeWindowedKStream), `SessionWindows` a
    /// [`SessionWindowedKStream`](super::SessionWindowedKStream).
    pub fn windowed_by<W: Windowing<K, V>>(&self, windows: W) -> W::Stream {
        windows.windowed(self.clone())
    }
}
