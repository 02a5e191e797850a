package streams.bench;

import java.util.Set;

/**
 * The Kafka Streams side of the side-by-side benchmarks (see ../../../../../README.md).
 *
 * <pre>
 * java -jar target/kstreams-bench.jar CASE [options]
 *   stateless | windowed-count | windowed-count-eos | stream-table-join | restore
 *       --bootstrap HOST:PORT --application-id ID --input TOPIC [--output TOPIC] [--table TOPIC]
 *       [--guarantee at_least_once|exactly_once_v2] [--commit-interval-ms N] [--cache-bytes N]
 *       [--state-dir DIR] [--threads N] [--expected N] [--timeout-s 600] [--store rocksdb|in-memory]
 *       [--describe]
 *   test-driver [--topology windowed-count|stateless] [--records 100000] [--keys 1000]
 *       [--warmup 3] [--iterations 10] [--store rocksdb|in-memory]
 *   produce --bootstrap HOST:PORT --topic TOPIC --records N [--keys 10000] [--value-bytes 100]
 *       [--partitions 4] [--timestamp-start 1700000000000] [--key-digits 5] [--compact]
 *       [--retention-ms -1]
 *   digest-check      (Digest.java against the value pinned in benches/src/digest.rs)
 * </pre>
 * Prints one JSON line on stdout; Kafka's own logging (WARN and above) goes to stderr.
 */
public final class Bench {
    private Bench() {}

    private static final Set<String> STREAMS_OPTIONS = Set.of("bootstrap", "application-id", "input", "output",
            "table", "guarantee", "commit-interval-ms", "cache-bytes", "state-dir", "threads", "expected",
            "timeout-s", "store");
    private static final Set<String> DRIVER_OPTIONS = Set.of("topology", "records", "keys", "warmup",
            "iterations", "store", "state-dir");
    private static final Set<String> PRODUCE_OPTIONS = Set.of("bootstrap", "topic", "records", "keys",
            "value-bytes", "partitions", "replication-factor", "timestamp-start", "key-digits", "retention-ms");

    private static final String USAGE = """
            usage: kstreams-bench CASE [options]   (one JSON line on stdout)
              stateless | windowed-count | windowed-count-eos | stream-table-join | restore
                  --bootstrap HOST:PORT --application-id ID --input TOPIC [--output TOPIC] [--table TOPIC]
                  [--guarantee at_least_once|exactly_once_v2] [--commit-interval-ms N] [--cache-bytes N]
                  [--state-dir DIR] [--threads 1] [--expected N] [--timeout-s 600]
                  [--store rocksdb|in-memory] [--describe]
              test-driver [--topology windowed-count|stateless] [--records 100000] [--keys 1000]
                  [--warmup 3] [--iterations 10] [--store rocksdb|in-memory]
              produce --bootstrap HOST:PORT --topic TOPIC --records N [--keys 10000] [--value-bytes 100]
                  [--partitions 4] [--timestamp-start 1700000000000] [--key-digits 5] [--compact]
                  [--retention-ms -1]   (--records 0 only creates the topic)
              digest-check   (the output digest against benches/src/digest.rs's pinned value)
            """;

    public static void main(String[] args) throws Exception {
        long jvmStart = StreamsRun.jvmStartMillis();
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            System.out.print(USAGE);
            System.exit(args.length == 0 ? 2 : 0);
        }
        String caseName = args[0];
        int code;
        try {
            code = switch (caseName) {
                case "stateless", "windowed-count", "windowed-count-eos", "stream-table-join", "restore" ->
                        StreamsRun.run(caseName, new Options(args, 1, STREAMS_OPTIONS, Set.of("describe")), jvmStart);
                case "test-driver" -> TestDriverRun.run(new Options(args, 1, DRIVER_OPTIONS, Set.of()));
                case "produce" -> Produce.run(new Options(args, 1, PRODUCE_OPTIONS, Set.of("compact")));
                case "digest-check" -> {
                    new Options(args, 1, Set.of(), Set.of());
                    yield Digest.check();
                }
                default -> throw new Options.UsageException("unknown case: " + caseName);
            };
        } catch (Options.UsageException e) {
            System.err.println("kstreams-bench: " + e.getMessage());
            System.err.print(USAGE);
            code = 2;
        }
        if (code >= 0) {
            System.exit(code);
        }
        // code < 0: a SIGTERM is already shutting the JVM down; return and let it finish.
    }
}
