//! The real-time fraud detector.
//!
//! ```text
//! fraud-detector [demo] [options]   the one-command demo: app + generator, progress, summary
//! fraud-detector serve [options]    the application alone (run several to scale out)
//! fraud-detector generate [options] post generated transactions to a running application
//!
//! options:
//!   --bootstrap-servers H:P  Kafka (default $STREAMS_BOOTSTRAP_SERVERS, else 127.0.0.1:9092)
//!   --port N                 HTTP port of the API and dashboard (default 8080)
//!   --format json|avro       format of the transactions topic (default json)
//!   --registry URL           schema registry for avro (default $STREAMS_SCHEMA_REGISTRY_URL)
//!   --threshold P            alert at fraud probability >= P (default 0.5)
//!   --model FILE             ONNX model (default models/fraud-hgb.onnx)
//!   --state-dir DIR          state stores (default: a temporary directory)
//!   --at-least-once          instead of exactly-once
//!   --partitions N           partitions of the topics created (default 4)
//!   --duration S             demo/generate: seconds to post (default 60; 0 = until Ctrl-C,
//!                            or until the generated data reaches the present: ~1.5 M events)
//!   --rate N                 demo/generate: transactions per second (default 1000)
//!   --seed N                 demo/generate: generator seed (default 7)
//!   --duplicates F           demo/generate: share posted twice, as retries (default 0.01)
//!   --url URL                generate: the application (default http://127.0.0.1:8080)
//!   --check                  demo: exit 1 unless alerts were raised, precision and recall
//!                            reach their floors and nothing was lost or scored twice
//!   --serve-after            demo: keep the dashboard up after the summary, until Ctrl-C
//! ```

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use example_data::stats::percentile;
use fraud_detector::app::{App, AppConfig};
use fraud_detector::demo::{self, Detection, GenerateConfig, GenerateProgress, bar};
use fraud_detector::topology::{DEAD_LETTER_TOPIC, FRAUD_ALERTS, TRANSACTION_SCORES, TRANSACTIONS, TransactionFormat};
use streams_core::ProcessingGuarantee;

