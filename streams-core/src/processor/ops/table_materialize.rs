//! Materializes a derived table (after `filter` or `map_values`) in a store of its own, so that it
//! can be joined.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};

/// Writes each change's new value to the store (deleting the row on a tombstone) and forwards the
/// change unchanged.
pub(crate) struct TableMaterialize<K, V> {
    pub(crate) store: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) handle: Option<KeyValueStoreHandle<K, ValueAndTimestamp<V>>>,
}

impl<K: Data, V: Data> Processor<K, Change<V>> for TableMaterialize<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        self.handle = Some(ctx.key_value_store_handle_with(&self.store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        {
            let mut store = ctx.key_value_store(handle);
            match &record.value.new {
                Some(value) => store.put(
                    &record.key,
                    &ValueAndTimestamp {
                        value: value.clone(),
                        timestamp: record.timestamp,
                    },
                )?,
                None => {
                    store.delete(&record.key)?;
                }
            }
        }
        let key = record.key.clone();
        ctx.forward_key_value_change(handle, &key, record)
    }
}
