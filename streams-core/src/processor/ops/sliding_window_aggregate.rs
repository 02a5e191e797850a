//! Sliding-window `count` / `reduce` / `aggregate` over [`SlidingWindows`]: Kafka Streams'
//! `KStreamSlidingWindowAggregate`, window for window and update for update.
//!
//! # Windows
//! A sliding window of time difference `d` is `[start, start + d]`, inclusive at both ends, and is
//! stored in the window store under its start. Windows exist only where records put them, so that
//! every distinct set of a key's records that lie within `d` of each other has one window:
//! - a record at `t` has a **left window** `[t - d, t]` (its own and the records up to `d` before);
//! - and a **right window** `[t + 1, t + 1 + d]` (the records after it, without it), which exists
//!   only once a later record within `d + 1` has arrived: an empty window is never stored.
//!
//! ```text
//!  d = 10; records at 10, 14, 22 with values 1, 2, 4
//!  time      0    5    10   15   20   25
//!  [0, 10]   ├─────────┤                  1     10's left window
//!  [4, 14]       ├─────────┤              1+2   14's left window, seeded from [0, 10]
//!  [11, 21]             ├─────────┤       2     10's right window, created when 14 arrives
//!  [12, 22]              ├─────────┤      2+4   22's left window, seeded from [11, 21]
//!  [15, 25]                 ├─────────┤   4     14's right window, created when 22 arrives
//! ```
//!
//! # Processing a record at `t`
//! The key's windows starting in `[max(0, t - 2d), t + 1]` are read, latest start first (Kafka's
//! `processReverse`, the path its own stores take):
//! - a window starting at `t + 1` is the record's right window, already created;
//! - a window with `end > t` (so `start <= t`) contains `t`: it is updated; the first of them (the
//!   latest start), as it was before this update, becomes the record's right window if its latest
//!   record is after `t`;
//! - the window ending at `t` is the record's left window: it is updated; if it already held a record
//!   at `t` (a duplicate timestamp), every window of `t` exists already and processing stops here;
//!   otherwise its largest timestamp is the previous record's;
//! - the first window with `end < t` gives the previous record's timestamp (its largest) and its
//!   aggregate seeds the left window; the scan stops.
//!
//! Then, in this order: the previous record's right window `[p + 1, p + 1 + d]` is created from this
//! record alone if it does not exist and `t` falls in it; the left window is created (if it did not
//! exist) seeded with the aggregate found when the previous record lies in `[t - d, t]`, from
//! nothing otherwise; and the right window is created, holding the aggregate found for it unchanged,
//! if that aggregate has a record after `t`.
//!
//! # Records before `d` (`t < d`)
//! A left window would start before 0, which stores do not hold. As in Kafka (`processEarly`),
//! every record with `t < d` goes into the one window `[0, d]`; the windows starting in `(0, t]` are
//! updated; the record's right window is created from the latest of them, or from `[0, d]` when
//! none exists and `[0, d]` holds a record after `t`; the previous record's right window is created
//! when it is missing; and `[0, d]` is updated (or created) last.
//!
//! # Lateness
//! Stream time is the task's ([`ProcessorContext::stream_time`]; Kafka uses the largest timestamp
//! this processor has seen, which differs only when the task reads records that never reach it); the
//! close time is stream time minus grace. A window is closed when its end is **before** the close time (`end < close`: the end
//! is inclusive, so a window ending exactly at the close time still accepts records, as in Kafka).
//! A record with `t + d < close` is dropped whole and counted once in the dropped-records metric.
//! Otherwise each window the record would create or update that is closed is skipped and counted,
//! as Kafka's `updateWindowAndForward` does: a record can update its open windows and still be
//! counted for a closed one.
//!
//! # Output
//! Every created or updated window is written to the store and forwarded as
//! `Windowed(key, [start, start + d])` with `Change { new, old }` and, as timestamp, the largest
//! timestamp of the window's records. `old` is the window's previous aggregate when it existed and
//! `None` when it is created (Kafka, with old values enabled, sends the seed it started from; a seed
//! is not the window's value, so a downstream subtractor must not see it).

