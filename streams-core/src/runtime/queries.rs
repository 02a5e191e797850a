//! Interactive queries: read-only, typed views of a running application's local stores, and which
//! instance hosts a key.
//!
//! The stream thread owns the stores; a query is handed to it and answered between two processing
//! turns (a few milliseconds at most while it is busy, up to one idle poll, 10 ms, when it is not),
//! so reads never race with writes and processing takes no lock per record. Reads see what the
//! stores hold, write caches included: a value may be newer than the last commit.
//!
//! ```no_run
//! # use streams_core::runtime::KafkaStreams;
//! # fn demo(streams: &KafkaStreams) -> streams_core::Result<()> {
//! let counts = streams.key_value_store::<String, i64>("counts")?;
//! println!("alice: {:?}", counts.get(&"alice".to_string())?);
//! let host = streams.query_metadata_for_key::<String>("counts", &"alice".to_string())?;
//! println!("alice lives on partition {} at {:?}", host.partition, host.active_host);
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::sync::mpsc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::kafka_streams::{KafkaStreams, Query, StreamsState};
use super::task_manager::TaskManager;
use crate::error::{Error, Result};
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::{KeyValueEntry, StoreInstance, WindowEntry};

/// Separates the consumer's client id from the advertised endpoint in it: other instances read a
/// member's endpoint from the consumer group's description.
pub(crate) const ENDPOINT_SEPARATOR: &str = "|ep=";

/// How long a query waits for the stream thread.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a key's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyQueryMetadata {
    /// The partition (and so the task) the key belongs to.
    pub partition: i32,
    /// The `host:port` the instance owning that partition advertises (its `application.server`);
    /// `None` when no member owns it now (a rebalance is under way) or the owner advertises none.
    pub active_host: Option<String>,
}

/// Kafka's `murmur2` hash (the Java client's `Utils.murmur2`), which its default partitioner and
/// librdkafka's `murmur2_random` use for keyed records.
pub(crate) fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h = SEED ^ (length as u32);
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().expect("chunks of four"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= u32::from(tail[2]) << 16;
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner gives a key's bytes among `partitions`.
pub(crate) fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// The partitions each member of `group` owns, with the endpoint in its client id.
/// Each group member's advertised endpoint (if any) and the (topic, partition) pairs it owns.
type Owners = Vec<(Option<String>, Vec<(String, i32)>)>;

fn group_owners(config: &crate::StreamsConfig) -> Result<Owners> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", config.bootstrap_servers());
    for (k, v) in config.admin_overrides() {
        client.set(k, v);
    }
    let consumer: BaseConsumer = client
        .create()
        .map_err(|e| Error::kafka("creating a metadata client", e))?;
    let groups = consumer
        .client()
        .fetch_group_list(Some(config.application_id()), Duration::from_secs(10))
        .map_err(|e| Error::kafka("describing the consumer group", e))?;
    let mut owners = Vec::new();
    for group in groups.groups() {
        for member in group.members() {
            let endpoint = member
                .client_id()
                .split_once(ENDPOINT_SEPARATOR)
                .map(|(_, endpoint)| endpoint.to_string())
                .filter(|endpoint| !endpoint.is_empty());
            let partitions = member.assignment().map(decode_assignment).unwrap_or_default();
            owners.push((endpoint, partitions));
        }
    }
    Ok(owners)
}

/// The (topic, partition) pairs of a consumer-protocol assignment (`ConsumerProtocolAssignment`:
/// version, then topics with their partitions, then user data). Garbage decodes to nothing.
fn decode_assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    fn parse(mut bytes: &[u8]) -> Option<Vec<(String, i32)>> {
        let b = &mut bytes;
        take(b, 2)?;
        let topics = i32::from_be_bytes(take(b, 4)?.try_into().ok()?);
        let mut out = Vec::new();
        for _ in 0..topics.max(0) {
            let len = i16::from_be_bytes(take(b, 2)?.try_into().ok()?);
            let topic = String::from_utf8(take(b, len.max(0) as usize)?.to_vec()).ok()?;
            let count = i32::from_be_bytes(take(b, 4)?.try_into().ok()?);
            for _ in 0..count.max(0) {
                out.push((topic.clone(), i32::from_be_bytes(take(b, 4)?.try_into().ok()?)));
            }
        }
        Some(out)
    }
    parse(bytes).unwrap_or_default()
}

