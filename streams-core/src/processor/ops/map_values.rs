//! `map_values`: a new value from each record, the key unchanged.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards `mapper(&key, value)` as the value, keeping key, timestamp and headers.
pub(crate) struct MapValues<F>(pub(crate) Arc<F>);

impl<K, V, V2, F> Processor<K, V, K, V2> for MapValues<F>
where
    K: Data,
    V: Data,
    V2: Data,
    F: Fn(&K, V) -> V2 + 'static,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V2>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let value = (self.0)(&key, value);
        ctx.forward(Record {
            key,
            value,
            timestamp,
            headers,
        })
    }
}
