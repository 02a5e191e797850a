//! A task's buffered input: one queue per input partition, and the choice of the next record
//! across them by lowest timestamp (Kafka Streams' `PartitionGroup`).
//!
//! Within a partition records keep offset order. Across partitions the head with the smallest
//! timestamp goes first, so a task whose inputs are behind each other in time (a join, a merge)
//! sees them interleaved in event time. When some input partition has nothing buffered, the task
//! may wait up to `max.task.idle` for it (default 0: process what is there), since a record about
//! to arrive there could be earlier than those waiting elsewhere.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::RawRecord;

/// A record waiting for its task, with the timestamp it will be processed at. `record` is `None`
/// for a record skipped for its invalid timestamp: it only moves the committed offset.
pub(crate) struct Queued {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) record: Option<RawRecord>,
}

/// One input partition's buffer and time.
#[derive(Default)]
struct PartitionQueue {
    records: VecDeque<Queued>,
    /// The largest valid timestamp queued on this partition so far.
    time: Option<i64>,
}

/// The queues of one task's input partitions.
#[derive(Default)]
pub(crate) struct RecordQueues {
    partitions: BTreeMap<(String, i32), PartitionQueue>,
    /// Since when an empty partition has held the task back.
    waiting_since: Option<Instant>,
}

impl RecordQueues {
    /// Adds an (empty) input partition.
    pub(crate) fn add_partition(&mut self, topic: &str, partition: i32) {
        self.partitions.entry((topic.to_string(), partition)).or_default();
    }

    /// The partition's time: the largest valid timestamp queued on it so far.
    pub(crate) fn partition_time(&self, topic: &str, partition: i32) -> Option<i64> {
        self.partitions
            .get(&(topic.to_string(), partition))
            .and_then(|q| q.time)
    }

    /// Queues a record; returns how many records its partition now buffers.
    pub(crate) fn push(&mut self, queued: Queued) -> usize {
        let queue = self
            .partitions
            .entry((queued.topic.clone(), queued.partition))
            .or_default();
        if queued.record.is_some() {
            queue.time = Some(queue.time.map_or(queued.timestamp, |t| t.max(queued.timestamp)));
        }
        queue.records.push_back(queued);
        queue.records.len()
    }

    /// Whether no partition buffers a record.
    pub(crate) fn is_empty(&self) -> bool {
        self.partitions.values().all(|q| q.records.is_empty())
    }

    /// How many records `topic`/`partition` buffers.
    pub(crate) fn len(&self, topic: &str, partition: i32) -> usize {
        self.partitions
            .get(&(topic.to_string(), partition))
            .map_or(0, |q| q.records.len())
    }

    /// The next record to process: the head with the lowest timestamp (skipped records first, they
    /// only move offsets). `None` when nothing is buffered, or when a partition is empty and the
    /// task has waited for it less than `max_idle`.
    pub(crate) fn next(&mut self, max_idle: Duration) -> Option<Queued> {
        let any_empty = self.partitions.values().any(|q| q.records.is_empty());
        let chosen = self
            .partitions
            .iter()
            .filter_map(|(key, q)| {
                q.records
                    .front()
                    .map(|head| (head.record.is_some(), head.timestamp, key))
            })
            .min()
            .map(|(_, _, key)| key.clone())?;
        if any_empty && !max_idle.is_zero() {
            let since = *self.waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() < max_idle {
                return None;
            }
        } else {
            self.waiting_since = None;
        }
        self.partitions.get_mut(&chosen).and_then(|q| q.records.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(topic: &str, partition: i32, offset: i64, timestamp: i64) -> Queued {
        Queued {
            topic: topic.to_string(),
            partition,
            offset,
            timestamp,
            record: Some(RawRecord::default()),
        }
    }

    fn drain(queues: &mut RecordQueues) -> Vec<(String, i64)> {
        std::iter::from_fn(|| queues.next(Duration::ZERO))
            .map(|q| (q.topic, q.timestamp))
            .collect()
    }

    #[test]
    fn the_lowest_timestamp_goes_first_and_partitions_keep_their_order() {
        let mut queues = RecordQueues::default();
        for (offset, ts) in [(0, 10), (1, 30), (2, 20)] {
            queues.push(queued("a", 0, offset, ts));
        }
        for (offset, ts) in [(0, 15), (1, 25)] {
            queues.push(queued("b", 0, offset, ts));
        }
        let order: Vec<(String, i64)> = [("a", 10), ("b", 15), ("b", 25), ("a", 30), ("a", 20)]
            .iter()
            .map(|(t, ts)| (t.to_string(), *ts))
            .collect();
        assert_eq!(
            drain(&mut queues),
            order,
            "a's 20 stays behind a's 30: offset order within a partition"
        );
        assert_eq!(queues.partition_time("a", 0), Some(30));
    }

    #[test]
    fn skipped_records_go_first_and_do_not_move_partition_time() {
        let mut queues = RecordQueues::default();
        queues.push(queued("a", 0, 0, 50));
        queues.push(Queued {
            record: None,
            ..queued("b", 0, 0, 0)
        });
        assert_eq!(queues.partition_time("b", 0), None);
        let first = queues.next(Duration::ZERO).unwrap();
        assert!(first.record.is_none());
    }

    #[test]
    fn an_empty_partition_holds_the_task_back_for_at_most_max_idle() {
        let mut queues = RecordQueues::default();
        queues.add_partition("b", 0);
        queues.push(queued("a", 0, 0, 10));
        assert!(queues.next(Duration::from_millis(50)).is_none(), "waits for b");
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            queues.next(Duration::from_millis(50)).is_some(),
            "then goes on without it"
        );
        queues.push(queued("a", 0, 1, 11));
        assert!(queues.next(Duration::ZERO).is_some(), "no wait with max idle 0");
    }
}
