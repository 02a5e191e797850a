//! [`StoreBuilder`]: how a topology declares a store, and how a task makes one.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::StoreResult;
use super::caching::{CacheBudget, CachingKeyValueStore, CachingSessionStore, CachingWindowStore};
use super::logging::{
    ChangeLoggingKeyValueStore, ChangeLoggingSessionStore, ChangeLoggingWindowStore, ChangelogContext,
};
use super::memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};
use super::rocksdb::{RocksDbKeyValueStore, RocksDbMemory, RocksDbSessionStore, RocksDbWindowStore};
use super::traits::{KeyValueBytesStore, SessionBytesStore, WindowBytesStore};
use crate::time::ms;

/// The shape of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Key → value.
    KeyValue,
    /// (key, window start) → value, kept `retention_ms` of observed stream time.
    Window {
        /// The window size.
        window_size_ms: i64,
        /// How long windows are kept, in stream time.
        retention_ms: i64,
        /// Whether each put appends (stream-stream join buffers) instead of replacing.
        retain_duplicates: bool,
    },
    /// (key, session) → value, kept `retention_ms` of observed stream time after the session end.
    Session {
        /// How long sessions are kept, in stream time.
        retention_ms: i64,
    },
}

/// A store a topology declares: its name, shape, and whether it is logged to a changelog topic
/// (`<application.id>-<name>-changelog`).
///
/// ```
/// use std::time::Duration;
/// use streams_core::state::StoreBuilder;
///
/// let counts = StoreBuilder::key_value("counts");
/// let recent = StoreBuilder::window("recent", Duration::from_secs(60), Duration::from_secs(3600)).without_logging();
/// assert!(!recent.is_logged());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreBuilder {
    name: String,
    kind: StoreKind,
    logged: bool,
    cached: bool,
    timestamped: bool,
    persistent: bool,
}

/// What the runtime builds a task's store stack with: where persistent stores live, the shared
/// RocksDB memory and write cache, and the store's changelog (`None` when not logged).
pub(crate) struct StoreEnv<'a> {
    pub(crate) dir: Option<&'a Path>,
    pub(crate) rocksdb: &'a RocksDbMemory,
    pub(crate) cache: &'a CacheBudget,
    pub(crate) changelog: Option<ChangelogContext>,
}

/// A store instance of a task.
pub(crate) enum StoreInstance {
    KeyValue(Box<dyn KeyValueBytesStore>),
    Window(Box<dyn WindowBytesStore>),
    Session(Box<dyn SessionBytesStore>),
}

impl fmt::Debug for StoreInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreInstance::KeyValue(s) => write!(f, "KeyValue({})", s.name()),
            StoreInstance::Window(s) => write!(f, "Window({})", s.name()),
            StoreInstance::Session(s) => write!(f, "Session({})", s.name()),
        }
    }
}

impl StoreInstance {
    pub(crate) fn flush(&mut self) -> StoreResult<()> {
        match self {
            StoreInstance::KeyValue(s) => s.flush(),
            StoreInstance::Window(s) => s.flush(),
            StoreInstance::Session(s) => s.flush(),
        }
    }

    /// See [`StateStore::flush_cache`](crate::state::StateStore::flush_cache).
    pub(crate) fn flush_cache(&mut self) -> StoreResult<()> {
        match self {
            StoreInstance::KeyValue(s) => s.flush_cache(),
            StoreInstance::Window(s) => s.flush_cache(),
            StoreInstance::Session(s) => s.flush_cache(),
        }
    }

    /// Applies changelog records (keys in the changelog layout) straight to the store.
    pub(crate) fn restore_batch(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> StoreResult<()> {
        match self {
            StoreInstance::KeyValue(s) => s.restore_batch(batch),
            StoreInstance::Window(s) => s.restore_batch(batch),
            StoreInstance::Session(s) => s.restore_batch(batch),
        }
    }

    pub(crate) fn close(&mut self) -> StoreResult<()> {
        match self {
            StoreInstance::KeyValue(s) => s.close(),
            StoreInstance::Window(s) => s.close(),
            StoreInstance::Session(s) => s.close(),
        }
    }
}

impl StoreBuilder {
    /// A key-value store.
    pub fn key_value(name: impl Into<String>) -> Self {
        StoreBuilder {
            name: name.into(),
            kind: StoreKind::KeyValue,
            logged: true,
            cached: false,
            timestamped: false,
            persistent: true,
        }
    }

    /// A window store of windows of `window_size`, kept for `retention` of stream time.
    pub fn window(name: impl Into<String>, window_size: Duration, retention: Duration) -> Self {
        let kind = StoreKind::Window {
            window_size_ms: ms(window_size),
            retention_ms: ms(retention),
            retain_duplicates: false,
        };
        StoreBuilder {
            name: name.into(),
            kind,
            logged: true,
            cached: false,
            timestamped: false,
            persistent: true,
        }
    }

    /// A session store keeping sessions for `retention` of stream time after they end.
    pub fn session(name: impl Into<String>, retention: Duration) -> Self {
        StoreBuilder {
            name: name.into(),
            kind: StoreKind::Session {
                retention_ms: ms(retention),
            },
            logged: true,
            cached: false,
            timestamped: false,
            persistent: true,
        }
    }

