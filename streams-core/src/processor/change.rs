//! [`Change`]: what table nodes forward: a key's new value and the value it replaces.

use crate::serde::{Serde, SerdeError, SerdeErrorKind, SharedSerde};

/// An update of a table row: the new value (`None`: the row is deleted, a tombstone) and the old
/// one (`None`: the row did not exist). Table operators forward changes so that downstream
/// aggregations can subtract the old value and add the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<V> {
    /// The value after the update; `None` deletes the row.
    pub new: Option<V>,
    /// The value before it; `None` when the row was absent.
    pub old: Option<V>,
}

impl<V> Change<V> {
    /// A change from `old` to `new`.
    pub fn new(new: Option<V>, old: Option<V>) -> Self {
        Change { new, old }
    }

    /// Both sides through `f`.
    pub fn map<W>(self, mut f: impl FnMut(V) -> W) -> Change<W> {
        Change {
            new: self.new.map(&mut f),
            old: self.old.map(f),
        }
    }
}

/// The serde of changes on internal repartition topics: a flag byte (bit 0: a new value follows,
/// bit 1: an old value follows), the new value's length (4 bytes big-endian) and bytes, then the old
/// value's bytes. Only this library reads these topics.
pub(crate) struct ChangeSerde<V>(pub(crate) SharedSerde<V>);

impl<V: 'static> Serde<Change<V>> for ChangeSerde<V> {
    fn serialize(&self, topic: &str, change: &Change<V>) -> Result<Option<Vec<u8>>, SerdeError> {
        let new = change
            .new
            .as_ref()
            .map(|v| self.0.serialize(topic, v))
            .transpose()?
            .flatten();
        let old = change
            .old
            .as_ref()
            .map(|v| self.0.serialize(topic, v))
            .transpose()?
            .flatten();
        let flags = u8::from(change.new.is_some()) | (u8::from(change.old.is_some()) << 1);
        let new = new.unwrap_or_default();
        let mut bytes = Vec::with_capacity(5 + new.len() + old.as_ref().map_or(0, Vec::len));
        bytes.push(flags);
        bytes.extend_from_slice(
            &u32::try_from(new.len())
                .map_err(|_| SerdeError::of(SerdeErrorKind::Unserializable, "value over 4 GiB"))?
                .to_be_bytes(),
        );
        bytes.extend_from_slice(&new);
        bytes.extend_from_slice(&old.unwrap_or_default());
        Ok(Some(bytes))
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Change<V>, SerdeError> {
        let bytes = bytes.ok_or_else(|| SerdeError::of(SerdeErrorKind::Null, "null where a change was expected"))?;
        if bytes.len() < 5 {
            return Err(SerdeError::of(
                SerdeErrorKind::Truncated,
                format!("{} bytes: too short for a change", bytes.len()),
            ));
        }
        let flags = bytes[0];
        let length = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes")) as usize;
        let rest = &bytes[5..];
        if rest.len() < length {
            return Err(SerdeError::of(
                SerdeErrorKind::Truncated,
                "a change's new value is cut short",
            ));
        }
        let (new, old) = rest.split_at(length);
        let new = if flags & 1 != 0 {
            Some(self.0.deserialize(topic, Some(new))?)
        } else {
            None
        };
        let old = if flags & 2 != 0 {
            Some(self.0.deserialize(topic, Some(old))?)
        } else {
            None
        };
        Ok(Change { new, old })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::StringSerde;
    use proptest::prelude::*;
    use std::sync::Arc;

    proptest! {
        #[test]
        fn changes_round_trip(new in proptest::option::of(".{0,30}"), old in proptest::option::of(".{0,30}")) {
            let serde = ChangeSerde(Arc::new(StringSerde));
            let change = Change::new(new, old);
            let bytes = serde.serialize("t", &change).unwrap();
            prop_assert_eq!(serde.deserialize("t", bytes.as_deref()).unwrap(), change);
        }
    }
}
