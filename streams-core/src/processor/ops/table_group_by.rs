//! `KTable::group_by`: re-keys a table's changes for an aggregation by another key.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, Processor, ProcessorContext, Record};

/// Maps each side of a change to its new key and value. When both sides map to the same key, one
/// change is forwarded; otherwise the old side is forwarded first as a removal from its group, then
/// the new side as an addition to its group (so an aggregation subtracts before it adds).
pub(crate) struct TableGroupBy<F>(pub(crate) Arc<F>);

impl<K, V, K2, V2, F> Processor<K, Change<V>, K2, Change<V2>> for TableGroupBy<F>
where
    K: Data,
    V: Data,
    K2: Data + PartialEq,
    V2: Data,
    F: Fn(&K, &V) -> (K2, V2) + 'static,
{
    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K2, Change<V2>>) -> Result<()> {
        let new = record.value.new.as_ref().map(|v| (self.0)(&record.key, v));
        let old = record.value.old.as_ref().map(|v| (self.0)(&record.key, v));
        let (timestamp, headers) = (record.timestamp, record.headers);
        match (new, old) {
            (Some((new_key, new)), Some((old_key, old))) if new_key == old_key => ctx.forward(Record {
                key: new_key,
                value: Change::new(Some(new), Some(old)),
                timestamp,
                headers,
            }),
            (new, old) => {
                if let Some((key, old)) = old {
                    ctx.forward(Record {
                        key,
                        value: Change::new(None, Some(old)),
                        timestamp,
                        headers: headers.clone(),
                    })?;
                }
                if let Some((key, new)) = new {
                    ctx.forward(Record {
                        key,
                        value: Change::new(Some(new), None),
                        timestamp,
                        headers,
                    })?;
                }
                Ok(())
            }
        }
    }
}
