//! [`Window`] and [`Windowed`]: a key in a window, and their serdes.

use std::fmt;
use std::sync::Arc;

use crate::serde::{DefaultSerde, Serde, SerdeError, SerdeErrorKind, SharedSerde};

/// A window: `start` and `end` in milliseconds since the epoch.
///
/// For time windows (tumbling, hopping) `end` is **exclusive**: `[start, end)`. For sliding and
/// session windows both ends are inclusive: `[start, end]`, as in Kafka Streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// The start.
    pub start: i64,
    /// The end.
    pub end: i64,
}

impl Window {
    /// The window `[start, end)` or `[start, end]` by kind.
    pub fn new(start: i64, end: i64) -> Self {
        Window { start, end }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.start, self.end)
    }
}

/// A key within a window: what windowed aggregations produce.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Windowed<K> {
    /// The record key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K> Windowed<K> {
    /// `key` in `window`.
    pub fn new(key: K, window: Window) -> Self {
        Windowed { key, window }
    }
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.key, self.window)
    }
}

/// The default serde of `Windowed<K>` writes Kafka's *session*-windowed layout (key bytes, end, start:
/// 8 bytes big-endian each), which keeps both ends and so reads back exactly for every kind of window.
/// To write time-windowed keys that Java's `TimeWindowedDeserializer` reads, use
/// [`TimeWindowedSerde`].
impl<K: DefaultSerde> DefaultSerde for Windowed<K> {
    fn default_serde() -> SharedSerde<Self> {
        Arc::new(SessionWindowedSerde::new(K::default_serde()))
    }
}

/// Kafka's `TimeWindowedSerde`: key bytes then the window start (8 bytes big-endian). The end is
/// not written: it is `start + window_size` on reading (Java's deserializer does the same).
pub struct TimeWindowedSerde<K> {
    inner: SharedSerde<K>,
    window_size_ms: i64,
}

impl<K> fmt::Debug for TimeWindowedSerde<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeWindowedSerde")
            .field("window_size_ms", &self.window_size_ms)
            .finish()
    }
}

impl<K> TimeWindowedSerde<K> {
    /// Windowed keys of windows of `window_size` whose keys `inner` serializes.
    pub fn new(inner: SharedSerde<K>, window_size: std::time::Duration) -> Self {
        TimeWindowedSerde {
            inner,
            window_size_ms: super::ms(window_size),
        }
    }
}

impl<K: 'static> Serde<Windowed<K>> for TimeWindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>) -> Result<Option<Vec<u8>>, SerdeError> {
        let mut bytes = key_bytes(&self.inner, topic, &value.key)?;
        bytes.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(Some(bytes))
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Windowed<K>, SerdeError> {
        let bytes =
            bytes.ok_or_else(|| SerdeError::of(SerdeErrorKind::Null, "null where a windowed key was expected"))?;
        let (key, start) = split_time(bytes)?;
        let key = self.inner.deserialize(topic, Some(key))?;
        Ok(Windowed::new(
            key,
            Window::new(start, start.saturating_add(self.window_size_ms)),
        ))
    }
}

/// Kafka's `SessionWindowedSerde`: key bytes, then the window end and start (8 bytes big-endian each).
pub struct SessionWindowedSerde<K> {
    inner: SharedSerde<K>,
}

impl<K> fmt::Debug for SessionWindowedSerde<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionWindowedSerde")
    }
}

impl<K> SessionWindowedSerde<K> {
    /// Windowed keys whose keys `inner` serializes.
    pub fn new(inner: SharedSerde<K>) -> Self {
        SessionWindowedSerde { inner }
    }
}

impl<K: 'static> Serde<Windowed<K>> for SessionWindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>) -> Result<Option<Vec<u8>>, SerdeError> {
        let mut bytes = key_bytes(&self.inner, topic, &value.key)?;
        bytes.extend_from_slice(&value.window.end.to_be_bytes());
        bytes.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(Some(bytes))
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Windowed<K>, SerdeError> {
        let bytes =
            bytes.ok_or_else(|| SerdeError::of(SerdeErrorKind::Null, "null where a windowed key was expected"))?;
        let (rest, start) = split_time(bytes)?;
        let (key, end) = split_time(rest)?;
        let key = self.inner.deserialize(topic, Some(key))?;
        Ok(Windowed::new(key, Window::new(start, end)))
    }
}

fn key_bytes<K: 'static>(inner: &SharedSerde<K>, topic: &str, key: &K) -> Result<Vec<u8>, SerdeError> {
    inner.serialize(topic, key)?.ok_or_else(|| {
        SerdeError::of(
            SerdeErrorKind::Unserializable,
            "a windowed key's key serialized to null",
        )
    })
}

/// Splits the trailing 8-byte big-endian timestamp off `bytes`.
fn split_time(bytes: &[u8]) -> Result<(&[u8], i64), SerdeError> {
    let at = bytes.len().checked_sub(8).ok_or_else(|| {
        SerdeError::of(
            SerdeErrorKind::Truncated,
            format!("{} bytes: too short for a windowed key", bytes.len()),
        )
    })?;
    let (key, time) = bytes.split_at(at);
    Ok((key, i64::from_be_bytes(time.try_into().expect("8 bytes"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::StringSerde;
    use proptest::prelude::*;

    #[test]
    fn time_windowed_serde_writes_kafkas_layout() {
        let serde = TimeWindowedSerde::new(Arc::new(StringSerde), std::time::Duration::from_millis(10));
        let key = Windowed::new("ab".to_string(), Window::new(20, 30));
        let bytes = serde.serialize("t", &key).unwrap().unwrap();
        assert_eq!(bytes, [b'a', b'b', 0, 0, 0, 0, 0, 0, 0, 20]);
        assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), key);
        assert!(serde.deserialize("t", Some(&[1, 2])).is_err());
    }

    #[test]
    fn session_windowed_serde_writes_end_then_start() {
        let serde = SessionWindowedSerde::new(Arc::new(StringSerde));
        let key = Windowed::new("k".to_string(), Window::new(5, 9));
        let bytes = serde.serialize("t", &key).unwrap().unwrap();
        assert_eq!(bytes, [b'k', 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), key);
    }

    proptest! {
        #[test]
        fn default_windowed_serde_round_trips(key in ".{0,20}", start in 0i64..i64::MAX / 2, length in 0i64..1_000_000) {
            let serde = Windowed::<String>::default_serde();
            let windowed = Windowed::new(key, Window::new(start, start + length));
            let bytes = serde.serialize("t", &windowed).unwrap();
            prop_assert_eq!(serde.deserialize("t", bytes.as_deref()).unwrap(), windowed);
        }
    }
}