impl KafkaStreams {
    /// Runs `query` on every stream thread and gathers their answers.
    fn ask<T: Send + 'static>(
        &self,
        store: &str,
        query: impl Fn(&TaskManager) -> Result<Vec<T>> + Send + Sync + 'static,
    ) -> Result<Vec<T>> {
        let unavailable = |reason: &str| Error::StoreUnavailable {
            store: store.to_string(),
            reason: reason.to_string(),
        };
        if !self.stores.contains_key(store) {
            return Err(unavailable("the topology has no such store"));
        }
        match self.state() {
            StreamsState::Running => {}
            StreamsState::Rebalancing => return Err(unavailable("the application is rebalancing or restoring")),
            other => return Err(unavailable(&format!("the application is {other:?}"))),
        }
        let query = std::sync::Arc::new(query);
        let (answer, receive) = mpsc::channel();
        let mut asked = 0;
        for thread in self.thread_queries() {
            let (answer, query) = (answer.clone(), query.clone());
            let job: Query = Box::new(move |manager| {
                let _ = answer.send(query(manager));
            });
            if thread.send(job).is_ok() {
                asked += 1;
            }
        }
        if asked == 0 {
            return Err(unavailable("the application is not running"));
        }
        let mut gathered = Vec::new();
        for _ in 0..asked {
            let answer = receive
                .recv_timeout(QUERY_TIMEOUT)
                .map_err(|_| unavailable("a stream thread did not answer"))?;
            gathered.extend(answer?);
        }
        Ok(gathered)
    }

    /// A read-only view of the key-value store `name`, with the default serdes of `K` and `V`.
    ///
    /// # Errors
    /// [`Error::StoreUnavailable`] when the topology has no such store.
    pub fn key_value_store<K: DefaultSerde, V: DefaultSerde>(
        &self,
        name: &str,
    ) -> Result<ReadOnlyKeyValueStore<'_, K, V>> {
        self.key_value_store_with(name, K::default_serde(), V::default_serde())
    }

    /// A read-only view of the key-value store `name`, with these serdes.
    pub fn key_value_store_with<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<ReadOnlyKeyValueStore<'_, K, V>> {
        let &(_, timestamped) = self.stores.get(name).ok_or_else(|| Error::StoreUnavailable {
            store: name.to_string(),
            reason: "the topology has no such store".into(),
        })?;
        Ok(ReadOnlyKeyValueStore {
            streams: self,
            name: name.to_string(),
            key,
            value,
            timestamped,
            types: PhantomData,
        })
    }

    /// A read-only view of the window store `name`, with the default serdes of `K` and `V`.
    pub fn window_store<K: DefaultSerde, V: DefaultSerde>(&self, name: &str) -> Result<ReadOnlyWindowStore<'_, K, V>> {
        let &(_, timestamped) = self.stores.get(name).ok_or_else(|| Error::StoreUnavailable {
            store: name.to_string(),
            reason: "the topology has no such store".into(),
        })?;
        Ok(ReadOnlyWindowStore {
            streams: self,
            name: name.to_string(),
            key: K::default_serde(),
            value: V::default_serde(),
            timestamped,
        })
    }

    /// Which partition `key` of store `name` belongs to, and the endpoint of the instance that owns
    /// it now (from the consumer group's assignment and each member's `application.server`). The
    /// key is hashed as the default partitioner hashes it, with `K`'s default serde.
    pub fn query_metadata_for_key<K: DefaultSerde>(&self, name: &str, key: &K) -> Result<KeyQueryMetadata> {
        let unavailable = |reason: &str| Error::StoreUnavailable {
            store: name.to_string(),
            reason: reason.to_string(),
        };
        let &(sub, _) = self
            .stores
            .get(name)
            .ok_or_else(|| unavailable("the topology has no such store"))?;
        let layout = self
            .layout
            .as_ref()
            .ok_or_else(|| unavailable("the application is not started"))?;
        let topic = layout.sources[sub]
            .first()
            .ok_or_else(|| unavailable("its sub-topology reads no topic"))?;
        let bytes = K::default_serde()
            .serialize(topic, key)
            .map_err(|e| Error::processing(format!("serializing a key of store {name}: {e}")))?
            .unwrap_or_default();
        let partition = partition_for_key(&bytes, layout.task_counts[sub]);
        let owners = group_owners(&self.config)?;
        let active_host = owners
            .into_iter()
            .find(|(_, partitions)| partitions.iter().any(|(t, p)| t == topic && *p == partition))
            .and_then(|(endpoint, _)| endpoint);
        Ok(KeyQueryMetadata { partition, active_host })
    }
}

