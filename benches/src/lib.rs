//! Benchmarks of streams-core and streams-ml: criterion micro-benchmarks, and the side-by-side
//! harness that runs the same topologies on Kafka Streams and on this library against one broker.
//!
//! Nothing is measured here yet: the harness comes with the benchmarks issue, once the runtime runs
//! topologies. Figures measured so far are in `../shared/notes/` and in the closing notes of issues.
#![deny(missing_docs)]
