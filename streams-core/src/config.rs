//! The typed settings of a streams application.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::runtime::{
    InvalidTimestampPolicy, ProductionErrorHandler, RecordErrorHandler, RecordTimestamp, TimestampExtractor,
};
use crate::state::rocksdb::RocksDbConfigSetter;

/// The delivery guarantee of an application (Kafka's `processing.guarantee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// Input offsets are committed after the outputs and changelog records they caused were
    /// acknowledged: a crash replays records, whose effects may repeat, but loses none. Default.
    #[default]
    AtLeastOnce,
    /// Kafka Streams' `exactly_once_v2`: outputs, changelog records and input offsets of each commit
    /// interval are one Kafka transaction per stream thread, so after a crash every record's effects
    /// are seen exactly once by `read_committed` readers, and local state written by an aborted
    /// transaction is never trusted (no checkpoint while a task runs: it is rebuilt from the
    /// changelog). Needs brokers with transactions (any Kafka 2.5+).
    ExactlyOnceV2,
}

/// The settings of one streams application: its identity, where Kafka is, how often progress is
/// committed, and the librdkafka settings passed through to its clients.
///
/// Our own options are typed; only librdkafka's settings are strings, passed through unchecked by
/// us and checked by librdkafka when a client is created.
///
/// ```
/// use std::time::Duration;
/// use streams_core::StreamsConfig;
///
/// let config = StreamsConfig::new("fraud-detector", "127.0.0.1:9092")
///     .with_commit_interval(Duration::from_secs(5))
///     .with_consumer_config("fetch.min.bytes", "1");
/// assert_eq!(config.application_id(), "fraud-detector");
/// assert_eq!(config.commit_interval(), Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct StreamsConfig {
    application_id: String,
    bootstrap_servers: String,
    commit_interval: Option<Duration>,
    processing_guarantee: ProcessingGuarantee,
    state_dir: PathBuf,
    cache_max_bytes: usize,
    rocksdb_memory_bytes: usize,
    rocksdb_config_setter: Option<Arc<dyn RocksDbConfigSetter>>,
    application_server: Option<String>,
    timestamp_extractor: Arc<dyn TimestampExtractor>,
    invalid_timestamp_policy: InvalidTimestampPolicy,
    deserialization_error_handler: RecordErrorHandler,
    processing_error_handler: RecordErrorHandler,
    production_error_handler: ProductionErrorHandler,
    dead_letter_topic: Option<String>,
    repartition_purge_interval: Duration,
    static_membership: bool,
    max_task_idle: Duration,
    buffered_records_per_partition: usize,
    num_stream_threads: usize,
    correlation_id_header: Option<String>,
    client_config: BTreeMap<String, String>,
    consumer_config: BTreeMap<String, String>,
    producer_config: BTreeMap<String, String>,
    admin_config: BTreeMap<String, String>,
}

impl StreamsConfig {
    /// Kafka Streams' commit interval under at-least-once: 30 seconds.
    pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(30);

    /// Kafka Streams' commit interval under exactly-once: 100 ms (each commit ends a transaction,
    /// and `read_committed` readers see outputs only then).
    pub const DEFAULT_EXACTLY_ONCE_COMMIT_INTERVAL: Duration = Duration::from_millis(100);

    /// Kafka Streams' `buffered.records.per.partition` default: 1,000.
    pub const DEFAULT_BUFFERED_RECORDS_PER_PARTITION: usize = 1_000;

    /// Kafka Streams' `statestore.cache.max.bytes` default: 10 MiB of write cache per instance.
    pub const DEFAULT_CACHE_MAX_BYTES: usize = 10 * 1024 * 1024;

    /// The default memory budget of all RocksDB stores of an instance together (block cache and
    /// memtables): 64 MiB.
    pub const DEFAULT_ROCKSDB_MEMORY_BYTES: usize = crate::state::rocksdb::DEFAULT_ROCKSDB_MEMORY_BYTES;