/// What `read` gathers from every running local task's store `name` (an error when a task
/// holding it is still restoring).
fn local_stores<T>(
    manager: &TaskManager,
    name: &str,
    read: impl Fn(&StoreInstance) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (id, task, restoring) in manager.tasks() {
        let Some((index, _)) = task.find_store(name) else {
            continue;
        };
        if restoring {
            return Err(Error::StoreUnavailable {
                store: name.to_string(),
                reason: format!("task {id} is restoring it"),
            });
        }
        out.extend(read(task.store(index))?);
    }
    Ok(out)
}

/// A read-only, typed view of a key-value store across this instance's tasks. Values of the DSL's
/// timestamped stores are returned without their timestamp, as Kafka's `keyValueStore()` query
/// type does.
pub struct ReadOnlyKeyValueStore<'a, K, V> {
    streams: &'a KafkaStreams,
    name: String,
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    timestamped: bool,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> std::fmt::Debug for ReadOnlyKeyValueStore<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyKeyValueStore")
            .field("name", &self.name)
            .finish()
    }
}

fn value_bytes(bytes: &[u8], timestamped: bool) -> &[u8] {
    if timestamped && bytes.len() >= 8 {
        &bytes[8..]
    } else {
        bytes
    }
}

impl<K: 'static, V: 'static> ReadOnlyKeyValueStore<'_, K, V> {
    fn key_bytes(&self, key: &K) -> Result<Vec<u8>> {
        Ok(self
            .key
            .serialize(&self.name, key)
            .map_err(|e| Error::processing(format!("serializing a key of store {}: {e}", self.name)))?
            .unwrap_or_default())
    }

    fn decode(&self, entries: Vec<KeyValueEntry>) -> Result<Vec<(K, V)>> {
        entries
            .into_iter()
            .map(|(k, v)| {
                let key = self.key.deserialize(&self.name, Some(&k));
                let value = self
                    .value
                    .deserialize(&self.name, Some(value_bytes(&v, self.timestamped)));
                match (key, value) {
                    (Ok(key), Ok(value)) => Ok((key, value)),
                    (Err(e), _) | (_, Err(e)) => Err(Error::processing(format!("reading store {}: {e}", self.name))),
                }
            })
            .collect()
    }

    fn entries(
        &self,
        read: impl Fn(&StoreInstance) -> Result<Vec<KeyValueEntry>> + Send + Sync + 'static,
    ) -> Result<Vec<KeyValueEntry>> {
        let name = self.name.clone();
        self.streams
            .ask(&self.name, move |manager| local_stores(manager, &name, &read))
    }

    /// The value of `key`, `None` when this instance holds no value for it (another instance may:
    /// see [`KafkaStreams::query_metadata_for_key`]).
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let bytes = self.key_bytes(key)?;
        let found = self.entries(move |store| match store {
            StoreInstance::KeyValue(s) => Ok(s.get(&bytes)?.map(|v| (bytes.clone(), v)).into_iter().collect()),
            _ => Ok(Vec::new()),
        })?;
        Ok(self.decode(found)?.into_iter().next().map(|(_, v)| v))
    }

    /// The entries with keys in `[from, to]` (inclusive), in key-byte order.
    pub fn range(&self, from: &K, to: &K) -> Result<Vec<(K, V)>> {
        let (from, to) = (self.key_bytes(from)?, self.key_bytes(to)?);
        let mut found = self.entries(move |store| match store {
            StoreInstance::KeyValue(s) => Ok(s.range(Some(&from), Some(&to))?),
            _ => Ok(Vec::new()),
        })?;
        found.sort_by(|a, b| a.0.cmp(&b.0));
        self.decode(found)
    }

    /// Every entry this instance holds, in key-byte order.
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        let mut found = self.entries(|store| match store {
            StoreInstance::KeyValue(s) => Ok(s.all()?),
            _ => Ok(Vec::new()),
        })?;
        found.sort_by(|a, b| a.0.cmp(&b.0));
        self.decode(found)
    }

    /// How many entries this instance holds (an estimate for RocksDB stores).
    pub fn approximate_num_entries(&self) -> Result<u64> {
        let counts = self.entries(|store| match store {
            StoreInstance::KeyValue(s) => Ok(vec![(Vec::new(), s.approximate_num_entries().to_be_bytes().to_vec())]),
            _ => Ok(Vec::new()),
        })?;
        Ok(counts
            .iter()
            .map(|(_, v)| u64::from_be_bytes(v.as_slice().try_into().unwrap_or_default()))
            .sum())
    }
}

