//! Running the fraud detector: its topics, the streams application, the alert feed and the HTTP
//! server, as one [`App`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use example_data::stats::percentile;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use streams_core::runtime::{KafkaStreams, StreamsState};
use streams_core::{ProcessingGuarantee, RecordErrorHandler, StreamsConfig};
use streams_ml::model::{Features, ModelHandle, ModelSpec, OnnxModel};

use crate::explain::Explainer;
use crate::features::FEATURE_NAMES;
use crate::server::{AppState, Live, now_ms, router};
use crate::topology::{
    self, Alert, CORRELATION_ID_HEADER, DEAD_LETTER_TOPIC, FRAUD_ALERTS, INGESTED_AT_HEADER, ScoreEvent,
    TRANSACTION_SCORES, TRANSACTIONS, TopicNames, TopologyConfig, TransactionFormat,
};

/// The application id (and prefix of the internal topics).
pub const APPLICATION_ID: &str = "fraud-detector";

/// The shipped fraud model: the best of the trained candidates by held-out average precision, a
/// histogram gradient-boosted tree ensemble (`models/README.md` compares it with the MLP, the
/// random forest and classic gradient boosting).
pub const DEFAULT_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/fraud-hgb.onnx");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How to run the application.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Kafka's bootstrap servers.
    pub bootstrap_servers: String,
    /// The HTTP port (on all interfaces of loopback: `127.0.0.1`).
    pub port: u16,
    /// The `transactions` topic's format.
    pub format: TransactionFormat,
    /// Alert threshold on the fraud probability.
    pub threshold: f32,
    /// The ONNX model file.
    pub model_path: PathBuf,
    /// Where state stores live; a temporary directory if `None`.
    pub state_dir: Option<PathBuf>,
    /// Exactly-once (default) or at-least-once.
    pub guarantee: ProcessingGuarantee,
    /// Partitions of the topics the application creates.
    pub partitions: i32,
    /// Delete the application's topics first (and so its state): a fresh run.
    pub reset: bool,
}

impl AppConfig {
    /// The defaults, on `bootstrap_servers`: port 8080, JSON transactions, threshold 0.5, the
    /// shipped model, a temporary state directory, exactly-once, 4 partitions, no reset.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            port: 8080,
            format: TransactionFormat::Json,
            threshold: 0.5,
            model_path: PathBuf::from(DEFAULT_MODEL),
            state_dir: None,
            guarantee: ProcessingGuarantee::ExactlyOnceV2,
            partitions: 4,
            reset: false,
        }
    }
}

/// What the alert feed has read from `fraud-alerts`.
#[derive(Debug, Default)]
pub struct AlertLog {
    /// Transaction ids alerted, in the order read (duplicates kept, to be counted).
    pub txn_ids: Vec<u64>,
    /// Per alert: wall-clock ms from the API accepting the transaction to the alert being read.
    pub latencies_ms: Vec<f64>,
}

/// The running application.
pub struct App {
    /// The streams application.
    pub streams: Arc<KafkaStreams>,
    /// What the HTTP handlers share.
    pub state: Arc<AppState>,
    /// The alerts read so far.
    pub alerts: Arc<Mutex<AlertLog>>,
    /// The dashboard URL.
    pub url: String,
    stop: Arc<AtomicBool>,
    feed: Option<JoinHandle<()>>,
    server: tokio::task::JoinHandle<()>,
    ticker: tokio::task::JoinHandle<()>,
    _state_dir: Option<tempfile::TempDir>,
}

