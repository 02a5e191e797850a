//! Benchmarks of streams-core and streams-ml: criterion micro-benchmarks (`cargo bench -p
//! streams-benches`), and later the side-by-side harness that runs the same topologies on Kafka
//! Streams and on this library against one broker.
//!
//! - `benches/test_driver.rs`: the TopologyTestDriver running 100,000 records through a stateless
//!   pipeline and through a windowed aggregation.
#![deny(missing_docs)]
