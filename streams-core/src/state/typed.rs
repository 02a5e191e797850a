//! Typed facades over the byte-level stores: what processors use. Keys and values go through the
//! store's serdes; a serde failure or a store failure is an [`Error`].

use std::sync::Arc;

use super::traits::{KeyValueBytesStore, SessionBytesStore, SessionWindow, WindowBytesStore};
use crate::error::{Error, Result};
use crate::serde::{Serde, SerdeError, SerdeErrorKind, SharedSerde};

/// A value with the timestamp of the record that last changed it (Kafka's `ValueAndTimestamp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueAndTimestamp<V> {
    /// The value.
    pub value: V,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// Kafka's timestamped-store value layout: the timestamp (8 bytes big-endian), then the value bytes.
pub(crate) struct TimestampedSerde<V>(pub(crate) SharedSerde<V>);

impl<V: 'static> Serde<ValueAndTimestamp<V>> for TimestampedSerde<V> {
    fn serialize(&self, topic: &str, value: &ValueAndTimestamp<V>) -> Result<Option<Vec<u8>>, SerdeError> {
        let inner = self.0.serialize(topic, &value.value)?.unwrap_or_default();
        let mut bytes = Vec::with_capacity(8 + inner.len());
        bytes.extend_from_slice(&value.timestamp.to_be_bytes());
        bytes.extend_from_slice(&inner);
        Ok(Some(bytes))
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<ValueAndTimestamp<V>, SerdeError> {
        let bytes =
            bytes.ok_or_else(|| SerdeError::of(SerdeErrorKind::Null, "null where a timestamped value was expected"))?;
        if bytes.len() < 8 {
            return Err(SerdeError::of(
                SerdeErrorKind::Truncated,
                format!("{} bytes: too short for a timestamped value", bytes.len()),
            ));
        }
        let (time, value) = bytes.split_at(8);
        Ok(ValueAndTimestamp {
            value: self.0.deserialize(topic, Some(value))?,
            timestamp: i64::from_be_bytes(time.try_into().expect("8 bytes")),
        })
    }
}

/// The serdes of a store's keys and values, and the topic name they are (de)serialized for (the
/// changelog topic, as Kafka Streams does, so schema-registry serdes register one subject).
pub(crate) struct StoreSerdes<K, V> {
    pub(crate) topic: Arc<str>,
    pub(crate) key: SharedSerde<K>,
    pub(crate) value: SharedSerde<V>,
}

impl<K, V> Clone for StoreSerdes<K, V> {
    fn clone(&self) -> Self {
        StoreSerdes {
            topic: self.topic.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
        }
    }
}

impl<K: 'static, V: 'static> StoreSerdes<K, V> {
    pub(crate) fn key(&self, key: &K) -> Result<Vec<u8>> {
        self.key
            .serialize(&self.topic, key)
            .map_err(|e| Error::processing(format!("serializing a key for store {}: {e}", self.topic)))?
            .ok_or_else(|| Error::processing(format!("a key for store {} serialized to null", self.topic)))
    }

    fn value(&self, value: &V) -> Result<Vec<u8>> {
        Ok(self
            .value
            .serialize(&self.topic, value)
            .map_err(|e| Error::processing(format!("serializing a value for store {}: {e}", self.topic)))?
            .unwrap_or_default())
    }

    fn read_key(&self, bytes: &[u8]) -> Result<K> {
        self.key
            .deserialize(&self.topic, Some(bytes))
            .map_err(|e| Error::processing(format!("reading a key of store {}: {e}", self.topic)))
    }

    fn read_value(&self, bytes: &[u8]) -> Result<V> {
        self.value
            .deserialize(&self.topic, Some(bytes))
            .map_err(|e| Error::processing(format!("reading a value of store {}: {e}", self.topic)))
    }
}

/// A typed key-value store.
pub struct KeyValueStore<'a, K, V> {
    pub(crate) store: &'a mut dyn KeyValueBytesStore,
    pub(crate) serdes: &'a StoreSerdes<K, V>,
}

