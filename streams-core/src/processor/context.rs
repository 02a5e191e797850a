//! [`ProcessorContext`]: a processor's view of its task.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};

use super::Data;
use super::record::Record;
use super::task::Task;
use crate::error::{Error, Result};
use crate::runtime::{RawRecord, RecordErrorHandler};

/// Which clock a punctuation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// The task's stream time: the largest timestamp of the records it has processed. Advances
    /// only as records arrive.
    StreamTime,
    /// The wall clock of the machine (or of the test driver).
    WallClockTime,
}

/// Names one scheduled punctuation, to tell several apart in [`Processor::punctuate`](super::Processor::punctuate)
/// and to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PunctuatorId(pub(crate) u64);

/// Identifies a task: one partition of one sub-topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The sub-topology's number, as in [`Topology::describe`](crate::topology::Topology::describe).
    pub subtopology: usize,
    /// The partition of its source topics.
    pub partition: i32,
}

impl fmt::Display for TaskId {
    /// Kafka Streams' notation: `<subtopology>_<partition>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// Where the record being processed was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The source topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
}

/// Wakes the stream thread when asynchronous work of one of its processors has completed, so it
/// forwards the results at once instead of at its next turn. Cheap to clone, `Send + Sync`: give a
/// clone to the thread doing the work, and call [`wake`](Self::wake) when it is done. Under the
/// test driver it does nothing (the driver waits for the work itself).
#[derive(Clone, Default)]
pub struct AsyncWaker(Arc<(Mutex<bool>, Condvar)>);

impl fmt::Debug for AsyncWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncWaker")
    }
}

impl AsyncWaker {
    /// Wakes the stream thread if it waits for asynchronous work (or makes its next wait return
    /// at once).
    pub fn wake(&self) {
        let (woken, signal) = &*self.0;
        *woken.lock().unwrap_or_else(|p| p.into_inner()) = true;
        signal.notify_all();
    }

    /// Waits until woken or `timeout` has passed, and clears the wake-up.
    pub(crate) fn wait(&self, timeout: Duration) {
        let (woken, signal) = &*self.0;
        let mut flag = woken.lock().unwrap_or_else(|p| p.into_inner());
        if !*flag {
            flag = signal.wait_timeout(flag, timeout).unwrap_or_else(|p| p.into_inner()).0;
        }
        *flag = false;
    }
}

/// The input record a record in flight came from, kept by an asynchronous processor so that its
/// results and failures are tied to that record: where it was read (for error messages and the
/// dead-letter headers) and, when the record may have to be dead-lettered, its original bytes.
///
/// Taken with [`ProcessorContext::origin`] while the record is processed; cheap to keep (the
/// bytes are shared, not copied).
#[derive(Debug, Clone)]
pub struct Origin {
    pub(crate) metadata: RecordMetadata,
    pub(crate) raw: Option<Rc<RawRecord>>,
}

impl Origin {
    /// Where the input record was read from.
    pub fn metadata(&self) -> &RecordMetadata {
        &self.metadata
    }
}

/// A processor's handle on its task while it processes, punctuates or initialises: forwards
/// records to the processor's children and tells the time.
///
/// `K` and `V` are the types this processor forwards.
pub struct ProcessorContext<'a, K, V> {
    pub(crate) task: &'a mut Task,
    pub(crate) node: usize,
    pub(crate) types: PhantomData<fn(K, V)>,
}

impl<K, V> fmt::Debug for ProcessorContext<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessorContext")
            .field("task", &self.task.id)
            .field("node", &self.task.node_name(self.node))
            .finish()
    }
}

impl<'a, K: Data, V: Data> ProcessorContext<'a, K, V> {
    pub(crate) fn new(task: &'a mut Task, node: usize) -> Self {
        ProcessorContext {
            task,
            node,
            types: PhantomData,
        }
    }

