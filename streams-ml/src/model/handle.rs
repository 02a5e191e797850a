//! [`ModelHandle`]: the model a scoring operator uses, swappable while the application runs.
//!
//! A swap takes effect between batches: each batch is scored by the model current when it
//! started, so every output names the version that actually scored it. A new model must keep the
//! input and output widths of the one it replaces (the features and downstream code do not
//! change with it); one that does not, or that fails to load, is refused and the current model
//! stays.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};
use streams_core::StreamsConfig;
use tracing::{info, warn};

use super::{Model, ModelError, ModelSpec, Named, OnnxModel};

/// Holds the current model; cloning gives another handle on the same model.
///
/// ```
/// use std::sync::Arc;
/// use streams_ml::model::{Model, ModelError, ModelHandle, ModelInfo};
///
/// struct Constant(ModelInfo, f32);
/// impl Model for Constant {
///     fn info(&self) -> &ModelInfo { &self.0 }
///     fn predict(&self, _: &[f32], rows: usize) -> Result<Vec<f32>, ModelError> { Ok(vec![self.1; rows]) }
/// }
/// let info = |version: &str| ModelInfo {
///     name: "constant".into(), version: version.into(), content_hash: String::new(),
///     input_width: 2, output_width: 1, feature_names: vec![], labels: vec![],
/// };
/// let handle = ModelHandle::new(Constant(info("1"), 0.5));
/// handle.swap(Arc::new(Constant(info("2"), 0.7)))?;
/// assert_eq!(&*handle.current().info().version, "2");
/// # Ok::<(), ModelError>(())
/// ```
#[derive(Clone)]
pub struct ModelHandle {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Arc<dyn Model>>,
    swaps: AtomicU64,
}

impl std::fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHandle")
            .field("current", self.current().info())
            .field("swaps", &self.swaps())
            .finish()
    }
}

impl ModelHandle {
    /// A handle on `model`.
    pub fn new(model: impl Model) -> Self {
        Self::from_arc(Arc::new(model))
    }

    /// A handle on a shared model.
    pub fn from_arc(model: Arc<dyn Model>) -> Self {
        ModelHandle {
            inner: Arc::new(Inner {
                current: RwLock::new(model),
                swaps: AtomicU64::new(0),
            }),
        }
    }