impl<K: 'static, V: 'static> KeyValueStore<'_, K, V> {
    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        match self.store.get(&self.serdes.key(key)?)? {
            Some(bytes) => Ok(Some(self.serdes.read_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Sets the value of `key`.
    pub fn put(&mut self, key: &K, value: &V) -> Result<()> {
        let (key, value) = (self.serdes.key(key)?, self.serdes.value(value)?);
        Ok(self.store.put(&key, Some(&value))?)
    }

    /// Deletes `key`, returning its old value.
    pub fn delete(&mut self, key: &K) -> Result<Option<V>> {
        match self.store.delete(&self.serdes.key(key)?)? {
            Some(bytes) => Ok(Some(self.serdes.read_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every entry, in the byte order of the serialized keys.
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        self.store
            .all()?
            .into_iter()
            .map(|(k, v)| Ok((self.serdes.read_key(&k)?, self.serdes.read_value(&v)?)))
            .collect()
    }

    /// About how many entries there are.
    pub fn approximate_num_entries(&self) -> u64 {
        self.store.approximate_num_entries()
    }
}

/// A typed window store: values per (key, window start).
pub struct WindowStore<'a, K, V> {
    pub(crate) store: &'a mut dyn WindowBytesStore,
    pub(crate) serdes: &'a StoreSerdes<K, V>,
}

impl<K: 'static, V: 'static> WindowStore<'_, K, V> {
    /// The value of `key` in the window starting at `window_start`.
    pub fn fetch(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        match self.store.fetch(&self.serdes.key(key)?, window_start)? {
            Some(bytes) => Ok(Some(self.serdes.read_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Sets (`Some`) or deletes (`None`) the value of `key` in the window starting at `window_start`.
    /// A put for a window past the store's retention is dropped.
    pub fn put(&mut self, key: &K, value: Option<&V>, window_start: i64) -> Result<()> {
        let key = self.serdes.key(key)?;
        let value = value.map(|v| self.serdes.value(v)).transpose()?;
        Ok(self.store.put(&key, value.as_deref(), window_start)?)
    }

    /// The windows of `key` starting in `[from, to]`, by start: `(start, value)`.
    pub fn fetch_range(&self, key: &K, from: i64, to: i64) -> Result<Vec<(i64, V)>> {
        self.store
            .fetch_range(&self.serdes.key(key)?, from, to)?
            .into_iter()
            .map(|(start, v)| Ok((start, self.serdes.read_value(&v)?)))
            .collect()
    }

    /// Every entry: `(key, window start, value)`.
    pub fn all(&self) -> Result<Vec<(K, i64, V)>> {
        self.store
            .all()?
            .into_iter()
            .map(|(k, start, v)| Ok((self.serdes.read_key(&k)?, start, self.serdes.read_value(&v)?)))
            .collect()
    }
}

/// A typed session store: values per (key, session).
pub struct SessionStore<'a, K, V> {
    pub(crate) store: &'a mut dyn SessionBytesStore,
    pub(crate) serdes: &'a StoreSerdes<K, V>,
}

impl<K: 'static, V: 'static> SessionStore<'_, K, V> {
    /// The sessions of `key` that end at or after `earliest_end` and start at or before
    /// `latest_start`, ordered by end then start.
    pub fn find_sessions(&self, key: &K, earliest_end: i64, latest_start: i64) -> Result<Vec<(SessionWindow, V)>> {
        self.store
            .find_sessions(&self.serdes.key(key)?, earliest_end, latest_start)?
            .into_iter()
            .map(|(window, v)| Ok((window, self.serdes.read_value(&v)?)))
            .collect()
    }

    /// Sets the value of a session.
    pub fn put(&mut self, key: &K, window: SessionWindow, value: &V) -> Result<()> {
        let (key, value) = (self.serdes.key(key)?, self.serdes.value(value)?);
        Ok(self.store.put(&key, window, Some(&value))?)
    }

    /// Removes a session.
    pub fn remove(&mut self, key: &K, window: SessionWindow) -> Result<()> {
        let key = self.serdes.key(key)?;
        Ok(self.store.remove(&key, window)?)
    }

    /// Every entry: `(key, session, value)`.
    pub fn all(&self) -> Result<Vec<(K, SessionWindow, V)>> {
        self.store
            .all()?
            .into_iter()
            .map(|(k, window, v)| Ok((self.serdes.read_key(&k)?, window, self.serdes.read_value(&v)?)))
            .collect()
    }
}

macro_rules! debug_by_topic {
    ($($facade:ident),*) => {$(
        impl<K, V> std::fmt::Debug for $facade<'_, K, V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($facade)).field("changelog", &self.serdes.topic).finish()
            }
        }
    )*};
}

debug_by_topic!(KeyValueStore, WindowStore, SessionStore);
