//! `streams-bench`: our side of the side-by-side benchmarks, the twin of the Kafka Streams jar
//! (`benches/kstreams-java`, `Bench.java`): the same cases, options and JSON line, run on this
//! library. The harness (`side-by-side`) runs the two alternately against one broker.
//!
//! ```text
//! streams-bench CASE [options]
//!   stateless | windowed-count | windowed-count-eos | stream-table-join | fraud-score | restore
//!       --bootstrap HOST:PORT --application-id ID --input TOPIC [--output TOPIC] [--table TOPIC]
//!       [--guarantee at_least_once|exactly_once_v2] [--commit-interval-ms N] [--cache-bytes N]
//!       [--state-dir DIR] [--threads 1] [--expected N] [--timeout-s 600]
//!       [--store rocksdb|in-memory] [--model PATH (fraud-score)] [--describe]
//!   passthrough-ceiling
//!       --bootstrap HOST:PORT --application-id ID --input TOPIC --output TOPIC
//!       [--guarantee at_least_once] [--commit-interval-ms 100] [--expected N] [--timeout-s 600]
//!   test-driver [--topology windowed-count|stateless] [--records 100000] [--keys 1000]
//!       [--warmup 3] [--iterations 10] [--store in-memory]
//! ```
//!
//! Every run prints **one JSON line on stdout** (progress and errors go to stderr). Exit status: 0
//! when a run stopped as asked (`done`, or `signal`: SIGTERM/SIGINT), 1 on a timeout or an error,
//! 2 for a usage error.
//!
//! # Broker cases
//!
//! | case | topology (String keys and values) |
//! |---|---|
//! | `stateless` | `filter(v non-empty)`, `map_values(to_ascii_uppercase)`, `to(output)` |
//! | `windowed-count` | `group_by_key`, 1-minute tumbling windows with 30 s grace, `count` in the store `per-minute`; with `--output`, `to_stream().to(output)`: keys in Kafka's time-windowed layout (key bytes, window start as 8 bytes big-endian), counts as 8-byte big-endian longs, byte for byte what Java writes |
//! | `windowed-count-eos` | `windowed-count` under `exactly_once_v2` (always; another `--guarantee` is a usage error) |
//! | `stream-table-join` | `stream(input).join_table(table(--table), "<v>\|<row>")`, `to(output)`; the table in a store with a generated name |
//! | `fraud-score` | the fraud detector's own topology (`fraud_detector::topology::build`) with its shipped model (`models/fraud-hgb.onnx`, or `--model`), threshold 0.5 and explainer: JSON transactions in, scores to `--output`, alerts to `<output>-alerts` (both created when missing, with the input's partition count), unreadable records to `<application-id>-dlq`; `--store rocksdb` only. No Java twin |
//! | `restore` | `group_by_key().reduce_with(keep the first, Materialized::named("store"))`; measures the restoration of `store` from `<application-id>-store-changelog`, which the harness fills |
//! | `passthrough-ceiling` | no library: a raw rdkafka consume → produce loop with our runtime's client settings, each record copied (key, value, timestamp) to the same partition number of `--output`; offsets committed asynchronously once acknowledged, every `--commit-interval-ms` (default 100) |
//!
//! The settings are ours by default (which match Kafka Streams': commit interval 30 s, 100 ms
//! under exactly-once; 10 MiB of record cache; one stream thread; RocksDB stores); a state
//! directory in a fresh temporary directory, deleted at the end, unless `--state-dir`.
//!
//! A run ends when `--expected` input records were processed (restore: the application runs with
//! every store restored), on SIGTERM or SIGINT, at the timeout, or on an error. It then closes the
//! application (which flushes the caches, commits — under exactly-once, commits the open
//! transaction — and leaves the group) and prints, e.g.
//!
//! ```json
//! {"case": "stateless", "system": "streams", "guarantee": "at_least_once", "threads": 1,
//!  "commit_interval_ms": 30000, "cache_bytes": 10485760, "store": "rocksdb", "records": 200000,
//!  "expected": 200000, "seconds": 0.52, "records_per_s": 384615.4, "outputs": null,
//!  "first_record_ms": 180, "first_record_epoch_ms": 1795000000180, "first_output_ms": null,
//!  "running_ms": 150, "close_ms": 40.1, "closed_cleanly": true, "total_ms": 760, "stop": "done"}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `records` | input records processed (`KafkaStreams::stats().processed`, read after the close). `stream-table-join`: the stream's records only, counted by a `peek` after its source, since the processed count includes the table's. `passthrough-ceiling`: records copied |
//! | `seconds`, `records_per_s` | from the first processed record seen to the `expected`-th (or to the signal); the count is polled every millisecond, so the rate is (count at the end − count at the first reading) / seconds. Null on a timeout |
//! | `outputs` | null: the harness counts the output topics itself (`passthrough-ceiling`: the copies acknowledged) |
//! | `first_record_ms`, `first_record_epoch_ms` | process start → the first processed record seen; the same moment on the wall clock (ms since the Unix epoch) |
//! | `first_output_ms` | always null |
//! | `running_ms` | process start → the state `Running` (`passthrough-ceiling`: the first partition assignment) |
//! | `close_ms`, `closed_cleanly` | the close (final flush, commit, leaving the group), and whether it finished cleanly within 120 s |
//! | `total_ms`, `stop`, `error` | process start → the JSON line; `done`, `signal`, `timeout` or `error` (then `error` says what) |
//! | restore only: `restored`, `restore_partitions`, `restore_ms`, `restore_records_per_s` | summed over the restore listener's partitions, from the first restore start to the last restore end (in place of `records` … `first_output_ms`) |
//! | fraud-score only: `model`, `dead_lettered` | the model file; records sent to the dead-letter topic |
//!
//! `passthrough-ceiling` prints the same fields, with `cache_bytes` and `store` null (no library) and
//! `commit_interval_ms` its own (default 100).
//!
//! # test-driver
//!
//! test_driver.rs's topologies in our `TopologyTestDriver` (see `streams_bench/test_driver.rs`),
//! with the windowed keys written in the time-windowed layout as Java writes them. JSON: `case`,
//! `system`, `topology`, `store` (always `in-memory`: our driver has no RocksDB stores), `records`,
//! `keys`, `outputs`, `output_digest` (`streams_benches::digest` of the last iteration's output
//! records), `warmup`, `iterations`, `records_per_s` (median), `best_records_per_s`,
//! `cold_records_per_s`.

