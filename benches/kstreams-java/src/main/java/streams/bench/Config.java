package streams.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;

/** StreamsConfig from the command line: Kafka Streams' defaults unless an option says otherwise. */
final class Config {
    private Config() {}

    static final String AT_LEAST_ONCE = "at_least_once";
    static final String EXACTLY_ONCE_V2 = "exactly_once_v2";

    static Properties streams(Options options, String applicationId, String bootstrap, String guarantee,
            Path stateDir) {
        if (!guarantee.equals(AT_LEAST_ONCE) && !guarantee.equals(EXACTLY_ONCE_V2)) {
            throw new Options.UsageException("--guarantee is at_least_once or exactly_once_v2, not " + guarantee);
        }
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, (int) options.getLong("threads", 1));
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        // Unset: Kafka Streams' defaults (30 s, or 100 ms under exactly-once; 10 MiB).
        if (options.has("commit-interval-ms")) {
            props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, options.getLong("commit-interval-ms", 0));
        }
        if (options.has("cache-bytes")) {
            props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, options.getLong("cache-bytes", 0));
        }
        store(props, options);
        return props;
    }

    /** {@code --store rocksdb} (the default) or {@code --store in-memory} for every DSL store. */
    static void store(Properties props, Options options) {
        String store = options.get("store", "rocksdb");
        switch (store) {
            case "rocksdb" -> { }
            case "in-memory" -> props.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG,
                    BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class);
            default -> throw new Options.UsageException("--store is rocksdb or in-memory, not " + store);
        }
    }

    /** The effective value of a setting after Kafka Streams' own defaulting (e.g. exactly-once's 100 ms). */
    static long effectiveLong(Properties props, String name) {
        return new StreamsConfig(props).getLong(name);
    }

    static Path tempStateDir() {
        try {
            return Files.createTempDirectory("kstreams-bench-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException ignored) {
                    // best effort: a temporary directory
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
