//! `KTable::to_stream`: the table's changelog as a stream.

use crate::error::Result;
use crate::processor::{Change, Data, Processor, ProcessorContext, Record};

/// Forwards each change's new value: `None` for a deleted row, so tombstones reach the stream
/// (and, written to a topic, become null values), as in Kafka Streams.
pub(crate) struct TableToStream;

impl<K: Data, V: Data> Processor<K, Change<V>, K, Option<V>> for TableToStream {
    fn process(&mut self, record: Record<K, Change<V>>, ctx: &mut ProcessorContext<'_, K, Option<V>>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        ctx.forward(Record {
            key,
            value: value.new,
            timestamp,
            headers,
        })
    }
}