/// A read-only, typed view of a window store across this instance's tasks.
pub struct ReadOnlyWindowStore<'a, K, V> {
    streams: &'a KafkaStreams,
    name: String,
    key: SharedSerde<K>,
    value: SharedSerde<V>,
    timestamped: bool,
}

impl<K, V> std::fmt::Debug for ReadOnlyWindowStore<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyWindowStore").field("name", &self.name).finish()
    }
}

impl<K: 'static, V: 'static> ReadOnlyWindowStore<'_, K, V> {
    /// The (window start, value) pairs of `key` whose window starts in `[from, to]` (ms,
    /// inclusive), ascending by start.
    pub fn fetch(&self, key: &K, from: i64, to: i64) -> Result<Vec<(i64, V)>> {
        let bytes = self
            .key
            .serialize(&self.name, key)
            .map_err(|e| Error::processing(format!("serializing a key of store {}: {e}", self.name)))?
            .unwrap_or_default();
        let name = self.name.clone();
        let mut found: Vec<WindowEntry> = self.streams.ask(&self.name, move |manager| {
            local_stores(manager, &name, |store| match store {
                StoreInstance::Window(s) => Ok(s
                    .fetch_range(&bytes, from, to)?
                    .into_iter()
                    .map(|(start, v)| (Vec::new(), start, v))
                    .collect()),
                _ => Ok(Vec::new()),
            })
        })?;
        found.sort_by_key(|(_, start, _)| *start);
        found
            .into_iter()
            .map(|(_, start, v)| Ok((start, self.read_value(&v)?)))
            .collect()
    }

    /// Every window of every key whose window starts in `[from, to]` (ms, inclusive), ordered by
    /// window start, then key bytes.
    pub fn fetch_all(&self, from: i64, to: i64) -> Result<Vec<(K, i64, V)>> {
        let name = self.name.clone();
        let mut found: Vec<WindowEntry> = self.streams.ask(&self.name, move |manager| {
            local_stores(manager, &name, |store| match store {
                StoreInstance::Window(s) => Ok(s.fetch_all(from, to)?),
                _ => Ok(Vec::new()),
            })
        })?;
        found.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        found
            .into_iter()
            .map(|(k, start, v)| {
                let key = self
                    .key
                    .deserialize(&self.name, Some(&k))
                    .map_err(|e| Error::processing(format!("reading store {}: {e}", self.name)))?;
                Ok((key, start, self.read_value(&v)?))
            })
            .collect()
    }

    /// Every window this instance holds, as [`fetch_all`](Self::fetch_all) orders them.
    pub fn all(&self) -> Result<Vec<(K, i64, V)>> {
        self.fetch_all(i64::MIN, i64::MAX)
    }

    fn read_value(&self, bytes: &[u8]) -> Result<V> {
        self.value
            .deserialize(&self.name, Some(value_bytes(bytes, self.timestamped)))
            .map_err(|e| Error::processing(format!("reading store {}: {e}", self.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // The vectors of Kafka's `UtilsTest.testMurmur2`.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn assignments_decode_and_garbage_decodes_to_nothing() {
        let mut bytes = vec![0, 1, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 7];
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            decode_assignment(&bytes),
            vec![("ab".to_string(), 3), ("ab".to_string(), 7)]
        );
        assert!(decode_assignment(&[0, 1, 0]).is_empty());
    }
}
