//! A topic read as a table: each record replaces its key's row; a null value deletes it.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};

/// Materializes the table in a key-value store and forwards each update as a change from the old
/// row to the new one (`None`: a tombstone, which deletes the row and is forwarded too).
pub(crate) struct TableSource<K, V> {
    pub(crate) store: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) handle: Option<KeyValueStoreHandle<K, ValueAndTimestamp<V>>>,
}

impl<K: Data, V: Data> Processor<K, Option<V>, K, Change<V>> for TableSource<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        self.handle = Some(ctx.key_value_store_handle_with(&self.store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, Option<V>>, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        let old = {
            let mut store = ctx.key_value_store(handle);
            match &record.value {
                Some(value) => {
                    let old = store.get(&record.key)?;
                    store.put(
                        &record.key,
                        &ValueAndTimestamp {
                            value: value.clone(),
                            timestamp: record.timestamp,
                        },
                    )?;
                    old
                }
                None => store.delete(&record.key)?,
            }
        };
        let change = Change::new(record.value.clone(), old.map(|o| o.value));
        let key = record.key.clone();
        ctx.forward_key_value_change(handle, &key, record.with_value(change))
    }
}
