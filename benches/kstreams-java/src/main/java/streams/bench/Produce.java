package streams.bench;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Fills a topic the way runtime_throughput.rs does: record i has key {@code key-<i % keys>} (zero-padded
 * to {@code --key-digits}, 5 by default), a value of {@code --value-bytes} 'x' characters, and timestamp
 * {@code --timestamp-start + i} (1,700,000,000,000 by default). Creates the topic with
 * {@code --partitions} partitions if it does not exist (and fails if it exists with another count).
 * New topics get {@code retention.ms=-1} (see below) and {@code cleanup.policy=delete}, or
 * {@code compact} with {@code --compact}. {@code --records 0} only creates the topic.
 * The Java client's default partitioner places keys (murmur2), as Kafka Streams expects.
 */
final class Produce {
    private Produce() {}

    static int run(Options options) throws Exception {
        String bootstrap = options.required("bootstrap");
        String topic = options.required("topic");
        long records = options.getLong("records", 0);
        long keys = options.getLong("keys", 10_000);
        int valueBytes = (int) options.getLong("value-bytes", 100);
        int partitions = (int) options.getLong("partitions", 4);
        short replication = (short) options.getLong("replication-factor", 1);
        long timestampStart = options.getLong("timestamp-start", 1_700_000_000_000L);
        int digits = (int) Math.max(options.getLong("key-digits", 5), String.valueOf(Math.max(keys - 1, 0)).length());
        if (keys <= 0 || valueBytes < 0 || partitions <= 0) {
            throw new Options.UsageException("--keys and --partitions must be positive, --value-bytes not negative");
        }

        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminProps)) {
            // The records carry 2023 timestamps: with the broker's default retention (7 days, checked
            // every 5 minutes against record timestamps) they would be deleted under a running benchmark.
            NewTopic newTopic = new NewTopic(topic, partitions, replication).configs(Map.of(
                    "retention.ms", options.get("retention-ms", "-1"),
                    "cleanup.policy", options.flag("compact") ? "compact" : "delete"));
            try {
                admin.createTopics(List.of(newTopic)).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
                TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                String retention = admin.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, topic)))
                        .all().get().values().iterator().next().get("retention.ms").value();
                if (!retention.equals("-1")) {
                    System.err.println("kstreams-bench: warning: topic " + topic + " exists with retention.ms="
                            + retention + ": its old-timestamped records may be deleted by the broker");
                }
                if (description.partitions().size() != partitions) {
                    throw new IllegalStateException("topic " + topic + " exists with " + description.partitions().size()
                            + " partitions, not " + partitions);
                }
            }
        }

        String[] keyStrings = new String[(int) Math.min(keys, records == 0 ? 1 : records)];
        String format = "key-%0" + digits + "d";
        for (int k = 0; k < keyStrings.length; k++) {
            keyStrings[k] = String.format(format, k);
        }
        String value = "x".repeat(valueBytes);
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, 10);
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, 65536);
        AtomicLong failed = new AtomicLong();
        AtomicReference<Exception> firstError = new AtomicReference<>();
        long start = System.nanoTime();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            for (long i = 0; i < records; i++) {
                String key = keyStrings[(int) (i % keys)];
                producer.send(new ProducerRecord<>(topic, null, timestampStart + i, key, value), (metadata, error) -> {
                    if (error != null) {
                        failed.incrementAndGet();
                        firstError.compareAndSet(null, error);
                    }
                });
            }
            producer.flush();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Json json = new Json()
                .put("case", "produce")
                .put("topic", topic)
                .put("partitions", partitions)
                .put("records", records)
                .put("keys", keys)
                .put("value_bytes", valueBytes)
                .put("seconds", seconds)
                .put("records_per_s", records == 0 ? null : records / seconds)
                .put("failed", failed.get());
        if (firstError.get() != null) {
            json.put("error", firstError.get().toString());
        }
        System.out.println(json);
        return failed.get() == 0 ? 0 : 1;
    }
}
