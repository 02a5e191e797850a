//! [`Task`]: one partition of one sub-topology, instantiated: its processor nodes, stream time,
//! punctuations and where its output goes. The test driver and the Kafka runtime both run records
//! through this, so operator logic exists once.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::warn;

use super::AsyncPoll;
use super::Data;
use super::context::{AsyncWaker, Origin, PunctuationType, PunctuatorId, RecordMetadata, TaskId};
use super::node::Node;
use super::record::Record;
use crate::error::{Error, Result};
use crate::runtime::RawRecord;
use crate::runtime::error_handling::{ErrorKind, ErrorPolicy, Failure, RecordErrorHandler, dead_letter_record};
use crate::state::caching::{CachingKeyValueStore, CachingSessionStore, CachingWindowStore};
use crate::state::logging::RecordClock;
use crate::state::{StoreBuilder, StoreInstance};
use crate::topology::{SubTopology, Topology};

/// A global table's store, shared by every task of an instance (and by the updater that writes it).
#[derive(Clone)]
pub(crate) struct GlobalStore {
    pub(crate) spec: StoreBuilder,
    pub(crate) store: Arc<Mutex<StoreInstance>>,
}

impl GlobalStore {
    /// A fresh store for `spec`. (Only the test driver runs global tables so far.)
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn new(spec: StoreBuilder) -> Result<Self> {
        let store = Arc::new(Mutex::new(spec.build()?));
        Ok(GlobalStore { spec, store })
    }

    /// The store, locked (a panic elsewhere cannot leave a store half-written: each write is one call).
    pub(crate) fn lock(&self) -> MutexGuard<'_, StoreInstance> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a task's sinks send serialized records: the producer under the runtime, in-memory topics
/// under the test driver.
pub(crate) trait RecordCollector {
    /// Sends one record to `topic` (already resolved: internal topics carry the application id).
    fn send(&mut self, topic: &str, record: RawRecord) -> Result<()>;

