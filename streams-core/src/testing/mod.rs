//! Test support, behind the `testing` feature (enable it in `[dev-dependencies]`).
//!
//! - [`kafka`]: tests against a real broker: find it, give each test its own topics, produce and
//!   read records, inspect committed offsets.
//!
//! The in-memory `TopologyTestDriver` will live here too.

pub mod kafka;
