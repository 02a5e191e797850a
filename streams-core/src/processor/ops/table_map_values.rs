//! `KTable::map_values`: each row's value through a function.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, Processor, ProcessorContext, Record};

/// Maps both sides of each change; tombstones stay tombstones.
pub(crate) struct TableMapValues<F>(pub(crate) Arc<F>);

impl<K, V, V2, F> Processor<K, Change<V>, K, Change<V2>> for TableMapValues<F>
where
    K: Data,
    V: Data,
    V2: Data,
    F: Fn(&K, V) -> V2 + 'static,
{
    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K, Change<V2>>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let value = value.map(|v| (self.0)(&key, v));
        ctx.forward(Record {
            key,
            value,
            timestamp,
            headers,
        })
    }
}
