//! The error type of the library.

use rdkafka::error::KafkaError;

/// A shorthand for results whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation of the library failed.
///
/// Errors that concern one record name its topic, partition and offset, so the record can be found
/// and replayed; the run that returns them has committed nothing past that record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The settings are invalid, or do not match the cluster (e.g. a missing source topic).
    #[error("configuration error: {0}")]
    Config(String),
    /// A Kafka client call failed; `context` says what was being done.
    #[error("Kafka error while {context}: {source}")]
    Kafka {
        /// What the library was doing, e.g. "committing offsets of group fraud".
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// Processing one input record failed.
    #[error("record {topic}/{partition}@{offset} failed: {reason}")]
    Record {
        /// The record's source topic.
        topic: String,
        /// The record's source partition.
        partition: i32,
        /// The record's offset in that partition.
        offset: i64,
        /// What went wrong.
        reason: String,
    },
    /// The broker did not accept an output record (after the producer's own retries).
    #[error("could not deliver a record to {topic}: {reason}")]
    Delivery {
        /// The topic the record was for.
        topic: String,
        /// The producer's error.
        reason: String,
    },
    /// A processor failed outside of any record (in `init` or a punctuation).
    #[error("task {task} failed: {reason}")]
    Task {
        /// The task, as `<subtopology>_<partition>`.
        task: String,
        /// What went wrong, starting with the processor's name.
        reason: String,
    },
    /// A record's key or value bytes could not be deserialized. Sources return it; the task adds
    /// the record it happened to, and the deserialization error handler
    /// ([`StreamsConfig::with_deserialization_error_handler`](crate::StreamsConfig::with_deserialization_error_handler))
    /// decides what happens to the record.
    #[error("{0}")]
    Deserialization(String),
    /// A processor's own error: return it from [`Processor`](crate::processor::Processor) methods
    /// (see [`Error::processing`]); the task adds the record or punctuation it happened in.
    #[error("{0}")]
    Processing(String),
    /// The topology is not valid: a name used twice, a missing parent, mismatched types.
    #[error("invalid topology: {0}")]
    Topology(String),
    /// A state store failed.
    #[error(transparent)]
    Store(#[from] crate::state::StoreError),
    /// An interactive query could not be answered: the application is not running, the store is
    /// restoring, or no local task has it.
    #[error("state store {store} cannot be queried: {reason}")]
    StoreUnavailable {
        /// The store's name.
        store: String,
        /// Why.
        reason: String,
    },
    /// A stream thread lost its tasks: its producer was fenced, or its transaction had to be
    /// aborted. The runtime recovers by itself (it replaces the stream thread, whose tasks resume
    /// from the last committed transaction); the error surfaces only if that fails.
    #[error("stream thread lost its tasks: {0}")]
    TaskMigrated(String),
    /// The run stopped because its thread panicked.
    #[error("the processing thread panicked: {0}")]
    Panicked(String),
}

impl Error {
    /// A processor's error with this reason.
    pub fn processing(reason: impl Into<String>) -> Self {
        Error::Processing(reason.into())
    }

    /// A [`Error::Kafka`] with what was being done.
    pub(crate) fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }
}
