//! # streams-core
//!
//! Stateful stream processing on Apache Kafka, in the spirit of Kafka Streams: a typed DSL over a
//! Processor API, state stores logged to changelog topics, a runtime on `rdkafka`, and an in-memory
//! test driver. This crate is being built issue by issue; what exists today:
//!
//! - [`StreamsConfig`]: the typed settings of an application (application id, brokers, commit
//!   interval) and the librdkafka settings passed through to its clients.
//! - [`runtime::Pipe`]: the smallest running path, a source topic to a sink topic through a
//!   byte-level transform, with at-least-once delivery. The full runtime (tasks, state, repartition
//!   topics, exactly-once) replaces it.
//! - `testing` (feature `testing`): helpers to test against a real Kafka broker, with a unique topic
//!   per test.
//!
//! See `docs/` in the repository for guides, and `../shared/DESIGN.md` for where this is going.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

mod config;
pub mod dsl;
mod error;
pub mod processor;
pub mod runtime;
pub mod serde;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;

pub use config::StreamsConfig;

/// The guides in `docs/`, compiled and run as doctests so their examples stay true.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../docs/configuration.md")]
    struct Configuration;
    #[doc = include_str!("../../docs/dsl.md")]
    struct Dsl;
    #[doc = include_str!("../../docs/pipe.md")]
    struct Pipe;
    #[doc = include_str!("../../docs/processor-api.md")]
    struct ProcessorApi;
    #[doc = include_str!("../../docs/testing-topologies.md")]
    struct TestingTopologies;
    #[doc = include_str!("../../docs/testing-with-kafka.md")]
    struct TestingWithKafka;
}
pub use error::{Error, Result};
