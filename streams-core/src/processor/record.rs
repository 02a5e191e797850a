//! [`Record`]: what flows between processors.

use crate::error::{Error, Result};
use crate::runtime::RawRecord;
use crate::serde::SharedSerde;

/// A record's headers: ordered `(key, value)` pairs; a key may repeat and a value may be null.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(Vec<(String, Option<Vec<u8>>)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Appends a header (keeping any earlier one with the same key).
    pub fn add(&mut self, key: impl Into<String>, value: Option<Vec<u8>>) -> &mut Self {
        self.0.push((key.into(), value));
        self
    }

    /// Removes every header with this key.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.0.retain(|(k, _)| k != key);
        self
    }

    /// The value of the last header with this key: `None` when there is none, `Some(None)` when
    /// its value is null.
    pub fn last(&self, key: &str) -> Option<Option<&[u8]>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_deref())
    }

    /// The headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers as `(key, value)` pairs.
    pub fn into_vec(self) -> Vec<(String, Option<Vec<u8>>)> {
        self.0
    }
}

impl From<Vec<(String, Option<Vec<u8>>)>> for Headers {
    fn from(headers: Vec<(String, Option<Vec<u8>>)>) -> Self {
        Headers(headers)
    }
}

/// A typed record: key, value, timestamp (milliseconds since the epoch) and headers.
///
/// Processors receive records by value and forward new ones; the `with_*` methods build the record
/// to forward from the one received, keeping the other fields (so a stateless operator keeps the
/// input's timestamp and headers, as Kafka Streams does).
#[derive(Debug, Clone, PartialEq)]
pub struct Record<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Milliseconds since the epoch: event time, as the timestamp extractor gave it.
    pub timestamp: i64,
    /// The headers.
    pub headers: Headers,
}

impl<K, V> Record<K, V> {
    /// A record without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Record {
            key,
            value,
            timestamp,
            headers: Headers::new(),
        }
    }

    /// The same record with another key.
    pub fn with_key<K2>(self, key: K2) -> Record<K2, V> {
        Record {
            key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another value.
    pub fn with_value<V2>(self, value: V2) -> Record<K, V2> {
        Record {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same record with other headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

impl<K: 'static, V: 'static> Record<K, V> {
    /// The record as bytes for `topic`, with its timestamp and headers.
    pub(crate) fn serialize(
        self,
        topic: &str,
        key_serde: &SharedSerde<K>,
        value_serde: &SharedSerde<V>,
    ) -> Result<RawRecord> {
        let key = key_serde
            .serialize(topic, &self.key)
            .map_err(|e| Error::processing(format!("serializing the key for {topic}: {e}")))?;
        let value = value_serde
            .serialize(topic, &self.value)
            .map_err(|e| Error::processing(format!("serializing the value for {topic}: {e}")))?;
        Ok(RawRecord {
            key,
            value,
            timestamp: Some(self.timestamp),
            headers: self.headers.into_vec(),
        })
    }
}
