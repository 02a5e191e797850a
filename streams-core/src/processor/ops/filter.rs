//! `filter` / `filter_not`: forwards the records a predicate keeps.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// Forwards a record when `predicate(key, value) == keep`.
pub(crate) struct Filter<F> {
    pub(crate) predicate: Arc<F>,
    pub(crate) keep: bool,
}

impl<K: Data, V: Data, F: Fn(&K, &V) -> bool + 'static> Processor<K, V> for Filter<F> {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        if (self.predicate)(&record.key, &record.value) == self.keep {
            ctx.forward(record)?;
        }
        Ok(())
    }
}
