//! [`Materialized`]: how a table's state store is made.

use std::fmt;
use std::time::Duration;

use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::StoreBuilder;

/// The store behind a table: its name (which names its changelog topic,
/// `<application.id>-<name>-changelog`), its serdes, and for windowed stores how long windows are
/// kept.
///
/// By default the store is persistent (RocksDB), logged to its changelog topic, and cached: the
/// Kafka runtime's write cache coalesces a key's updates between commits and forwards only the
/// latest (see docs/state.md). The test driver keeps every store in memory and behaves as if
/// committing after every record, so its output is the same either way.
///
/// ```
/// use streams_core::dsl::Materialized;
/// use streams_core::time::hours;
///
/// let counts: Materialized<String, i64> = Materialized::named("counts-per-card").with_retention(hours(6)).without_caching();
/// ```
pub struct Materialized<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) retention: Option<Duration>,
    pub(crate) store: StoreOptions,
}

/// How a DSL operator's store is kept: behind a write cache or not, logged to a changelog or not,
/// in RocksDB or in memory (shared by [`Materialized`] and the other operators' options).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreOptions {
    pub(crate) caching: bool,
    pub(crate) logging: bool,
    pub(crate) in_memory: bool,
}

impl StoreOptions {
    /// `store` with this caching, logging and storage.
    pub(crate) fn configure(&self, store: StoreBuilder) -> StoreBuilder {
        let store = store.with_caching(self.caching);
        let store = if self.in_memory { store.in_memory() } else { store };
        if self.logging { store } else { store.without_logging() }
    }
}

impl<K, V> fmt::Debug for Materialized<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Materialized")
            .field("name", &self.name)
            .field("retention", &self.retention)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A store with a generated name and the default serdes of the key and value types.
impl<K: DefaultSerde, V: DefaultSerde> Default for Materialized<K, V> {
    fn default() -> Self {
        Materialized::with(K::default_serde(), V::default_serde())
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Materialized<K, V> {
    /// A store named `name`, with the default serdes.
    pub fn named(name: impl Into<String>) -> Self {
        Materialized::default().with_name(name)
    }
}

impl<K, V> Materialized<K, V> {
    /// A store with these serdes and a generated name.
    pub fn with(key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Materialized {
            name: None,
            key_serde,
            value_serde,
            retention: None,
            store: StoreOptions {
                caching: true,
                logging: true,
                in_memory: false,
            },
        }
    }

    /// Names the store.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// For window and session stores: how long (in stream time) windows are kept; at least the
    /// window size plus the grace period, which is the default.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// No write cache: every update is forwarded.
    pub fn without_caching(mut self) -> Self {
        self.store.caching = false;
        self
    }

    /// No changelog topic: the store is rebuilt from nothing after a move or a crash.
    pub fn without_logging(mut self) -> Self {
        self.store.logging = false;
        self
    }

    /// Kept in memory rather than RocksDB (Kafka's `Stores.inMemory*` suppliers): restored in full
    /// from its changelog whenever its task starts.
    pub fn in_memory(mut self) -> Self {
        self.store.in_memory = true;
        self
    }

    /// `store` with this caching, logging and storage.
    pub(crate) fn configure(&self, store: StoreBuilder) -> StoreBuilder {
        self.store.configure(store)
    }
}