/// `--check` floors: the model's held-out precision and recall at 0.5 are 0.84 and 0.68
/// (models/README.md); a run of a minute sees ~1 000 fraudulent transactions, so these leave room
/// for the sample's noise while still catching a broken feature pipeline (which scores near 0).
const MIN_PRECISION: f64 = 0.6;
const MIN_RECALL: f64 = 0.5;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    command: String,
    app: AppConfig,
    generate: GenerateConfig,
    check: bool,
    serve_after: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut args = args.iter().peekable();
    let command = match args.peek() {
        Some(c) if !c.starts_with("--") => args.next().cloned().unwrap_or_default(),
        _ => "demo".to_string(),
    };
    if !["demo", "serve", "generate"].contains(&command.as_str()) {
        return Err(format!("unknown command {command:?}: demo, serve or generate"));
    }
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
    let mut app = AppConfig {
        reset: command == "demo",
        ..AppConfig::new(env("STREAMS_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    };
    let mut format = "json".to_string();
    let mut registry = env("STREAMS_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7");
    let mut generate = GenerateConfig {
        url: String::new(),
        rate: 1000,
        duration: Some(Duration::from_secs(60)),
        seed: 7,
        duplicates: 0.01,
    };
    let mut url = None;
    let (mut check, mut serve_after) = (false, false);
    while let Some(flag) = args.next() {
        let mut value = || args.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: not a valid number: {v:?}"))
        }
        match flag.as_str() {
            "--bootstrap-servers" => app.bootstrap_servers = value()?,
            "--port" => app.port = number(flag, value()?)?,
            "--format" => format = value()?,
            "--registry" => registry = value()?,
            "--threshold" => app.threshold = number(flag, value()?)?,
            "--model" => app.model_path = PathBuf::from(value()?),
            "--state-dir" => app.state_dir = Some(PathBuf::from(value()?)),
            "--at-least-once" => app.guarantee = ProcessingGuarantee::AtLeastOnce,
            "--partitions" => app.partitions = number(flag, value()?)?,
            "--duration" => {
                let seconds: u64 = number(flag, value()?)?;
                generate.duration = (seconds > 0).then(|| Duration::from_secs(seconds));
            }
            "--rate" => generate.rate = number::<u32>(flag, value()?)?.max(1),
            "--seed" => generate.seed = number(flag, value()?)?,
            "--duplicates" => generate.duplicates = number(flag, value()?)?,
            "--url" => url = Some(value()?),
            "--check" => check = true,
            "--serve-after" => serve_after = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    app.format = match format.as_str() {
        "json" => TransactionFormat::Json,
        "avro" => TransactionFormat::Avro { registry_url: registry },
        other => return Err(format!("--format: json or avro, not {other:?}")),
    };
    generate.url = url.unwrap_or_else(|| format!("http://127.0.0.1:{}", app.port));
    Ok(Options {
        command,
        app,
        generate,
        check,
        serve_after,
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("fraud-detector: {message}");
            }
            eprintln!("usage: fraud-detector [demo|serve|generate] [--option value]... (see the source's header)");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        match options.command.as_str() {
            "serve" => serve(&options).await,
            "generate" => generate_only(&options).await,
            _ => run_demo(&options).await,
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fraud-detector: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A flag set on the first Ctrl-C (which stops the generator and leads to the summary); a second
/// Ctrl-C exits at once.
fn interrupted() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            set.store(true, Ordering::Release);
            eprintln!("\nstopping: finishing what was posted (Ctrl-C again to quit at once)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    flag
}

async fn serve(options: &Options) -> Result<bool, BoxError> {
    let app = App::start(&options.app).await?;
    println!(
        "fraud-detector serving on {} (transactions: POST {}transactions, format {}); Ctrl-C stops it",
        app.url,
        app.url,
        options.app.format.name()
    );
    let _ = tokio::signal::ctrl_c().await;
    app.close().await?;
    Ok(true)
}

async fn generate_only(options: &Options) -> Result<bool, BoxError> {
    let progress = Arc::new(GenerateProgress::default());
    let stop = interrupted();
    let started = Instant::now();
    let task = tokio::spawn(demo::generate(options.generate.clone(), progress.clone(), stop.clone()));
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let accepted = progress.accepted.load(Ordering::Relaxed);
        println!(
            "posted {accepted} ({:.0}/s), fraud {}, failed {}",
            accepted as f64 / started.elapsed().as_secs_f64(),
            progress.fraud.lock().unwrap_or_else(|e| e.into_inner()).len(),
            progress.failed.load(Ordering::Relaxed)
        );
    }
    task.await?;
    Ok(progress.failed.load(Ordering::Relaxed) == 0)
}

async fn run_demo(options: &Options) -> Result<bool, BoxError> {
    let config = &options.app;
    println!(
        "fraud-detector demo: Kafka at {}, transactions as {}, {}, model {}",
        config.bootstrap_servers,
        config.format.name(),
        match config.guarantee {
            ProcessingGuarantee::ExactlyOnceV2 => "exactly-once",
            ProcessingGuarantee::AtLeastOnce => "at-least-once",
        },
        config.model_path.display()
    );
    let app = App::start(config).await?;
    println!("dashboard: {}   (card lookups: {}cards/<card id>)", app.url, app.url);
    let stop = interrupted();
    let progress = Arc::new(GenerateProgress::default());
    let started = Instant::now();
    let generator = tokio::spawn(demo::generate(options.generate.clone(), progress.clone(), stop.clone()));
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    while !generator.is_finished() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if !tty && last_line.elapsed() < Duration::from_secs(5) {
            continue;
        }
        last_line = Instant::now();
        let elapsed = started.elapsed().as_secs_f64();
        let fraction = options.generate.duration.map_or(0.0, |d| elapsed / d.as_secs_f64());
        let accepted = progress.accepted.load(Ordering::Relaxed);
        let alerts = app.alerts.lock().unwrap_or_else(|e| e.into_inner()).txn_ids.len();
        let line = format!(
            "{} {:>4.0} s  {accepted} events ({:.0}/s), {} processed, {alerts} alerts",
            bar(fraction, 30),
            elapsed,
            accepted as f64 / elapsed.max(0.001),
            app.processed(),
        );
        if tty {
            eprint!("\r{line}   ");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
    }
    generator.await?;
    let posting = started.elapsed();
    if tty {
        eprintln!();
    }
    // Let the application finish what was posted: every record processed, the last alerts read.
    let accepted = progress.accepted.load(Ordering::Relaxed);
    let duplicates = progress.duplicates.load(Ordering::Relaxed);
    let posted = accepted + duplicates;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settled = 0;
    let mut last_alerts = usize::MAX;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let alerts = app.alerts.lock().unwrap_or_else(|e| e.into_inner()).txn_ids.len();
        settled = if app.processed() >= posted && alerts == last_alerts {
            settled + 1
        } else {
            0
        };
        last_alerts = alerts;
        if settled >= 4 {
            break;
        }
    }
    let processing = started.elapsed();
    let stats = app.streams.stats();
    let (alerted_ids, alerts_read, latencies) = {
        let log = app.alerts.lock().unwrap_or_else(|e| e.into_inner());
        (
            log.txn_ids.iter().copied().collect::<HashSet<u64>>(),
            log.txn_ids.len(),
            log.latencies_ms.clone(),
        )
    };
    let fraud = progress.fraud.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let detection = Detection::of(&alerted_ids, &fraud);
    let failed = progress.failed.load(Ordering::Relaxed);
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} ms"));
    println!();
    println!("== summary");
    println!(
        "events:     {accepted} transactions accepted in {:.1} s ({:.0}/s), {duplicates} posted twice, {failed} refused",
        posting.as_secs_f64(),
        accepted as f64 / posting.as_secs_f64()
    );
    println!(
        "processed:  {} records (duplicates included) in {:.1} s: {:.0}/s; {} commits; {} dead-lettered",
        stats.processed,
        processing.as_secs_f64(),
        stats.processed as f64 / processing.as_secs_f64(),
        stats.commits,
        stats.dead_lettered
    );
    println!(
        "alerts:     {} ({} fraudulent transactions in the input; {} alerts read twice)",
        alerted_ids.len(),
        fraud.len(),
        alerts_read - alerted_ids.len()
    );
    println!(
        "detection:  precision {:.3}, recall {:.3} at threshold {} ({} true, {} false positives, {} missed)",
        detection.precision(),
        detection.recall(),
        config.threshold,
        detection.true_positives,
        detection.false_positives,
        detection.false_negatives
    );
    println!(
        "latency:    ingestion to alert p50 {}, p99 {} (over {} alerts)",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        latencies.len()
    );
    println!(
        "outputs:    topics {TRANSACTION_SCORES} (every score) and {FRAUD_ALERTS} (alerts), input {TRANSACTIONS}, dead letters {DEAD_LETTER_TOPIC}, on {}",
        config.bootstrap_servers
    );
    if let Some(error) = progress.first_error.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        println!("first refused request: {error}");
    }
    let mut ok = true;
    if options.check {
        let mut problems = Vec::new();
        if alerted_ids.is_empty() {
            problems.push("no alert".to_string());
        }
        if detection.precision() < MIN_PRECISION {
            problems.push(format!("precision {:.3} < {MIN_PRECISION}", detection.precision()));
        }
        if detection.recall() < MIN_RECALL {
            problems.push(format!("recall {:.3} < {MIN_RECALL}", detection.recall()));
        }
        if alerts_read != alerted_ids.len() {
            problems.push(format!("{} alerts read twice", alerts_read - alerted_ids.len()));
        }
        if failed > 0 || accepted == 0 {
            problems.push(format!("{failed} requests refused, {accepted} accepted"));
        }
        if stats.processed < posted {
            problems.push(format!("{} of {posted} posted records processed", stats.processed));
        }
        match tokio::task::spawn_blocking({
            let servers = config.bootstrap_servers.clone();
            move || App::wait_for_scores(&servers, accepted, Duration::from_secs(30))
        })
        .await?
        {
            Ok((scores, distinct)) => {
                println!("scores:     {scores} in {TRANSACTION_SCORES}, for {distinct} distinct transactions");
                if scores != accepted || distinct != accepted {
                    problems.push(format!(
                        "{scores} scores for {distinct} transactions, expected one for each of the {accepted} accepted"
                    ));
                }
            }
            Err(e) => problems.push(format!("counting the scores: {e}")),
        }
        if stats.dead_lettered > 0 {
            problems.push(format!("{} records dead-lettered", stats.dead_lettered));
        }
        ok = problems.is_empty();
        println!(
            "check:      {}",
            if ok { "passed".to_string() } else { problems.join("; ") }
        );
    }
    if options.serve_after && !stop.load(Ordering::Acquire) {
        println!("the dashboard stays up at {}; Ctrl-C stops it", app.url);
        while !stop.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    app.close().await?;
    Ok(ok)
}