impl App {
    /// Creates the topics (after deleting them if `config.reset`), starts the application and waits
    /// until it runs, then starts the alert feed and the HTTP server. Must be called within a tokio
    /// runtime.
    ///
    /// # Errors
    /// Kafka unreachable, the model not loading, the port taken, the application not running
    /// within 60 s.
    pub async fn start(config: &AppConfig) -> Result<Self, BoxError> {
        let features = Features::named(FEATURE_NAMES);
        let model = ModelHandle::new(
            OnnxModel::from_file(&config.model_path, &ModelSpec::new(features))
                .map_err(|e| format!("loading {}: {e}", config.model_path.display()))?,
        );
        let explainer = Arc::new(Explainer::from_generator(model.clone(), 20_000));
        let topology = topology::build(&TopologyConfig {
            topics: TopicNames::default(),
            format: config.format.clone(),
            model,
            threshold: config.threshold,
            explainer,
        })?;
        prepare_topics(config).await?;

        let (state_dir, temporary) = match &config.state_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = tempfile::Builder::new().prefix("fraud-detector-state").tempdir()?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let endpoint = format!("127.0.0.1:{}", config.port);
        let streams_config = StreamsConfig::new(APPLICATION_ID, &config.bootstrap_servers)
            .with_state_dir(&state_dir)
            .with_processing_guarantee(config.guarantee)
            .with_deserialization_error_handler(RecordErrorHandler::DeadLetter)
            .with_dead_letter_topic(DEAD_LETTER_TOPIC)
            .with_correlation_id_header(CORRELATION_ID_HEADER)
            .with_application_server(&endpoint)
            .with_commit_interval(Duration::from_millis(100))
            // Alerts are latency-sensitive and the volume is modest: batch outputs for 5 ms, not 20.
            .with_producer_config("linger.ms", "5");
        let mut streams = KafkaStreams::new(topology, streams_config)?;
        streams.start()?;
        if !streams.wait_for_state(StreamsState::Running, Duration::from_secs(60))? {
            return Err(format!("the application is {:?}, not running, after 60 s", streams.state()).into());
        }
        let streams = Arc::new(streams);

        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap_servers)
            .set("enable.idempotence", "true")
            // Java's partitioner, which the application's key lookups (and Kafka Streams) assume:
            // librdkafka's default would put a card's transactions in another partition.
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .create()?;
        let state = Arc::new(AppState {
            producer,
            serde: config.format.serde()?,
            streams: streams.clone(),
            endpoint: endpoint.clone(),
            live: Live::new(),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            http: reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?,
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|e| format!("cannot listen on port {}: {e}", config.port))?;
        let app = router(state.clone());
        let live = state.live.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move { live.closed().await };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                eprintln!("http server: {e}");
            }
        });

        let stop = Arc::new(AtomicBool::new(false));
        let alerts = Arc::new(Mutex::new(AlertLog::default()));
        let from = if config.reset { Offset::Beginning } else { Offset::End };
        let feed = spawn_alert_feed(config, from, state.live.clone(), alerts.clone(), stop.clone())?;
        let ticker = tokio::spawn(tick_stats(state.clone(), alerts.clone()));
        Ok(Self {
            streams,
            state,
            alerts,
            url: format!("http://{endpoint}/"),
            stop,
            feed: Some(feed),
            server,
            ticker,
            _state_dir: temporary,
        })
    }

    /// Input records processed so far.
    pub fn processed(&self) -> u64 {
        self.streams.stats().processed
    }

    /// Stops the server and the feed, and closes the application (committing what it processed).
    ///
    /// # Errors
    /// The application failed to close cleanly.
    pub async fn close(mut self) -> Result<(), BoxError> {
        // Event streams end, then the server finishes the requests in flight.
        self.state.live.close();
        if tokio::time::timeout(Duration::from_secs(10), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        self.ticker.abort();
        let _ = (&mut self.ticker).await;
        self.stop.store(true, Ordering::Release);
        if let Some(feed) = self.feed.take() {
            let _ = tokio::task::spawn_blocking(move || feed.join()).await;
        }
        let mut streams = self.streams;
        drop(self.state);
        // Requests that were being answered let go of the application shortly.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut streams = loop {
            match Arc::try_unwrap(streams) {
                Ok(streams) => break streams,
                Err(shared) if Instant::now() < deadline => {
                    streams = shared;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => return Err("the application is still in use after 10 s; not closed".into()),
            }
        };
        tokio::task::spawn_blocking(move || streams.close()).await??;
        Ok(())
    }

    /// [`App::count_scores`] until it finds at least `expected` scores or `timeout` passes (the
    /// last records processed may still be in a transaction about to commit); the last count.
    ///
    /// # Errors
    /// Kafka unreachable.
    pub fn wait_for_scores(bootstrap_servers: &str, expected: u64, timeout: Duration) -> Result<(u64, u64), BoxError> {
        let deadline = Instant::now() + timeout;
        loop {
            let counted = Self::count_scores(bootstrap_servers)?;
            if counted.0 >= expected || Instant::now() > deadline {
                return Ok(counted);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Reads `transaction-scores` to its end (committed records only) and returns how many
    /// scores it holds and for how many distinct transactions.
    ///
    /// # Errors
    /// Kafka unreachable.
    pub fn count_scores(bootstrap_servers: &str) -> Result<(u64, u64), BoxError> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("group.id", format!("{APPLICATION_ID}-score-count"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()?;
        let metadata = consumer.fetch_metadata(Some(TRANSACTION_SCORES), Duration::from_secs(10))?;
        let mut assignment = TopicPartitionList::new();
        let mut ends = std::collections::HashMap::new();
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                let (low, high) =
                    consumer.fetch_watermarks(TRANSACTION_SCORES, partition.id(), Duration::from_secs(10))?;
                if high > low {
                    assignment.add_partition_offset(TRANSACTION_SCORES, partition.id(), Offset::Beginning)?;
                    ends.insert(partition.id(), high);
                }
            }
        }
        consumer.assign(&assignment)?;
        let (mut total, mut ids) = (0u64, HashSet::new());
        let deadline = Instant::now() + Duration::from_secs(60);
        // Read until every partition's position reaches its end (transaction markers included).
        while !ends.is_empty() && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                let message = message?;
                total += 1;
                if let Some(Ok(score)) = message.payload().map(serde_json::from_slice::<ScoreEvent>) {
                    ids.insert(score.txn_id);
                }
            }
            let positions = consumer.position()?;
            ends.retain(|partition, end| {
                positions
                    .find_partition(TRANSACTION_SCORES, *partition)
                    .and_then(|p| p.offset().to_raw())
                    .is_none_or(|position| position < *end)
            });
        }
        if !ends.is_empty() {
            return Err("transaction-scores was not read to its end within 60 s".into());
        }
        Ok((total, ids.len() as u64))
    }
}

