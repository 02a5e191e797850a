//! [`StoreBuilder`]: how a topology declares a store, and how a task makes one.

use std::fmt;
use std::time::Duration;

use super::StoreResult;
use super::memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};
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

    /// A fresh in-memory instance (the RocksDB ones come with the durable-state work).
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
