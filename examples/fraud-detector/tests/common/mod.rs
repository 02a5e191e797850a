//! What the fraud detector's broker tests share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fraud_detector::app::App;
use fraud_detector::demo::{self, GenerateConfig, GenerateProgress};

/// Posts generated transactions (seed `seed`) to the API on `port` at `rate`/s for `seconds`,
/// re-posting a `duplicates` share; asserts that none was refused, then waits until `apps` have
/// processed every post. Returns (distinct transactions accepted, re-posts).
pub async fn post_and_process(
    apps: &[&App],
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
    let processed = || apps.iter().map(|app| app.processed()).sum::<u64>();
    let deadline = Instant::now() + Duration::from_secs(120);
    while processed() < accepted + reposted {
        assert!(
            Instant::now() < deadline,
            "{} of {} processed",
            processed(),
            accepted + reposted
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (accepted, reposted)
}
