//! The Processor API: what every operator of the DSL is built from, and what users write when the
//! DSL is not enough.
//!
//! A [`Processor`] receives one [`Record`] at a time and forwards new records to its children
//! through its [`ProcessorContext`], which also gives the record's source position, the task's
//! stream time and wall-clock time, and schedules punctuations.
//!
//! ```text
//!   source ──▶ processor ──▶ processor ──▶ sink
//!   (bytes → K,V)   │   ctx.forward(record)      (K,V → bytes → topic)
//!                   └──▶ processor …
//! ```
//!
//! Records are processed one at a time, depth first: `forward` returns once every descendant has
//! processed the record. A processor instance belongs to one task (one partition of its
//! sub-topology) and is only called from that task's thread.
//!
//! # Punctuation
//! [`ProcessorContext::schedule`] asks for [`Processor::punctuate`] to be called every `interval`:
//! - [`PunctuationType::StreamTime`]: aligned to multiples of the interval from 0; fires when the
//!   task's stream time (the largest record timestamp it has processed) reaches the next multiple,
//!   which happens only as records arrive. The punctuation receives the current stream time.
//!   If stream time jumps over several intervals, it fires once.
//! - [`PunctuationType::WallClockTime`]: first fires `interval` after it was scheduled, then every
//!   interval; it receives the current wall-clock time. Missed intervals fire once, as above.
//!
//! These are Kafka Streams' rules (`PunctuationSchedule`).
//!
//! ```
//! use std::time::Duration;
//! use streams_core::processor::{Processor, ProcessorContext, PunctuationType, PunctuatorId, Record};
//!
//! /// Counts records and forwards the count every 10 s of stream time.
//! #[derive(Default)]
//! struct Counter {
//!     seen: u64,
//! }
//!
//! impl Processor<String, String, String, u64> for Counter {
//!     fn init(&mut self, ctx: &mut ProcessorContext<'_, String, u64>) -> streams_core::Result<()> {
//!         ctx.schedule(Duration::from_secs(10), PunctuationType::StreamTime);
//!         Ok(())
//!     }
//!
//!     fn process(&mut self, _record: Record<String, String>, _ctx: &mut ProcessorContext<'_, String, u64>) -> streams_core::Result<()> {
//!         self.seen += 1;
//!         Ok(())
//!     }
//!
//!     fn punctuate(&mut self, _id: PunctuatorId, time: i64, ctx: &mut ProcessorContext<'_, String, u64>) -> streams_core::Result<()> {
//!         ctx.forward(Record::new("count".to_string(), self.seen, time))
//!     }
//! }
//! ```

mod change;
mod context;
pub(crate) mod node;
pub(crate) mod ops;
mod record;
mod stores;
pub(crate) mod task;

pub use change::Change;
pub(crate) use change::ChangeSerde;
pub use context::{ProcessorContext, PunctuationType, PunctuatorId, RecordMetadata, TaskId};
pub use record::{Headers, Record};
pub use stores::{GlobalStoreHandle, KeyValueStoreHandle, SessionStoreHandle, WindowStoreHandle};

use crate::error::Result;

/// What keys and values must be to flow through a topology: cloneable (a record forwarded to
/// several children is cloned for all but the last) and owned.
pub trait Data: Clone + 'static {}

impl<T: Clone + 'static> Data for T {}

/// A processing step: receives records of `KIn`/`VIn`, forwards records of `KOut`/`VOut`.
///
/// Only [`process`](Processor::process) is required; the lifecycle hooks default to doing nothing.
/// An error returned from any method stops the task: with a record at hand it becomes
/// [`Error::Record`](crate::Error::Record), naming the record's topic, partition and offset.
pub trait Processor<KIn, VIn, KOut = KIn, VOut = VIn>: 'static {
    /// Called once before the first record: schedule punctuations here.
    fn init(&mut self, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Processes one record, forwarding any number of records through `ctx`.
    fn process(&mut self, record: Record<KIn, VIn>, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()>;

    /// A punctuation scheduled with [`ProcessorContext::schedule`] is due; `timestamp` is the
    /// current stream time or wall-clock time, by the punctuation's type.
    fn punctuate(
        &mut self,
        id: PunctuatorId,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<()> {
        let _ = (id, timestamp, ctx);
        Ok(())
    }

    /// Called once when the task closes.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}