    /// A window store keeps every put of a key and window (stream-stream join buffers).
    pub fn retaining_duplicates(mut self) -> Self {
        if let StoreKind::Window { retain_duplicates, .. } = &mut self.kind {
            *retain_duplicates = true;
        }
        self
    }

    /// Not logged to a changelog topic: its content is lost with the instance.
    pub fn without_logging(mut self) -> Self {
        self.logged = false;
        self
    }

    /// With a write cache that coalesces a key's updates between commits (used by the Kafka
    /// runtime; the test driver commits after every record, so it has nothing to coalesce).
    pub fn with_caching(mut self, cached: bool) -> Self {
        self.cached = cached;
        self
    }

    /// Kept in memory instead of RocksDB (Kafka's `Stores.inMemory*`): faster, bounded by the
    /// heap, and restored in full from its changelog whenever its task starts, since nothing of it
    /// survives the process.
    pub fn in_memory(mut self) -> Self {
        self.persistent = false;
        self
    }

    /// Whether the runtime keeps it in RocksDB (the default) rather than in memory.
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// Whether it has a write cache.
    pub fn is_cached(&self) -> bool {
        self.cached
    }

    /// Values carry their timestamp (8 bytes big-endian before the value, Kafka's
    /// `ValueAndTimestamp` layout), as the DSL's aggregation stores do.
    pub(crate) fn timestamped(mut self) -> Self {
        self.timestamped = true;
        self
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its shape.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// Whether it is logged to a changelog topic.
    pub fn is_logged(&self) -> bool {
        self.logged
    }

    /// Whether its values carry timestamps.
    pub fn is_timestamped(&self) -> bool {
        self.timestamped
    }

    /// The changelog topic's name for an application.
    pub fn changelog_topic(&self, application_id: &str) -> String {
        format!("{application_id}-{}-changelog", self.name)
    }

    /// The runtime's store stack: RocksDB (or memory), then change-logging when logged, then the
    /// write cache when cached and the budget is not zero (never for a window store of duplicates,
    /// as in Kafka Streams).
    pub(crate) fn build_stack(&self, env: StoreEnv<'_>) -> StoreResult<StoreInstance> {
        let bytes = match (self.persistent, env.dir) {
            (true, Some(dir)) => self.open_rocksdb(dir, env.rocksdb)?,
            _ => self.build()?,
        };
        let logged = match (bytes, env.changelog) {
            (store, None) => store,
            (StoreInstance::KeyValue(s), Some(log)) => {
                StoreInstance::KeyValue(Box::new(ChangeLoggingKeyValueStore::new(s, log)))
            }
            (StoreInstance::Window(s), Some(log)) => {
                let duplicates = matches!(
                    self.kind,
                    StoreKind::Window {
                        retain_duplicates: true,
                        ..
                    }
                );
                StoreInstance::Window(Box::new(ChangeLoggingWindowStore::new(s, log, duplicates)))
            }
            (StoreInstance::Session(s), Some(log)) => {
                StoreInstance::Session(Box::new(ChangeLoggingSessionStore::new(s, log)))
            }
        };
        if !self.cached || env.cache.max_bytes() == 0 {
            return Ok(logged);
        }
        Ok(match logged {
            StoreInstance::KeyValue(s) => {
                StoreInstance::KeyValue(Box::new(CachingKeyValueStore::new(s, env.cache.clone())))
            }
            StoreInstance::Window(s) => match self.kind {
                StoreKind::Window {
                    retain_duplicates: true,
                    ..
                } => StoreInstance::Window(s),
                _ => StoreInstance::Window(Box::new(CachingWindowStore::new(s, env.cache.clone(), false)?)),
            },
            StoreInstance::Session(s) => {
                StoreInstance::Session(Box::new(CachingSessionStore::new(s, env.cache.clone())))
            }
        })
    }

    fn open_rocksdb(&self, dir: &Path, memory: &RocksDbMemory) -> StoreResult<StoreInstance> {
        let path = dir.join(&self.name);
        Ok(match self.kind {
            StoreKind::KeyValue => {
                StoreInstance::KeyValue(Box::new(RocksDbKeyValueStore::open(&self.name, &path, memory)?))
            }
            StoreKind::Window {
                window_size_ms,
                retention_ms,
                retain_duplicates,
            } => StoreInstance::Window(Box::new(RocksDbWindowStore::open(
                &self.name,
                &path,
                memory,
                retention_ms,
                window_size_ms,
                retain_duplicates,
            )?)),
            StoreKind::Session { retention_ms } => StoreInstance::Session(Box::new(RocksDbSessionStore::open(
                &self.name,
                &path,
                memory,
                retention_ms,
            )?)),
        })
    }

    /// A fresh in-memory instance: what the test driver runs with, and the runtime for stores
    /// declared [`in_memory`](Self::in_memory).
    pub(crate) fn build(&self) -> StoreResult<StoreInstance> {
        Ok(match self.kind {
            StoreKind::KeyValue => StoreInstance::KeyValue(Box::new(InMemoryKeyValueStore::new(&self.name))),
            StoreKind::Window {
                window_size_ms,
                retention_ms,
                retain_duplicates,
            } => StoreInstance::Window(Box::new(InMemoryWindowStore::new(
                &self.name,
                retention_ms,
                window_size_ms,
                retain_duplicates,
            )?)),
            StoreKind::Session { retention_ms } => {
                StoreInstance::Session(Box::new(InMemorySessionStore::new(&self.name, retention_ms)?))
            }
        })
    }
}
