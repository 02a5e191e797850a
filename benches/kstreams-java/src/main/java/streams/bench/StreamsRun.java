package streams.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.CloseOptions.GroupMembershipOperation;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * Runs one case against a broker: builds the topology, starts KafkaStreams, waits until the probe
 * has counted {@code --expected} input records (or, for {@code restore}, until the instance is
 * RUNNING with every store restored), or SIGTERM, or {@code --timeout-s}; then closes the instance
 * (which flushes the caches and commits: under exactly-once it commits the open transaction; and
 * leaves the consumer group) and prints one JSON line.
 */
final class StreamsRun {
    private StreamsRun() {}

    static int run(String caseName, Options options, long jvmStartMillis) throws Exception {
        String bootstrap = options.required("bootstrap");
        String applicationId = options.required("application-id");
        String input = options.required("input");
        boolean restore = caseName.equals("restore");
        boolean windowed = caseName.startsWith("windowed-count");
        // The Rust windowed-count bench has no sink: --output is optional there.
        String output = restore ? null : windowed ? options.get("output", null) : options.required("output");
        String guarantee = options.get("guarantee", Config.AT_LEAST_ONCE);
        if (caseName.equals("windowed-count-eos")) {
            if (options.has("guarantee") && !guarantee.equals(Config.EXACTLY_ONCE_V2)) {
                throw new Options.UsageException("windowed-count-eos always runs exactly_once_v2");
            }
            guarantee = Config.EXACTLY_ONCE_V2;
        }
        long expected = options.getLong("expected", 0);
        long timeoutMillis = options.getLong("timeout-s", 600) * 1000;

        Probe probe = new Probe(restore ? 0 : expected);
        Topology topology = switch (caseName) {
            case "stateless" -> Topologies.stateless(input, output, probe);
            case "windowed-count", "windowed-count-eos" -> Topologies.windowedCount(input, output, probe);
            case "stream-table-join" -> Topologies.streamTableJoin(input, options.required("table"), output, probe);
            case "restore" -> Topologies.restore(input);
            default -> throw new Options.UsageException("unknown case " + caseName);
        };
        if (options.flag("describe")) {
            System.err.println(topology.describe());
        }

        Path stateDir = options.has("state-dir") ? Path.of(options.get("state-dir", null)) : Config.tempStateDir();
        boolean tempStateDir = !options.has("state-dir");
        Properties props = Config.streams(options, applicationId, bootstrap, guarantee, stateDir);
        long commitIntervalMs = Config.effectiveLong(props, StreamsConfig.COMMIT_INTERVAL_MS_CONFIG);
        long cacheBytes = Config.effectiveLong(props, StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG);

        KafkaStreams streams = new KafkaStreams(topology, props);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong runningMillis = new AtomicLong();
        CountDownLatch running = new CountDownLatch(1);
        RestoreTiming restoreTiming = new RestoreTiming();
        if (restore) {
            streams.setGlobalStateRestoreListener(restoreTiming);
        }
        streams.setUncaughtExceptionHandler(error -> {
            failure.compareAndSet(null, error);
            probe.stop();
            running.countDown();
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING) {
                runningMillis.compareAndSet(0, System.currentTimeMillis());
                running.countDown();
            } else if (now == KafkaStreams.State.ERROR) {
                probe.stop();
                running.countDown();
            }
        });

