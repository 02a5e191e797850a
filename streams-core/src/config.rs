//! The typed settings of a streams application.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// The settings of one streams application: its identity, where Kafka is, how often progress is
/// committed, and the librdkafka settings passed through to its clients.
///
/// Our own options are typed; only librdkafka's settings are strings, passed through unchecked by
/// us and checked by librdkafka when a client is created.
///
/// ```
/// use std::time::Duration;
/// use streams_core::StreamsConfig;
///
/// let config = StreamsConfig::new("fraud-detector", "127.0.0.1:9092")
///     .with_commit_interval(Duration::from_secs(5))
///     .with_consumer_config("fetch.min.bytes", "1");
/// assert_eq!(config.application_id(), "fraud-detector");
/// assert_eq!(config.commit_interval(), Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct StreamsConfig {
    application_id: String,
    bootstrap_servers: String,
    commit_interval: Duration,
    client_config: BTreeMap<String, String>,
    consumer_config: BTreeMap<String, String>,
    producer_config: BTreeMap<String, String>,
}

impl StreamsConfig {
    /// Kafka Streams' commit interval under at-least-once: 30 seconds.
    pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(30);

    /// Settings for the application `application_id` (also its consumer group id and the prefix of
    /// its internal topics) against the brokers in `bootstrap_servers` (`host:port[,host:port…]`),
    /// with the defaults of Kafka Streams under at-least-once.
    pub fn new(application_id: impl Into<String>, bootstrap_servers: impl Into<String>) -> Self {
        StreamsConfig {
            application_id: application_id.into(),
            bootstrap_servers: bootstrap_servers.into(),
            commit_interval: Self::DEFAULT_COMMIT_INTERVAL,
            client_config: BTreeMap::new(),
            consumer_config: BTreeMap::new(),
            producer_config: BTreeMap::new(),
        }
    }

    /// Settings for a [`TopologyTestDriver`](crate::testing::TopologyTestDriver) run: the
    /// application id (which prefixes internal topic names) and a placeholder broker address,
    /// which the driver never contacts.
    pub fn for_tests(application_id: impl Into<String>) -> Self {
        StreamsConfig::new(application_id, "test-driver.invalid:9092")
    }

    /// How often processed input offsets are committed (after the outputs they produced have been
    /// acknowledged). A crash replays at most this much work. Default 30 s.
    pub fn with_commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// A librdkafka setting for every client the application creates (consumer and producer),
    /// e.g. `security.protocol`. It overrides our defaults.
    pub fn with_client_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.client_config.insert(key.into(), value.into());
        self
    }

    /// A librdkafka setting for the consumer only; it overrides [`with_client_config`](Self::with_client_config).
    pub fn with_consumer_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.consumer_config.insert(key.into(), value.into());
        self
    }

    /// A librdkafka setting for the producer only; it overrides [`with_client_config`](Self::with_client_config).
    pub fn with_producer_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.producer_config.insert(key.into(), value.into());
        self
    }

    /// The application id: consumer group id and prefix of internal topic names.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// The bootstrap brokers, `host:port[,host:port…]`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The commit interval.
    pub fn commit_interval(&self) -> Duration {
        self.commit_interval
    }

    /// The pass-through librdkafka settings of the consumer: the shared ones, then the
    /// consumer-only ones over them.
    pub fn consumer_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        merged(&self.client_config, &self.consumer_config)
    }

    /// The pass-through librdkafka settings of the producer: the shared ones, then the
    /// producer-only ones over them.
    pub fn producer_overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        merged(&self.client_config, &self.producer_config)
    }

    /// Checks the settings that do not depend on a broker: the application id must be a legal
    /// Kafka topic-name prefix (Kafka Streams' rule: ASCII letters, digits, `.`, `_`, `-`), the
    /// bootstrap list must not be empty, and the commit interval must be positive.
    pub fn validate(&self) -> Result<()> {
        let id = &self.application_id;
        if id.is_empty() {
            return Err(Error::Config("application id is empty".into()));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Error::Config(format!(
                "application id {id:?} contains {bad:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
            )));
        }
        if self.bootstrap_servers.trim().is_empty() {
            return Err(Error::Config("bootstrap servers are empty".into()));
        }
        if self.commit_interval.is_zero() {
            return Err(Error::Config("commit interval must be greater than zero".into()));
        }
        Ok(())
    }
}

fn merged<'a>(
    shared: &'a BTreeMap<String, String>,
    specific: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    shared
        .iter()
        .filter(|(k, _)| !specific.contains_key(*k))
        .chain(specific.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Values of pass-through settings whose names suggest secrets are redacted.
impl fmt::Debug for StreamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        let secret = ["password", "secret", "token", "key"]
                            .iter()
                            .any(|word| k.contains(word));
                        (k, if secret { "<redacted>" } else { v.as_str() })
                    }))
                    .finish()
            }
        }
        f.debug_struct("StreamsConfig")
            .field("application_id", &self.application_id)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("commit_interval", &self.commit_interval)
            .field("client_config", &Redacted(&self.client_config))
            .field("consumer_config", &Redacted(&self.consumer_config))
            .field("producer_config", &Redacted(&self.producer_config))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_settings_override_shared_ones() {
        let config = StreamsConfig::new("app", "localhost:9092")
            .with_client_config("client.rack", "a")
            .with_client_config("socket.timeout.ms", "1000")
            .with_consumer_config("socket.timeout.ms", "2000");
        let consumer: BTreeMap<_, _> = config.consumer_overrides().collect();
        let producer: BTreeMap<_, _> = config.producer_overrides().collect();
        assert_eq!(consumer.get("socket.timeout.ms"), Some(&"2000"));
        assert_eq!(consumer.get("client.rack"), Some(&"a"));
        assert_eq!(producer.get("socket.timeout.ms"), Some(&"1000"));
    }

    #[test]
    fn application_id_must_be_a_legal_topic_prefix() {
        assert!(StreamsConfig::new("fraud-detector_v1.2", "b:1").validate().is_ok());
        let err = StreamsConfig::new("fraud detector", "b:1").validate().unwrap_err();
        assert!(err.to_string().contains("' '"), "{err}");
        assert!(StreamsConfig::new("", "b:1").validate().is_err());
        assert!(StreamsConfig::new("app", " ").validate().is_err());
        let zero = StreamsConfig::new("app", "b:1").with_commit_interval(Duration::ZERO);
        assert!(zero.validate().is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = StreamsConfig::new("app", "b:1").with_client_config("sasl.password", "hunter2");
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
