//! Aggregation of a grouped table: subtract a row's old value, add its new one.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};

/// Adds a value to a group's aggregate (`None`: the group has none yet).
pub(crate) type Adder<K, V, VA> = Arc<dyn Fn(&K, &V, Option<VA>) -> VA + Send + Sync>;
/// Removes a value from a group's aggregate.
pub(crate) type Subtractor<K, V, VA> = Arc<dyn Fn(&K, &V, VA) -> VA + Send + Sync>;

/// For each change of a group: the subtractor removes the old value (if the group has an
/// aggregate), then the adder adds the new value; the group's new aggregate is stored and forwarded
/// as a change from its old aggregate, with the largest timestamp seen.
pub(crate) struct TableAggregate<K, V, VA> {
    pub(crate) store: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<VA>,
    pub(crate) add: Adder<K, V, VA>,
    pub(crate) subtract: Subtractor<K, V, VA>,
    pub(crate) handle: Option<KeyValueStoreHandle<K, ValueAndTimestamp<VA>>>,
}

impl<K: Data, V: Data, VA: Data> Processor<K, Change<V>, K, Change<VA>> for TableAggregate<K, V, VA> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        self.handle = Some(ctx.key_value_store_handle_with(&self.store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        let (new, old, timestamp) = {
            let mut store = ctx.key_value_store(handle);
            let (old, old_time) = match store.get(&record.key)? {
                Some(current) => (Some(current.value), current.timestamp),
                None => (None, i64::MIN),
            };
            let mut aggregate = match (&record.value.old, old.clone()) {
                (Some(removed), Some(current)) => Some((self.subtract)(&record.key, removed, current)),
                (_, current) => current,
            };
            if let Some(added) = &record.value.new {
                aggregate = Some((self.add)(&record.key, added, aggregate));
            }
            let timestamp = record.timestamp.max(old_time);
            match &aggregate {
                Some(value) => store.put(
                    &record.key,
                    &ValueAndTimestamp {
                        value: value.clone(),
                        timestamp,
                    },
                )?,
                None => return Ok(()),
            }
            (aggregate, old, timestamp)
        };
        let change = Record {
            key: record.key.clone(),
            value: Change::new(new, old),
            timestamp,
            headers: record.headers,
        };
        ctx.forward_key_value_change(handle, &record.key, change)
    }
}
