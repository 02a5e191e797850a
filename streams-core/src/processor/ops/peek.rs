//! `peek` and `foreach`: an action on each record.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Calls `action(&key, &value)`, then forwards the record unchanged (to no one, for `foreach`).
pub(crate) struct Peek<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, F: Fn(&K, &V) + 'static> Processor<K, V> for Peek<F> {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        (self.0)(&record.key, &record.value);
        ctx.forward(record)
    }
}
