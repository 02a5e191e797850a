//! `count` / `reduce` / `aggregate` of a grouped stream: a running value per key in a key-value store.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};

/// Computes a key's new aggregate from a record and the key's current aggregate (`None` for the
/// key's first record): `count`, `reduce` and `aggregate` are each one of these.
pub(crate) type Updater<K, V, VA> = Arc<dyn Fn(&K, &V, Option<VA>) -> VA + Send + Sync>;

/// `count`: one more per record.
pub(crate) fn counting<K, V>() -> Updater<K, V, i64> {
    Arc::new(|_, _, count: Option<i64>| count.unwrap_or(0) + 1)
}

/// `reduce`: the first value as it is, then `reducer(aggregate, value)`.
pub(crate) fn reducing<K, V: Clone>(reducer: impl Fn(V, &V) -> V + Send + Sync + 'static) -> Updater<K, V, V> {
    Arc::new(move |_, value: &V, aggregate: Option<V>| match aggregate {
        None => value.clone(),
        Some(aggregate) => reducer(aggregate, value),
    })
}

/// `aggregate`: `initializer()` for a new key (or window), then `aggregator(&key, &value, aggregate)`.
pub(crate) fn aggregating<K, V, VA>(
    initializer: impl Fn() -> VA + Send + Sync + 'static,
    aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
) -> Updater<K, V, VA> {
    Arc::new(move |key: &K, value: &V, aggregate: Option<VA>| {
        aggregator(key, value, aggregate.unwrap_or_else(&initializer))
    })
}

/// Updates the key's aggregate and forwards the change. The result's timestamp is the largest of
/// the key's input timestamps (Kafka Streams' rule for aggregates).
pub(crate) struct StreamAggregate<K, V, VA> {
    pub(crate) store: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<VA>,
    pub(crate) update: Updater<K, V, VA>,
    pub(crate) handle: Option<KeyValueStoreHandle<K, ValueAndTimestamp<VA>>>,
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, K, Change<VA>> for StreamAggregate<K, V, VA> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        self.handle = Some(ctx.key_value_store_handle_with(&self.store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        let (new, old, timestamp) = {
            let mut store = ctx.key_value_store(handle);
            let (old, old_time) = match store.get(&record.key)? {
                Some(current) => (Some(current.value), current.timestamp),
                None => (None, i64::MIN),
            };
            let new = (self.update)(&record.key, &record.value, old.clone());
            let timestamp = record.timestamp.max(old_time);
            store.put(
                &record.key,
                &ValueAndTimestamp {
                    value: new.clone(),
                    timestamp,
                },
            )?;
            (new, old, timestamp)
        };
        let change = Record {
            key: record.key.clone(),
            value: Change::new(Some(new), old),
            timestamp,
            headers: record.headers,
        };
        ctx.forward_key_value_change(handle, &record.key, change)
    }
}