    /// Settings for the application `application_id` (also its consumer group id and the prefix of
    /// its internal topics) against the brokers in `bootstrap_servers` (`host:port[,host:port…]`),
    /// with the defaults of Kafka Streams under at-least-once.
    pub fn new(application_id: impl Into<String>, bootstrap_servers: impl Into<String>) -> Self {
        StreamsConfig {
            application_id: application_id.into(),
            bootstrap_servers: bootstrap_servers.into(),
            commit_interval: None,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            state_dir: std::env::temp_dir().join("kafka-streams"),
            cache_max_bytes: Self::DEFAULT_CACHE_MAX_BYTES,
            rocksdb_memory_bytes: Self::DEFAULT_ROCKSDB_MEMORY_BYTES,
            rocksdb_config_setter: None,
            application_server: None,
            timestamp_extractor: Arc::new(RecordTimestamp),
            invalid_timestamp_policy: InvalidTimestampPolicy::Fail,
            deserialization_error_handler: RecordErrorHandler::Fail,
            processing_error_handler: RecordErrorHandler::Fail,
            production_error_handler: ProductionErrorHandler::Fail,
            dead_letter_topic: None,
            repartition_purge_interval: Duration::from_secs(30),
            static_membership: false,
            max_task_idle: Duration::ZERO,
            buffered_records_per_partition: Self::DEFAULT_BUFFERED_RECORDS_PER_PARTITION,
            num_stream_threads: 1,
            correlation_id_header: None,
            client_config: BTreeMap::new(),
            consumer_config: BTreeMap::new(),
            producer_config: BTreeMap::new(),
            admin_config: BTreeMap::new(),
        }
    }

    /// Settings for a [`TopologyTestDriver`](crate::testing::TopologyTestDriver) run: the
    /// application id (which prefixes internal topic names) and a placeholder broker address,
    /// which the driver never contacts.
    pub fn for_tests(application_id: impl Into<String>) -> Self {
        StreamsConfig::new(application_id, "test-driver.invalid:9092")
    }

