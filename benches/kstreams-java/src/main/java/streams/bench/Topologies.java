package streams.bench;

import java.time.Duration;
import java.util.Locale;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The benchmark topologies, each the Kafka Streams DSL twin of one in benches/benches/*.rs.
 *
 * <p>The broker cases take a {@link Probe}: a {@code peek} right after the source counts input
 * records, and one right before the sink notes the first output. Those two stateless nodes are
 * the only difference from the Rust topologies (whose runtime counts processed records itself);
 * with a null probe (the test driver) the topologies are exactly the Rust ones.
 */
final class Topologies {
    /** One-minute tumbling windows, as in runtime_throughput.rs and test_driver.rs. */
    static final Duration WINDOW = Duration.ofMinutes(1);
    /** runtime_throughput.rs: {@code TimeWindows::of_size_and_grace(minutes(1), seconds(30))}. */
    static final Duration RUNTIME_GRACE = Duration.ofSeconds(30);
    /** test_driver.rs: {@code TimeWindows::of_size_and_grace(seconds(60), millis(500))}. */
    static final Duration DRIVER_GRACE = Duration.ofMillis(500);

    /** Kafka's time-windowed key layout: the key's bytes, then the window start (8 bytes, big-endian). */
    static Serde<Windowed<String>> windowedKeySerde() {
        return WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW.toMillis());
    }

    private Topologies() {}

    private static KStream<String, String> source(StreamsBuilder builder, String topic, Probe probe) {
        KStream<String, String> stream = builder.stream(topic, Consumed.with(Serdes.String(), Serdes.String()));
        return probe == null ? stream : stream.peek((key, value) -> probe.input());
    }

    private static <K, V> KStream<K, V> beforeSink(KStream<K, V> stream, Probe probe) {
        return probe == null ? stream : stream.peek((key, value) -> probe.output());
    }

    /**
     * runtime_throughput.rs {@code stateless}: {@code filter(|_, v| !v.is_empty())},
     * {@code map_values(|v| v.to_ascii_uppercase())}, {@code to(output)}; String keys and values.
     */
    static Topology stateless(String input, String output, Probe probe) {
        StreamsBuilder builder = new StreamsBuilder();
        KStream<String, String> mapped = source(builder, input, probe)
                .filter((key, value) -> value != null && !value.isEmpty())
                // Equal to Rust's to_ascii_uppercase for the benchmark's ASCII values.
                .mapValues(value -> value.toUpperCase(Locale.ROOT));
        beforeSink(mapped, probe).to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    /**
     * runtime_throughput.rs {@code windowed_count}: {@code group_by_key()}, one-minute tumbling windows
     * with 30 s grace, {@code count_with(Materialized::named("per-minute"))} (RocksDB window store,
     * changelog {@code <application.id>-per-minute-changelog}, write cache on). The Rust bench has no
     * sink; with {@code output} set the counts also go {@code toStream().to(output)}: key = Kafka's
     * time-windowed layout (see {@link #windowedKeySerde()}), value = the count as 8-byte big-endian
     * long ({@code Serdes.Long()}).
     */
    static Topology windowedCount(String input, String output, Probe probe) {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<Windowed<String>, Long> counts = source(builder, input, probe)
                .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW, RUNTIME_GRACE))
                .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("per-minute")
                        .withKeySerde(Serdes.String())
                        .withValueSerde(Serdes.Long()));
        if (output != null) {
            beforeSink(counts.toStream(), probe).to(output, Produced.with(windowedKeySerde(), Serdes.Long()));
        }
        return builder.build();
    }

    /**
     * Stream-table join (no Rust bench yet; the harness writes the Rust twin): the stream from
     * {@code input} inner-joined with the KTable read from {@code table}, which Kafka Streams
     * materializes with its defaults (a RocksDB key-value store with a generated name and, as
     * topology optimization is off by default, its own {@code <application.id>-...-changelog}).
     * Output value: {@code streamValue + "|" + tableValue}; key unchanged. Both topics must have the
     * same partition count (co-partitioning, checked by Kafka Streams at start-up).
     */
    static Topology streamTableJoin(String input, String table, String output, Probe probe) {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, String> lookup = builder.table(table, Consumed.with(Serdes.String(), Serdes.String()));
        KStream<String, String> joined = source(builder, input, probe)
                .join(lookup, (value, tableValue) -> value + "|" + tableValue);
        beforeSink(joined, probe).to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    /**
     * restore.rs: {@code group_by_key().reduce_with(|a, _| a, Materialized::named("store"))}: a
     * timestamped RocksDB key-value store named "store" whose changelog is
     * {@code <application.id>-store-changelog}.
     */
    static Topology restore(String input) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
                .reduce((kept, ignored) -> kept,
                        Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("store")
                                .withKeySerde(Serdes.String())
                                .withValueSerde(Serdes.String()));
        return builder.build();
    }

    /** test_driver.rs {@code stateless}: Long values, {@code filter(v % 7 != 0)}, {@code map_values(v * 2)}. */
    static Topology driverStateless() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream("in", Consumed.with(Serdes.String(), Serdes.Long()))
                .filter((key, value) -> value % 7 != 0)
                .mapValues(value -> value * 2)
                .to("out", Produced.with(Serdes.String(), Serdes.Long()));
        return builder.build();
    }

    /**
     * test_driver.rs {@code windowed_count}: Long values, {@code group_by_key()}, one-minute tumbling
     * windows with 500 ms grace, {@code count()}, {@code to_stream().to("out")}.
     */
    static Topology driverWindowedCount() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream("in", Consumed.with(Serdes.String(), Serdes.Long()))
                .groupByKey(Grouped.with(Serdes.String(), Serdes.Long()))
                .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW, DRIVER_GRACE))
                .count()
                .toStream()
                .to("out", Produced.with(windowedKeySerde(), Serdes.Long()));
        return builder.build();
    }
}
