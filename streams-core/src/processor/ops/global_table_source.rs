//! The source of a global table: every record of the topic is written to the global store, as it
//! is, on every instance.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::runtime::RawRecord;
use crate::serde::SerdeError;
use crate::state::StoreInstance;

/// Checks that a record's key and value read with the table's serdes (so a bad record fails where
/// it is read, naming it, rather than where it is looked up).
pub(crate) type RecordCheck = Arc<dyn Fn(&str, &RawRecord) -> Result<(), SerdeError> + Send + Sync>;

/// Applies one record of a global table's topic to its store: a value replaces the key's row (kept
/// with its timestamp, in the timestamped layout the join processors read), a null value deletes
/// it. Keys and values keep the topic's bytes: the table's serdes are the store's serdes.
///
/// # Errors
/// [`Error::Record`] when the record has no key, no valid timestamp, or does not deserialize.
// Only the test driver runs global tables so far.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn apply(
    store: &mut StoreInstance,
    check: &RecordCheck,
    topic: &str,
    partition: i32,
    offset: i64,
    record: &RawRecord,
) -> Result<()> {
    let fail = |reason: String| Error::Record {
        topic: topic.to_string(),
        partition,
        offset,
        reason,
    };
    check(topic, record).map_err(|e| fail(format!("global table record: {e}")))?;
    let key = record
        .key
        .as_deref()
        .ok_or_else(|| fail("a global table record needs a key".into()))?;
    let StoreInstance::KeyValue(store) = store else {
        unreachable!("global tables have key-value stores")
    };
    match &record.value {
        None => store.put(key, None)?,
        Some(value) => {
            let timestamp = record.timestamp.filter(|t| *t >= 0).ok_or_else(|| {
                fail(format!(
                    "invalid timestamp {:?}: records need a timestamp >= 0",
                    record.timestamp
                ))
            })?;
            let mut row = Vec::with_capacity(8 + value.len());
            row.extend_from_slice(&timestamp.to_be_bytes());
            row.extend_from_slice(value);
            store.put(key, Some(&row))?;
        }
    }
    Ok(())
}
