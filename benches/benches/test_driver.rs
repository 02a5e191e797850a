//! How fast the TopologyTestDriver runs topologies: 100,000 records through a stateless pipeline and
//! through a windowed count (tumbling windows, 1,000 keys), in one thread. The driver runs the same
//! processors as the Kafka runtime, so this is also the cost of our operator code without Kafka.
//!
//! `cargo bench -p streams-benches --bench test_driver`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use streams_core::StreamsConfig;
use streams_core::dsl::StreamsBuilder;
use streams_core::processor::Record;
use streams_core::testing::TopologyTestDriver;
use streams_core::time::{TimeWindows, millis, seconds};

const RECORDS: u64 = 100_000;
const KEYS: u64 = 1_000;

fn records() -> Vec<Record<String, i64>> {
    (0..RECORDS)
        .map(|i| Record::new(format!("key-{}", i % KEYS), i as i64, (i * 10) as i64))
        .collect()
}

fn stateless() -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .filter(|_, v| v % 7 != 0)
        .map_values(|v| v * 2)
        .to("out");
    TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("bench")).unwrap()
}

fn windowed_count() -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(seconds(60), millis(500)))
        .count()
        .to_stream()
        .to("out");
    TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("bench")).unwrap()
}

fn run(driver: TopologyTestDriver, records: Vec<Record<String, i64>>) -> usize {
    let input = driver.input_topic::<String, i64>("in");
    for record in records {
        input.pipe_record(record);
    }
    driver.output_topic::<String, i64>("out").queue_size()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("test_driver_100k");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.bench_function("filter_map_values", |b| {
        b.iter_batched(|| (stateless(), records()), |(d, r)| run(d, r), BatchSize::LargeInput)
    });
    group.bench_function("windowed_count", |b| {
        b.iter_batched(
            || (windowed_count(), records()),
            |(d, r)| run(d, r),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
