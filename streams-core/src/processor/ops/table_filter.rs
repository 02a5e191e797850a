//! `KTable::filter`: rows that fail the predicate are absent from the result.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, Processor, ProcessorContext, Record};

/// Applies the predicate to both sides of a change: a side that fails becomes `None`, so a row
/// that stops passing is forwarded as a tombstone. A change that is `None` on both sides after
/// filtering is not forwarded (Kafka Streams does the same when old values are sent, which here
/// they always are).
pub(crate) struct TableFilter<F> {
    pub(crate) predicate: Arc<F>,
    pub(crate) keep: bool,
}

impl<K: Data, V: Data, F: Fn(&K, &V) -> bool + 'static> Processor<K, Change<V>> for TableFilter<F> {
    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let passes = |value: &V| (self.predicate)(&record.key, value) == self.keep;
        let new = record.value.new.clone().filter(|v| passes(v));
        let old = record.value.old.clone().filter(|v| passes(v));
        if new.is_none() && old.is_none() {
            return Ok(());
        }
        ctx.forward(record.with_value(Change::new(new, old)))
    }
}
