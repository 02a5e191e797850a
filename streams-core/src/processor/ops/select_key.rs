//! `select_key`: a new key from each record, the value unchanged.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards the record with key `selector(&key, &value)`.
pub(crate) struct SelectKey<F>(pub(crate) Arc<F>);

impl<K, V, K2, F> Processor<K, V, K2, V> for SelectKey<F>
where
    K: Data,
    V: Data,
    K2: Data,
    F: Fn(&K, &V) -> K2 + 'static,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K2, V>) -> Result<()> {
        let key = (self.0)(&record.key, &record.value);
        ctx.forward(record.with_key(key))
    }
}
