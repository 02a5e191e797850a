//! The librdkafka settings our clients start from, measured on this project's machines
//! (`shared/notes/rdkafka-throughput.md`), with the user's pass-through settings over them.

use rdkafka::ClientConfig;
use tracing::warn;

use crate::config::StreamsConfig;

/// Settings of the consumer that reads an application's input topics (besides the brokers, the
/// group id = application id, and the client id).
///
/// - Offsets are committed by us, never automatically, and only for records whose outputs have
///   been acknowledged (`enable.auto.commit=false`, `enable.auto.offset.store=false`).
/// - A new group starts from the earliest offset, as Kafka Streams does.
/// - `fetch.queue.backoff.ms=10`: librdkafka's default (1000 ms) pauses fetching for a second
///   each time the prefetch queue fills, capping throughput at a quarter of what the broker gives.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("partition.assignment.strategy", "cooperative-sticky"),
    ("fetch.queue.backoff.ms", "10"),
    ("max.partition.fetch.bytes", "4194304"),
];

/// Settings of the producer that writes an application's output topics (besides the brokers and
/// the client id).
///
/// - Idempotent with `acks=all`: retries never reorder or duplicate records within a partition.
/// - Java's key partitioner (`murmur2_random`), so keys land where a Java producer puts them and
///   topics stay co-partitioned with those written by Kafka Streams apps.
/// - Large batches with a short linger (5 ms, Kafka's own default since 4.0): under load batches
///   fill before the linger ends, so 5 and 20 ms give the same throughput here, and at a moderate
///   load 5 ms halved the median end-to-end latency of a stateless topology (`scripts/bench`).
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("partitioner", "murmur2_random"),
    ("linger.ms", "5"),
    ("batch.size", "1000000"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "1000000"),
    ("compression.type", "none"),
];

/// Consumer settings the delivery guarantee rests on: the user cannot override them (as in Kafka
/// Streams, which also forces the group id and disables auto-commit). An override is ignored with
/// a warning.
const CONSUMER_FIXED: &[&str] = &["group.id", "enable.auto.commit", "enable.auto.offset.store"];

/// The consumer's settings: [`CONSUMER_DEFAULTS`], then the user's pass-through settings, except
/// those in [`CONSUMER_FIXED`].
pub(crate) fn consumer_config(config: &StreamsConfig) -> ClientConfig {
    let mut client = client_config(config, "consumer", CONSUMER_DEFAULTS, config.consumer_overrides());
    for &key in CONSUMER_FIXED {
        if config.consumer_overrides().any(|(k, _)| k == key) {
            warn!(
                setting = key,
                "ignoring the consumer override of a setting the runtime controls"
            );
        }
    }
    client
        .set("group.id", config.application_id())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    client
}

/// The producer's settings: [`PRODUCER_DEFAULTS`], then the user's pass-through settings.
/// The admin and metadata clients' settings: the shared pass-through settings only.
pub(crate) fn admin_config(config: &StreamsConfig) -> ClientConfig {
    client_config(config, "admin", &[], config.admin_overrides())
}

pub(crate) fn producer_config(config: &StreamsConfig) -> ClientConfig {
    client_config(config, "producer", PRODUCER_DEFAULTS, config.producer_overrides())
}

fn client_config<'a>(
    config: &StreamsConfig,
    role: &str,
    defaults: &[(&str, &str)],
    overrides: impl Iterator<Item = (&'a str, &'a str)>,
) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", config.bootstrap_servers())
        .set("client.id", format!("{}-{role}", config.application_id()));
    for &(key, value) in defaults.iter() {
        client.set(key, value);
    }
    for (key, value) in overrides {
        client.set(key, value);
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_settings_override_ours() {
        let config = StreamsConfig::new("app", "127.0.0.1:9092")
            .with_consumer_config("auto.offset.reset", "latest")
            .with_producer_config("linger.ms", "50");
        assert_eq!(consumer_config(&config).get("auto.offset.reset"), Some("latest"));
        assert_eq!(consumer_config(&config).get("group.id"), Some("app"));
        assert_eq!(producer_config(&config).get("linger.ms"), Some("50"));
        assert_eq!(producer_config(&config).get("enable.idempotence"), Some("true"));
    }

    #[test]
    fn the_guarantee_s_settings_cannot_be_overridden() {
        let config = StreamsConfig::new("app", "127.0.0.1:9092")
            .with_client_config("enable.auto.commit", "true")
            .with_consumer_config("group.id", "other")
            .with_consumer_config("enable.auto.offset.store", "true");
        let consumer = consumer_config(&config);
        assert_eq!(consumer.get("group.id"), Some("app"));
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
    }
}