    /// Sends a dead-lettered record to the dead-letter topic: like [`send`](Self::send), but a
    /// refusal is always an error (the production error handler does not apply: a record that
    /// cannot be dead-lettered must not vanish).
    fn send_dead_letter(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        self.send(topic, record)
    }
}

/// Where the record being processed failed: the innermost node, and what kind of failure it was
/// (`None` for failures no record handler may skip: stores, the producer, configuration).
struct NodeFailure {
    node: usize,
    kind: Option<ErrorKind>,
    message: String,
}

/// Makes a task's store from its declaration: in memory under the test driver; the whole decorator
/// stack (RocksDB, change-logging, caching) under the runtime. The clock is the task's
/// [`RecordClock`], for change-logging layers.
pub(crate) type StoreFactory<'a> = dyn FnMut(&StoreBuilder, &RecordClock) -> Result<StoreInstance> + 'a;

/// A change an operator forwards only when its store's write cache lets go of the key: the latest
/// update of the key since the cache last flushed it, with the old value from before that.
struct PendingForward {
    node: usize,
    record: Box<dyn Any>,
    forward: fn(&mut Task, usize, Box<dyn Any>) -> Result<()>,
}

struct Punctuation {
    id: PunctuatorId,
    node: usize,
    kind: PunctuationType,
    interval: i64,
    next: i64,
    cancelled: bool,
}

/// A running instance of a sub-topology for one partition.
pub(crate) struct Task {
    pub(crate) id: TaskId,
    application_id: String,
    /// Node instances by local index; a node is taken out while it runs.
    nodes: Vec<Option<Box<dyn Node>>>,
    names: Vec<String>,
    children: Vec<Vec<usize>>,
    /// Resolved source topic → local index of its source node.
    sources: HashMap<String, usize>,
    /// The stores of this task's nodes, and their declarations.
    stores: Vec<StoreInstance>,
    store_specs: Vec<StoreBuilder>,
    /// Per local node, the indices of the stores it may use.
    node_stores: Vec<Vec<usize>>,
    globals: Vec<GlobalStore>,
    /// Per store, the changes waiting for the store's cache to flush their key (cached stores only).
    pending: Vec<HashMap<Vec<u8>, PendingForward>>,
    clock: RecordClock,
    dropped_records: u64,
    skipped_records: u64,
    dead_lettered_records: u64,
    errors: ErrorPolicy,
    failure: Option<NodeFailure>,
    collector: Box<dyn RecordCollector>,
    record: Option<RecordMetadata>,
    /// The input record being processed, while one is and it may be needed later: to dead-letter
    /// it, or for an asynchronous node to keep as its [`Origin`].
    input: Option<Rc<RawRecord>>,
    /// Whether input records are kept (see `input`).
    keep_input: bool,
    /// Local indices of the nodes that complete records asynchronously, in topological order.
    async_nodes: Vec<usize>,
    /// Wakes the stream thread when their work completes.
    waker: AsyncWaker,
    stream_time: Option<i64>,
    wall_clock: i64,
    punctuations: Vec<Punctuation>,
    next_punctuator: u64,
}

impl Task {
    /// Instantiates the nodes of `subtopology` for `partition`, and initialises them.
    // Each argument is one thing the driver and the runtime provide differently.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        topology: &Topology,
        subtopology: &SubTopology,
        partition: i32,
        application_id: &str,
        collector: Box<dyn RecordCollector>,
        wall_clock: i64,
        globals: &[GlobalStore],
        make_store: &mut StoreFactory<'_>,
    ) -> Result<Task> {
        let local: HashMap<usize, usize> = subtopology.nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let mut task = Task {
            id: TaskId {
                subtopology: subtopology.id,
                partition,
            },
            application_id: application_id.to_string(),
            nodes: Vec::with_capacity(subtopology.nodes.len()),
            names: Vec::with_capacity(subtopology.nodes.len()),
            children: Vec::with_capacity(subtopology.nodes.len()),
            sources: HashMap::new(),
            stores: Vec::new(),
            store_specs: Vec::new(),
            node_stores: Vec::new(),
            globals: globals.to_vec(),
            pending: Vec::new(),
            clock: RecordClock::default(),
            dropped_records: 0,
            skipped_records: 0,
            dead_lettered_records: 0,
            errors: ErrorPolicy::default(),
            failure: None,
            collector,
            record: None,
            input: None,
            keep_input: false,
            async_nodes: Vec::new(),
            waker: AsyncWaker::default(),
            stream_time: None,
            wall_clock,
            punctuations: Vec::new(),
            next_punctuator: 0,
        };
        for &global in &subtopology.nodes {
            let definition = topology.node(global);
            task.nodes.push(Some(definition.instantiate(application_id)));
            task.names.push(definition.name.clone());
            task.children
                .push(definition.children.iter().map(|child| local[child]).collect());
            for topic in definition.source_topics(application_id) {
                task.sources.insert(topic, local[&global]);
            }
            let mut stores = Vec::new();
            for name in &definition.stores {
                let index = match task.store_specs.iter().position(|s| s.name() == name) {
                    Some(index) => index,
                    None => {
                        let spec = topology.store(name).expect("connected stores are declared").clone();
                        task.stores.push(make_store(&spec, &task.clock)?);
                        task.store_specs.push(spec);
                        task.pending.push(HashMap::new());
                        task.stores.len() - 1
                    }
                };
                stores.push(index);
            }
            task.node_stores.push(stores);
        }
        for node in 0..task.nodes.len() {
            task.with_node(node, |instance, task| instance.init(task, node))?;
        }
        task.async_nodes = (0..task.nodes.len())
            .filter(|&node| task.nodes[node].as_ref().is_some_and(|n| n.is_asynchronous()))
            .collect();
        task.keep_input = !task.async_nodes.is_empty();
        Ok(task)
    }

    /// Shares the stream thread's waker (before any record: processors take it while processing).
    pub(crate) fn set_waker(&mut self, waker: AsyncWaker) {
        self.waker = waker;
    }

    pub(crate) fn waker(&self) -> &AsyncWaker {
        &self.waker
    }

    /// Sets the handlers for records whose processing fails (default: every failure is an error).
    pub(crate) fn set_error_policy(&mut self, errors: ErrorPolicy) {
        self.keep_input = !self.async_nodes.is_empty() || errors.uses_dead_letter_topic();
        self.errors = errors;
    }

    /// The topics this task reads, resolved (for the test driver).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn source_topics(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }

