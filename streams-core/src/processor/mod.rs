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
pub use context::{AsyncWaker, Origin, ProcessorContext, PunctuationType, PunctuatorId, RecordMetadata, TaskId};
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

    /// Called once when the task closes. Work still in flight in an asynchronous processor is
    /// abandoned: the task commits nothing it covers (a clean close drains it first).
    fn close(&mut self) -> Result<()> {
        Ok(())
    }

    /// Whether this processor completes records asynchronously: it keeps records it was given
    /// (or hands their work to other threads) and forwards their results later, from
    /// [`poll_async`](Processor::poll_async). The task then polls it on every turn and, before
    /// every commit, drains it. Asked once, when the task is created. Default `false`.
    fn is_asynchronous(&self) -> bool {
        false
    }

    /// Makes progress on work in flight (asynchronous processors only); see [`AsyncPoll`] for
    /// what each mode must do. Results are forwarded with
    /// [`ProcessorContext::forward_from`], failures reported with
    /// [`ProcessorContext::fail_record`], so each is tied to the input record it came from.
    fn poll_async(&mut self, mode: AsyncPoll, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()> {
        let _ = (mode, ctx);
        Ok(())
    }

    /// How many records this processor holds whose results it has not forwarded yet.
    fn in_flight(&self) -> usize {
        0
    }

    /// Whether it can take another record now. An asynchronous processor at its limit says
    /// `false`: the task then stops feeding it (records wait in the input queues, and the runtime
    /// pauses the input partitions when those fill up) until `poll_async` has made room. A record
    /// arriving anyway (one input fanned out to several) must still be accepted.
    fn accepts_records(&self) -> bool {
        true
    }
}

/// What [`Processor::poll_async`] is asked to do.
///
/// Work that is *in flight* is work the processor accepted but whose results it has not forwarded.
/// A processor that batches holds records *pending* until a batch is full or has waited long
/// enough; a pending batch is in flight too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsyncPoll {
    /// Forward whatever has completed, start work whose time has come (a batch that has waited
    /// long enough by [`ProcessorContext::wall_clock_time`]); never block. Called on every turn of
    /// the stream thread and whenever the wall clock advances.
    Progress,
    /// As `Progress`, then block until everything started has completed and been forwarded;
    /// pending records not yet started may stay. The test driver calls this after every record, so
    /// tests are deterministic.
    Settle,
    /// Start everything now, pending records included, and forward what has completed; never
    /// block. Called while the runtime waits to commit.
    Flush,
    /// Start everything now and block until all of it has completed and been forwarded: afterwards
    /// [`in_flight`](Processor::in_flight) is 0. Called before a commit that cannot wait (a
    /// revocation, a shutdown) and when the test driver closes.
    Drain,
}

impl AsyncPoll {
    /// Whether records held pending must be started now (`Flush`, `Drain`).
    pub fn starts_pending(self) -> bool {
        matches!(self, AsyncPoll::Flush | AsyncPoll::Drain)
    }

    /// Whether the call must block until started work has completed (`Settle`, `Drain`).
    pub fn waits(self) -> bool {
        matches!(self, AsyncPoll::Settle | AsyncPoll::Drain)
    }
}
