//! `flat_map_values`: zero or more values from each record, the key unchanged.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards one record per value that `mapper(&key, value)` yields, each with the input's key,
/// timestamp and headers.
pub(crate) struct FlatMapValues<F>(pub(crate) Arc<F>);

impl<K, V, V2, I, F> Processor<K, V, K, V2> for FlatMapValues<F>
where
    K: Data,
    V: Data,
    V2: Data,
    I: IntoIterator<Item = V2>,
    F: Fn(&K, V) -> I + 'static,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V2>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        for value in (self.0)(&key, value) {
            ctx.forward(Record {
                key: key.clone(),
                value,
                timestamp,
                headers: headers.clone(),
            })?;
        }
        Ok(())
    }
}