        // SIGTERM (or Ctrl-C): stop waiting, close, print, and only then let the JVM exit.
        AtomicBoolean signalled = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            signalled.set(true);
            probe.stop();
            running.countDown();
            try {
                finished.await(150, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "kstreams-bench-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        streams.start();
        boolean inTime;
        if (restore) {
            inTime = running.await(timeoutMillis, TimeUnit.MILLISECONDS);
            // RUNNING comes once every active task is restored; wait out any listener still open.
            long deadline = System.currentTimeMillis() + 10_000;
            while (inTime && restoreTiming.open() > 0 && System.currentTimeMillis() < deadline
                    && !signalled.get() && failure.get() == null) {
                Thread.sleep(5);
            }
        } else {
            inTime = probe.await(timeoutMillis);
        }
        long closeStart = System.nanoTime();
        // Leave the group on close, so a later run with the same application id (restore, reruns)
        // does not wait out the previous member's session timeout (45 s) before its assignment.
        boolean closed = streams.close(CloseOptions.groupMembershipOperation(GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(120)));
        double closeMs = (System.nanoTime() - closeStart) / 1e6;
        if (tempStateDir) {
            Config.deleteRecursively(stateDir);
        }

        Json json = new Json()
                .put("case", caseName)
                .put("system", "kafka-streams")
                .put("kafka_streams", AppInfoParser.getVersion())
                .put("guarantee", guarantee)
                .put("threads", Integer.parseInt(props.get(StreamsConfig.NUM_STREAM_THREADS_CONFIG).toString()))
                .put("commit_interval_ms", commitIntervalMs)
                .put("cache_bytes", cacheBytes)
                .put("store", options.get("store", "rocksdb"));
        if (restore) {
            Double restoreMs = restoreTiming.millis();
            json.put("restored", restoreTiming.restored())
                    .put("expected", expected > 0 ? expected : null)
                    .put("restore_partitions", restoreTiming.partitions())
                    .put("restore_ms", restoreMs)
                    .put("restore_records_per_s",
                            restoreMs == null || restoreMs <= 0 ? null : restoreTiming.restored() / (restoreMs / 1000))
                    .put("running_ms", runningMillis.get() == 0 ? null : runningMillis.get() - jvmStartMillis);
        } else {
            json.put("records", probe.inputs())
                    .put("expected", expected > 0 ? expected : null)
                    .put("seconds", probe.seconds())
                    .put("records_per_s", probe.recordsPerSecond())
                    .put("outputs", output == null ? null : probe.outputs())
                    .put("first_record_ms", probe.firstInputMs(jvmStartMillis))
                    .put("first_record_epoch_ms", probe.firstInputEpochMs())
                    .put("first_output_ms", probe.firstOutputMs(jvmStartMillis))
                    .put("running_ms", runningMillis.get() == 0 ? null : runningMillis.get() - jvmStartMillis);
        }
        boolean complete = restore
                ? inTime && (expected <= 0 || restoreTiming.restored() >= expected)
                : probe.reachedExpected();
        String stop = failure.get() != null ? "error"
                : signalled.get() ? "signal"
                : complete ? "done"
                : "timeout";
        json.put("close_ms", closeMs)
                .put("closed_cleanly", closed)
                .put("total_ms", System.currentTimeMillis() - jvmStartMillis)
                .put("stop", stop);
        if (failure.get() != null) {
            json.put("error", failure.get().toString());
        }
        System.out.println(json);
        System.out.flush();
        finished.countDown();
        if (signalled.get()) {
            return -1; // the JVM is already exiting
        }
        Runtime.getRuntime().removeShutdownHook(hook);
        return stop.equals("done") || (expected <= 0 && !restore && stop.equals("signal")) ? 0 : 1;
    }

    /** JVM start in epoch milliseconds. */
    static long jvmStartMillis() {
        return ManagementFactory.getRuntimeMXBean().getStartTime();
    }

    /** From the first onRestoreStart to the last onRestoreEnd, summed over all restored partitions. */
    static final class RestoreTiming implements StateRestoreListener {
        private final AtomicInteger open = new AtomicInteger();
        private final AtomicInteger partitions = new AtomicInteger();
        private final AtomicLong restored = new AtomicLong();
        private volatile long startNanos;
        private volatile long endNanos;

        @Override
        public synchronized void onRestoreStart(TopicPartition partition, String store, long startOffset,
                long endOffset) {
            if (startNanos == 0) {
                startNanos = System.nanoTime();
            }
            open.incrementAndGet();
            partitions.incrementAndGet();
        }

        @Override
        public void onBatchRestored(TopicPartition partition, String store, long batchEndOffset, long numRestored) {
        }

        @Override
        public synchronized void onRestoreEnd(TopicPartition partition, String store, long totalRestored) {
            restored.addAndGet(totalRestored);
            endNanos = System.nanoTime();
            open.decrementAndGet();
        }

        int open() {
            return open.get();
        }

        int partitions() {
            return partitions.get();
        }

        long restored() {
            return restored.get();
        }

        Double millis() {
            return startNanos == 0 || endNanos == 0 ? null : (endNanos - startNanos) / 1e6;
        }
    }
}
