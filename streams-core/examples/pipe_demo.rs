//! The smallest end-to-end run: produce records to a topic, copy them through [`Pipe`] (values
//! upper-cased) into another topic, read the result back and print what happened.
//!
//! Delivery guarantee: at-least-once (offsets are committed after the outputs are acknowledged).
//! Run it with `scripts/demo`, which starts the local broker and sets `STREAMS_BOOTSTRAP_SERVERS`.

use std::time::{Duration, Instant};

use streams_core::StreamsConfig;
use streams_core::runtime::{Pipe, RawRecord};
use streams_core::testing::kafka::TestKafka;

const RECORDS: usize = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(kafka) = TestKafka::from_env() else {
        return Err("set STREAMS_BOOTSTRAP_SERVERS (scripts/demo does) to run the demo".into());
    };
    let input = kafka.create_topic("demo-words", 4);
    let output = kafka.create_topic("demo-words-upper", 4);
    println!(
        "created topics {} and {} (4 partitions each)",
        input.name(),
        output.name()
    );

    let words = [
        "kafka", "stream", "table", "window", "grace", "state", "commit", "offset",
    ];
    let started = Instant::now();
    kafka.produce_records(
        &input,
        (0..RECORDS).map(|i| RawRecord {
            key: Some(format!("user-{}", i % 100).into_bytes()),
            value: Some(format!("{} #{i}", words[i % words.len()]).into_bytes()),
            ..RawRecord::default()
        }),
    );
    println!(
        "produced {RECORDS} records to {} in {:.2?}",
        input.name(),
        started.elapsed()
    );

    let application_id = kafka.unique_name("pipe-demo");
    let config =
        StreamsConfig::new(&application_id, kafka.bootstrap_servers()).with_commit_interval(Duration::from_secs(1));
    let started = Instant::now();
    let pipe = Pipe::new(config, input.name(), output.name())
        .with_transform(|mut record, _| {
            record.value = record.value.map(|value| value.to_ascii_uppercase());
            Ok(Some(record))
        })
        .spawn()?;
    let copied = kafka.read(&output, RECORDS, Duration::from_secs(120));
    let elapsed = started.elapsed();
    let stats = pipe.stop()?;
    println!(
        "pipe {application_id}: {} in, {} out, {} acknowledged, {} commits; {} records in {} in {elapsed:.2?} ({:.0} records/s, including the group join)",
        stats.consumed,
        stats.produced,
        stats.delivered,
        stats.commits,
        copied.len(),
        output.name(),
        copied.len() as f64 / elapsed.as_secs_f64()
    );
    for read in copied.iter().take(3) {
        let text = |bytes: &Option<Vec<u8>>| String::from_utf8_lossy(bytes.as_deref().unwrap_or_default()).into_owned();
        println!(
            "  partition {} offset {}: {} → {}",
            read.partition,
            read.offset,
            text(&read.record.key),
            text(&read.record.value)
        );
    }
    let committed = kafka.committed_offsets(&application_id, &input);
    let end = kafka.end_offsets(&input);
    println!("committed offsets {committed:?}, end offsets {end:?}");
    if copied.len() != RECORDS || committed != end {
        return Err(format!("expected {RECORDS} records and every offset committed").into());
    }
    println!("ok: every record copied once, offsets committed; the demo topics are deleted on exit");
    Ok(())
}