/// Deletes (when resetting) and creates the application's topics.
async fn prepare_topics(config: &AppConfig) -> Result<(), BoxError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap_servers)
        .create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let ours = [TRANSACTIONS, TRANSACTION_SCORES, FRAUD_ALERTS, DEAD_LETTER_TOPIC];
    let existing = |admin: &AdminClient<DefaultClientContext>| -> Result<HashSet<String>, BoxError> {
        let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(10))?;
        Ok(metadata.topics().iter().map(|t| t.name().to_string()).collect())
    };
    if config.reset {
        let internal_prefix = format!("{APPLICATION_ID}-");
        let doomed: Vec<String> = existing(&admin)?
            .into_iter()
            .filter(|t| ours.contains(&t.as_str()) || t.starts_with(&internal_prefix))
            .collect();
        if !doomed.is_empty() {
            let names: Vec<&str> = doomed.iter().map(String::as_str).collect();
            admin.delete_topics(&names, &options).await?;
            let deadline = Instant::now() + Duration::from_secs(60);
            while existing(&admin)?.iter().any(|t| doomed.contains(t)) {
                if Instant::now() > deadline {
                    return Err("the previous run's topics were not deleted within 60 s".into());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let present = existing(&admin)?;
    let missing: Vec<NewTopic> = ours
        .iter()
        .filter(|t| !present.contains(**t))
        // The generated transactions' event times (the records' timestamps) reach days to months
        // back: under the broker's default 7-day time retention, its next retention check would
        // delete them while the application reads them. These topics keep their records.
        .map(|t| NewTopic::new(t, config.partitions, TopicReplication::Fixed(1)).set("retention.ms", "-1"))
        .collect();
    if !missing.is_empty() {
        for result in admin.create_topics(&missing, &options).await? {
            match result {
                Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(format!("creating topic {topic}: {code}").into()),
            }
        }
    }
    // Creation is asynchronous in the cluster: wait until the metadata shows every topic.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let present = existing(&admin)?;
        if ours.iter().all(|t| present.contains(*t)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the topics {ours:?} did not all appear within 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads `fraud-alerts` (committed records only) from `from`, logs each alert with its latency and
/// pushes it to the dashboards, until `stop`.
fn spawn_alert_feed(
    config: &AppConfig,
    from: Offset,
    live: Live,
    log: Arc<Mutex<AlertLog>>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, BoxError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", format!("{APPLICATION_ID}-dashboard"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(FRAUD_ALERTS), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            assignment.add_partition_offset(FRAUD_ALERTS, partition.id(), from)?;
        }
    }
    consumer.assign(&assignment)?;
    Ok(std::thread::Builder::new().name("alert-feed".into()).spawn(move || {
        while !stop.load(Ordering::Acquire) {
            let Some(message) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    eprintln!("alert feed: {e}");
                    continue;
                }
            };
            let Some(Ok(alert)) = message.payload().map(serde_json::from_slice::<Alert>) else {
                eprintln!(
                    "alert feed: unreadable alert at {}/{}@{}",
                    message.topic(),
                    message.partition(),
                    message.offset()
                );
                continue;
            };
            let ingested_at = message.headers().and_then(|headers| {
                headers
                    .iter()
                    .find(|h| h.key == INGESTED_AT_HEADER)
                    .and_then(|h| std::str::from_utf8(h.value?).ok()?.parse::<i64>().ok())
            });
            let latency_ms = ingested_at.map(|at| (now_ms() - at).max(0) as f64);
            {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.txn_ids.push(alert.txn.txn_id);
                if let Some(latency) = latency_ms {
                    log.latencies_ms.push(latency);
                }
            }
            live.alert(&alert, latency_ms);
        }
    })?)
}

/// Pushes statistics to the dashboards once a second.
async fn tick_stats(state: Arc<AppState>, alerts: Arc<Mutex<AlertLog>>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    let (mut last_accepted, mut last_processed, mut last_alerts) = (0u64, 0u64, 0usize);
    loop {
        interval.tick().await;
        let accepted = state.accepted.load(Ordering::Relaxed);
        let processed = state.streams.stats().processed;
        let (alert_count, p50, p99) = {
            let log = alerts.lock().unwrap_or_else(|e| e.into_inner());
            let recent = &log.latencies_ms[log.latencies_ms.len().saturating_sub(200)..];
            (log.txn_ids.len(), percentile(recent, 50.0), percentile(recent, 99.0))
        };
        state.live.stats(json!({
            "time_ms": now_ms(),
            "accepted_total": accepted,
            "processed_total": processed,
            "alerts_total": alert_count,
            "accepted_per_s": accepted - last_accepted,
            "processed_per_s": processed.saturating_sub(last_processed),
            "alerts_per_s": alert_count - last_alerts,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "rejected_total": state.rejected.load(Ordering::Relaxed),
            "dead_lettered_total": state.streams.stats().dead_lettered,
            "state": format!("{:?}", state.streams.state()),
        }));
        (last_accepted, last_processed, last_alerts) = (accepted, processed, alert_count);
    }
}
