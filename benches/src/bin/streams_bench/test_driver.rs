//! `test-driver`: test_driver.rs's topologies in our [`TopologyTestDriver`], the twin of
//! `TestDriverRun.java`. Record i: key `key-<i % keys>`, value i (i64), timestamp i × 10 ms. Each
//! iteration builds a fresh driver and the records (not timed, as criterion's `iter_batched` setup),
//! then times piping them one by one and reading the output queue's size. Warm-up iterations
//! first, then the measured ones: the median, the best and the very first (cold) rate.
//!
//! After the last iteration (not timed) its output records are read as bytes into the
//! [`Digest`] the Java side computes too, so the two outputs can be compared.

use std::time::Instant;

use serde_json::Value;
use streams_benches::digest::Digest;
use streams_core::StreamsConfig;
use streams_core::processor::Record;
use streams_core::testing::TopologyTestDriver;

use super::json::{JsonLine, decimal};
use super::options::{Options, UsageError, usage};
use super::topologies;

/// The options of this case (`--state-dir` is accepted as Java does, and unused: our driver keeps
/// no files).
const OPTIONS: &[&str] = &[
    "topology",
    "records",
    "keys",
    "warmup",
    "iterations",
    "store",
    "state-dir",
];

/// Runs the case with the options `args`; prints the JSON line and returns the exit status.
pub fn run(args: &[String]) -> Result<i32, UsageError> {
    let options = Options::parse(args, OPTIONS, &[])?;
    let topology = options.get("topology").unwrap_or("windowed-count");
    let build = match topology {
        "windowed-count" => topologies::driver_windowed_count,
        "stateless" => topologies::driver_stateless,
        other => {
            return Err(usage(format!("--topology is windowed-count or stateless, not {other}")));
        }
    };
    // Our test driver always builds its stores in memory (no caches, no changelogs): that is the
    // twin of Java's `--store in-memory`; it has no RocksDB choice.
    match options.get("store").unwrap_or("in-memory") {
        "in-memory" => {}
        other => {
            return Err(usage(format!(
                "our test driver keeps its stores in memory: --store in-memory only, not {other}"
            )));
        }
    }
    let records: u64 = options.number("records")?.unwrap_or(100_000);
    let keys: u64 = options.number("keys")?.unwrap_or(1_000);
    let warmup: usize = options.number("warmup")?.unwrap_or(3);
    let iterations: usize = options.number("iterations")?.unwrap_or(10);
    if keys == 0 {
        return Err(usage("--keys must be at least 1"));
    }

    let mut cold = None;
    let mut outputs = 0;
    let mut digest = None;
    let mut rates = Vec::with_capacity(iterations);
    for iteration in 0..warmup + iterations {
        let driver = TopologyTestDriver::new(build(), StreamsConfig::for_tests("bench"))
            .expect("the benchmark topologies start in the test driver");
        let input: Vec<Record<String, i64>> = (0..records)
            .map(|i| Record::new(format!("key-{}", i % keys), i as i64, (i * 10) as i64))
            .collect();

        let start = Instant::now();
        let topic = driver.input_topic::<String, i64>("in");
        for record in input {
            topic.pipe_record(record);
        }
        let output = driver.output_topic::<Option<Vec<u8>>, Option<Vec<u8>>>("out");
        let queued = output.queue_size();
        let rate = records as f64 / start.elapsed().as_secs_f64();

        cold.get_or_insert(rate);
        if iteration >= warmup {
            rates.push(rate);
        }
        outputs = queued;
        if iteration + 1 == warmup + iterations {
            let mut all = Digest::default();
            for (key, value) in output.read_key_values_to_list() {
                all.add(key.as_deref(), value.as_deref());
            }
            digest = Some(all.to_text());
        }
    }
    rates.sort_by(f64::total_cmp);

    let mut json = JsonLine::default();
    json.put("case", "test-driver")
        .put("system", "streams")
        .put("topology", topology)
        .put("store", "in-memory")
        .put("records", records)
        .put("keys", keys)
        .put("outputs", outputs)
        .put("output_digest", digest.map_or(Value::Null, Value::from))
        .put("warmup", warmup)
        .put("iterations", iterations)
        .put("records_per_s", decimal(rates.get(iterations / 2).copied()))
        .put("best_records_per_s", decimal(rates.last().copied()))
        .put("cold_records_per_s", decimal(cold));
    println!("{json}");
    Ok(0)
}
