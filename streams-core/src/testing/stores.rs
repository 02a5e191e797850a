//! Reading a [`TopologyTestDriver`](super::TopologyTestDriver)'s state stores in tests.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use super::driver::Core;
use crate::serde::{Serde, SerdeError};
use crate::state::{
    KeyValueStore, SessionStore, SessionWindow, StoreInstance, StoreSerdes, TimestampedSerde, WindowStore,
};

/// Reads a timestamped store's values (the DSL's stores keep a timestamp before each value)
/// without their timestamps. Test stores only read.
struct WithoutTimestamp<V>(TimestampedSerde<V>);

impl<V: 'static> Serde<V> for WithoutTimestamp<V> {
    fn serialize(&self, _: &str, _: &V) -> Result<Option<Vec<u8>>, SerdeError> {
        Err(SerdeError::new("test stores are read-only"))
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<V, SerdeError> {
        self.0.deserialize(topic, bytes).map(|v| v.value)
    }
}

/// The serdes a test store reads with.
pub(crate) fn reading_serdes<K, V: 'static>(serdes: StoreSerdes<K, V>, timestamped: bool) -> StoreSerdes<K, V> {
    if !timestamped {
        return serdes;
    }
    let StoreSerdes { topic, key, value } = serdes;
    StoreSerdes {
        topic,
        key,
        value: Arc::new(WithoutTimestamp(TimestampedSerde(value))),
    }
}

/// Where a store lives in the driver.
pub(crate) struct Location {
    pub(crate) core: Rc<RefCell<Core>>,
    pub(crate) task: usize,
    pub(crate) index: usize,
    pub(crate) name: String,
}

impl Location {
    /// Runs a read on the store.
    ///
    /// # Panics
    /// When the read fails (a value the serdes cannot read).
    fn with<R>(&self, f: impl FnOnce(&mut StoreInstance) -> crate::Result<R>) -> R {
        let mut core = self.core.borrow_mut();
        f(core.tasks[self.task].store_mut(self.index)).unwrap_or_else(|e| panic!("reading store {}: {e}", self.name))
    }
}

macro_rules! test_store {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<K, V> {
            pub(crate) location: Location,
            pub(crate) serdes: StoreSerdes<K, V>,
        }

        impl<K, V> fmt::Debug for $name<K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("name", &self.location.name).finish()
            }
        }
    };
}

test_store!(
    /// A key-value store of the driver, read through its serdes. Values of the DSL's timestamped
    /// stores are returned without their timestamps.
    TestKeyValueStore
);
test_store!(
    /// A window store of the driver.
    TestWindowStore
);
test_store!(
    /// A session store of the driver.
    TestSessionStore
);

impl<K: 'static, V: 'static> TestKeyValueStore<K, V> {
    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        self.location.with(|store| match store {
            StoreInstance::KeyValue(store) => KeyValueStore {
                store: store.as_mut(),
                serdes: &self.serdes,
            }
            .get(key),
            _ => unreachable!("checked when opened"),
        })
    }

    /// Every entry, in the byte order of the keys.
    pub fn all(&self) -> Vec<(K, V)> {
        self.location.with(|store| match store {
            StoreInstance::KeyValue(store) => KeyValueStore {
                store: store.as_mut(),
                serdes: &self.serdes,
            }
            .all(),
            _ => unreachable!("checked when opened"),
        })
    }
}

impl<K: 'static, V: 'static> TestWindowStore<K, V> {
    /// The value of `key` in the window starting at `window_start`.
    pub fn fetch(&self, key: &K, window_start: i64) -> Option<V> {
        self.location.with(|store| match store {
            StoreInstance::Window(store) => WindowStore {
                store: store.as_mut(),
                serdes: &self.serdes,
            }
            .fetch(key, window_start),
            _ => unreachable!("checked when opened"),
        })
    }

    /// Every entry: `(key, window start, value)`, by window start.
    pub fn all(&self) -> Vec<(K, i64, V)> {
        self.location.with(|store| match store {
            StoreInstance::Window(store) => WindowStore {
                store: store.as_mut(),
                serdes: &self.serdes,
            }
            .all(),
            _ => unreachable!("checked when opened"),
        })
    }
}

impl<K: 'static, V: 'static> TestSessionStore<K, V> {
    /// Every session of `key`, by end then start.
    pub fn fetch_sessions(&self, key: &K) -> Vec<(SessionWindow, V)> {
        self.location.with(|store| match store {
            StoreInstance::Session(store) => SessionStore {
                store: store.as_mut(),
                serdes: &self.serdes,
            }
            .find_sessions(key, 0, i64::MAX),
            _ => unreachable!("checked when opened"),
        })
    }

    /// Every entry: `(key, session, value)`.
    pub fn all(&self) -> Vec<(K, SessionWindow, V)> {
        self.location.with(|store| match store {
            StoreInstance::Session(store) => SessionStore {
                store: store.as_mut(),
                serdes: &self.serdes,
            }
            .all(),
            _ => unreachable!("checked when opened"),
        })
    }
}