use std::sync::Arc;

use super::stream_aggregate::Updater;
use crate::error::{Error, Result};
use crate::processor::{Change, Data, Processor, ProcessorContext, Record, WindowStoreHandle};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};
use crate::time::{SlidingWindows, Window, Windowed};

/// Aggregates each key's records over [`SlidingWindows`] as Kafka Streams'
/// `KStreamSlidingWindowAggregate` does (see the module docs), keeping one
/// [`ValueAndTimestamp`] per (key, window start) in the window store `store`, whose window size is the
/// time difference and whose retention is `2 * d + grace`.
pub(crate) struct SlidingWindowAggregate<K, V, VA> {
    /// The window length `d` and the grace period.
    pub(crate) windows: SlidingWindows,
    /// The window store's name.
    pub(crate) store: String,
    /// The serde of keys in the store.
    pub(crate) key_serde: SharedSerde<K>,
    /// The serde of aggregates in the store.
    pub(crate) value_serde: SharedSerde<VA>,
    /// Folds a record into a window's aggregate; `None` starts a window's first aggregate.
    pub(crate) update: Updater<K, V, VA>,
    /// The store, opened in `init`.
    pub(crate) handle: Option<WindowStoreHandle<K, ValueAndTimestamp<VA>>>,
}

/// What a window's update starts from (the `valueAndTime` of Kafka's `updateWindowAndForward`).
enum Base<VA> {
    /// The window is in the store with this aggregate, which becomes the forwarded old value.
    Stored(ValueAndTimestamp<VA>),
    /// The window is created, seeded with the aggregate of the records it already holds (`None`:
    /// none). It is forwarded with no old value and with the record's timestamp.
    Seed(Option<VA>),
}

/// What the scan of the store around a record found (the locals of Kafka's `processReverse` and
/// `processEarly`).
struct Scan<VA> {
    /// The starts of the windows visited.
    starts: Vec<i64>,
    /// The aggregate of the latest window that ends before the record: seeds its left window.
    left_aggregate: Option<ValueAndTimestamp<VA>>,
    /// The aggregate that becomes the record's right window, if it holds a record after `t`.
    right_aggregate: Option<ValueAndTimestamp<VA>>,
    /// The record's left window exists.
    left_exists: bool,
    /// The record's right window exists.
    right_exists: bool,
    /// The timestamp of the key's latest record before this one.
    previous: Option<i64>,
}

impl<VA> Default for Scan<VA> {
    fn default() -> Self {
        Scan {
            starts: Vec::new(),
            left_aggregate: None,
            right_aggregate: None,
            left_exists: false,
            right_exists: false,
            previous: None,
        }
    }
}

/// The context this processor forwards through.
type Ctx<'a, 'b, K, VA> = &'a mut ProcessorContext<'b, Windowed<K>, Change<VA>>;

impl<K: Data, V: Data, VA: Data> SlidingWindowAggregate<K, V, VA> {
    /// The time difference `d` in milliseconds.
    fn d(&self) -> i64 {
        self.windows.time_difference_ms()
    }

