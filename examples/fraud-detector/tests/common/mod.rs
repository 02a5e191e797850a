//! What the fraud detector's broker tests share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fraud_detector::app::App;
use fraud_detector::demo::{self, GenerateConfig, GenerateProgress};

/// Sends the application's logs to the test's output (shown when a test fails): warnings, or
/// what `RUST_LOG` asks for.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// `GET /cards/{card}` on the instance at `port`, as JSON (panics naming the body if it is not).
pub async fn card_lookup(http: &reqwest::Client, port: u16, card: &str) -> serde_json::Value {
    let text = http
        .get(format!("http://127.0.0.1:{port}/cards/{card}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).expect(&text)
}

/// Posts generated transactions (seed `seed`) to the API on `port` at `rate`/s for `seconds`,
/// re-posting a `duplicates` share, and asserts that none was refused; then waits (up to 120 s)
/// until `transaction-scores` holds a score for each, and asserts exactly one per transaction.
/// Returns (distinct transactions accepted, re-posts).
pub async fn post_and_score(
    bootstrap_servers: &str,
    port: u16,
    rate: u32,
    seconds: u64,
    seed: u64,
    duplicates: f64,
) -> (u64, u64) {
    let progress = Arc::new(GenerateProgress::default());
    demo::generate(
        GenerateConfig {
            url: format!("http://127.0.0.1:{port}"),
            rate,
            duration: Some(Duration::from_secs(seconds)),
            seed,
            duplicates,
        },
        progress.clone(),
        Arc::new(AtomicBool::new(false)),
    )
    .await;
    let accepted = progress.accepted.load(Ordering::Relaxed);
    let reposted = progress.duplicates.load(Ordering::Relaxed);
    assert_eq!(
        progress.failed.load(Ordering::Relaxed),
        0,
        "{:?}",
        progress.first_error.lock().unwrap()
    );
    let servers = bootstrap_servers.to_string();
    let (scores, distinct) =
        tokio::task::spawn_blocking(move || App::wait_for_scores(&servers, accepted, Duration::from_secs(120)))
            .await
            .unwrap()
            .expect("the scores are read");
    assert_eq!(
        (scores, distinct),
        (accepted, accepted),
        "one score per accepted transaction"
    );
    (accepted, reposted)
}
