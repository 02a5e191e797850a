//! [`TopologyTestDriver`]: runs a topology in memory, synchronously, without Kafka.
//!
//! It runs the same tasks and processors as the Kafka runtime: one task per sub-topology, all input
//! on partition 0. Each piped record is processed to completion (through repartition topics too,
//! which the driver follows in-process) before `pipe_input` returns, as if a commit followed every
//! record. Records written to topics that are not internal are kept for [`TestOutputTopic`]s.
//!
//! Time: a record's timestamp is what you pipe (or the input topic's clock); stream time advances
//! with it. Wall-clock time is a mock clock starting at 0 (or where you set it), moved only by
//! [`TopologyTestDriver::advance_wall_clock_time`]. Kafka Streams' driver starts its mock clock at
//! the real time; starting at 0 keeps tests deterministic.
//!
//! ```
//! use streams_core::StreamsConfig;
//! use streams_core::dsl::StreamsBuilder;
//! use streams_core::testing::TopologyTestDriver;
//!
//! let builder = StreamsBuilder::new();
//! builder.stream::<String, String>("words").map_values(|w| w.len() as i64).to("lengths");
//! let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::for_tests("lengths"))?;
//!
//! let words = driver.input_topic::<String, String>("words");
//! let lengths = driver.output_topic::<String, i64>("lengths");
//! words.pipe_input("a".to_string(), "kafka".to_string());
//! assert_eq!(lengths.read_key_value(), ("a".to_string(), 5));
//! assert!(lengths.is_empty());
//! # Ok::<(), streams_core::Error>(())
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::stores::{Location, TestKeyValueStore, TestSessionStore, TestWindowStore, reading_serdes};
use crate::config::StreamsConfig;
use crate::error::{Error, Result};
use crate::processor::ops::global_table_source::{self, RecordCheck};
use crate::processor::task::{GlobalStore, RecordCollector, Task};
use crate::processor::{AsyncPoll, Headers, Record};
use crate::runtime::RawRecord;
use crate::runtime::error_handling::ErrorPolicy;
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::{StoreKind, StoreSerdes};
use crate::topology::{NodeKind, Topology};

/// Runs a [`Topology`] in memory; see the module docs.
pub struct TopologyTestDriver {
    core: Rc<RefCell<Core>>,
}

pub(crate) struct Core {
    pub(crate) tasks: Vec<Task>,
    /// Resolved source topic → index of the task reading it.
    readers: HashMap<String, usize>,
    internal: HashSet<String>,
    outputs: HashMap<String, VecDeque<RawRecord>>,
    produced: Rc<RefCell<VecDeque<(String, RawRecord)>>>,
    next_offsets: HashMap<String, i64>,
    /// Global table topics → their store and record check.
    globals: HashMap<String, (GlobalStore, RecordCheck)>,
    wall_clock: i64,
    application_id: String,
}

/// The shape a test asks a store to have.
#[derive(PartialEq, Eq)]
enum StoreShape {
    KeyValue,
    Window,
    Session,
}

/// Collects what sinks write, for the driver to route after each input.
struct Collector(Rc<RefCell<VecDeque<(String, RawRecord)>>>);

impl RecordCollector for Collector {
    fn send(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        self.0.borrow_mut().push_back((topic.to_string(), record));
        Ok(())
    }
}

impl fmt::Debug for TopologyTestDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.core.borrow();
        let mut topics: Vec<&String> = core.readers.keys().collect();
        topics.sort();
        f.debug_struct("TopologyTestDriver")
            .field("tasks", &core.tasks.len())
            .field("source_topics", &topics)
            .field("wall_clock", &core.wall_clock)
            .finish()
    }
}

impl TopologyTestDriver {
    /// A driver for `topology` with the mock wall clock at 0.
    ///
    /// # Errors
    /// When a processor's `init` fails.
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self> {
        Self::with_wall_clock(topology, config, 0)
    }

