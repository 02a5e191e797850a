//! What happens to a record that cannot be processed: the handlers, and the dead-letter topic.
//!
//! Three kinds of failure are handled per record, each by its own setting in
//! [`StreamsConfig`](crate::StreamsConfig):
//!
//! | failure | setting | choices | default |
//! |---|---|---|---|
//! | the key or value bytes do not deserialize | `with_deserialization_error_handler` | [`RecordErrorHandler`] | `Fail` |
//! | a processor returns an error or panics | `with_processing_error_handler` | [`RecordErrorHandler`] | `Fail` |
//! | the producer refuses an output record | `with_production_error_handler` | [`ProductionErrorHandler`] | `Fail` |
//!
//! A dead-lettered record keeps its original key, value, timestamp and headers, and gains the
//! `__streams.errors.*` headers listed below (values are UTF-8 text). Under exactly-once the
//! dead-letter write is part of the same transaction as the task's other outputs, so it is seen
//! exactly once too.

use std::fmt;

use crate::runtime::RawRecord;

/// Header: the topic the failed record was read from.
pub const HEADER_TOPIC: &str = "__streams.errors.topic";
/// Header: its partition (decimal).
pub const HEADER_PARTITION: &str = "__streams.errors.partition";
/// Header: its offset (decimal).
pub const HEADER_OFFSET: &str = "__streams.errors.offset";
/// Header: its timestamp, milliseconds since the epoch (decimal); absent when it had none.
pub const HEADER_TIMESTAMP: &str = "__streams.errors.timestamp";
/// Header: the [`ErrorKind`], as `deserialization`, `processing` or `panic`.
pub const HEADER_KIND: &str = "__streams.errors.kind";
/// Header: the error message (for a panic, the panic's message).
pub const HEADER_MESSAGE: &str = "__streams.errors.message";
/// Header: the processor node the error happened in, e.g. `KSTREAM-MAPVALUES-0000000001`.
pub const HEADER_PROCESSOR: &str = "__streams.errors.processor";
/// Header: the application id of the application that dead-lettered the record.
pub const HEADER_APPLICATION_ID: &str = "__streams.errors.application.id";

/// What to do with an input record whose processing failed (its bytes did not deserialize, or a
/// processor returned an error or panicked).
///
/// Whatever is chosen, the failure is logged with the record's topic, partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordErrorHandler {
    /// Stop the application with an [`Error::Record`](crate::Error::Record) naming the record and
    /// the cause. No offset at or past the record is committed, so a restart (after a fix) reads
    /// it again. Default.
    #[default]
    Fail,
    /// Skip the record and go on; it counts in `streams_skipped_records_total` and in
    /// [`StreamsStats::skipped`](crate::runtime::StreamsStats::skipped). Kafka Streams'
    /// `LogAndContinueExceptionHandler`.
    LogAndContinue,
    /// Write the record to the dead-letter topic (by default `<application.id>-dlq`, see
    /// [`StreamsConfig::with_dead_letter_topic`](crate::StreamsConfig::with_dead_letter_topic)) with
    /// headers saying where it came from and why it failed, then go on; it counts in
    /// `streams_dead_lettered_records_total` and in
    /// [`StreamsStats::dead_lettered`](crate::runtime::StreamsStats::dead_lettered). If the
    /// dead-letter write itself fails, the application stops: nothing is dropped silently.
    DeadLetter,
}

/// What to do when the producer refuses an output record for a reason that concerns that record
/// (larger than `message.max.bytes`, an invalid record, no authorization for its topic).
/// Other producer failures (brokers away, a fenced producer) are retried or recovered from, never
/// skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProductionErrorHandler {
    /// Stop the application with [`Error::Delivery`](crate::Error::Delivery); the input offsets of
    /// the record are not committed. Default.
    #[default]
    Fail,
    /// Drop the output record, log it and count it in `streams_skipped_records_total` and
    /// [`StreamsStats::skipped`](crate::runtime::StreamsStats::skipped); processing goes on.
    ///
    /// This applies to records the producer refuses when they are sent, one by one (its
    /// `message.max.bytes` check, 1,000,000 bytes by default). A refusal by the broker (a topic's
    /// smaller `max.message.bytes`, a missing authorization) arrives later for a whole batch of
    /// records, good ones included, so it is never skipped: it stops the application as `Fail`
    /// does. Keep the producer's `message.max.bytes` at most the topics' `max.message.bytes` to
    /// have oversized records skipped one by one.
    Skip,
}

/// What kind of failure a record met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Its key or value bytes did not deserialize.
    Deserialization,
    /// A processor returned an error.
    Processing,
    /// A processor panicked.
    Panic,
}

impl ErrorKind {
    /// The name written in the [`HEADER_KIND`] header.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Deserialization => "deserialization",
            ErrorKind::Processing => "processing",
            ErrorKind::Panic => "panic",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The handlers a task applies to its records' failures, resolved from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPolicy {
    pub(crate) deserialization: RecordErrorHandler,
    pub(crate) processing: RecordErrorHandler,
    /// The resolved dead-letter topic.
    pub(crate) dead_letter_topic: String,
}

impl ErrorPolicy {
    /// The policy of `config`.
    pub(crate) fn of(config: &crate::StreamsConfig) -> Self {
        ErrorPolicy {
            deserialization: config.deserialization_error_handler(),
            processing: config.processing_error_handler(),
            dead_letter_topic: config.dead_letter_topic(),
        }
    }