    /// How often processed input offsets are committed (after the outputs they produced have been
    /// acknowledged). A crash replays at most this much work. Default 30 s, or 100 ms under
    /// exactly-once.
    pub fn with_commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = Some(interval);
        self
    }

    /// The delivery guarantee; default at-least-once.
    pub fn with_processing_guarantee(mut self, guarantee: ProcessingGuarantee) -> Self {
        self.processing_guarantee = guarantee;
        self
    }

    /// Where persistent stores keep their files: `<state_dir>/<application.id>/<task>/<store>`.
    /// Default: `kafka-streams` in the system's temporary directory, as in Kafka Streams. Two
    /// instances on one machine need different directories (a task's directory is locked by the
    /// instance that owns it).
    pub fn with_state_dir(mut self, state_dir: impl Into<PathBuf>) -> Self {
        self.state_dir = state_dir.into();
        self
    }

    /// The write cache budget shared by all stores of the instance (Kafka's
    /// `statestore.cache.max.bytes`). With caching, a store forwards only a key's latest update per
    /// commit interval (or when the cache evicts it); 0 turns caching off, so every update is
    /// forwarded. Default 10 MiB.
    pub fn with_cache_max_bytes(mut self, bytes: usize) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// The memory all RocksDB stores of the instance share (one block cache, with memtables
    /// charged to it), however many tasks and stores there are. Default 64 MiB.
    pub fn with_rocksdb_memory_bytes(mut self, bytes: usize) -> Self {
        self.rocksdb_memory_bytes = bytes;
        self
    }

    /// RocksDB options for experts (Kafka's `rocksdb.config.setter`): `setter` sees every store's
    /// options last, after the shared memory budget and our defaults are set. Replacing the block
    /// cache or the write-buffer manager takes that store out of the shared budget.
    pub fn with_rocksdb_config_setter(mut self, setter: Arc<dyn RocksDbConfigSetter>) -> Self {
        self.rocksdb_config_setter = Some(setter);
        self
    }

    /// The `host:port` this instance serves interactive queries on (Kafka's `application.server`):
    /// other instances learn it through the consumer group, so any instance can tell which one
    /// hosts a key.
    pub fn with_application_server(mut self, endpoint: impl Into<String>) -> Self {
        self.application_server = Some(endpoint.into());
        self
    }

    /// How records get their event time (Kafka's `default.timestamp.extractor`); default: the
    /// record's own timestamp. See [`TimestampExtractor`].
    pub fn with_timestamp_extractor(mut self, extractor: Arc<dyn TimestampExtractor>) -> Self {
        self.timestamp_extractor = extractor;
        self
    }

    /// What happens to a record whose timestamp is missing or negative; default: the application
    /// stops with an error naming the record.
    pub fn with_invalid_timestamp_policy(mut self, policy: InvalidTimestampPolicy) -> Self {
        self.invalid_timestamp_policy = policy;
        self
    }

    /// What happens to an input record whose key or value bytes do not deserialize (bad bytes, a
    /// wrong schema); default [`RecordErrorHandler::Fail`]: the application stops with an error
    /// naming the record's topic, partition and offset. See
    /// [`error_handling`](crate::runtime::error_handling).
    pub fn with_deserialization_error_handler(mut self, handler: RecordErrorHandler) -> Self {
        self.deserialization_error_handler = handler;
        self
    }

    /// What happens to an input record when a processor (a user closure, an operator) returns an
    /// error or panics while processing it; default [`RecordErrorHandler::Fail`]. With the other
    /// choices the failing record is skipped or dead-lettered and every other record, of this task
    /// and of others, goes on; outputs the record produced before it failed stay produced, as in
    /// Kafka Streams. Failures in punctuations and in `init` are not per record: they always stop
    /// the application.
    pub fn with_processing_error_handler(mut self, handler: RecordErrorHandler) -> Self {
        self.processing_error_handler = handler;
        self
    }

    /// What happens when the producer refuses an output record for a reason of its own (too
    /// large, invalid, topic not authorized); default [`ProductionErrorHandler::Fail`].
    pub fn with_production_error_handler(mut self, handler: ProductionErrorHandler) -> Self {
        self.production_error_handler = handler;
        self
    }

    /// The topic [`RecordErrorHandler::DeadLetter`] writes to; default `<application.id>-dlq`. The
    /// runtime creates it at start-up when missing (one partition per partition of the largest
    /// source topic, the broker's default replication) whenever a handler dead-letters.
    pub fn with_dead_letter_topic(mut self, topic: impl Into<String>) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self
    }

    /// How often committed records are deleted from repartition topics (Kafka Streams'
    /// `repartition.purge.interval.ms`, default 30 s). Repartition topics keep records with no
    /// time limit until then.
    pub fn with_repartition_purge_interval(mut self, interval: Duration) -> Self {
        self.repartition_purge_interval = interval;
        self
    }

    /// Static group membership (Kafka's KIP-345): each stream thread joins the consumer group with
    /// a stable `group.instance.id`, `<application.id>-<instance id>-StreamThread-<n>`, the
    /// instance id kept in the state directory (as for exactly-once's transactional ids). An
    /// instance restarted within `session.timeout.ms` (after a crash, a deploy) gets its
    /// partitions back at once, without a rebalance; without it, a restarted instance waits for
    /// its dead predecessor's session to time out (45 s by default) before partitions move.
    ///
    /// The cost: a static member does not leave the group when it stops, so the partitions of an
    /// instance stopped for good (scaling in) move to the others only once its session times out.
    /// Default off, as in Kafka Streams. A `group.instance.id` given through
    /// [`with_consumer_config`](Self::with_consumer_config) is used as the prefix instead, with
    /// `-StreamThread-<n>` appended.
    pub fn with_static_membership(mut self, enabled: bool) -> Self {
        self.static_membership = enabled;
        self
    }

    /// How long a task reading several partitions (a join, a merge) waits for an empty one before
    /// processing the others (Kafka's `max.task.idle.ms`); default 0: it does not wait, so records
    /// may be processed out of event-time order across partitions when one lags.
    pub fn with_max_task_idle(mut self, idle: Duration) -> Self {
        self.max_task_idle = idle;
        self
    }

    /// How many records a partition may buffer before it is paused (Kafka's
    /// `buffered.records.per.partition`); it resumes at half. Default 1,000.
    pub fn with_buffered_records_per_partition(mut self, records: usize) -> Self {
        self.buffered_records_per_partition = records;
        self
    }

    /// How many stream threads the instance runs (Kafka's `num.stream.threads`); each is a member of
    /// the consumer group with its own tasks, clients and task directories. Default 1.
    pub fn with_num_stream_threads(mut self, threads: usize) -> Self {
        self.num_stream_threads = threads;
        self
    }

    /// The header carrying a correlation id: each record that has it is processed inside a
    /// `tracing` span `record` with field `correlation_id`, so every log line it causes carries the
    /// id. Headers travel with records through the topology to the output records, as in Kafka
    /// Streams, so the id reaches the outputs too. Default: none.
    pub fn with_correlation_id_header(mut self, header: impl Into<String>) -> Self {
        self.correlation_id_header = Some(header.into());
        self
    }

    /// A librdkafka setting for every client the application creates (consumer and producer),
    /// e.g. `security.protocol`. It overrides our defaults.
    pub fn with_client_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.client_config.insert(key.into(), value.into());
        self
    }

    /// A librdkafka setting for the consumer only; it overrides [`with_client_config`](Self::with_client_config).
    pub fn with_consumer_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.consumer_config.insert(key.into(), value.into());
        self
    }

    /// A librdkafka setting for the producer only; it overrides [`with_client_config`](Self::with_client_config).
    pub fn with_producer_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.producer_config.insert(key.into(), value.into());
        self
    }

    /// A librdkafka setting for the admin and metadata clients only (internal topic creation, the
    /// restore consumer, shutdown requests); it overrides [`with_client_config`](Self::with_client_config).
    pub fn with_admin_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.admin_config.insert(key.into(), value.into());
        self
    }

    /// The application id: consumer group id and prefix of internal topic names.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// The bootstrap brokers, `host:port[,host:port…]`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The commit interval: the one set, or the guarantee's default.
    pub fn commit_interval(&self) -> Duration {
        self.commit_interval.unwrap_or(match self.processing_guarantee {
            ProcessingGuarantee::AtLeastOnce => Self::DEFAULT_COMMIT_INTERVAL,
            ProcessingGuarantee::ExactlyOnceV2 => Self::DEFAULT_EXACTLY_ONCE_COMMIT_INTERVAL,
        })
    }

    /// The delivery guarantee.
    pub fn processing_guarantee(&self) -> ProcessingGuarantee {
        self.processing_guarantee
    }

    /// The state directory (without the application id).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The write cache budget in bytes.
    pub fn cache_max_bytes(&self) -> usize {
        self.cache_max_bytes
    }

    /// The RocksDB memory budget in bytes.
    pub fn rocksdb_memory_bytes(&self) -> usize {
        self.rocksdb_memory_bytes
    }

    /// The RocksDB config setter, if any.
    pub fn rocksdb_config_setter(&self) -> Option<&Arc<dyn RocksDbConfigSetter>> {
        self.rocksdb_config_setter.as_ref()
    }

    /// The timestamp extractor.
    pub fn timestamp_extractor(&self) -> &Arc<dyn TimestampExtractor> {
        &self.timestamp_extractor
    }

    /// The invalid-timestamp policy.
    pub fn invalid_timestamp_policy(&self) -> InvalidTimestampPolicy {
        self.invalid_timestamp_policy
    }

    /// The deserialization error handler.
    pub fn deserialization_error_handler(&self) -> RecordErrorHandler {
        self.deserialization_error_handler
    }

    /// The processing error handler.
    pub fn processing_error_handler(&self) -> RecordErrorHandler {
        self.processing_error_handler
    }

    /// The production error handler.
    pub fn production_error_handler(&self) -> ProductionErrorHandler {
        self.production_error_handler
    }

    /// The dead-letter topic: the one set, or `<application.id>-dlq`.
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}-dlq", self.application_id))
    }

    /// Whether stream threads join the group as static members.
    pub fn static_membership(&self) -> bool {
        self.static_membership
    }

    /// The repartition purge interval.
    pub fn repartition_purge_interval(&self) -> Duration {
        self.repartition_purge_interval
    }

    /// The correlation-id header, if any.
    pub fn correlation_id_header(&self) -> Option<&str> {
        self.correlation_id_header.as_deref()
    }

    /// How many stream threads the instance runs.
    pub fn num_stream_threads(&self) -> usize {
        self.num_stream_threads
    }

    /// The longest a task waits for an empty input partition.
    pub fn max_task_idle(&self) -> Duration {
        self.max_task_idle
    }

    /// How many records a partition may buffer before it is paused.
    pub fn buffered_records_per_partition(&self) -> usize {
        self.buffered_records_per_partition
    }

    /// The advertised interactive-query endpoint, if any.
    pub fn application_server(&self) -> Option<&str> {
        self.application_server.as_deref()
    }

    /// The pass-through librdkafka settings every client gets.
    pub fn client_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.client_config.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The pass-through librdkafka settings of the admin and metadata clients: the shared ones, then
    /// the admin-only ones over them.
    pub fn admin_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        merged(&self.client_config, &self.admin_config)
    }

    /// The pass-through librdkafka settings of the consumer: the shared ones, then the
    /// consumer-only ones over them.
    pub fn consumer_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        merged(&self.client_config, &self.consumer_config)
    }

    /// The pass-through librdkafka settings of the producer: the shared ones, then the
    /// producer-only ones over them.
    pub fn producer_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        merged(&self.client_config, &self.producer_config)
    }

    /// Checks the settings that do not depend on a broker: the application id must be a legal
    /// Kafka topic-name prefix (Kafka Streams' rule: ASCII letters, digits, `.`, `_`, `-`), the
    /// bootstrap list must not be empty, and the commit interval must be positive.
    pub fn validate(&self) -> Result<()> {
        let id = &self.application_id;
        if id.is_empty() {
            return Err(Error::Config("application id is empty".into()));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Error::Config(format!(
                "application id {id:?} contains {bad:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
            )));
        }
        if self.bootstrap_servers.trim().is_empty() {
            return Err(Error::Config("bootstrap servers are empty".into()));
        }
        if let Some(endpoint) = &self.application_server {
            let valid = endpoint
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(Error::Config(format!(
                    "application server {endpoint:?} is not `host:port`"
                )));
            }
        }
        if self.num_stream_threads == 0 {
            return Err(Error::Config("an instance needs at least one stream thread".into()));
        }
        if self.commit_interval().is_zero() {
            return Err(Error::Config("commit interval must be greater than zero".into()));
        }
        let dlq = self.dead_letter_topic();
        if dlq.is_empty()
            || dlq.len() > 249
            || dlq == "."
            || dlq == ".."
            || dlq
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Error::Config(format!(
                "dead-letter topic {dlq:?} is not a legal Kafka topic name"
            )));
        }
        Ok(())
    }
}