mod streams_bench {
    pub mod clock;
    pub mod fraud;
    pub mod json;
    pub mod options;
    pub mod passthrough;
    pub mod run;
    pub mod signals;
    pub mod test_driver;
    pub mod topologies;
}

use streams_bench::clock::Clock;
use streams_bench::options::usage;
use streams_bench::run::Case;
use streams_bench::{passthrough, run, signals, test_driver};

const USAGE: &str = "\
usage: streams-bench CASE [options]   (one JSON line on stdout)
  stateless | windowed-count | windowed-count-eos | stream-table-join | fraud-score | restore
      --bootstrap HOST:PORT --application-id ID --input TOPIC [--output TOPIC] [--table TOPIC]
      [--guarantee at_least_once|exactly_once_v2] [--commit-interval-ms N] [--cache-bytes N]
      [--state-dir DIR] [--threads 1] [--expected N] [--timeout-s 600]
      [--store rocksdb|in-memory] [--model PATH (fraud-score)] [--describe]
  passthrough-ceiling
      --bootstrap HOST:PORT --application-id ID --input TOPIC --output TOPIC
      [--guarantee at_least_once] [--commit-interval-ms 100] [--expected N] [--timeout-s 600]
  test-driver [--topology windowed-count|stateless] [--records 100000] [--keys 1000]
      [--warmup 3] [--iterations 10] [--store in-memory]
";

fn main() {
    let clock = Clock::start();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(case) = args.first() else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    if matches!(case.as_str(), "-h" | "--help" | "help") {
        print!("{USAGE}");
        return;
    }
    signals::install();
    // The runtime's own logs, on stderr (the harness keeps them in the run's log file): RUST_LOG,
    // warnings and errors by default.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let options = &args[1..];
    let result = match case.as_str() {
        "passthrough-ceiling" => passthrough::run(options, &clock),
        "test-driver" => test_driver::run(options),
        name => match Case::parse(name) {
            Some(case) => run::run(case, options, &clock),
            None => Err(usage(format!("unknown case: {name}"))),
        },
    };
    let code = result.unwrap_or_else(|error| {
        eprintln!("streams-bench: {error}");
        eprint!("{USAGE}");
        2
    });
    std::process::exit(code);
}
