//! `fraud-score`: the fraud detector's own topology (`fraud_detector::topology::build`), with the
//! model, threshold and explainer the application uses (`fraud_detector::app`), on topics named
//! by the run. No Java twin: it measures model scoring in a real topology against the broker.

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use fraud_detector::FEATURE_NAMES;
use fraud_detector::app::DEFAULT_MODEL;
use fraud_detector::explain::Explainer;
use fraud_detector::topology::{self, TopicNames, TopologyConfig, TransactionFormat};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;
use streams_core::topology::Topology;
use streams_ml::model::{Features, ModelHandle, ModelSpec, OnnxModel};

/// The application's alert threshold (`AppConfig::new`).
const THRESHOLD: f32 = 0.5;
/// Legitimate transactions the explainer takes its typical feature values from (as `App::start`).
const EXPLAINER_ROWS: usize = 20_000;
/// How long topic metadata and creation may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The topic of a run's alerts: `<output>-alerts`.
pub fn alerts_topic(output: &str) -> String {
    format!("{output}-alerts")
}

/// The model file: `--model`, or the application's default (`models/fraud-hgb.onnx`).
pub fn model_path(option: Option<&str>) -> PathBuf {
    option.map_or_else(|| PathBuf::from(DEFAULT_MODEL), PathBuf::from)
}

/// The fraud detector's topology reading JSON transactions from `input`, scores to `output`,
/// alerts to `<output>-alerts`.
pub fn build(input: &str, output: &str, model: &Path) -> Result<Topology, String> {
    let spec = ModelSpec::new(Features::named(FEATURE_NAMES));
    let model =
        ModelHandle::new(OnnxModel::from_file(model, &spec).map_err(|e| format!("loading {}: {e}", model.display()))?);
    let explainer = Arc::new(Explainer::from_generator(model.clone(), EXPLAINER_ROWS));
    topology::build(&TopologyConfig {
        topics: TopicNames {
            transactions: input.to_string(),
            scores: output.to_string(),
            alerts: alerts_topic(output),
        },
        format: TransactionFormat::Json,
        model,
        threshold: THRESHOLD,
        explainer,
    })
    .map_err(|e| format!("building the fraud topology: {e}"))
}

/// Creates the output topics that are missing, as the application does (`app::prepare_topics`):
/// with the input's partition count and `retention.ms=-1` (the generated transactions' event
/// times reach months back, so the broker's time retention would delete their scores). The
/// dead-letter topic is created by the runtime.
pub fn prepare_topics(bootstrap: &str, input: &str, outputs: &[String]) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| format!("creating an admin client: {e}"))?;
    let topics = |admin: &AdminClient<DefaultClientContext>| -> Result<Vec<(String, usize)>, String> {
        let metadata = admin
            .inner()
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map_err(|e| format!("reading the topics of {bootstrap}: {e}"))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect())
    };
    let existing = topics(&admin)?;
    let partitions = existing
        .iter()
        .find(|(name, _)| name == input)
        .map(|(_, count)| *count as i32)
        .ok_or_else(|| format!("input topic {input} does not exist on {bootstrap}"))?;
    let present: HashSet<&String> = existing.iter().map(|(name, _)| name).collect();
    let missing: Vec<NewTopic<'_>> = outputs
        .iter()
        .filter(|t| !present.contains(t))
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)).set("retention.ms", "-1"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = block_on(admin.create_topics(&missing, &options)).map_err(|e| format!("creating topics: {e}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("creating topic {topic}: {code}")),
        }
    }
    // Creation is asynchronous in the cluster: wait until the metadata shows them.
    let deadline = Instant::now() + ADMIN_TIMEOUT;
    loop {
        let now: HashSet<String> = topics(&admin)?.into_iter().map(|(name, _)| name).collect();
        if outputs.iter().all(|t| now.contains(t)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the topics {outputs:?} did not all appear within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a future to completion on this thread (the admin client's futures complete from its own
/// background thread; no async runtime is needed).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}