    /// A driver whose mock wall clock starts at `initial_wall_clock_ms`.
    pub fn with_wall_clock(topology: Topology, config: StreamsConfig, initial_wall_clock_ms: i64) -> Result<Self> {
        config.validate()?;
        let application_id = config.application_id();
        let produced = Rc::new(RefCell::new(VecDeque::new()));
        let mut globals = HashMap::new();
        let mut global_stores = Vec::new();
        for table in topology.global_tables() {
            let store = GlobalStore::new(table.store.clone())?;
            global_stores.push(store.clone());
            globals.insert(table.topic.clone(), (store, table.check.clone()));
        }
        let mut tasks = Vec::new();
        let mut readers = HashMap::new();
        for sub in topology.sub_topologies() {
            let collector = Box::new(Collector(produced.clone()));
            let mut task = Task::new(
                &topology,
                &sub,
                0,
                application_id,
                collector,
                initial_wall_clock_ms,
                &global_stores,
                // In memory, without caches or changelogs: the driver commits after every record.
                &mut |spec, _clock| Ok(spec.build()?),
            )?;
            task.set_error_policy(ErrorPolicy::of(&config));
            for topic in task.source_topics() {
                readers.insert(topic.to_string(), tasks.len());
            }
            tasks.push(task);
        }
        let internal = topology
            .nodes()
            .iter()
            .filter_map(|node| match &node.kind {
                NodeKind::Source { topics } => Some(topics.iter().filter(|t| t.internal)),
                _ => None,
            })
            .flatten()
            .map(|topic| topic.resolve(application_id))
            .collect();
        let driver = TopologyTestDriver {
            core: Rc::new(RefCell::new(Core {
                tasks,
                readers,
                internal,
                outputs: HashMap::new(),
                produced,
                next_offsets: HashMap::new(),
                globals,
                wall_clock: initial_wall_clock_ms,
                application_id: application_id.to_string(),
            })),
        };
        // Whatever `init` forwarded.
        driver.core.borrow_mut().route()?;
        Ok(driver)
    }

    /// An input topic writing keys and values with their default serdes. Its clock (the timestamp
    /// of records piped without one) starts at the driver's wall-clock time and does not advance
    /// by itself.
    pub fn input_topic<K: DefaultSerde, V: DefaultSerde>(&self, topic: &str) -> TestInputTopic<K, V> {
        self.input_topic_with(topic, K::default_serde(), V::default_serde())
    }

