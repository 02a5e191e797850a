//! What the examples' data generators share (`fraud-detector`, `anomaly-detector`):
//!
//! - [`rng`]: [`Rng`], the small deterministic random number generator every generator draws from,
//!   so generated data is the same on every platform;
//! - [`cli`]: the command line of the `*-training-data` binaries (`--rows N --seed S` and one
//!   count of their own) and the CSV they write;
//! - [`check`]: assertions for the examples' feature tests (computed features against expected
//!   values, the incremental computation against the direct definition);
//! - [`stats`]: percentiles of measurements (latencies, detection delays).
#![deny(missing_docs)]

pub mod check;
pub mod cli;
pub mod rng;
pub mod stats;

pub use rng::Rng;
