package streams.bench;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts input records (a peek after the source) and output records (a peek before the sink), notes
 * when the first and the {@code expected}-th input record and the first output record were seen,
 * and opens a latch when the expected count is reached or a stop is asked for.
 */
final class Probe {
    private final long expected;
    private final AtomicLong inputs = new AtomicLong();
    private final AtomicLong outputs = new AtomicLong();
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile long firstInputNanos;
    private volatile long firstInputMillis;
    private volatile long expectedInputNanos;
    private volatile long firstOutputMillis;
    private volatile long stopNanos;
    private volatile long stopCount;

    /** {@code expected} ≤ 0: run until {@link #stop()}. */
    Probe(long expected) {
        this.expected = expected;
    }

    void input() {
        long n = inputs.incrementAndGet();
        if (n == 1) {
            firstInputNanos = System.nanoTime();
            firstInputMillis = System.currentTimeMillis();
        }
        if (n == expected) {
            expectedInputNanos = System.nanoTime();
            done.countDown();
        }
    }

    void output() {
        if (outputs.incrementAndGet() == 1) {
            firstOutputMillis = System.currentTimeMillis();
        }
    }

    /** Stops the wait early (signal, error); the rate is then taken up to this moment. */
    synchronized void stop() {
        if (stopNanos == 0 && expectedInputNanos == 0) {
            stopNanos = System.nanoTime();
            stopCount = inputs.get();
        }
        done.countDown();
    }

    /** True when the expected count was reached (or a stop was asked for) within the timeout. */
    boolean await(long timeoutMillis) throws InterruptedException {
        return done.await(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    boolean reachedExpected() {
        return expectedInputNanos != 0;
    }

    long inputs() {
        return inputs.get();
    }

    long outputs() {
        return outputs.get();
    }

    /**
     * Seconds from the first input record to the expected-th; when stopped before (SIGTERM), to the
     * stop; null when no record came.
     */
    Double seconds() {
        if (firstInputNanos == 0) {
            return null;
        }
        if (expectedInputNanos != 0) {
            return (expectedInputNanos - firstInputNanos) / 1e9;
        }
        return stopNanos == 0 ? null : (stopNanos - firstInputNanos) / 1e9;
    }

    /** Records/s over {@link #seconds()}: (expected - 1) / seconds, or (records at the stop - 1) / seconds. */
    Double recordsPerSecond() {
        Double seconds = seconds();
        long counted = expectedInputNanos != 0 ? expected : stopCount;
        return seconds == null || seconds <= 0 || counted < 2 ? null : (counted - 1) / seconds;
    }

    /** Milliseconds from JVM start to the first input record, or null. */
    Long firstInputMs(long jvmStartMillis) {
        return firstInputMillis == 0 ? null : firstInputMillis - jvmStartMillis;
    }

    /** Wall-clock time (ms since the Unix epoch) of the first input record, or null. */
    Long firstInputEpochMs() {
        return firstInputMillis == 0 ? null : firstInputMillis;
    }

    /** Milliseconds from JVM start to the first record handed to the sink, or null. */
    Long firstOutputMs(long jvmStartMillis) {
        return firstOutputMillis == 0 ? null : firstOutputMillis - jvmStartMillis;
    }
}
