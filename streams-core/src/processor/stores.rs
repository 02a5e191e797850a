//! Store handles: how a processor reaches the state stores connected to it.
//!
//! A processor asks its context for a handle once, in `init` (which checks the store exists, is
//! connected to the processor and has the expected shape), keeps it, and opens the typed store
//! through the context whenever it processes:
//!
//! ```
//! use streams_core::processor::{KeyValueStoreHandle, Processor, ProcessorContext, Record};
//! use streams_core::Result;
//!
//! /// Forwards each key's running count.
//! #[derive(Default)]
//! struct Count {
//!     counts: Option<KeyValueStoreHandle<String, i64>>,
//! }
//!
//! impl Processor<String, String, String, i64> for Count {
//!     fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
//!         self.counts = Some(ctx.key_value_store_handle("counts")?);
//!         Ok(())
//!     }
//!
//!     fn process(&mut self, record: Record<String, String>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
//!         let handle = self.counts.as_ref().expect("init ran");
//!         let mut counts = ctx.key_value_store(handle);
//!         let count = counts.get(&record.key)?.unwrap_or(0) + 1;
//!         counts.put(&record.key, &count)?;
//!         ctx.forward(record.with_value(count))
//!     }
//! }
//! ```

use std::fmt;
use std::sync::Arc;

use super::context::ProcessorContext;
use super::{Change, Data, Record};
use crate::error::{Error, Result};
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::encoding::{encode_session_key, encode_window_key};
use crate::state::{KeyValueStore, SessionStore, SessionWindow, StoreInstance, StoreKind, StoreSerdes, WindowStore};

macro_rules! handle {
    ($(#[$doc:meta])* $handle:ident) => {
        $(#[$doc])*
        pub struct $handle<K, V> {
            pub(crate) index: usize,
            pub(crate) serdes: StoreSerdes<K, V>,
        }

        impl<K, V> fmt::Debug for $handle<K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle)).field("topic", &self.serdes.topic).finish()
            }
        }

        impl<K, V> Clone for $handle<K, V> {
            fn clone(&self) -> Self {
                $handle { index: self.index, serdes: self.serdes.clone() }
            }
        }
    };
}

handle!(
    /// A key-value store connected to a processor: open it with
    /// [`ProcessorContext::key_value_store`].
    KeyValueStoreHandle
);
handle!(
    /// A window store connected to a processor: open it with [`ProcessorContext::window_store`].
    WindowStoreHandle
);
handle!(
    /// A session store connected to a processor: open it with [`ProcessorContext::session_store`].
    SessionStoreHandle
);
handle!(
    /// A global table's store, readable by every processor: read it with
    /// [`ProcessorContext::global_store_get`].
    GlobalStoreHandle
);

/// Which shape a handle expects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    KeyValue,
    Window,
    Session,
}

