//! [`Deduplicated`]: the options of [`KStream::dedupe_by_with`](super::KStream::dedupe_by_with).

use std::fmt;
use std::time::Duration;

use super::materialized::StoreOptions;
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::StoreBuilder;

/// How [`KStream::dedupe_by_with`](super::KStream::dedupe_by_with) deduplicates: the serde of the
/// ids, the names of its node and store, how far out of order a record may arrive and still be
/// checked exactly (the grace), and how its window store is kept.
///
/// The store is named `<name>-store` when the operator is named, or by
/// [`with_store_name`](Self::with_store_name), or else generated
/// (`KSTREAM-DEDUPLICATE-STATE-STORE-<n>`); its changelog topic is
/// `<application.id>-<store>-changelog`. Name it in production: a generated name changes when the
/// topology changes, and the remembered ids would be lost with the old changelog.
///
/// By default the store is persistent (RocksDB), logged to its changelog, and not cached: each
/// id's entry is written once, so a write cache would have nothing to coalesce.
///
/// ```
/// use streams_core::dsl::Deduplicated;
/// use streams_core::time::minutes;
///
/// let options: Deduplicated<String> = Deduplicated::named("txn-dedupe").with_grace(minutes(5));
/// ```
pub struct Deduplicated<I> {
    pub(crate) name: Option<String>,
    pub(crate) store_name: Option<String>,
    pub(crate) id_serde: SharedSerde<I>,
    pub(crate) grace: Option<Duration>,
    pub(crate) store: StoreOptions,
}

impl<I> Clone for Deduplicated<I> {
    fn clone(&self) -> Self {
        Deduplicated {
            name: self.name.clone(),
            store_name: self.store_name.clone(),
            id_serde: self.id_serde.clone(),
            grace: self.grace,
            store: self.store,
        }
    }
}

impl<I> fmt::Debug for Deduplicated<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deduplicated")
            .field("name", &self.name)
            .field("store_name", &self.store_name)
            .field("grace", &self.grace)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Generated names and the default serde of the id type.
impl<I: DefaultSerde> Default for Deduplicated<I> {
    fn default() -> Self {
        Deduplicated::with(I::default_serde())
    }
}

impl<I: DefaultSerde> Deduplicated<I> {
    /// The operator named `name` (its store `<name>-store`), with the id type's default serde.
    pub fn named(name: impl Into<String>) -> Self {
        Deduplicated::default().with_name(name)
    }
}

impl<I> Deduplicated<I> {
    /// Ids written to the store with `id_serde`. Equal ids must give equal bytes (every serde's
    /// contract); an id the serde writes as null (`None` with the default `Option<T>` serde) is
    /// never checked: its record passes through.
    pub fn with(id_serde: SharedSerde<I>) -> Self {
        Deduplicated {
            name: None,
            store_name: None,
            id_serde,
            grace: None,
            store: StoreOptions {
                caching: false,
                logging: true,
                in_memory: false,
            },
        }
    }

    /// Names the operator's node `name`, and its store `<name>-store` unless
    /// [`with_store_name`](Self::with_store_name) names it.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Names the store (and so its changelog topic, `<application.id>-<name>-changelog`).
    pub fn with_store_name(mut self, name: impl Into<String>) -> Self {
        self.store_name = Some(name.into());
        self
    }

    /// How far behind stream time (in event time) a record may be and still be checked against
    /// every id it could repeat; the default is the window itself. The store keeps ids for
    /// `window + grace + 1 ms` of stream time. A record further behind is checked against what the
    /// store still holds, and forwarded if nothing is found there (see
    /// [`KStream::dedupe_by`](super::KStream::dedupe_by)).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// With a write cache over the store (Kafka Streams' record cache): writes reach RocksDB and
    /// the changelog at commit or eviction rather than at once. It changes nothing in what is
    /// forwarded.
    pub fn with_caching(mut self) -> Self {
        self.store.caching = true;
        self
    }

    /// No changelog topic: the remembered ids are lost when the store is (a crash with the local
    /// state gone, a move to another instance), and replays of them then pass.
    pub fn without_logging(mut self) -> Self {
        self.store.logging = false;
        self
    }

    /// Kept in memory rather than RocksDB: restored in full from its changelog whenever its task
    /// starts.
    pub fn in_memory(mut self) -> Self {
        self.store.in_memory = true;
        self
    }

    /// `store` with this caching, logging and storage.
    pub(crate) fn configure(&self, store: StoreBuilder) -> StoreBuilder {
        self.store.configure(store)
    }
}
