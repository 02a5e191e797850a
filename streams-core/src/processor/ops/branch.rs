//! `split`: each record to the first branch whose predicate holds.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext, Record};

/// A branch predicate.
pub(crate) type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

/// Forwards each record to the child of the first predicate that holds, or to the default child,
/// or drops it when there is none (Kafka Streams' `split`).
pub(crate) struct Branch<K, V> {
    pub(crate) branches: Arc<Vec<(Predicate<K, V>, String)>>,
    pub(crate) default: Option<String>,
}

impl<K: Data, V: Data> Processor<K, V> for Branch<K, V> {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        let chosen = self
            .branches
            .iter()
            .find(|(predicate, _)| predicate(&record.key, &record.value))
            .map(|(_, child)| child)
            .or(self.default.as_ref());
        match chosen {
            Some(child) => ctx.forward_to(child, record),
            None => Ok(()),
        }
    }
}
