//! Running topologies against Kafka.
//!
//! - [`KafkaStreams`]: a topology running on a cluster, at-least-once, with durable state: tasks
//!   per (sub-topology, partition), internal topics, RocksDB stores logged to changelog topics and
//!   restored from them, checkpoints, and interactive queries.
//! - [`Pipe`]: the smallest running path, one source topic to one sink topic through a byte-level
//!   transform, for tools and tests of the client settings.

mod client_config;
mod collector;
pub mod error_handling;
mod internal_topics;
mod kafka_streams;
pub mod metrics;
mod pipe;
mod purge;
mod queries;
mod record_queue;
mod restore;
mod shutdown_signal;
mod stream_thread;
mod task_manager;
mod timestamps;

pub use client_config::{CONSUMER_DEFAULTS, PRODUCER_DEFAULTS};
pub use error_handling::{ErrorKind, ProductionErrorHandler, RecordErrorHandler};
pub use kafka_streams::{KafkaStreams, StreamThreadExceptionResponse, StreamsState, StreamsStats};
// Used by the test support (`testing::kafka`) only.
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub(crate) use pipe::send;
pub use pipe::{Pipe, PipeStats, RawRecord, RunningPipe, SourcePosition, panic_message};
pub use queries::{KeyQueryMetadata, ReadOnlyKeyValueStore, ReadOnlyWindowStore};
pub use restore::StateRestoreListener;
pub use timestamps::{InvalidTimestampPolicy, RecordTimestamp, TimestampExtractor, timestamp_from_value};
