//! Windowed `count` / `reduce` / `aggregate` over [`TimeWindows`]: a running value per key and
//! window, late records dropped.

use std::sync::Arc;

use super::stream_aggregate::Updater;
use crate::error::Result;
use crate::processor::{Change, Data, Processor, ProcessorContext, Record, WindowStoreHandle};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};
use crate::time::{TimeWindows, Windowed};

/// For each window of the record: if stream time has not reached the window's end plus grace,
/// updates the key's aggregate in that window and forwards the change; otherwise drops the record
/// for that window and counts it in the dropped-records metric (once per closed window, as Kafka
/// Streams does).
pub(crate) struct TimeWindowAggregate<K, V, VA> {
    pub(crate) windows: TimeWindows,
    pub(crate) store: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<VA>,
    pub(crate) update: Updater<K, V, VA>,
    pub(crate) handle: Option<WindowStoreHandle<K, ValueAndTimestamp<VA>>>,
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, Windowed<K>, Change<VA>> for TimeWindowAggregate<K, V, VA> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        self.handle = Some(ctx.window_store_handle_with(&self.store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        let stream_time = ctx.stream_time().unwrap_or(record.timestamp);
        let close_time = stream_time.saturating_sub(self.windows.grace_ms());
        for window in self.windows.windows_for(record.timestamp) {
            if window.end <= close_time {
                ctx.record_dropped();
                continue;
            }
            let (new, old, timestamp) = {
                let mut store = ctx.window_store(handle);
                let (old, old_time) = match store.fetch(&record.key, window.start)? {
                    Some(current) => (Some(current.value), current.timestamp),
                    None => (None, i64::MIN),
                };
                let new = (self.update)(&record.key, &record.value, old.clone());
                let timestamp = record.timestamp.max(old_time);
                store.put(
                    &record.key,
                    Some(&ValueAndTimestamp {
                        value: new.clone(),
                        timestamp,
                    }),
                    window.start,
                )?;
                (new, old, timestamp)
            };
            let change = Record {
                key: Windowed::new(record.key.clone(), window),
                value: Change::new(Some(new), old),
                timestamp,
                headers: record.headers.clone(),
            };
            ctx.forward_window_change(handle, &record.key, window.start, change)?;
        }
        Ok(())
    }
}
