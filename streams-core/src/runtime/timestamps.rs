//! Event time: which timestamp a record gets when it enters a task, and what happens to a record
//! without a valid one.
//!
//! The default, [`RecordTimestamp`], takes the timestamp Kafka stored with the record (the
//! producer's create time, or the broker's log-append time). An application whose events carry
//! their own time sets a [`TimestampExtractor`] in its
//! [`StreamsConfig`](crate::StreamsConfig::with_timestamp_extractor), e.g. one made by
//! [`timestamp_from_value`]. A timestamp is invalid when it is missing or negative; the
//! [`InvalidTimestampPolicy`] decides (Kafka Streams' `FailOnInvalidTimestamp`,
//! `LogAndSkipOnInvalidTimestamp` and `UsePartitionTimeOnInvalidTimestamp`).
//!
//! The test driver takes the timestamps records are piped with and applies no extractor.

use std::fmt;
use std::sync::Arc;

use super::RawRecord;
use crate::serde::SharedSerde;

/// Gives a record its event time (ms since the epoch). Runs on the stream thread for every record,
/// before the record is queued for its task: it must be quick.
pub trait TimestampExtractor: Send + Sync {
    /// The event time of `record`, read from `topic`; `partition_time` is the largest valid
    /// timestamp seen on its partition so far (`None` before the first). `None` or a negative
    /// value is an invalid timestamp, handled by the [`InvalidTimestampPolicy`].
    fn extract(&self, topic: &str, record: &RawRecord, partition_time: Option<i64>) -> Option<i64>;
}

/// The record's own timestamp, as Kafka stored it (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordTimestamp;

impl TimestampExtractor for RecordTimestamp {
    fn extract(&self, _topic: &str, record: &RawRecord, _partition_time: Option<i64>) -> Option<i64> {
        record.timestamp
    }
}

impl<F> TimestampExtractor for F
where
    F: Fn(&str, &RawRecord, Option<i64>) -> Option<i64> + Send + Sync,
{
    fn extract(&self, topic: &str, record: &RawRecord, partition_time: Option<i64>) -> Option<i64> {
        self(topic, record, partition_time)
    }
}

/// An extractor reading event time from the value: the value is deserialized with `serde` and
/// `time` picks the timestamp. A value that does not deserialize has an invalid timestamp (the
/// record's deserialization error, if any, is reported again when the task reads it).
///
/// ```
/// use std::sync::Arc;
/// use streams_core::runtime::timestamp_from_value;
/// use streams_core::serde::DefaultSerde;
/// use streams_core::StreamsConfig;
///
/// #[derive(serde::Serialize, serde::Deserialize, Clone)]
/// struct Reading { sensor: String, measured_at_ms: i64 }
/// streams_core::json_serde!(Reading);
///
/// let config = StreamsConfig::new("sensors", "127.0.0.1:9092")
///     .with_timestamp_extractor(timestamp_from_value(Reading::default_serde(), |r: &Reading| r.measured_at_ms));
/// ```
pub fn timestamp_from_value<V: 'static>(
    serde: SharedSerde<V>,
    time: impl Fn(&V) -> i64 + Send + Sync + 'static,
) -> Arc<dyn TimestampExtractor> {
    Arc::new(move |topic: &str, record: &RawRecord, _: Option<i64>| {
        serde
            .deserialize(topic, record.value.as_deref())
            .ok()
            .map(|value| time(&value))
    })
}

/// What happens to a record whose timestamp is missing or negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidTimestampPolicy {
    /// Stop the application with an error naming the record (Kafka Streams' default).
    #[default]
    Fail,
    /// Skip the record (its offset is still committed) and count it in
    /// [`StreamsStats::skipped`](super::StreamsStats::skipped).
    SkipAndCount,
    /// Use the partition's time (the largest valid timestamp seen on it); fail when there is none
    /// yet.
    UsePartitionTime,
}

impl fmt::Display for InvalidTimestampPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidTimestampPolicy::Fail => "fail",
            InvalidTimestampPolicy::SkipAndCount => "skip and count",
            InvalidTimestampPolicy::UsePartitionTime => "use partition time",
        })
    }
}

/// What to do with a record, after extraction and the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamped {
    /// Process it with this timestamp.
    At(i64),
    /// Skip it.
    Skip,
}

/// Applies the extractor and the policy; `Err` carries the reason for [`InvalidTimestampPolicy::Fail`].
pub(crate) fn stamp(
    extractor: &dyn TimestampExtractor,
    policy: InvalidTimestampPolicy,
    topic: &str,
    record: &RawRecord,
    partition_time: Option<i64>,
) -> Result<Stamped, String> {
    match extractor.extract(topic, record, partition_time) {
        Some(timestamp) if timestamp >= 0 => Ok(Stamped::At(timestamp)),
        invalid => {
            let found = invalid.map_or("no timestamp".to_string(), |t| format!("timestamp {t}"));
            match (policy, partition_time) {
                (InvalidTimestampPolicy::SkipAndCount, _) => Ok(Stamped::Skip),
                (InvalidTimestampPolicy::UsePartitionTime, Some(time)) => Ok(Stamped::At(time)),
                (InvalidTimestampPolicy::UsePartitionTime, None) => Err(format!(
                    "invalid {found}, and no partition time yet to use instead (policy: use partition time)"
                )),
                (InvalidTimestampPolicy::Fail, _) => Err(format!(
                    "invalid {found} (policy: fail; a timestamp extractor or another policy can handle it)"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::{DefaultSerde, I64Serde, Serde};

    fn at(timestamp: Option<i64>) -> RawRecord {
        RawRecord {
            timestamp,
            ..RawRecord::default()
        }
    }

    #[test]
    fn a_valid_timestamp_is_kept_under_every_policy() {
        for policy in [
            InvalidTimestampPolicy::Fail,
            InvalidTimestampPolicy::SkipAndCount,
            InvalidTimestampPolicy::UsePartitionTime,
        ] {
            assert_eq!(
                stamp(&RecordTimestamp, policy, "t", &at(Some(5)), None),
                Ok(Stamped::At(5))
            );
            assert_eq!(
                stamp(&RecordTimestamp, policy, "t", &at(Some(0)), Some(9)),
                Ok(Stamped::At(0))
            );
        }
    }

    #[test]
    fn invalid_timestamps_follow_the_policy() {
        let fail = stamp(
            &RecordTimestamp,
            InvalidTimestampPolicy::Fail,
            "t",
            &at(Some(-1)),
            Some(3),
        );
        assert!(fail.unwrap_err().contains("timestamp -1"));
        let skip = stamp(
            &RecordTimestamp,
            InvalidTimestampPolicy::SkipAndCount,
            "t",
            &at(None),
            None,
        );
        assert_eq!(skip, Ok(Stamped::Skip));
        let partition = InvalidTimestampPolicy::UsePartitionTime;
        assert_eq!(
            stamp(&RecordTimestamp, partition, "t", &at(None), Some(7)),
            Ok(Stamped::At(7))
        );
        assert!(stamp(&RecordTimestamp, partition, "t", &at(None), None).is_err());
    }

    #[test]
    fn event_time_can_come_from_the_value() {
        let extractor = timestamp_from_value(i64::default_serde(), |v: &i64| v * 1_000);
        let mut record = at(Some(1));
        record.value = I64Serde.serialize("t", &42).unwrap();
        assert_eq!(extractor.extract("t", &record, None), Some(42_000));
        record.value = Some(b"bad".to_vec());
        assert_eq!(
            extractor.extract("t", &record, None),
            None,
            "an undecodable value has no time"
        );
    }
}
