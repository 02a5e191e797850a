//! `flat_map`: zero or more records from each record.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards every `(key, value)` that `mapper(key, value)` yields, in order, each with the input's
/// timestamp and headers.
pub(crate) struct FlatMap<F>(pub(crate) Arc<F>);

impl<K, V, K2, V2, I, F> Processor<K, V, K2, V2> for FlatMap<F>
where
    K: Data,
    V: Data,
    K2: Data,
    V2: Data,
    I: IntoIterator<Item = (K2, V2)>,
    F: Fn(K, V) -> I + 'static,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K2, V2>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        for (key, value) in (self.0)(key, value) {
            ctx.forward(Record {
                key,
                value,
                timestamp,
                headers: headers.clone(),
            })?;
        }
        Ok(())
    }
}