    /// Processes one input record read from `topic`, then fires due stream-time punctuations.
    ///
    /// When the record fails (its bytes do not deserialize, a processor returns an error or
    /// panics), the error policy decides: the error is returned (`Fail`), or the record is counted
    /// as skipped (`LogAndContinue`) or sent to the dead-letter topic (`DeadLetter`), and processing
    /// goes on as if it had succeeded. Failures of stores or of the producer are always returned.
    pub(crate) fn process(&mut self, topic: &str, partition: i32, offset: i64, record: RawRecord) -> Result<()> {
        let source = *self
            .sources
            .get(topic)
            .ok_or_else(|| Error::Config(format!("task {} does not read topic {topic}", self.id)))?;
        self.record = Some(RecordMetadata {
            topic: topic.to_string(),
            partition,
            offset,
        });
        if let Some(timestamp) = record.timestamp {
            self.clock.set(timestamp);
        }
        // The record is shared (one allocation more) only when it must outlive the source's call.
        let outcome = if self.keep_input {
            let record = Rc::new(record);
            self.input = Some(record.clone());
            self.call(source, &mut Some(record))
        } else {
            self.call(source, &mut Some(record))
        };
        let result = match outcome {
            Ok(()) => Ok(()),
            Err(error) => {
                let raw = self.input.clone();
                self.handle_failure(error, raw.as_ref(), None)
            }
        };
        self.record = None;
        self.input = None;
        self.failure = None;
        result?;
        self.forward_cache_evictions()?;
        self.punctuate_stream_time()
    }