    /// An input topic with these serdes.
    pub fn input_topic_with<K, V>(
        &self,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> TestInputTopic<K, V> {
        let time = self.core.borrow().wall_clock;
        TestInputTopic {
            core: self.core.clone(),
            topic: topic.to_string(),
            key_serde,
            value_serde,
            time: RefCell::new(time),
            auto_advance: RefCell::new(0),
        }
    }

    /// An output topic reading keys and values with their default serdes.
    pub fn output_topic<K: DefaultSerde, V: DefaultSerde>(&self, topic: &str) -> TestOutputTopic<K, V> {
        self.output_topic_with(topic, K::default_serde(), V::default_serde())
    }

    /// An output topic with these serdes.
    pub fn output_topic_with<K, V>(
        &self,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic {
            core: self.core.clone(),
            topic: topic.to_string(),
            key_serde,
            value_serde,
        }
    }

    /// Moves the mock wall clock forward and fires due wall-clock punctuations (in task order).
    ///
    /// # Panics
    /// When a punctuation fails; see [`try_advance_wall_clock_time`](Self::try_advance_wall_clock_time).
    pub fn advance_wall_clock_time(&self, by: Duration) {
        self.try_advance_wall_clock_time(by).unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`advance_wall_clock_time`](Self::advance_wall_clock_time), returning a failure.
    pub fn try_advance_wall_clock_time(&self, by: Duration) -> Result<()> {
        let mut core = self.core.borrow_mut();
        core.wall_clock = core
            .wall_clock
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        let now = core.wall_clock;
        for task in 0..core.tasks.len() {
            core.tasks[task].advance_wall_clock(now)?;
            core.route()?;
        }
        Ok(())
    }

    /// Moves every task's stream time forward to `time` (never back) and fires due stream-time
    /// punctuations, as if a record with that timestamp had arrived on every input. Kafka Streams'
    /// driver has no such call (you pipe a later record); it is a shorthand for closing windows.
    ///
    /// # Panics
    /// When a punctuation fails, with the error's message.
    pub fn advance_stream_time_to(&self, time: i64) {
        let mut core = self.core.borrow_mut();
        let result = (0..core.tasks.len()).try_for_each(|task| {
            core.tasks[task].advance_stream_time(time)?;
            core.route()
        });
        result.unwrap_or_else(|e| panic!("{e}"));
    }

    /// The mock wall clock, in milliseconds.
    pub fn wall_clock_time(&self) -> i64 {
        self.core.borrow().wall_clock
    }

    /// Records dropped by operators so far (late for their window): Kafka Streams'
    /// `dropped-records-total`, summed over tasks.
    pub fn dropped_records(&self) -> u64 {
        self.core.borrow().tasks.iter().map(Task::dropped_records).sum()
    }

    /// Input records skipped after a failure under
    /// [`RecordErrorHandler::LogAndContinue`](crate::RecordErrorHandler::LogAndContinue), summed
    /// over tasks. (The runtime's `skipped` also counts invalid timestamps and refused outputs,
    /// which the driver cannot meet.)
    pub fn skipped_records(&self) -> u64 {
        self.core.borrow().tasks.iter().map(Task::skipped_records).sum()
    }

    /// Input records sent to the dead-letter topic after a failure under
    /// [`RecordErrorHandler::DeadLetter`](crate::RecordErrorHandler::DeadLetter); read them with an
    /// output topic on [`StreamsConfig::dead_letter_topic`](crate::StreamsConfig::dead_letter_topic)
    /// (with byte serdes, as their bytes may be what failed).
    pub fn dead_lettered_records(&self) -> u64 {
        self.core.borrow().tasks.iter().map(Task::dead_lettered_records).sum()
    }

    /// The key-value store `name`, read with the default serdes of `K` and `V`.
    ///
    /// # Panics
    /// When the topology has no key-value store of that name.
    pub fn key_value_store<K: DefaultSerde, V: DefaultSerde>(&self, name: &str) -> TestKeyValueStore<K, V> {
        self.key_value_store_with(name, K::default_serde(), V::default_serde())
    }

    /// The key-value store `name`, read with these serdes.
    pub fn key_value_store_with<K: 'static, V: 'static>(
        &self,
        name: &str,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> TestKeyValueStore<K, V> {
        let (location, serdes) = self.open(name, StoreShape::KeyValue, key, value);
        TestKeyValueStore { location, serdes }
    }

    /// The window store `name`, read with the default serdes.
    pub fn window_store<K: DefaultSerde, V: DefaultSerde>(&self, name: &str) -> TestWindowStore<K, V> {
        let (location, serdes) = self.open(name, StoreShape::Window, K::default_serde(), V::default_serde());
        TestWindowStore { location, serdes }
    }

    /// The session store `name`, read with the default serdes.
    pub fn session_store<K: DefaultSerde, V: DefaultSerde>(&self, name: &str) -> TestSessionStore<K, V> {
        let (location, serdes) = self.open(name, StoreShape::Session, K::default_serde(), V::default_serde());
        TestSessionStore { location, serdes }
    }

    fn open<K: 'static, V: 'static>(
        &self,
        name: &str,
        shape: StoreShape,
        key: SharedSerde<K>,
        value: SharedSerde<V>,
    ) -> (Location, StoreSerdes<K, V>) {
        let core = self.core.borrow();
        let found = core
            .tasks
            .iter()
            .enumerate()
            .find_map(|(task, t)| t.find_store(name).map(|(index, spec)| (task, index, spec.clone())));
        let Some((task, index, spec)) = found else {
            panic!("the topology has no store named {name}")
        };
        let actual = match spec.kind() {
            StoreKind::KeyValue => StoreShape::KeyValue,
            StoreKind::Window { .. } => StoreShape::Window,
            StoreKind::Session { .. } => StoreShape::Session,
        };
        assert!(actual == shape, "store {name} is a {:?} store", spec.kind());
        let serdes = StoreSerdes {
            topic: spec.changelog_topic(&core.application_id).into(),
            key,
            value,
        };
        let location = Location {
            core: self.core.clone(),
            task,
            index,
            name: name.to_string(),
        };
        (location, reading_serdes(serdes, spec.is_timestamped()))
    }

    /// Every topic written so far that is not internal, in name order.
    pub fn produced_topic_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.core.borrow().outputs.keys().cloned().collect();
        names.sort();
        names
    }
}

impl Drop for TopologyTestDriver {
    fn drop(&mut self) {
        if let Ok(mut core) = self.core.try_borrow_mut() {
            for task in &mut core.tasks {
                let _ = task.close();
            }
        }
    }
}

impl Core {
    /// Processes a record written to `topic` by a test, then everything it causes.
    fn pipe(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        if let Some((store, check)) = self.globals.get(topic) {
            let offset = self.next_offsets.entry(topic.to_string()).or_insert(0);
            let this = *offset;
            *offset += 1;
            return global_table_source::apply(&mut store.lock(), check, topic, 0, this, &record);
        }
        if !self.readers.contains_key(topic) {
            let mut known: Vec<&String> = self.readers.keys().filter(|t| !self.internal.contains(*t)).collect();
            known.sort();
            return Err(Error::Config(format!(
                "topic {topic} is not read by the topology (its source topics: {known:?})"
            )));
        }
        self.deliver(topic, record)?;
        self.route()
    }

