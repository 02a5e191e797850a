//! Running processing against Kafka.
//!
//! Today this holds the smallest running path, [`Pipe`]: one source topic, a byte-level transform,
//! one sink topic, at-least-once. The full runtime (tasks per sub-topology and partition, state
//! stores, repartition topics, exactly-once) grows here and replaces it; the client settings in
//! `client_config` are the ones it will keep.

mod client_config;
mod pipe;

pub(crate) use pipe::send;
pub use pipe::{Pipe, PipeStats, RawRecord, RunningPipe, SourcePosition};
