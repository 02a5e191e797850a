//! Stream-table joins: each stream record looks up the table's current row for its key (a table
//! partition's store, or a global table's store with a key taken from the record).

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, GlobalStoreHandle, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};

/// Joins a stream value with the table row it found (`None`: no row).
pub(crate) type StreamTableJoiner<K, V, VT, VR> = Arc<dyn Fn(&K, &V, Option<&VT>) -> VR + Send + Sync>;

/// The table key a stream record looks up.
pub(crate) type TableKey<K, V, KT> = Arc<dyn Fn(&K, &V) -> KT + Send + Sync>;

/// Where the table's rows are.
pub(crate) enum TableStore<KT, VT> {
    /// A key-value store of this task (the table is co-partitioned with the stream).
    Local {
        name: String,
        handle: Option<KeyValueStoreHandle<KT, ValueAndTimestamp<VT>>>,
    },
    /// A global table's store, the same for every task.
    Global {
        name: String,
        handle: Option<GlobalStoreHandle<KT, ValueAndTimestamp<VT>>>,
    },
}

/// Looks up the row of `table_key(key, value)` and forwards `joiner(key, value, row)` with the
/// stream record's key and timestamp. With `left` false (an inner join), a record without a row
/// produces nothing; a tombstoned row is an absent row. Table updates alone produce nothing: only
/// stream records trigger the join, as in Kafka Streams.
pub(crate) struct StreamTableJoin<K, V, KT, VT, VR> {
    pub(crate) table: TableStore<KT, VT>,
    pub(crate) table_key: TableKey<K, V, KT>,
    pub(crate) key_serde: SharedSerde<KT>,
    pub(crate) value_serde: SharedSerde<VT>,
    pub(crate) joiner: StreamTableJoiner<K, V, VT, VR>,
    pub(crate) left: bool,
}

impl<K: Data, V: Data, KT: Data, VT: Data, VR: Data> Processor<K, V, K, VR> for StreamTableJoin<K, V, KT, VT, VR> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        match &mut self.table {
            TableStore::Local { name, handle } => {
                *handle = Some(ctx.key_value_store_handle_with(name, self.key_serde.clone(), values)?);
            }
            TableStore::Global { name, handle } => {
                *handle = Some(ctx.global_store_handle_with(name, self.key_serde.clone(), values)?);
            }
        }
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        let key = (self.table_key)(&record.key, &record.value);
        let row = match &self.table {
            TableStore::Local { handle, .. } => ctx.key_value_store(handle.as_ref().expect("init ran")).get(&key)?,
            TableStore::Global { handle, .. } => ctx.global_store_get(handle.as_ref().expect("init ran"), &key)?,
        };
        let row = row.map(|row| row.value);
        if row.is_none() && !self.left {
            return Ok(());
        }
        let joined = (self.joiner)(&record.key, &record.value, row.as_ref());
        ctx.forward(record.with_value(joined))
    }
}