fn merged<'a>(
    shared: &'a BTreeMap<String, String>,
    specific: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    shared
        .iter()
        .filter(|(k, _)| !specific.contains_key(*k))
        .chain(specific.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Values of pass-through settings whose names suggest secrets are redacted.
impl fmt::Debug for StreamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        let secret = ["password", "secret", "token", "key"]
                            .iter()
                            .any(|word| k.contains(word));
                        (k, if secret { "<redacted>" } else { v.as_str() })
                    }))
                    .finish()
            }
        }
        f.debug_struct("StreamsConfig")
            .field("application_id", &self.application_id)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("commit_interval", &self.commit_interval())
            .field("processing_guarantee", &self.processing_guarantee)
            .field("state_dir", &self.state_dir)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("rocksdb_memory_bytes", &self.rocksdb_memory_bytes)
            .field(
                "rocksdb_config_setter",
                &self.rocksdb_config_setter.as_ref().map(|_| "set"),
            )
            .field("application_server", &self.application_server)
            .field("invalid_timestamp_policy", &self.invalid_timestamp_policy)
            .field("deserialization_error_handler", &self.deserialization_error_handler)
            .field("processing_error_handler", &self.processing_error_handler)
            .field("production_error_handler", &self.production_error_handler)
            .field("dead_letter_topic", &self.dead_letter_topic())
            .field("repartition_purge_interval", &self.repartition_purge_interval)
            .field("static_membership", &self.static_membership)
            .field("max_task_idle", &self.max_task_idle)
            .field("buffered_records_per_partition", &self.buffered_records_per_partition)
            .field("num_stream_threads", &self.num_stream_threads)
            .field("correlation_id_header", &self.correlation_id_header)
            .field("client_config", &Redacted(&self.client_config))
            .field("consumer_config", &Redacted(&self.consumer_config))
            .field("producer_config", &Redacted(&self.producer_config))
            .field("admin_config", &Redacted(&self.admin_config))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_settings_override_shared_ones() {
        let config = StreamsConfig::new("app", "localhost:9092")
            .with_client_config("client.rack", "a")
            .with_client_config("socket.timeout.ms", "1000")
            .with_consumer_config("socket.timeout.ms", "2000");
        let consumer: BTreeMap<_, _> = config.consumer_overrides().collect();
        let producer: BTreeMap<_, _> = config.producer_overrides().collect();
        assert_eq!(consumer.get("socket.timeout.ms"), Some(&"2000"));
        assert_eq!(consumer.get("client.rack"), Some(&"a"));
        assert_eq!(producer.get("socket.timeout.ms"), Some(&"1000"));
    }

    #[test]
    fn application_id_must_be_a_legal_topic_prefix() {
        assert!(StreamsConfig::new("fraud-detector_v1.2", "b:1").validate().is_ok());
        let err = StreamsConfig::new("fraud detector", "b:1").validate().unwrap_err();
        assert!(err.to_string().contains("' '"), "{err}");
        assert!(StreamsConfig::new("", "b:1").validate().is_err());
        assert!(StreamsConfig::new("app", " ").validate().is_err());
        let zero = StreamsConfig::new("app", "b:1").with_commit_interval(Duration::ZERO);
        assert!(zero.validate().is_err());
        let eos = StreamsConfig::new("app", "b:1").with_processing_guarantee(ProcessingGuarantee::ExactlyOnceV2);
        assert_eq!(eos.commit_interval(), Duration::from_millis(100));
        assert_eq!(
            StreamsConfig::new("app", "b:1").commit_interval(),
            Duration::from_secs(30)
        );
        let set = eos.with_commit_interval(Duration::from_secs(1));
        assert_eq!(set.commit_interval(), Duration::from_secs(1));
        let server = |endpoint: &str| {
            StreamsConfig::new("app", "b:1")
                .with_application_server(endpoint)
                .validate()
        };
        assert!(server("localhost:7070").is_ok());
        assert!(server("localhost").is_err());
        assert!(server(":7070").is_err());
        assert!(server("host:99999").is_err());
    }

    #[test]
    fn error_handlers_default_to_fail_and_the_dead_letter_topic_to_the_application_id() {
        let config = StreamsConfig::new("fraud", "b:1");
        assert_eq!(config.deserialization_error_handler(), RecordErrorHandler::Fail);
        assert_eq!(config.processing_error_handler(), RecordErrorHandler::Fail);
        assert_eq!(config.production_error_handler(), ProductionErrorHandler::Fail);
        assert_eq!(config.dead_letter_topic(), "fraud-dlq");
        let set = config.with_dead_letter_topic("bad-records");
        assert_eq!(set.dead_letter_topic(), "bad-records");
        assert!(set.validate().is_ok());
        let err = StreamsConfig::new("fraud", "b:1")
            .with_dead_letter_topic("bad records")
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("dead-letter topic"), "{err}");
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = StreamsConfig::new("app", "b:1").with_client_config("sasl.password", "hunter2");
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
