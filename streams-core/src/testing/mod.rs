//! Test support, behind the `testing` feature (enable it in `[dev-dependencies]`).
//!
//! - [`kafka`]: tests against a real broker: find it, give each test its own topics, produce and
//!   read records, inspect committed offsets.
//! - [`TopologyTestDriver`]: runs a topology in memory, synchronously, with typed input and output
//!   topics: unit tests of topologies in plain `cargo test`.

mod driver;
pub mod kafka;
mod stores;

pub use driver::{TestInputTopic, TestOutputTopic, TopologyTestDriver};
pub use stores::{TestKeyValueStore, TestSessionStore, TestWindowStore};
