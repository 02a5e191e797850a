//! # streams-core
//!
//! Stateful stream processing on Apache Kafka, in the spirit of Kafka Streams: a typed DSL over a
//! Processor API, state stores, windows with grace and suppression, a runtime on `rdkafka`, and an
//! in-memory test driver that runs the same processors.
//!
//! ```
//! use streams_core::StreamsConfig;
//! use streams_core::dsl::StreamsBuilder;
//! use streams_core::testing::TopologyTestDriver;
//!
//! let builder = StreamsBuilder::new();
//! builder.stream::<String, String>("words").group_by(|_, w| w.to_lowercase()).count().to_stream().to("counts");
//! let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("word-count"))?;
//! driver.input_topic::<String, String>("words").pipe_input("k".into(), "Kafka".into());
//! assert_eq!(driver.output_topic::<String, Option<i64>>("counts").read_key_value(), ("kafka".into(), Some(1)));
//! # Ok::<(), streams_core::Error>(())
//! ```
//!
//! - [`dsl`]: `StreamsBuilder`, `KStream`, `KGroupedStream`, windowed streams, `KTable`,
//!   `GlobalKTable`, joins, and the option objects (`Consumed`, `Produced`, `Grouped`, `Joined`,
//!   `StreamJoined`, `Materialized`, `Named`).
//! - [`processor`]: the Processor API every operator is built on (records, contexts, punctuation,
//!   store handles).
//! - [`topology`]: the graph, sub-topologies, internal topic names, `describe()`.
//! - [`time`]: windows, join windows, grace, suppression.
//! - [`state`]: store traits; in-memory and RocksDB stores; the write cache, change-logging
//!   decorators, checkpoint files and state directory locks.
//! - [`serde`]: Kafka-compatible serdes chosen from the types.
//! - [`runtime`]: running on Kafka: [`runtime::KafkaStreams`] (tasks, internal topics, durable
//!   state restored from changelogs, interactive queries; at-least-once) and the byte-level
//!   [`runtime::Pipe`].
//! - `testing` (feature `testing`): the `TopologyTestDriver`, and helpers for tests against a real
//!   broker.
//!
//! Guides: `docs/` in the repository.
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
pub mod time;
pub mod topology;

pub use config::{ProcessingGuarantee, StreamsConfig};
pub use runtime::{ProductionErrorHandler, RecordErrorHandler};

/// The guides in `docs/`, compiled and run as doctests so their examples stay true.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../docs/coming-from-kafka-streams.md")]
    struct ComingFromKafkaStreams;
    #[doc = include_str!("../../docs/configuration.md")]
    struct Configuration;
    #[doc = include_str!("../../docs/deduplication.md")]
    struct Deduplication;
    #[doc = include_str!("../../docs/dsl.md")]
    struct Dsl;
    #[doc = include_str!("../../docs/error-handling.md")]
    struct ErrorHandling;
    #[doc = include_str!("../../docs/getting-started.md")]
    struct GettingStarted;
    #[doc = include_str!("../../docs/joins.md")]
    struct Joins;
    #[doc = include_str!("../../docs/operations.md")]
    struct Operations;
    #[doc = include_str!("../../docs/pipe.md")]
    struct Pipe;
    #[doc = include_str!("../../docs/processor-api.md")]
    struct ProcessorApi;
    #[doc = include_str!("../../docs/runtime.md")]
    struct Runtime;
    #[doc = include_str!("../../docs/serdes.md")]
    struct Serdes;
    #[doc = include_str!("../../docs/state.md")]
    struct State;
    #[doc = include_str!("../../docs/testing-topologies.md")]
    struct TestingTopologies;
    #[doc = include_str!("../../docs/testing-with-kafka.md")]
    struct TestingWithKafka;
    #[doc = include_str!("../../docs/windows-and-time.md")]
    struct WindowsAndTime;
}
pub use error::{Error, Result};
