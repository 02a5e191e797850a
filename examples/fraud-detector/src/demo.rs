//! The generator as an HTTP client of the ingestion API, and the demo's scoring against ground
//! truth.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use example_data::Rng;
use tokio::sync::Semaphore;

use crate::generator::{GeneratorConfig, TransactionGenerator};
use crate::server::now_ms;

/// How many requests the generator keeps in flight.
pub const CONCURRENCY: usize = 32;

/// Event-time days the generator's population fills per 1 000 transactions (1 000 cards buy about
/// 5 000 times a day, fraud and trips included): used to start the data far enough in the past
/// that it never runs ahead of the wall clock.
const DAYS_PER_1000_TXNS: f64 = 0.25;

/// What the generator posts.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// The ingestion API's base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Transactions per second (wall clock).
    pub rate: u32,
    /// How long to post; `None`: until stopped.
    pub duration: Option<Duration>,
    /// The generator's seed (0 is the training seed; the demo uses another, so the model sees cards
    /// it was not trained on).
    pub seed: u64,
    /// Share of transactions posted a second time (a client retrying).
    pub duplicates: f64,
}

/// What the generator did, and the ground truth.
#[derive(Debug, Default)]
pub struct GenerateProgress {
    /// Distinct transactions accepted (`202`).
    pub accepted: AtomicU64,
    /// Repeated posts accepted (a transaction id posted again).
    pub duplicates: AtomicU64,
    /// Requests that failed (not `202`).
    pub failed: AtomicU64,
    /// Transaction ids of the accepted fraudulent transactions.
    pub fraud: std::sync::Mutex<HashSet<u64>>,
    /// The first error message seen, if any.
    pub first_error: std::sync::Mutex<Option<String>>,
}

/// The farthest back the generated data starts: within the API's 400 days.
const MAX_DAYS_BACK: f64 = 390.0;

/// The event time the generated data starts at: far enough back that `rate × duration`
/// transactions end before now, and at most [`MAX_DAYS_BACK`] days back (without a duration, the
/// most). The generator stops when its data reaches the present (after about 1.5 million
/// transactions from the farthest start).
pub fn start_ms(config: &GenerateConfig) -> i64 {
    let days = match config.duration {
        Some(duration) => {
            let expected = f64::from(config.rate) * duration.as_secs_f64();
            ((expected / 1000.0 * DAYS_PER_1000_TXNS).ceil() + 1.0).min(MAX_DAYS_BACK)
        }
        None => MAX_DAYS_BACK,
    };
    now_ms() - (days * 24.0 * 3_600_000.0) as i64
}

/// Posts generated transactions to `config.url` at `config.rate` until the duration is over,
/// `stop` is set or the data reaches the present (see [`start_ms`]); counts into `progress`. Keeps at most [`CONCURRENCY`] requests in flight.
pub async fn generate(config: GenerateConfig, progress: Arc<GenerateProgress>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let endpoint = format!("{}/transactions", config.url.trim_end_matches('/'));
    let generator = TransactionGenerator::new(GeneratorConfig {
        start_ms: start_ms(&config),
        ..GeneratorConfig::with_seed(config.seed)
    });
    let mut retry_rng = Rng::new(config.seed ^ 0x5eed);
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut generator = generator.peekable();
    while !stop.load(Ordering::Acquire) && config.duration.is_none_or(|d| started.elapsed() < d) {
        // Keep to the rate: send what is due by now, in steps of at most 10 ms.
        let due = (started.elapsed().as_secs_f64() * f64::from(config.rate)) as u64;
        if sent >= due {
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        }
        let Some((txn, fraud)) = generator.next() else { break };
        if txn.timestamp_ms > now_ms() {
            eprintln!("generator: the generated data reached the present; stopping");
            break;
        }
        let body = serde_json::to_vec(&txn).expect("a transaction serializes");
        let posts = if retry_rng.chance(config.duplicates) { 2 } else { 1 };
        for post in 0..posts {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (client, endpoint, body, progress) = (client.clone(), endpoint.clone(), body.clone(), progress.clone());
            let txn_id = txn.txn_id;
            tokio::spawn(async move {
                let outcome = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let error = match outcome {
                    Ok(response) if response.status().as_u16() == 202 => None,
                    Ok(response) => {
                        let status = response.status();
                        Some(format!("{status}: {}", response.text().await.unwrap_or_default()))
                    }
                    Err(e) => Some(e.to_string()),
                };
                match error {
                    None if post == 0 => {
                        progress.accepted.fetch_add(1, Ordering::Relaxed);
                        if fraud {
                            progress.fraud.lock().unwrap_or_else(|e| e.into_inner()).insert(txn_id);
                        }
                    }
                    None => {
                        progress.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(error) => {
                        progress.failed.fetch_add(1, Ordering::Relaxed);
                        progress
                            .first_error
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(error);
                    }
                }
                drop(permit);
            });
        }
        sent += 1;
    }
    // Wait for the requests in flight.
    let _ = permits.acquire_many(CONCURRENCY as u32).await;
}

/// Precision and recall of alerts against ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Alerted transactions that are fraud.
    pub true_positives: usize,
    /// Alerted transactions that are legitimate.
    pub false_positives: usize,
    /// Fraudulent transactions not alerted.
    pub false_negatives: usize,
}

