//! `map`: a new key and value from each record.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards `mapper(key, value)`, keeping timestamp and headers.
pub(crate) struct Map<F>(pub(crate) Arc<F>);

impl<K, V, K2, V2, F> Processor<K, V, K2, V2> for Map<F>
where
    K: Data,
    V: Data,
    K2: Data,
    V2: Data,
    F: Fn(K, V) -> (K2, V2) + 'static,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K2, V2>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let (key, value) = (self.0)(key, value);
        ctx.forward(Record {
            key,
            value,
            timestamp,
            headers,
        })
    }
}