    /// Flushes every store's write cache, forwarding the latest change of each key it held, then
    /// every store's storage (RocksDB memtables to disk): before a checkpoint is written, so the
    /// checkpoint never claims more than the local state holds.
    ///
    /// Asynchronous nodes are drained first (this blocks until their work in flight is done), so
    /// that every record processed so far has had all its effects.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.flush_stores(true)
    }

    /// Flushes every store's write cache, forwarding the latest change of each key it held, but
    /// not storage: what every commit does before the task's offsets are committed, so what the
    /// commit covers has been forwarded and logged to the changelogs (asynchronous nodes drained
    /// first, as in [`flush`](Self::flush)).
    pub(crate) fn flush_caches(&mut self) -> Result<()> {
        self.flush_stores(false)
    }

    fn flush_stores(&mut self, storage: bool) -> Result<()> {
        self.poll_async(AsyncPoll::Drain)?;
        loop {
            let before: usize = self.pending.iter().map(HashMap::len).sum();
            for index in 0..self.stores.len() {
                if storage {
                    self.stores[index].flush()?;
                } else {
                    self.stores[index].flush_cache()?;
                }
                self.forward_flushed(index)?;
            }
            // Forwarding may have filled caches of earlier stores again: another pass, while it helps.
            let after: usize = self.pending.iter().map(HashMap::len).sum();
            if after == 0 || after >= before {
                return Ok(());
            }
        }
    }

    /// Applies a batch of changelog records to the store `name`, bypassing its cache and its own
    /// changelog (restoration).
    pub(crate) fn restore(&mut self, name: &str, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        let (index, _) = self
            .find_store(name)
            .ok_or_else(|| Error::Topology(format!("task {} has no store {name}", self.id)))?;
        self.stores[index].restore_batch(batch).map_err(Error::from)
    }

    /// The store at `index`, for reading (interactive queries).
    pub(crate) fn store(&self, index: usize) -> &StoreInstance {
        &self.stores[index]
    }

    /// Sets the wall clock and fires due wall-clock punctuations.
    pub(crate) fn advance_wall_clock(&mut self, now: i64) -> Result<()> {
        self.wall_clock = self.wall_clock.max(now);
        self.clock.set(self.wall_clock);
        self.punctuate(PunctuationType::WallClockTime, self.wall_clock)?;
        self.forward_cache_evictions()?;
        self.poll_async(AsyncPoll::Progress)
    }

    /// Sets the wall clock forward to `now` without firing punctuations (they fire at the stream
    /// thread's punctuation step): what asynchronous nodes read to time their batches.
    pub(crate) fn observe_wall_clock(&mut self, now: i64) {
        self.wall_clock = self.wall_clock.max(now);
    }

    /// Has every asynchronous node make progress as `mode` says (in topological order, so work a
    /// drained node forwards to a later one is drained too), then forwards cache evictions.
    pub(crate) fn poll_async(&mut self, mode: AsyncPoll) -> Result<()> {
        for i in 0..self.async_nodes.len() {
            let node = self.async_nodes[i];
            self.with_node(node, |instance, task| instance.poll_async(mode, task, node))?;
        }
        if self.async_nodes.is_empty() {
            return Ok(());
        }
        self.forward_cache_evictions()
    }

    /// Whether any node completes records asynchronously.
    pub(crate) fn is_asynchronous(&self) -> bool {
        !self.async_nodes.is_empty()
    }

    /// Records held by asynchronous nodes whose results are not forwarded yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.async_nodes
            .iter()
            .filter_map(|&node| self.nodes[node].as_ref())
            .map(|node| node.in_flight())
            .sum()
    }

    /// Whether every asynchronous node can take another record now (backpressure).
    pub(crate) fn accepts_records(&self) -> bool {
        self.async_nodes
            .iter()
            .filter_map(|&node| self.nodes[node].as_ref())
            .all(|node| node.accepts_records())
    }

    /// Moves stream time forward to `time` (never back) as if a record with that timestamp had been
    /// read, and fires due stream-time punctuations (for the test driver).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn advance_stream_time(&mut self, time: i64) -> Result<()> {
        self.observe_timestamp(time);
        self.punctuate_stream_time()?;
        self.forward_cache_evictions()
    }

    /// Closes every node, then every store; the first error is returned after all were closed.
    pub(crate) fn close(&mut self) -> Result<()> {
        let mut first = Ok(());
        for node in self.nodes.iter_mut().flatten() {
            let result = node.close();
            if first.is_ok() {
                first = result;
            }
        }
        for store in &mut self.stores {
            let result = store.flush().and_then(|()| store.close()).map_err(Error::from);
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Records dropped by operators by design (late for their window): Kafka Streams'
    /// `dropped-records-total`.
    pub(crate) fn dropped_records(&self) -> u64 {
        self.dropped_records
    }

    /// Input records skipped after a failure, by [`RecordErrorHandler::LogAndContinue`].
    pub(crate) fn skipped_records(&self) -> u64 {
        self.skipped_records
    }

    /// Input records sent to the dead-letter topic after a failure.
    pub(crate) fn dead_lettered_records(&self) -> u64 {
        self.dead_lettered_records
    }

    /// The index and declaration of the store `name`, if this task has it.
    pub(crate) fn find_store(&self, name: &str) -> Option<(usize, &StoreBuilder)> {
        self.store_specs
            .iter()
            .position(|s| s.name() == name)
            .map(|i| (i, &self.store_specs[i]))
    }

    pub(crate) fn store_mut(&mut self, index: usize) -> &mut StoreInstance {
        &mut self.stores[index]
    }

    /// The global store `name`: its index and declaration.
    pub(crate) fn global_store(&self, name: &str) -> Result<(usize, &StoreBuilder)> {
        self.globals
            .iter()
            .position(|g| g.spec.name() == name)
            .map(|i| (i, &self.globals[i].spec))
            .ok_or_else(|| Error::Topology(format!("no global table has a store named {name}")))
    }

    pub(crate) fn global(&self, index: usize) -> &GlobalStore {
        &self.globals[index]
    }

    // --- for nodes and contexts ---------------------------------------------------------------

    /// Counts a record an operator dropped by design.
    pub(crate) fn record_dropped(&mut self) {
        self.dropped_records += 1;
    }

    /// The store `name` as node `node` may use it: its index and declaration.
    pub(crate) fn connected_store(&self, node: usize, name: &str) -> Result<(usize, &StoreBuilder)> {
        self.node_stores[node]
            .iter()
            .map(|&i| (i, &self.store_specs[i]))
            .find(|(_, spec)| spec.name() == name)
            .ok_or_else(|| {
                Error::Topology(format!(
                    "{} uses store {name}, which is not connected to it (connect it when adding the processor)",
                    self.names[node]
                ))
            })
    }

    /// Stream time moves to `timestamp` if that is later.
    pub(crate) fn observe_timestamp(&mut self, timestamp: i64) {
        self.stream_time = Some(self.stream_time.map_or(timestamp, |time| time.max(timestamp)));
    }

    pub(crate) fn send(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        self.collector.send(topic, record)
    }

    pub(crate) fn forward<K: Data, V: Data>(&mut self, from: usize, record: Record<K, V>) -> Result<()> {
        let count = self.children[from].len();
        let mut record = Some(record);
        for i in 0..count {
            let child = self.children[from][i];
            let mut slot = if i + 1 == count { record.take() } else { record.clone() };
            self.call(child, &mut slot)?;
        }
        Ok(())
    }

    pub(crate) fn forward_to<K: Data, V: Data>(
        &mut self,
        from: usize,
        child: &str,
        record: Record<K, V>,
    ) -> Result<()> {
        let target = self.children[from]
            .iter()
            .copied()
            .find(|&c| self.names[c] == child)
            .ok_or_else(|| Error::Processing(format!("{} has no child named {child}", self.names[from])))?;
        self.call(target, &mut Some(record))
    }

    /// Forwards `record`, a change of the store `store`'s entry `cache_key`, from `from`: at once when
    /// the store has no write cache; otherwise when the cache writes the key down (eviction or
    /// commit), coalesced with the key's earlier pending change (the latest new value, the first old
    /// value). A change from nothing to nothing is then not forwarded at all.
    pub(crate) fn forward_change<K: Data, V: Data>(
        &mut self,
        from: usize,
        store: usize,
        cache_key: impl FnOnce() -> Vec<u8>,
        mut record: Record<K, crate::processor::Change<V>>,
    ) -> Result<()> {
        if !self.is_cached(store) {
            return self.forward(from, record);
        }
        let key = cache_key();
        if let Some(earlier) = self.pending[store].remove(&key) {
            let earlier = earlier
                .record
                .downcast::<Record<K, crate::processor::Change<V>>>()
                .expect("one store's pending changes have one type");
            record.value.old = earlier.value.old;
        }
        fn forward_boxed<K: Data, V: Data>(task: &mut Task, node: usize, record: Box<dyn Any>) -> Result<()> {
            let record = *record
                .downcast::<Record<K, crate::processor::Change<V>>>()
                .expect("one store's pending changes have one type");
            if record.value.new.is_none() && record.value.old.is_none() {
                return Ok(());
            }
            task.forward(node, record)
        }
        self.pending[store].insert(
            key,
            PendingForward {
                node: from,
                record: Box::new(record),
                forward: forward_boxed::<K, V>,
            },
        );
        Ok(())
    }

    pub(crate) fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.record.as_ref()
    }

    pub(crate) fn origin(&self) -> Option<Origin> {
        self.record.as_ref().map(|metadata| Origin {
            metadata: metadata.clone(),
            raw: self.input.clone(),
        })
    }

    /// Forwards `record` from `from` on behalf of the input record `origin`: as if that record were
    /// being processed again, so that a failure downstream is handled for it.
    pub(crate) fn forward_from<K: Data, V: Data>(
        &mut self,
        from: usize,
        origin: &Origin,
        record: Record<K, V>,
    ) -> Result<()> {
        let saved = self.enter(origin);
        self.clock.set(record.timestamp);
        let result = match self.forward(from, record) {
            Ok(()) => Ok(()),
            Err(error) => self.handle_failure(error, origin.raw.as_ref(), None),
        };
        self.leave(saved);
        result
    }

    /// Hands the input record `origin`, whose work failed in node `node` with `error`, to `handler`
    /// (the configured processing handler when `None`).
    pub(crate) fn fail_record(
        &mut self,
        node: usize,
        origin: &Origin,
        error: Error,
        handler: Option<RecordErrorHandler>,
    ) -> Result<()> {
        let saved = self.enter(origin);
        let error = self.locate(node, error);
        let result = self.handle_failure(error, origin.raw.as_ref(), handler);
        self.leave(saved);
        result
    }

    /// Makes `origin` the record being processed; returns what was, for [`leave`](Self::leave).
    fn enter(&mut self, origin: &Origin) -> (Option<RecordMetadata>, Option<Rc<RawRecord>>) {
        let record = self.record.replace(origin.metadata.clone());
        let input = std::mem::replace(&mut self.input, origin.raw.clone());
        (record, input)
    }

    fn leave(&mut self, (record, input): (Option<RecordMetadata>, Option<Rc<RawRecord>>)) {
        self.record = record;
        self.input = input;
        self.failure = None;
    }

    pub(crate) fn stream_time(&self) -> Option<i64> {
        self.stream_time
    }

    pub(crate) fn wall_clock_time(&self) -> i64 {
        self.wall_clock
    }

    pub(crate) fn application_id(&self) -> &str {
        &self.application_id
    }

    pub(crate) fn node_name(&self, node: usize) -> &str {
        &self.names[node]
    }

    pub(crate) fn schedule(&mut self, node: usize, interval: i64, kind: PunctuationType) -> PunctuatorId {
        let id = PunctuatorId(self.next_punctuator);
        self.next_punctuator += 1;
        let next = match kind {
            // Aligned to 0: the first punctuation comes with the first record.
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => self.wall_clock.saturating_add(interval),
        };
        self.punctuations.push(Punctuation {
            id,
            node,
            kind,
            interval,
            next,
            cancelled: false,
        });
        id
    }

    pub(crate) fn cancel(&mut self, id: PunctuatorId) {
        for punctuation in self.punctuations.iter_mut().filter(|p| p.id == id) {
            punctuation.cancelled = true;
        }
    }

    // --- internals ----------------------------------------------------------------------------

    /// Whether the store at `index` has a write cache.
    fn is_cached(&self, index: usize) -> bool {
        match &self.stores[index] {
            StoreInstance::KeyValue(s) => s.as_any().is::<CachingKeyValueStore>(),
            StoreInstance::Window(s) => s.as_any().is::<CachingWindowStore>(),
            StoreInstance::Session(s) => s.as_any().is::<CachingSessionStore>(),
        }
    }

    /// The keys the store's cache wrote down since last asked (none for an uncached store).
    fn take_flushed(&mut self, index: usize) -> Vec<Vec<u8>> {
        match &mut self.stores[index] {
            StoreInstance::KeyValue(s) => s
                .as_any_mut()
                .downcast_mut::<CachingKeyValueStore>()
                .map(CachingKeyValueStore::take_flushed),
            StoreInstance::Window(s) => s
                .as_any_mut()
                .downcast_mut::<CachingWindowStore>()
                .map(CachingWindowStore::take_flushed),
            StoreInstance::Session(s) => s
                .as_any_mut()
                .downcast_mut::<CachingSessionStore>()
                .map(CachingSessionStore::take_flushed),
        }
        .unwrap_or_default()
    }

    /// Forwards the pending changes of the keys the store at `index` wrote down, in the order the
    /// cache wrote them; returns whether it forwarded any.
    fn forward_flushed(&mut self, index: usize) -> Result<bool> {
        let mut forwarded = false;
        for key in self.take_flushed(index) {
            if let Some(pending) = self.pending[index].remove(&key) {
                (pending.forward)(self, pending.node, pending.record)?;
                forwarded = true;
            }
        }
        Ok(forwarded)
    }

    /// Forwards what caches evicted while a record or a punctuation was processed (and whatever
    /// that forwarding evicted in turn).
    fn forward_cache_evictions(&mut self) -> Result<()> {
        loop {
            let mut forwarded = false;
            for index in 0..self.stores.len() {
                forwarded |= self.forward_flushed(index)?;
            }
            if !forwarded {
                return Ok(());
            }
        }
    }

    /// Runs a node with the task at hand; the node is out of the graph meanwhile (topologies are
    /// acyclic, so it is never re-entered). A panic in the node becomes an error of the node (the
    /// node is back in the graph either way), so the error policy can decide about it.
    fn with_node<T>(&mut self, node: usize, f: impl FnOnce(&mut dyn Node, &mut Task) -> Result<T>) -> Result<T> {
        let mut instance = self.nodes[node]
            .take()
            .expect("a node is never re-entered: topologies are acyclic");
        let result = catch_unwind(AssertUnwindSafe(|| f(instance.as_mut(), self)))
            .unwrap_or_else(|panic| Err(Error::Panicked(crate::runtime::panic_message(&*panic))));
        self.nodes[node] = Some(instance);
        result.map_err(|error| self.locate(node, error))
    }

    /// Applies the error policy (or `handler`, when given) to the failure of the current record
    /// (`raw`, if kept): returns `error` to stop, or `Ok` when the record was skipped or
    /// dead-lettered.
    fn handle_failure(
        &mut self,
        error: Error,
        raw: Option<&Rc<RawRecord>>,
        handler: Option<RecordErrorHandler>,
    ) -> Result<()> {
        let (Some(failure), Some(record)) = (self.failure.take(), self.record.clone()) else {
            return Err(error);
        };
        let Some(kind) = failure.kind else {
            return Err(error);
        };
        let processor = self.names[failure.node].as_str();
        let handler = handler.unwrap_or_else(|| self.errors.handler(kind));
        if handler == RecordErrorHandler::Fail {
            return Err(error);
        }
        let topic = self.errors.dead_letter_topic.clone();
        warn!(
            topic = %record.topic,
            partition = record.partition,
            offset = record.offset,
            %kind,
            processor,
            reason = %failure.message,
            ?handler,
            dead_letter_topic = (handler == RecordErrorHandler::DeadLetter).then_some(topic.as_str()),
            "a record failed; skipping it"
        );
        match handler {
            RecordErrorHandler::Fail => Err(error),
            RecordErrorHandler::LogAndContinue => {
                self.skipped_records += 1;
                Ok(())
            }
            RecordErrorHandler::DeadLetter => {
                let Some(raw) = raw else {
                    return Err(error);
                };
                let raw = Rc::try_unwrap(raw.clone()).unwrap_or_else(|shared| (*shared).clone());
                let dead = dead_letter_record(
                    raw,
                    &Failure {
                        application_id: &self.application_id,
                        topic: &record.topic,
                        partition: record.partition,
                        offset: record.offset,
                        kind,
                        processor,
                        message: &failure.message,
                    },
                );
                self.collector
                    .send_dead_letter(&topic, dead)
                    .map_err(|send| Error::Record {
                        topic: record.topic.clone(),
                        partition: record.partition,
                        offset: record.offset,
                        reason: format!("could not dead-letter it to {topic} ({send}) after: {error}"),
                    })?;
                self.dead_lettered_records += 1;
                Ok(())
            }
        }
    }

    fn call(&mut self, node: usize, slot: &mut dyn Any) -> Result<()> {
        self.with_node(node, |instance, task| instance.process(slot, task, node))
    }

    /// Names the record (or the punctuation) an error happened in, once, at the innermost node,
    /// and notes there what kind of failure it was, for the error policy.
    fn locate(&mut self, node: usize, error: Error) -> Error {
        if matches!(error, Error::Record { .. } | Error::Task { .. }) {
            return error;
        }
        let (kind, message) = match &error {
            Error::Deserialization(message) => (Some(ErrorKind::Deserialization), message.clone()),
            Error::Processing(message) => (Some(ErrorKind::Processing), message.clone()),
            Error::Panicked(message) => (Some(ErrorKind::Panic), format!("panicked: {message}")),
            other => (None, other.to_string()),
        };
        let reason = format!("in {}: {message}", self.names[node]);
        self.failure = Some(NodeFailure { node, kind, message });
        match &self.record {
            Some(record) => Error::Record {
                topic: record.topic.clone(),
                partition: record.partition,
                offset: record.offset,
                reason,
            },
            None => Error::Task {
                task: self.id.to_string(),
                reason,
            },
        }
    }

    fn punctuate_stream_time(&mut self) -> Result<()> {
        match self.stream_time {
            Some(now) => self.punctuate(PunctuationType::StreamTime, now),
            None => Ok(()),
        }
    }

    /// Fires every due punctuation of `kind` once, earliest first, and schedules its next time
    /// (skipping missed intervals, as Kafka Streams does).
    fn punctuate(&mut self, kind: PunctuationType, now: i64) -> Result<()> {
        loop {
            let due = self
                .punctuations
                .iter_mut()
                .filter(|p| p.kind == kind && !p.cancelled && p.next <= now)
                .min_by_key(|p| (p.next, p.id));
            let Some(punctuation) = due else { break };
            let missed = (now - punctuation.next) / punctuation.interval;
            punctuation.next += (missed + 1) * punctuation.interval;
            let (node, id) = (punctuation.node, punctuation.id);
            self.with_node(node, |instance, task| instance.punctuate(id, now, task, node))?;
        }
        self.punctuations.retain(|p| !p.cancelled);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
