package streams.bench;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.LongSerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/**
 * test_driver.rs in Kafka Streams' TopologyTestDriver: 100,000 records ({@code key-<i % 1000>}, value
 * {@code i} as a long, timestamp {@code i * 10} ms) piped one by one into a fresh driver, then the
 * output queue's size read. As criterion does in the Rust bench, only the piping and the read are
 * timed; building the driver and the records is not. Warm-up iterations first (the JIT), then the
 * measured ones; prints the median, the best and the very first (cold) rate. After the last
 * iteration (not timed) its output records are read as bytes into a {@link Digest}, the one the
 * Rust side computes, so the two outputs can be compared ({@code output_digest}).
 */
final class TestDriverRun {
    private TestDriverRun() {}

    static int run(Options options) {
        String topology = options.get("topology", "windowed-count");
        int records = (int) options.getLong("records", 100_000);
        int keys = (int) options.getLong("keys", 1_000);
        int warmup = (int) options.getLong("warmup", 3);
        int iterations = (int) options.getLong("iterations", 10);
        if (!topology.equals("windowed-count") && !topology.equals("stateless")) {
            throw new Options.UsageException("--topology is windowed-count or stateless, not " + topology);
        }
        Path stateDir = options.has("state-dir") ? Path.of(options.get("state-dir", null)) : Config.tempStateDir();
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "bench");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.LongSerde.class);
        Config.store(props, options);

        double first = 0;
        long outputs = 0;
        String digest = null;
        double[] rates = new double[iterations];
        try {
            for (int i = 0; i < warmup + iterations; i++) {
                Topology built = topology.equals("stateless")
                        ? Topologies.driverStateless()
                        : Topologies.driverWindowedCount();
                List<TestRecord<String, Long>> input = records(records, keys);
                try (TopologyTestDriver driver = new TopologyTestDriver(built, props)) {
                    long start = System.nanoTime();
                    TestInputTopic<String, Long> in =
                            driver.createInputTopic("in", new StringSerializer(), new LongSerializer());
                    for (TestRecord<String, Long> record : input) {
                        in.pipeInput(record);
                    }
                    long queued = topology.equals("stateless")
                            ? driver.createOutputTopic("out", new StringDeserializer(), new LongDeserializer())
                                    .getQueueSize()
                            : driver.createOutputTopic("out", Topologies.windowedKeySerde().deserializer(),
                                    new LongDeserializer()).getQueueSize();
                    double rate = records / ((System.nanoTime() - start) / 1e9);
                    if (i == 0) {
                        first = rate;
                    }
                    if (i >= warmup) {
                        rates[i - warmup] = rate;
                    }
                    outputs = queued;
                    if (i == warmup + iterations - 1) {
                        // Not timed: every output record of the last iteration, as bytes.
                        Digest all = new Digest();
                        for (KeyValue<byte[], byte[]> record : driver.createOutputTopic("out",
                                new ByteArrayDeserializer(), new ByteArrayDeserializer()).readKeyValuesToList()) {
                            all.add(record.key, record.value);
                        }
                        digest = all.toString();
                    }
                }
            }
        } finally {
            if (!options.has("state-dir")) {
                Config.deleteRecursively(stateDir);
            }
        }
        double[] sorted = rates.clone();
        Arrays.sort(sorted);
        System.out.println(new Json()
                .put("case", "test-driver")
                .put("system", "kafka-streams")
                .put("kafka_streams", AppInfoParser.getVersion())
                .put("topology", topology)
                .put("store", options.get("store", "rocksdb"))
                .put("records", records)
                .put("keys", keys)
                .put("outputs", outputs)
                .put("output_digest", digest)
                .put("warmup", warmup)
                .put("iterations", iterations)
                .put("records_per_s", iterations == 0 ? null : sorted[iterations / 2])
                .put("best_records_per_s", iterations == 0 ? null : sorted[iterations - 1])
                .put("cold_records_per_s", first));
        return 0;
    }

    private static List<TestRecord<String, Long>> records(int count, int keys) {
        List<TestRecord<String, Long>> records = new ArrayList<>(count);
        for (long i = 0; i < count; i++) {
            records.add(new TestRecord<>("key-" + (i % keys), i, null, Instant.ofEpochMilli(i * 10)));
        }
        return records;
    }
}
