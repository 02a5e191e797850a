//! State stores: the byte-level store traits, their in-memory implementations, and the byte
//! encodings that persistent stores and changelog topics share.
//!
//! A processor never sees bytes. It talks to a typed facade, and the facade talks to a stack of
//! decorators that all implement one byte-level trait ([`KeyValueBytesStore`],
//! [`WindowBytesStore`] or [`SessionBytesStore`]), as in Kafka Streams:
//!
//! ```text
//!   processor
//!      │  typed keys and values (K, V)
//!      ▼
//! ┌─────────────────────┐
//! │ typed facade        │  serdes: K, V  <->  bytes; finds its stores through `as_any`
//! └─────────────────────┘
//!      │  bytes
//!      ▼
//! ┌─────────────────────┐
//! │ metered             │  latency and throughput metrics, dropped (expired) records
//! └─────────────────────┘
//!      ▼
//! ┌─────────────────────┐
//! │ caching             │  write cache: coalesces updates of a key between commits
//! └─────────────────────┘
//!      ▼
//! ┌─────────────────────┐
//! │ change-logging      │  sends each write to `<application.id>-<store>-changelog`
//! └─────────────────────┘
//!      ▼
//! ┌─────────────────────┐
//! │ bytes store         │  RocksDB (persistent) or memory (`memory::*`)
//! └─────────────────────┘
//! ```
//!
//! Every layer has the same trait, so a layer can be left out (no cache, no changelog) without the
//! others noticing. A store knows nothing of Kafka: logging and restoring are the business of the
//! change-logging layer and the runtime.
//!
//! What lives here today:
//! - [`StoreBuilder`]: how a topology declares a store (name, shape, logging).
//! - [`KeyValueStore`], [`WindowStore`], [`SessionStore`]: the typed facades processors use.
//! - [`traits`]: [`StateStore`] and the three byte-level store traits, with their contracts
//!   (ordering, inclusive bounds, tombstones, retention), and [`SessionWindow`].
//! - [`encoding`]: the binary layouts of window and session keys, byte for byte those of Kafka
//!   Streams' `WindowKeySchema` and `SessionKeySchema`, for RocksDB stores and changelog keys.
//! - [`memory`]: [`InMemoryKeyValueStore`], [`InMemoryWindowStore`], [`InMemorySessionStore`].
//!
//! Byte order is unsigned lexicographic (`[u8]`'s `Ord`), the order of Kafka's `Bytes`: a range
//! over keys is only meaningful when the key serde preserves order in its bytes (the built-in
//! integer serdes do not, for negative numbers).

mod builder;
pub mod caching;
pub mod checkpoint;
#[cfg(test)]
mod contract_tests;
pub mod directory;
pub mod encoding;
pub mod logging;
pub mod memory;
pub mod rocksdb;
pub mod traits;
mod typed;

pub use self::rocksdb::{
    DEFAULT_ROCKSDB_MEMORY_BYTES, RocksDbConfigSetter, RocksDbKeyValueStore, RocksDbMemory, RocksDbSessionStore,
    RocksDbWindowStore,
};
pub use builder::{StoreBuilder, StoreKind};
pub(crate) use builder::{StoreEnv, StoreInstance};
pub use caching::{CacheBudget, CachingKeyValueStore, CachingSessionStore, CachingWindowStore};
pub use encoding::DecodeError;
pub use memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};
pub use traits::{
    InvalidSessionWindow, KeyValueBytesStore, KeyValueEntry, SessionBytesStore, SessionEntry, SessionWindow,
    StateStore, WindowBytesStore, WindowEntry,
};
pub use typed::{KeyValueStore, SessionStore, ValueAndTimestamp, WindowStore};
pub(crate) use typed::{StoreSerdes, TimestampedSerde};

/// A shorthand for results whose error is a [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// Why an operation on a state store failed. Every variant names the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The caller broke the store's contract, e.g. a window store whose retention is shorter than
    /// its window size, or a session whose end is before its start.
    #[error("state store {store}: invalid argument: {reason}")]
    InvalidArgument {
        /// The store's name.
        store: String,
        /// What was wrong.
        reason: String,
    },
    /// The store was used after [`StateStore::close`].
    #[error("state store {store} is closed")]
    Closed {
        /// The store's name.
        store: String,
    },
    /// Bytes read back (from the store or its changelog) are not in the expected layout.
    #[error("state store {store}: corrupt data: {reason}")]
    Corrupt {
        /// The store's name.
        store: String,
        /// What did not decode.
        reason: String,
    },
    /// The storage under the store failed (RocksDB, the file system).
    #[error("state store {store}: storage failure: {source}")]
    Storage {
        /// The store's name.
        store: String,
        /// The storage's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl StoreError {
    /// A [`StoreError::InvalidArgument`] for the store `store`.
    pub fn invalid_argument(store: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::InvalidArgument {
            store: store.into(),
            reason: reason.into(),
        }
    }

    /// A [`StoreError::Closed`] for the store `store`.
    pub fn closed(store: impl Into<String>) -> Self {
        StoreError::Closed { store: store.into() }
    }

    /// The name of the store the error is about.
    pub fn store(&self) -> &str {
        match self {
            StoreError::InvalidArgument { store, .. }
            | StoreError::Closed { store }
            | StoreError::Corrupt { store, .. }
            | StoreError::Storage { store, .. } => store,
        }
    }
}