    /// A record at `t >= d`: Kafka's `processReverse` then `createWindows`.
    fn process_reverse(
        &self,
        record: &Record<K, V>,
        handle: &WindowStoreHandle<K, ValueAndTimestamp<VA>>,
        close_time: i64,
        ctx: Ctx<'_, '_, K, VA>,
    ) -> Result<()> {
        let (t, d) = (record.timestamp, self.d());
        let from = t.saturating_sub(d.saturating_mul(2)).max(0);
        let windows = ctx
            .window_store(handle)
            .fetch_range(&record.key, from, t.saturating_add(1))?;
        let mut scan = Scan::default();
        for (start, current) in windows.into_iter().rev() {
            scan.starts.push(start);
            let end = start.saturating_add(d);
            if start == t.saturating_add(1) {
                scan.right_exists = true;
            } else if end > t {
                if scan.right_aggregate.is_none() {
                    scan.right_aggregate = Some(current.clone());
                }
                self.update_window(record, handle, start, Base::Stored(current), close_time, ctx)?;
            } else if end == t {
                scan.left_exists = true;
                let latest = current.timestamp;
                self.update_window(record, handle, start, Base::Stored(current), close_time, ctx)?;
                if latest < t {
                    scan.previous = Some(latest);
                } else {
                    // A record at `t` was here before: every window of `t` exists.
                    return Ok(());
                }
            } else {
                scan.previous = Some(current.timestamp);
                scan.left_aggregate = Some(current);
                break;
            }
        }
        self.create_windows(record, handle, close_time, scan, ctx)
    }

    /// Creates the previous record's right window, the record's left window and its right window,
    /// each when missing and not empty (Kafka's `createWindows`).
    fn create_windows(
        &self,
        record: &Record<K, V>,
        handle: &WindowStoreHandle<K, ValueAndTimestamp<VA>>,
        close_time: i64,
        scan: Scan<VA>,
        ctx: Ctx<'_, '_, K, VA>,
    ) -> Result<()> {
        let (t, d) = (record.timestamp, self.d());
        if let Some(previous) = scan.previous {
            let start = previous.saturating_add(1);
            if !scan.starts.contains(&start) && start.saturating_add(d) >= t {
                self.update_window(record, handle, start, Base::Seed(None), close_time, ctx)?;
            }
        }
        if !scan.left_exists {
            let seed = match (scan.previous, scan.left_aggregate) {
                (Some(previous), Some(aggregate)) if t - d <= previous => Some(aggregate.value),
                _ => None,
            };
            self.update_window(record, handle, t - d, Base::Seed(seed), close_time, ctx)?;
        }
        if !scan.right_exists
            && let Some(aggregate) = scan.right_aggregate.filter(|a| a.timestamp > t)
        {
            self.create_right_window(record, handle, aggregate, ctx)?;
        }
        Ok(())
    }

    /// A record at `0 <= t < d`: Kafka's `processEarly`, with `[0, d]` standing for the left windows
    /// that would start before 0.
    fn process_early(
        &self,
        record: &Record<K, V>,
        handle: &WindowStoreHandle<K, ValueAndTimestamp<VA>>,
        close_time: i64,
        ctx: Ctx<'_, '_, K, VA>,
    ) -> Result<()> {
        let t = record.timestamp;
        let windows = ctx.window_store(handle).fetch_range(&record.key, 0, t + 1)?;
        let mut combined: Option<ValueAndTimestamp<VA>> = None;
        let mut scan = Scan::default();
        for (start, current) in windows {
            scan.starts.push(start);
            if start == 0 {
                // When its latest record is at or after `t`, that record has already created the
                // right window of any record before `t`; otherwise it is the previous record.
                if current.timestamp < t {
                    scan.previous = Some(current.timestamp);
                }
                combined = Some(current);
            } else if start <= t {
                scan.right_aggregate = Some(current.clone());
                self.update_window(record, handle, start, Base::Stored(current), close_time, ctx)?;
            } else {
                debug_assert_eq!(start, t + 1, "the fetch ends at t + 1");
                scan.right_exists = true;
            }
        }
        // With no window in (0, t], `[0, d]` holds only records at or before `t` unless its latest
        // record is after `t`, in which case it holds exactly the records of the right window.
        if scan.right_aggregate.is_none()
            && let Some(current) = combined.as_ref().filter(|c| c.timestamp > t)
        {
            scan.right_aggregate = Some(current.clone());
        }
        if !scan.right_exists
            && let Some(aggregate) = scan.right_aggregate.filter(|a| a.timestamp > t)
        {
            self.create_right_window(record, handle, aggregate, ctx)?;
        }
        if let Some(previous) = scan.previous
            && !scan.starts.contains(&(previous + 1))
        {
            self.update_window(record, handle, previous + 1, Base::Seed(None), close_time, ctx)?;
        }
        let base = combined.map_or(Base::Seed(None), Base::Stored);
        self.update_window(record, handle, 0, base, close_time, ctx)
    }

