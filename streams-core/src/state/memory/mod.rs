//! In-memory stores: the bottom of the store stack when a store is not persistent, and the stores
//! the test driver uses. They hold everything in `BTreeMap`s, lose it on close, and rely on the
//! changelog to be rebuilt after a restart.

mod key_value;
mod session;
mod window;

pub use key_value::InMemoryKeyValueStore;
pub use session::InMemorySessionStore;
pub use window::InMemoryWindowStore;