    /// The handler for failures of `kind`.
    pub(crate) fn handler(&self, kind: ErrorKind) -> RecordErrorHandler {
        match kind {
            ErrorKind::Deserialization => self.deserialization,
            ErrorKind::Processing | ErrorKind::Panic => self.processing,
        }
    }

    /// Whether some failure goes to the dead-letter topic (which must then exist).
    pub(crate) fn uses_dead_letter_topic(&self) -> bool {
        self.deserialization == RecordErrorHandler::DeadLetter || self.processing == RecordErrorHandler::DeadLetter
    }
}

impl Default for ErrorPolicy {
    fn default() -> Self {
        ErrorPolicy {
            deserialization: RecordErrorHandler::Fail,
            processing: RecordErrorHandler::Fail,
            dead_letter_topic: String::new(),
        }
    }
}

/// Where a failed record came from and why it failed.
pub(crate) struct Failure<'a> {
    pub(crate) application_id: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) kind: ErrorKind,
    pub(crate) processor: &'a str,
    pub(crate) message: &'a str,
}

/// The dead-letter record for `record`: its key, value, timestamp and headers, plus the
/// `__streams.errors.*` headers describing `failure`.
pub(crate) fn dead_letter_record(record: RawRecord, failure: &Failure<'_>) -> RawRecord {
    let mut headers = record.headers;
    let mut add = |name: &str, value: String| headers.push((name.to_string(), Some(value.into_bytes())));
    add(HEADER_TOPIC, failure.topic.to_string());
    add(HEADER_PARTITION, failure.partition.to_string());
    add(HEADER_OFFSET, failure.offset.to_string());
    if let Some(timestamp) = record.timestamp {
        add(HEADER_TIMESTAMP, timestamp.to_string());
    }
    add(HEADER_KIND, failure.kind.as_str().to_string());
    add(HEADER_MESSAGE, failure.message.to_string());
    add(HEADER_PROCESSOR, failure.processor.to_string());
    add(HEADER_APPLICATION_ID, failure.application_id.to_string());
    RawRecord {
        key: record.key,
        value: record.value,
        timestamp: record.timestamp,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(record: &'a RawRecord, name: &str) -> Option<&'a str> {
        record
            .headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.as_deref())
            .map(|bytes| std::str::from_utf8(bytes).unwrap())
    }

    #[test]
    fn a_dead_letter_keeps_the_record_and_says_where_it_came_from_and_why() {
        let original = RawRecord {
            key: Some(b"card-7".to_vec()),
            value: Some(vec![0xFF, 0x00]),
            timestamp: Some(1_700_000_000_123),
            headers: vec![("trace".into(), Some(b"abc".to_vec())), ("empty".into(), None)],
        };
        let dead = dead_letter_record(
            original.clone(),
            &Failure {
                application_id: "fraud",
                topic: "transactions",
                partition: 3,
                offset: 42,
                kind: ErrorKind::Deserialization,
                processor: "KSTREAM-SOURCE-0000000000",
                message: "deserializing the value: expected value at line 1 column 1",
            },
        );
        assert_eq!(dead.key, original.key);
        assert_eq!(dead.value, original.value);
        assert_eq!(dead.timestamp, original.timestamp);
        assert_eq!(
            &dead.headers[..2],
            &original.headers[..],
            "original headers first, in order"
        );
        assert_eq!(header(&dead, HEADER_TOPIC), Some("transactions"));
        assert_eq!(header(&dead, HEADER_PARTITION), Some("3"));
        assert_eq!(header(&dead, HEADER_OFFSET), Some("42"));
        assert_eq!(header(&dead, HEADER_TIMESTAMP), Some("1700000000123"));
        assert_eq!(header(&dead, HEADER_KIND), Some("deserialization"));
        assert_eq!(
            header(&dead, HEADER_MESSAGE),
            Some("deserializing the value: expected value at line 1 column 1")
        );
        assert_eq!(header(&dead, HEADER_PROCESSOR), Some("KSTREAM-SOURCE-0000000000"));
        assert_eq!(header(&dead, HEADER_APPLICATION_ID), Some("fraud"));
    }

    #[test]
    fn a_record_without_timestamp_gets_no_timestamp_header() {
        let dead = dead_letter_record(
            RawRecord {
                key: None,
                value: None,
                timestamp: None,
                headers: Vec::new(),
            },
            &Failure {
                application_id: "a",
                topic: "t",
                partition: 0,
                offset: 0,
                kind: ErrorKind::Panic,
                processor: "p",
                message: "m",
            },
        );
        assert_eq!(header(&dead, HEADER_TIMESTAMP), None);
        assert_eq!(header(&dead, HEADER_KIND), Some("panic"));
    }

    #[test]
    fn each_kind_has_its_handler() {
        let policy = ErrorPolicy {
            deserialization: RecordErrorHandler::DeadLetter,
            processing: RecordErrorHandler::LogAndContinue,
            dead_letter_topic: "app-dlq".into(),
        };
        assert_eq!(
            policy.handler(ErrorKind::Deserialization),
            RecordErrorHandler::DeadLetter
        );
        assert_eq!(
            policy.handler(ErrorKind::Processing),
            RecordErrorHandler::LogAndContinue
        );
        assert_eq!(policy.handler(ErrorKind::Panic), RecordErrorHandler::LogAndContinue);
        assert!(policy.uses_dead_letter_topic());
        assert!(!ErrorPolicy::default().uses_dead_letter_topic());
    }
}
