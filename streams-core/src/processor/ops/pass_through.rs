//! A node that forwards what it receives: `merge`, and the children of `split`.

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards every record unchanged.
pub(crate) struct PassThrough;

impl<K: Data, V: Data> Processor<K, V> for PassThrough {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        ctx.forward(record)
    }
}