    /// The model now current.
    pub fn current(&self) -> Arc<dyn Model> {
        self.inner.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many swaps have taken effect.
    pub fn swaps(&self) -> u64 {
        self.inner.swaps.load(Ordering::Relaxed)
    }

    /// Makes `model` current from the next batch on; returns the model it replaced.
    ///
    /// # Errors
    /// [`ModelError::Signature`] when `model`'s input or output width differs from the current
    /// model's; the current model stays.
    pub fn swap(&self, model: Arc<dyn Model>) -> Result<Arc<dyn Model>, ModelError> {
        let mut current = self.inner.current.write().unwrap_or_else(|p| p.into_inner());
        let (old, new) = (current.info(), model.info());
        if old.input_width != new.input_width || old.output_width != new.output_width {
            return Err(ModelError::Signature {
                source_name: format!("{}", Named(new)),
                reason: format!(
                    "it takes {} features and gives {} scores, but {} takes {} and gives {}: a swap must keep both",
                    new.input_width,
                    new.output_width,
                    Named(old),
                    old.input_width,
                    old.output_width
                ),
            });
        }
        info!(from = %Named(old), to = %Named(new), hash = %new.content_hash, "model swapped");
        metrics::counter!("streams_ml_model_swaps_total", "model" => new.name.to_string()).increment(1);
        let replaced = std::mem::replace(&mut *current, model);
        self.inner.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(replaced)
    }

    /// Watches the ONNX file at `path`, checking every `interval` whether it changed (size,
    /// modification time, then content hash); a changed file is loaded with `spec` and swapped in.
    /// Its version comes from its own metadata or hash (a version in `spec` is ignored: it would be
    /// the same for every file). Replace the file atomically (write another, then rename it over):
    /// a half-written file fails to load, is logged and counted in
    /// `streams_ml_model_load_failures_total`, and is tried again when it changes.
    pub fn watch_file(&self, path: impl Into<std::path::PathBuf>, spec: ModelSpec, interval: Duration) -> Watcher {
        let path = path.into();
        let handle = self.clone();
        let mut spec = spec;
        spec.version = None;
        Watcher::spawn("model-file-watcher", move |stop| {
            let mut seen: Option<(u64, Option<SystemTime>)> = None;
            while !stop.load(Ordering::Acquire) {
                if let Ok(meta) = std::fs::metadata(&path) {
                    let stamp = (meta.len(), meta.modified().ok());
                    if seen != Some(stamp) {
                        seen = Some(stamp);
                        handle.load_file(&path, &spec);
                    }
                }
                sleep_unless_stopped(&stop, interval);
            }
        })
    }

    fn load_file(&self, path: &std::path::Path, spec: &ModelSpec) {
        let Ok(bytes) = std::fs::read(path) else { return };
        let hash = format!("sha256:{:x}", Sha256::digest(&bytes));
        if self.current().info().content_hash == hash {
            return;
        }
        let source = path.display().to_string();
        let loaded = OnnxModel::from_bytes(&bytes, spec, source.clone());
        self.install(loaded, &source);
    }

    fn install(&self, loaded: Result<OnnxModel, ModelError>, source: &str) {
        let result = loaded.and_then(|model| self.swap(Arc::new(model)));
        if let Err(error) = result {
            warn!(source, %error, "a new model was refused; the current one stays");
            let name = self.current().info().name.to_string();
            metrics::counter!("streams_ml_model_load_failures_total", "model" => name).increment(1);
        }
    }

    /// Follows a models topic: records keyed `topic.key` whose values are ONNX model bytes (a
    /// compacted topic keeps the latest). On start it reads the topic to its end and swaps in the
    /// latest model for the key, if any; then every new record for the key is loaded with
    /// `topic.spec` and swapped in. A record's `version` header, if present, is the model's version;
    /// otherwise the file's metadata or hash gives it. The consumer reads with `config`'s bootstrap
    /// servers and client settings, without a consumer group (nothing is committed).
    ///
    /// # Errors
    /// [`ModelError::Load`] when the consumer cannot be created or the topic has no partitions.
    pub fn follow_topic(&self, config: &StreamsConfig, topic: ModelTopic) -> Result<Watcher, ModelError> {
        let fail = |reason: String| ModelError::Load {
            source_name: format!("topic {}", topic.topic),
            reason,
        };
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", config.bootstrap_servers())
            .set("group.id", format!("{}-models", config.application_id()))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("fetch.max.bytes", "104857600")
            .set("max.partition.fetch.bytes", "104857600");
        for (key, value) in config.client_overrides() {
            client.set(key, value);
        }
        let consumer: BaseConsumer = client.create().map_err(|e| fail(e.to_string()))?;
        let metadata = consumer
            .fetch_metadata(Some(&topic.topic), Duration::from_secs(30))
            .map_err(|e| fail(e.to_string()))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(fail("the topic does not exist or has no partitions".into()));
        }
        let mut ends = Vec::new();
        let mut assignment = TopicPartitionList::new();
        for &partition in &partitions {
            let (_, high) = consumer
                .fetch_watermarks(&topic.topic, partition, Duration::from_secs(30))
                .map_err(|e| fail(e.to_string()))?;
            ends.push((partition, high));
            assignment
                .add_partition_offset(&topic.topic, partition, Offset::Beginning)
                .map_err(|e| fail(e.to_string()))?;
        }
        consumer.assign(&assignment).map_err(|e| fail(e.to_string()))?;
        let handle = self.clone();
        let mut spec = topic.spec.clone();
        spec.version = None;
        Ok(Watcher::spawn("model-topic-follower", move |stop| {
            // Catching up: only the latest model of the key counts.
            let mut latest: Option<(Vec<u8>, Option<String>, i64)> = None;
            let mut caught_up = ends.iter().all(|&(_, high)| high == 0);
            let mut positions: std::collections::HashMap<i32, i64> = std::collections::HashMap::new();
            let started = Instant::now();
            while !stop.load(Ordering::Acquire) {
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                    positions.insert(message.partition(), message.offset() + 1);
                    if message.key() == Some(topic.key.as_bytes())
                        && let Some(bytes) = message.payload()
                    {
                        let version = message.headers().and_then(|headers| {
                            headers
                                .iter()
                                .find(|h| h.key == "version")
                                .and_then(|h| h.value)
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                        });
                        latest = Some((bytes.to_vec(), version, message.offset()));
                    }
                }
                if !caught_up {
                    caught_up = ends
                        .iter()
                        .all(|&(p, high)| positions.get(&p).copied().unwrap_or(0) >= high)
                        || started.elapsed() > Duration::from_secs(60);
                }
                if caught_up && let Some((bytes, version, offset)) = latest.take() {
                    let source = format!("{}@{offset}", topic.topic);
                    let mut spec = spec.clone();
                    spec.version = version;
                    handle.install(OnnxModel::from_bytes(&bytes, &spec, source.clone()), &source);
                }
            }
        }))
    }
}

/// Where [`ModelHandle::follow_topic`] reads models from.
#[derive(Debug, Clone)]
pub struct ModelTopic {
    topic: String,
    key: String,
    spec: ModelSpec,
}

impl ModelTopic {
    /// Models of `topic` keyed `key` (UTF-8), loaded with `spec`.
    pub fn new(topic: impl Into<String>, key: impl Into<String>, spec: ModelSpec) -> Self {
        ModelTopic {
            topic: topic.into(),
            key: key.into(),
            spec,
        }
    }
}

/// A background thread updating a [`ModelHandle`]; dropping it (or [`stop`](Self::stop)) ends it.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("running", &self.thread.as_ref().is_some_and(|t| !t.is_finished()))
            .finish()
    }
}

impl Watcher {
    fn spawn(name: &str, body: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || body(flag))
            .expect("spawning a model watcher thread");
        Watcher {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let deadline = Instant::now() + total;
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}