    fn deliver(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        let task = self.readers[topic];
        let offset = self.next_offsets.entry(topic.to_string()).or_insert(0);
        let this = *offset;
        *offset += 1;
        self.tasks[task].process(topic, 0, this, record)
    }

    /// Routes what sinks wrote: to readers of the topic (repartition topics, or a topic the
    /// topology both writes and reads), and, unless internal, to the output topics. In the order
    /// written, until nothing is left.
    ///
    /// Asynchronous processors (model scoring) are settled whenever nothing is left to route: the
    /// driver waits for the work they started and routes its results, so a test sees them at once;
    /// records they hold pending (a batch not yet full) stay until the wall clock or the batch size
    /// releases them.
    fn route(&mut self) -> Result<()> {
        loop {
            let next = self.produced.borrow_mut().pop_front();
            let Some((topic, record)) = next else {
                for task in &mut self.tasks {
                    task.poll_async(AsyncPoll::Settle)?;
                }
                if self.produced.borrow().is_empty() {
                    return Ok(());
                }
                continue;
            };
            if !self.internal.contains(&topic) {
                self.outputs.entry(topic.clone()).or_default().push_back(record.clone());
            }
            if self.readers.contains_key(&topic) {
                self.deliver(&topic, record)?;
            }
        }
    }
}

/// Writes typed records into a topic of a [`TopologyTestDriver`].
pub struct TestInputTopic<K, V> {
    core: Rc<RefCell<Core>>,
    topic: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    time: RefCell<i64>,
    auto_advance: RefCell<i64>,
}

impl<K, V> fmt::Debug for TestInputTopic<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestInputTopic")
            .field("topic", &self.topic)
            .field("time", &self.time.borrow())
            .finish()
    }
}

impl<K: 'static, V: 'static> TestInputTopic<K, V> {
    /// Pipes a record stamped with the topic's clock (then advances the clock by the auto-advance
    /// step, 0 unless set).
    ///
    /// # Panics
    /// When processing fails; see [`try_pipe_record`](Self::try_pipe_record).
    pub fn pipe_input(&self, key: K, value: V) {
        let timestamp = self.tick();
        self.pipe_record(Record::new(key, value, timestamp));
    }

    /// Pipes a record with this timestamp (ms).
    pub fn pipe_input_at(&self, key: K, value: V, timestamp: i64) {
        self.pipe_record(Record::new(key, value, timestamp));
    }