impl<KOut: Data, VOut: Data> ProcessorContext<'_, KOut, VOut> {
    fn store_serdes<K, V>(
        &self,
        name: &str,
        shape: Shape,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<(usize, StoreSerdes<K, V>)> {
        let (index, spec) = self.task.connected_store(self.node, name)?;
        let actual = match spec.kind() {
            StoreKind::KeyValue => Shape::KeyValue,
            StoreKind::Window { .. } => Shape::Window,
            StoreKind::Session { .. } => Shape::Session,
        };
        if actual != shape {
            return Err(Error::Topology(format!("store {name} is a {:?} store", spec.kind())));
        }
        let topic: Arc<str> = spec.changelog_topic(self.task.application_id()).into();
        Ok((index, StoreSerdes { topic, key, value }))
    }

    /// A handle on the key-value store `name`, with the default serdes of `K` and `V`.
    ///
    /// # Errors
    /// When the store is not connected to this processor or is not a key-value store.
    pub fn key_value_store_handle<K: DefaultSerde, V: DefaultSerde>(
        &self,
        name: &str,
    ) -> Result<KeyValueStoreHandle<K, V>> {
        self.key_value_store_handle_with(name, K::default_serde(), V::default_serde())
    }

    /// A handle on the key-value store `name`, with these serdes.
    pub fn key_value_store_handle_with<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<KeyValueStoreHandle<K, V>> {
        let (index, serdes) = self.store_serdes(name, Shape::KeyValue, key, value)?;
        Ok(KeyValueStoreHandle { index, serdes })
    }

    /// A handle on the window store `name`, with these serdes.
    pub fn window_store_handle_with<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<WindowStoreHandle<K, V>> {
        let (index, serdes) = self.store_serdes(name, Shape::Window, key, value)?;
        Ok(WindowStoreHandle { index, serdes })
    }

    /// A handle on the session store `name`, with these serdes.
    pub fn session_store_handle_with<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<SessionStoreHandle<K, V>> {
        let (index, serdes) = self.store_serdes(name, Shape::Session, key, value)?;
        Ok(SessionStoreHandle { index, serdes })
    }

    /// A handle on the store of the global table whose store is `name`, with these serdes.
    ///
    /// # Errors
    /// When no global table has that store.
    pub fn global_store_handle_with<K, V>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> Result<GlobalStoreHandle<K, V>> {
        let (index, spec) = self.task.global_store(name)?;
        let topic: Arc<str> = spec.changelog_topic(self.task.application_id()).into();
        Ok(GlobalStoreHandle {
            index,
            serdes: StoreSerdes { topic, key, value },
        })
    }

    /// The current value of `key` in a global table's store.
    pub fn global_store_get<K: 'static, V: 'static>(
        &self,
        handle: &GlobalStoreHandle<K, V>,
        key: &K,
    ) -> Result<Option<V>> {
        let mut store = self.task.global(handle.index).lock();
        match &mut *store {
            StoreInstance::KeyValue(store) => KeyValueStore {
                store: store.as_mut(),
                serdes: &handle.serdes,
            }
            .get(key),
            other => unreachable!("a global table's store is {other:?}"),
        }
    }

    /// Opens a key-value store; it stays open while the returned value lives.
    pub fn key_value_store<'s, K, V>(&'s mut self, handle: &'s KeyValueStoreHandle<K, V>) -> KeyValueStore<'s, K, V> {
        match self.task.store_mut(handle.index) {
            StoreInstance::KeyValue(store) => KeyValueStore {
                store: store.as_mut(),
                serdes: &handle.serdes,
            },
            other => unreachable!("a key-value handle points at {other:?}"),
        }
    }

    /// Opens a window store.
    pub fn window_store<'s, K, V>(&'s mut self, handle: &'s WindowStoreHandle<K, V>) -> WindowStore<'s, K, V> {
        match self.task.store_mut(handle.index) {
            StoreInstance::Window(store) => WindowStore {
                store: store.as_mut(),
                serdes: &handle.serdes,
            },
            other => unreachable!("a window handle points at {other:?}"),
        }
    }

    /// Opens a session store.
    pub fn session_store<'s, K, V>(&'s mut self, handle: &'s SessionStoreHandle<K, V>) -> SessionStore<'s, K, V> {
        match self.task.store_mut(handle.index) {
            StoreInstance::Session(store) => SessionStore {
                store: store.as_mut(),
                serdes: &handle.serdes,
            },
            other => unreachable!("a session handle points at {other:?}"),
        }
    }

    /// Counts the record at hand as dropped by design (e.g. too late for its window): Kafka
    /// Streams' `dropped-records` metric.
    pub fn record_dropped(&mut self) {
        self.task.record_dropped();
    }
}

impl<KOut: Data, V: Data> ProcessorContext<'_, KOut, Change<V>> {
    /// Forwards `record`, the change it made to `key` in a key-value store: at once without a write
    /// cache; with one, when the cache writes the key down (eviction or commit), coalesced with the
    /// key's earlier changes (Kafka Streams' cache flush listener).
    pub(crate) fn forward_key_value_change<K: 'static, VS: 'static>(
        &mut self,
        handle: &KeyValueStoreHandle<K, VS>,
        key: &K,
        record: Record<KOut, Change<V>>,
    ) -> Result<()> {
        let serdes = &handle.serdes;
        self.task
            .forward_change(self.node, handle.index, || serdes.key(key).unwrap_or_default(), record)
    }

    /// [`forward_key_value_change`](Self::forward_key_value_change) for the window of `key` starting
    /// at `window_start` in a window store.
    pub(crate) fn forward_window_change<K: 'static, VS: 'static>(
        &mut self,
        handle: &WindowStoreHandle<K, VS>,
        key: &K,
        window_start: i64,
        record: Record<KOut, Change<V>>,
    ) -> Result<()> {
        let serdes = &handle.serdes;
        let cache_key = || encode_window_key(&serdes.key(key).unwrap_or_default(), window_start, 0);
        self.task.forward_change(self.node, handle.index, cache_key, record)
    }

    /// [`forward_key_value_change`](Self::forward_key_value_change) for the session `window` of `key`
    /// in a session store.
    pub(crate) fn forward_session_change<K: 'static, VS: 'static>(
        &mut self,
        handle: &SessionStoreHandle<K, VS>,
        key: &K,
        window: SessionWindow,
        record: Record<KOut, Change<V>>,
    ) -> Result<()> {
        let serdes = &handle.serdes;
        let cache_key = || encode_session_key(&serdes.key(key).unwrap_or_default(), window);
        self.task.forward_change(self.node, handle.index, cache_key, record)
    }
}
