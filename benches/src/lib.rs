//! Benchmarks of streams-core and streams-ml.
//!
//! - criterion micro-benchmarks and single-system benches under `benches/` (`cargo bench -p
//!   streams-benches`);
//! - the side-by-side harness (`scripts/bench`, binary `side-by-side`), which runs the same
//!   topologies on this library (binary `streams-bench`) and on Kafka Streams
//!   (`benches/kstreams-java`) against one broker, alternately, and checks they agree before it
//!   reports a figure. See `docs/benchmarks.md`.
#![deny(missing_docs)]

pub mod digest;
pub mod kafka;
pub mod measure;
pub mod report;
pub mod workload;