    /// Folds the record into the window starting at `start`, stores and forwards the result; or,
    /// when the window has closed (`end < close_time`), counts the record as dropped for it (Kafka's
    /// `updateWindowAndForward`).
    fn update_window(
        &self,
        record: &Record<K, V>,
        handle: &WindowStoreHandle<K, ValueAndTimestamp<VA>>,
        start: i64,
        base: Base<VA>,
        close_time: i64,
        ctx: Ctx<'_, '_, K, VA>,
    ) -> Result<()> {
        let end = start.saturating_add(self.d());
        if end < close_time {
            ctx.record_dropped();
            return Ok(());
        }
        let (new, old, timestamp) = match base {
            Base::Stored(current) => {
                let new = (self.update)(&record.key, &record.value, Some(current.value.clone()));
                (new, Some(current.value), record.timestamp.max(current.timestamp))
            }
            Base::Seed(seed) => ((self.update)(&record.key, &record.value, seed), None, record.timestamp),
        };
        let stored = ValueAndTimestamp {
            value: new.clone(),
            timestamp,
        };
        ctx.window_store(handle).put(&record.key, Some(&stored), start)?;
        let change = Record {
            key: Windowed::new(record.key.clone(), Window::new(start, end)),
            value: Change::new(Some(new), old),
            timestamp,
            headers: record.headers.clone(),
        };
        ctx.forward_window_change(handle, &record.key, start, change)
    }

    /// Creates the record's right window `[t + 1, t + 1 + d]` holding `aggregate` as it is (the
    /// records after `t` of an existing window), and forwards it with that aggregate's timestamp
    /// (Kafka's `createCurrentRecordRightWindow`, which checks no close time: the window ends at
    /// `t + 1 + d`, after `t + d`, which passed the lateness check).
    fn create_right_window(
        &self,
        record: &Record<K, V>,
        handle: &WindowStoreHandle<K, ValueAndTimestamp<VA>>,
        aggregate: ValueAndTimestamp<VA>,
        ctx: Ctx<'_, '_, K, VA>,
    ) -> Result<()> {
        let start = record.timestamp.saturating_add(1);
        ctx.window_store(handle).put(&record.key, Some(&aggregate), start)?;
        let change = Record {
            key: Windowed::new(record.key.clone(), Window::new(start, start.saturating_add(self.d()))),
            value: Change::new(Some(aggregate.value), None),
            timestamp: aggregate.timestamp,
            headers: record.headers.clone(),
        };
        ctx.forward_window_change(handle, &record.key, start, change)
    }
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, Windowed<K>, Change<VA>> for SlidingWindowAggregate<K, V, VA> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.value_serde.clone()));
        self.handle = Some(ctx.window_store_handle_with(&self.store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let t = record.timestamp;
        if t < 0 {
            // Kafka throws here too; the source node rejects such records before they get this far.
            return Err(Error::processing(format!(
                "sliding windows need record timestamps >= 0, got {t}"
            )));
        }
        let handle = self.handle.as_ref().expect("init ran");
        let stream_time = ctx.stream_time().map_or(t, |time| time.max(t));
        let close_time = stream_time.saturating_sub(self.windows.grace_ms());
        if t.saturating_add(self.d()) < close_time {
            ctx.record_dropped();
            return Ok(());
        }
        if t < self.d() {
            self.process_early(&record, handle, close_time, ctx)
        } else {
            self.process_reverse(&record, handle, close_time, ctx)
        }
    }
}

#[cfg(test)]
mod tests;