    /// Pipes records in order, each stamped with the topic's clock.
    pub fn pipe_key_value_list(&self, records: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in records {
            self.pipe_input(key, value);
        }
    }

    /// Pipes a full record (key, value, timestamp, headers).
    ///
    /// # Panics
    /// When processing fails, with the error's message (which names the record).
    pub fn pipe_record(&self, record: Record<K, V>) {
        self.try_pipe_record(record).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Pipes a full record, returning a processing failure instead of panicking.
    pub fn try_pipe_record(&self, record: Record<K, V>) -> Result<()> {
        let raw = record.serialize(&self.topic, &self.key_serde, &self.value_serde)?;
        self.core.borrow_mut().pipe(&self.topic, raw)
    }

    /// Pipes bytes as they would be on the topic: to test deserialization failures.
    pub fn try_pipe_raw(&self, record: RawRecord) -> Result<()> {
        self.core.borrow_mut().pipe(&self.topic, record)
    }

    /// Moves the topic's clock forward.
    pub fn advance_time(&self, by: Duration) {
        *self.time.borrow_mut() += i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
    }

    /// Advances the topic's clock by `step` after every record piped without a timestamp.
    pub fn with_auto_advance(self, step: Duration) -> Self {
        *self.auto_advance.borrow_mut() = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        self
    }

    fn tick(&self) -> i64 {
        let mut time = self.time.borrow_mut();
        let now = *time;
        *time += *self.auto_advance.borrow();
        now
    }
}

/// Reads typed records from a topic a [`TopologyTestDriver`] wrote, oldest first; reading
/// consumes them.
pub struct TestOutputTopic<K, V> {
    core: Rc<RefCell<Core>>,
    topic: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K, V> fmt::Debug for TestOutputTopic<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestOutputTopic").field("topic", &self.topic).finish()
    }
}

impl<K: 'static, V: 'static> TestOutputTopic<K, V> {
    /// The oldest unread record, with timestamp and headers.
    ///
    /// # Panics
    /// When none is left, or it cannot be deserialized.
    pub fn read_record(&self) -> Record<K, V> {
        self.try_read_record()
            .unwrap_or_else(|| panic!("no record left in output topic {}", self.topic))
    }

    /// The oldest unread record, or `None` when none is left.
    ///
    /// # Panics
    /// When it cannot be deserialized.
    pub fn try_read_record(&self) -> Option<Record<K, V>> {
        let raw = self.core.borrow_mut().outputs.get_mut(&self.topic)?.pop_front()?;
        let key = self
            .key_serde
            .deserialize(&self.topic, raw.key.as_deref())
            .unwrap_or_else(|e| panic!("deserializing a key of output topic {}: {e}", self.topic));
        let value = self
            .value_serde
            .deserialize(&self.topic, raw.value.as_deref())
            .unwrap_or_else(|e| panic!("deserializing a value of output topic {}: {e}", self.topic));
        Some(Record {
            key,
            value,
            timestamp: raw.timestamp.unwrap_or_default(),
            headers: Headers::from(raw.headers),
        })
    }

    /// The oldest unread key and value.
    pub fn read_key_value(&self) -> (K, V) {
        let record = self.read_record();
        (record.key, record.value)
    }

    /// The oldest unread value.
    pub fn read_value(&self) -> V {
        self.read_record().value
    }

    /// Every unread record.
    pub fn read_records_to_list(&self) -> Vec<Record<K, V>> {
        std::iter::from_fn(|| self.try_read_record()).collect()
    }

    /// Every unread key and value.
    pub fn read_key_values_to_list(&self) -> Vec<(K, V)> {
        self.read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect()
    }

    /// Every unread value.
    pub fn read_values_to_list(&self) -> Vec<V> {
        self.read_records_to_list().into_iter().map(|r| r.value).collect()
    }

    /// Whether every record has been read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }

    /// How many records are unread.
    pub fn queue_size(&self) -> usize {
        self.core.borrow().outputs.get(&self.topic).map_or(0, VecDeque::len)
    }
}
