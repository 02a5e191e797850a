//! The benchmark topologies, each the twin of one in `benches/kstreams-java/.../Topologies.java`
//! (String keys and values through the default serdes unless said otherwise).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use streams_core::dsl::{Consumed, KTable, Materialized, Produced, StreamsBuilder};
use streams_core::serde::{I64Serde, OptionSerde, StringSerde};
use streams_core::time::{TimeWindowedSerde, TimeWindows, Windowed, millis, minutes, seconds};
use streams_core::topology::Topology;

/// One-minute tumbling windows, as in runtime_throughput.rs, test_driver.rs and Topologies.java.
const WINDOW: Duration = Duration::from_secs(60);

/// Where the DSL stores of a run live (`--store`): Kafka Streams' default and ours, or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// RocksDB (the default).
    RocksDb,
    /// In memory (`Materialized::in_memory`), restored in full from the changelog at start-up.
    InMemory,
}

impl StoreKind {
    /// `rocksdb` or `in-memory`, as the option and the JSON line spell it.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::RocksDb => "rocksdb",
            StoreKind::InMemory => "in-memory",
        }
    }

    /// The option's value read.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "rocksdb" => Some(StoreKind::RocksDb),
            "in-memory" => Some(StoreKind::InMemory),
            _ => None,
        }
    }

    fn apply<K, V>(self, materialized: Materialized<K, V>) -> Materialized<K, V> {
        match self {
            StoreKind::RocksDb => materialized,
            StoreKind::InMemory => materialized.in_memory(),
        }
    }
}

/// How the counts are written, as Java's `Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String,
/// 60000), Serdes.Long())`: the key in Kafka's time-windowed layout (the key's bytes, then the
/// window start as 8 bytes big-endian; not `Windowed<K>`'s default serde, which writes the session
/// layout), the count as 8 bytes big-endian, a tombstone as null.
fn windowed_counts() -> Produced<Windowed<String>, Option<i64>> {
    Produced::with(
        Arc::new(TimeWindowedSerde::new(Arc::new(StringSerde), WINDOW)),
        Arc::new(OptionSerde::new(Arc::new(I64Serde))),
    )
}

/// `stateless`: drop empty values, upper-case the rest (ASCII), write them to `output`.
pub fn stateless(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .filter(|_, value| !value.is_empty())
        .map_values(|value: String| value.to_ascii_uppercase())
        .to(output);
    built(builder)
}

/// `windowed-count`: per key, one-minute tumbling windows with 30 s grace, counted in the window
/// store `per-minute`; with an `output`, the counts are written there (time-windowed keys, 8-byte
/// big-endian counts).
pub fn windowed_count(input: &str, output: Option<&str>, store: StoreKind) -> Topology {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>(input)
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(minutes(1), seconds(30)))
        .count_with(store.apply(Materialized::named("per-minute")));
    if let Some(output) = output {
        counts.to_stream().to_with(output, windowed_counts());
    }
    built(builder)
}

/// `stream-table-join`: each record of `input` inner-joined with the row of `table` for its key
/// (the table materialized with a generated store name), `"<value>|<row>"` to `output`.
///
/// `joined` counts the stream's records (a peek after its source, as Java's probe does): our
/// runtime's processed count also counts the table's records.
pub fn stream_table_join(input: &str, table: &str, output: &str, store: StoreKind, joined: Arc<AtomicU64>) -> Topology {
    let builder = StreamsBuilder::new();
    let rows: KTable<String, String> = builder.table_with(
        table,
        Consumed::default(),
        store.apply(Materialized::<String, String>::default()),
    );
    builder
        .stream::<String, String>(input)
        .peek(move |_, _| {
            joined.fetch_add(1, Ordering::Relaxed);
        })
        .join_table(&rows, |value: &String, row: &String| format!("{value}|{row}"))
        .to(output);
    built(builder)
}

/// `restore`: a key-value store named `store` (keeping each key's first value), whose changelog
/// `<application-id>-store-changelog` the harness fills before the run.
pub fn restore(input: &str, store: StoreKind) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>(input)
        .group_by_key()
        .reduce_with(|kept, _| kept, store.apply(Materialized::named("store")));
    built(builder)
}

/// test_driver.rs `filter_map_values`: i64 values, `v % 7 != 0`, `v * 2`, to `out`.
pub fn driver_stateless() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .filter(|_, v| v % 7 != 0)
        .map_values(|v| v * 2)
        .to("out");
    built(builder)
}

/// test_driver.rs `windowed_count`: i64 values, one-minute tumbling windows with 500 ms grace,
/// `count()`, to `out`. Unlike test_driver.rs, the keys are written in the time-windowed layout,
/// as the Java twin writes them, so that the two outputs can be compared byte for byte.
pub fn driver_windowed_count() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(seconds(60), millis(500)))
        .count()
        .to_stream()
        .to_with("out", windowed_counts());
    built(builder)
}

fn built(builder: StreamsBuilder) -> Topology {
    builder.build().expect("the benchmark topologies are valid")
}