impl Detection {
    /// Compares the alerted ids (each counted once) with the fraudulent ids.
    pub fn of(alerted: &HashSet<u64>, fraud: &HashSet<u64>) -> Self {
        let true_positives = alerted.intersection(fraud).count();
        Self {
            true_positives,
            false_positives: alerted.len() - true_positives,
            false_negatives: fraud.len() - true_positives,
        }
    }

    /// Share of alerts that are fraud (1 with no alert).
    pub fn precision(&self) -> f64 {
        let alerted = self.true_positives + self.false_positives;
        if alerted == 0 {
            1.0
        } else {
            self.true_positives as f64 / alerted as f64
        }
    }

    /// Share of fraud alerted (1 with no fraud).
    pub fn recall(&self) -> f64 {
        let fraud = self.true_positives + self.false_negatives;
        if fraud == 0 {
            1.0
        } else {
            self.true_positives as f64 / fraud as f64
        }
    }
}

/// A progress bar of `width` characters for `fraction` (0..=1).
pub fn bar(fraction: f64, width: usize) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_recall() {
        let alerted: HashSet<u64> = [1, 2, 3, 4].into();
        let fraud: HashSet<u64> = [2, 3, 5].into();
        let d = Detection::of(&alerted, &fraud);
        assert_eq!((d.true_positives, d.false_positives, d.false_negatives), (2, 2, 1));
        assert_eq!(d.precision(), 0.5);
        assert!((d.recall() - 2.0 / 3.0).abs() < 1e-12);
        let none = Detection::of(&HashSet::new(), &HashSet::new());
        assert_eq!((none.precision(), none.recall()), (1.0, 1.0));
    }

    #[test]
    fn bars() {
        assert_eq!(bar(0.5, 4), "[##..]");
        assert_eq!(bar(2.0, 3), "[###]");
        assert_eq!(bar(-1.0, 2), "[..]");
    }

    #[test]
    fn generated_data_ends_before_now() {
        // The generator's real event-time span for the demo's default volume stays in the past.
        let config = GenerateConfig {
            url: String::new(),
            rate: 1000,
            duration: Some(Duration::from_secs(60)),
            seed: 7,
            duplicates: 0.0,
        };
        let start = start_ms(&config);
        let last = TransactionGenerator::new(GeneratorConfig {
            start_ms: start,
            ..GeneratorConfig::with_seed(7)
        })
        .take(60_000)
        .last()
        .unwrap()
        .0
        .timestamp_ms;
        assert!(last < now_ms(), "{} ms ahead", last - now_ms());
        assert!(now_ms() - last < 5 * 24 * 3_600_000, "the data should end near now");
    }
}