    /// Sends `record` to every child of this processor, depth first, in the order the children
    /// were added. Returns once all have processed it; their first error is returned.
    pub fn forward(&mut self, record: Record<K, V>) -> Result<()> {
        self.task.forward(self.node, record)
    }

    /// Sends `record` to the child named `child` only.
    ///
    /// # Errors
    /// [`Error::Processing`](crate::Error::Processing) when this processor has no child of that name.
    pub fn forward_to(&mut self, child: &str, record: Record<K, V>) -> Result<()> {
        self.task.forward_to(self.node, child, record)
    }

    /// Forwards `record`, a result of work done for the input record `origin` (an asynchronous
    /// processor's output), to every child, as if that input record were being processed: a
    /// failure downstream names it and goes to the processing-error handler with it, exactly as a
    /// failure while processing it would have.
    ///
    /// # Errors
    /// What the error handler does not absorb (see [`RecordErrorHandler`]).
    pub fn forward_from(&mut self, origin: &Origin, record: Record<K, V>) -> Result<()> {
        self.task.forward_from(self.node, origin, record)
    }

    /// Reports that the work for the input record `origin` failed with `error` (an
    /// [`Error::Processing`] or [`Error::Panicked`] is expected), and hands the record to `handler`,
    /// or to the application's processing-error handler when `handler` is `None`: the record is
    /// then skipped or dead-lettered (with its original bytes and the `__streams.errors.*`
    /// headers), or the error is returned to stop the task.
    ///
    /// # Errors
    /// The error, named after the input record, under [`RecordErrorHandler::Fail`]; a failed
    /// dead-letter write.
    pub fn fail_record(&mut self, origin: &Origin, error: Error, handler: Option<RecordErrorHandler>) -> Result<()> {
        self.task.fail_record(self.node, origin, error, handler)
    }

    /// The stream thread's waker: call [`AsyncWaker::wake`] from the thread that completes this
    /// processor's asynchronous work.
    pub fn async_waker(&self) -> AsyncWaker {
        self.task.waker().clone()
    }

    /// The input record being processed, to keep beside work that completes later (see
    /// [`forward_from`](Self::forward_from)); `None` during a punctuation or `init`.
    pub fn origin(&self) -> Option<Origin> {
        self.task.origin()
    }

    /// The source topic, partition and offset of the record being processed; `None` during a
    /// punctuation or `init`.
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.task.record_metadata()
    }

    /// The task's stream time: the largest timestamp processed so far; `None` before the first
    /// record. It never goes back.
    pub fn stream_time(&self) -> Option<i64> {
        self.task.stream_time()
    }

    /// The current wall-clock time in milliseconds since the epoch (the test driver's mock clock
    /// under the driver).
    pub fn wall_clock_time(&self) -> i64 {
        self.task.wall_clock_time()
    }

    /// Schedules [`Processor::punctuate`](super::Processor::punctuate) of this processor every
    /// `interval` of the given clock (see the module docs for the exact rules).
    ///
    /// # Panics
    /// When `interval` is under one millisecond.
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> PunctuatorId {
        let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        assert!(interval >= 1, "a punctuation interval must be at least 1 ms");
        self.task.schedule(self.node, interval, kind)
    }

    /// Cancels a punctuation; cancelling twice does nothing.
    pub fn cancel(&mut self, id: PunctuatorId) {
        self.task.cancel(id);
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        self.task.application_id()
    }

    /// The task this processor instance belongs to.
    pub fn task_id(&self) -> TaskId {
        self.task.id
    }

    /// This processor's node name in the topology.
    pub fn node_name(&self) -> &str {
        self.task.node_name(self.node)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_wake_up_is_never_lost_whether_it_comes_before_or_during_the_wait() {
        let waker = AsyncWaker::default();
        // Before: the next wait returns at once.
        waker.wake();
        let started = Instant::now();
        waker.wait(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        // During: from the thread that did the work.
        let worker = waker.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            worker.wake();
        });
        let started = Instant::now();
        waker.wait(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        thread.join().unwrap();
    }
}
