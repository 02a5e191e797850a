//! Windowed stream-stream join: Kafka Streams' `KStreamKStreamJoin` (its `KStreamKStreamJoinLeftSide`
//! and `KStreamKStreamJoinRightSide` processors with the 3.1+ outer-join buffer), for inner, left
//! and outer joins.
//!
//! ```text
//!  left records ──▶ StreamStreamJoin::left  ─┐  reads right-store, writes left-store
//!                        │        ▲           ├──▶ merge (PassThrough) ──▶ …
//!                        ▼        │           │
//!                   outer-store (left/outer)  │
//!                        ▲        │           │
//!                        │        ▼           │
//!  right records ─▶ StreamStreamJoin::right ─┘  reads left-store, writes right-store
//! ```
//!
//! # Window
//! A left record at `t` joins the right records of its key with timestamps in
//! `[t - before, t + after]`, both ends inclusive; a right record at `t` joins the left records in
//! the mirrored window `[t - after, t + before]`, so each pair is found once, by whichever of its
//! records arrives second. Each side keeps its records in its own window store, keyed by the
//! record's timestamp as window start, which must retain duplicates and have window size
//! `before + after` and retention `before + after + grace` (checked in `init`, as Kafka's
//! `assertWindowSettings`).
//!
//! # Output
//! One result per matching pair, in the other store's order (window start, then insertion order),
//! so duplicates on either side give one result per pair: `joiner(key, Some(left), Some(right))`
//! with the timestamp `max(t, other t)` and the headers of the record being processed.
//!
//! # Lateness
//! As in Kafka, lateness is the window stores' retention: the record is put into its side's store
//! after it was joined, and a put whose window start is `<= observed - retention` (the store's
//! observed time is the largest timestamp put into it) is dropped by the store and counted in the
//! task's dropped-records metric ([`ProcessorContext::record_dropped`]). The join itself is still
//! attempted: a late record joins the other side's records that the other store still retains
//! (Kafka's `testWindowing` relies on this), and it can never be joined by later records. The other
//! store hides the records it has expired.
//!
//! # Non-matches (left and outer joins)
//! For a left join the left side, for an outer join both sides, buffer a record that found no
//! match in the outer store (Kafka's shared `TimestampedKeyAndJoinSide` store) until its window
//! closes. A match found later by the other side removes it from the buffer (Kafka 3.1+), so no
//! `(value, None)` is ever emitted for a record that joined. A buffered record at `t` is emitted
//! with `joiner(key, Some(v), None)` (left) or `joiner(key, None, Some(v))` (right), at timestamp
//! `t`, once stream time is past its window's close:
//! `t + lookback + grace < stream time`, where the lookback is `after` for left records and
//! `before` for right ones (Kafka's "spurious lookback" fix, KAFKA-15417: a left record's window
//! ends `after` past it, a right record's `before` past it).
//!
//! Emission follows Kafka's `emitNonJoinedOuterRecords`: it runs while processing a record whose
//! timestamp equals stream time (not for out-of-order records), before the record is joined. It
//! is skipped by Kafka's shortcut `minTime + this side's after + grace >= stream time` (this
//! side's after is `after` on the left, `before` on the right), which can postpone a closed record
//! until a record of the other side, or a later one, comes. Otherwise it walks the buffer in key
//! order — timestamp, then right before left, then key bytes, then arrival — emitting and removing
//! every closed record, and stops once it has met an open record of each side. `minTime` becomes
//! the timestamp of the last entry visited (`i64::MAX` for an empty buffer, compared with Java's
//! wrapping arithmetic) and is lowered by every record buffered; it is kept per task in a
//! [`SharedJoinTime`] both sides share, as Kafka's `TimeTracker`. So non-matches come out in time
//! order, never before their window closes, and never for a record that joined.
//!
//! A non-matching record whose window has already closed when it arrives is emitted at once
//! instead of being buffered.
//!
//! # Emission on stream time alone
//! Kafka emits only while processing a join record. Each side also schedules a 1 ms stream-time
//! punctuation: when stream time has advanced without a join record at that time having run the
//! emission above (a record of another topic of the task, one filtered out before the join, or the
//! test driver's `advance_stream_time_to`),
//! the punctuation walks the buffer the same way (without the `minTime` shortcut) and forwards the
//! closed records without headers. When every record reaches the join the punctuation finds the
//! stream time already handled and does nothing, so outputs are Kafka's.
//!
//! # Where this differs from Kafka Streams
//! - Stream time is the task's ([`ProcessorContext::stream_time`]); Kafka's join tracks the
//!   largest timestamp its two processors have seen. They differ only for records that do not
//!   reach the join.
//! - An out-of-order record without a match whose window has ended but is still within grace is
//!   buffered; Kafka emits it at once (`timeTo < streamTime`, ignoring grace), which can give a
//!   record both a non-join and a later join result (KAFKA-19536). Here a non-match is never
//!   emitted before `window end + grace`.
//! - No wall-clock throttle of the buffer walk: Kafka walks it at most once a second of wall-clock
//!   time (its internal `emit.interval.ms.kstreams.outer.join.spurious.results.fix`, a performance
//!   setting its `TopologyTestDriver` sets to 0); here it always runs, as in Kafka's test driver.
//! - The punctuation above.
//! - Keys and values are typed, so "null" is what the serdes write as null (e.g. `None` through
//!   [`OptionSerde`](crate::serde::OptionSerde)). As Kafka's `StreamStreamJoinUtil.skipRecord`: a
//!   null value, or a null key on an inner side, is dropped and counted; a null key on an outer
//!   side is emitted at once as a non-match.
//!
//! # Wiring
//! The DSL declares the two window stores (`StoreBuilder::window(name, before + after, before +
//! after + grace).retaining_duplicates()`) and, for left and outer joins, the outer store
//! (`StoreBuilder::key_value(name)`); builds one [`StreamJoinSpec`]; adds
//! [`StreamStreamJoin::left`] under the left stream and [`StreamStreamJoin::right`] under the right
//! one, each connected to all the join's stores; and merges both into one stream with a
//! pass-through node, as Kafka's `KStreamImplJoin` does.
//!
//! # The outer store's encoding
//! A key-value store (`StoreBuilder::key_value`) shared by both sides, one entry per buffered
//! record:
//! - key: `time ^ i64::MIN` (8 bytes big-endian, so byte order is time order), the side (`0` right,
//!   `1` left, Kafka's flag, so right sorts first), the record key's bytes escaped (each `0x00`
//!   written `0x00 0xFF`) and ended by `0x00 0x00` (so byte order is key-byte order and an entry's
//!   key bytes are found by prefix), then an 8-byte big-endian sequence number, one more than the
//!   largest of the same time, side and key (so duplicates are kept, in arrival order);
//! - value: the record's value bytes, from its side's value serde.
//!
//! Keys and values go through the user's serdes with the store's changelog topic, as Kafka's
//! `TimestampedKeyAndJoinSideSerde` and `LeftOrRightValueSerde` do.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::processor::{
    Data, Headers, KeyValueStoreHandle, Processor, ProcessorContext, PunctuationType, PunctuatorId, Record, TaskId,
    WindowStoreHandle,
};
use crate::serde::{BytesSerde, SharedSerde};
use crate::state::StoreKind;
use crate::time::JoinWindows;

/// Which join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    /// Only matching pairs.
    Inner,
    /// Matching pairs, and left records that found no match once their window closed.
    Left,
    /// Matching pairs, and records of either side that found no match once their window closed.
    Outer,
}

/// Which input of the join a processor (or a buffered record) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinSide {
    /// The stream `join` was called on.
    Left,
    /// The stream passed to `join`.
    Right,
}

/// Combines a left and a right value; `None` on a side only for left/outer non-matches.
pub(crate) type StreamJoiner<K, V1, V2, VR> = Arc<dyn Fn(&K, Option<&V1>, Option<&V2>) -> VR + Send + Sync>;

/// Calls the joiner with this side's and the other side's values put in left, right order.
type Orient<K, VThis, VOther, V1, V2, VR> = fn(&StreamJoiner<K, V1, V2, VR>, &K, Option<&VThis>, Option<&VOther>) -> VR;

fn left_first<K, V1, V2, VR>(
    joiner: &StreamJoiner<K, V1, V2, VR>,
    key: &K,
    this: Option<&V1>,
    other: Option<&V2>,
) -> VR {
    joiner(key, this, other)
}

fn right_first<K, V1, V2, VR>(
    joiner: &StreamJoiner<K, V1, V2, VR>,
    key: &K,
    this: Option<&V2>,
    other: Option<&V1>,
) -> VR {
    joiner(key, other, this)
}

/// Kafka's `TimeTracker` for one task, less its stream time (the task's is used).
#[derive(Debug)]
struct JoinTime {
    /// Kafka's `minTime`: `i64::MAX` when unknown; compared with Java's wrapping arithmetic.
    min_time: i64,
    /// The last stream time at which the buffer walk ran or was skipped by `min_time`.
    checked: Option<i64>,
}

impl Default for JoinTime {
    fn default() -> Self {
        JoinTime {
            min_time: i64::MAX,
            checked: None,
        }
    }
}

/// What the two sides of one join share per task (Kafka's `TimeTrackerSupplier`): the buffer's
/// `minTime`, and the stream time last handled. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedJoinTime(Arc<Mutex<HashMap<TaskId, JoinTime>>>);

impl SharedJoinTime {
    fn with<R>(&self, task: TaskId, f: impl FnOnce(&mut JoinTime) -> R) -> R {
        let mut tasks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(tasks.entry(task).or_default())
    }

    fn remove(&self, task: TaskId) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&task);
    }
}

/// One join as the DSL declares it; [`StreamStreamJoin::left`] and [`StreamStreamJoin::right`] make
/// each side's processor from it. Build one per join and clone it into both processor suppliers,
/// so that both sides share `shared_time`.
pub(crate) struct StreamJoinSpec<K, V1, V2, VR> {
    /// The join window and grace.
    pub(crate) windows: JoinWindows,
    /// Inner, left or outer.
    pub(crate) kind: JoinKind,
    /// The window store of left records: retaining duplicates, size `before + after`, retention
    /// `before + after + grace`.
    pub(crate) left_store: String,
    /// The window store of right records, declared as the left one.
    pub(crate) right_store: String,
    /// The key-value store of not-yet-joined records: `Some` for left and outer joins.
    pub(crate) outer_store: Option<String>,
    /// The key serde (of both stores and the outer store).
    pub(crate) key_serde: SharedSerde<K>,
    /// The serde of left values.
    pub(crate) left_value_serde: SharedSerde<V1>,
    /// The serde of right values.
    pub(crate) right_value_serde: SharedSerde<V2>,
    /// Combines the values of a match or a non-match.
    pub(crate) joiner: StreamJoiner<K, V1, V2, VR>,
    /// Shared by both sides: `SharedJoinTime::default()`.
    pub(crate) shared_time: SharedJoinTime,
}

impl<K, V1, V2, VR> Clone for StreamJoinSpec<K, V1, V2, VR> {
    fn clone(&self) -> Self {
        StreamJoinSpec {
            windows: self.windows,
            kind: self.kind,
            left_store: self.left_store.clone(),
            right_store: self.right_store.clone(),
            outer_store: self.outer_store.clone(),
            key_serde: self.key_serde.clone(),
            left_value_serde: self.left_value_serde.clone(),
            right_value_serde: self.right_value_serde.clone(),
            joiner: self.joiner.clone(),
            shared_time: self.shared_time.clone(),
        }
    }
}

impl<K, V1, V2, VR> fmt::Debug for StreamJoinSpec<K, V1, V2, VR> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamJoinSpec")
            .field("windows", &self.windows)
            .field("kind", &self.kind)
            .field("left_store", &self.left_store)
            .field("right_store", &self.right_store)
            .field("outer_store", &self.outer_store)
            .finish()
    }
}

/// One side of a windowed stream-stream join (see the module docs): processes this side's records
/// (`VThis`), joins them with the other side's (`VOther`) and forwards `VR`s. `V1`/`V2` are the left
/// and right value types; on the left side `VThis = V1`, on the right `VThis = V2`.
pub(crate) struct StreamStreamJoin<K, VThis, VOther, V1, V2, VR> {
    /// Which side this processor is.
    pub(crate) side: JoinSide,
    /// The join window and grace.
    pub(crate) windows: JoinWindows,
    /// Inner, left or outer.
    pub(crate) kind: JoinKind,
    /// This side's window store (written).
    pub(crate) this_store: String,
    /// The other side's window store (read).
    pub(crate) other_store: String,
    /// The shared buffer of not-yet-joined records (left and outer joins).
    pub(crate) outer_store: Option<String>,
    /// The key serde.
    pub(crate) key_serde: SharedSerde<K>,
    /// The serde of this side's values.
    pub(crate) this_value_serde: SharedSerde<VThis>,
    /// The serde of the other side's values.
    pub(crate) other_value_serde: SharedSerde<VOther>,
    /// Called as `joiner(key, left, right)` whichever side processes.
    pub(crate) joiner: StreamJoiner<K, V1, V2, VR>,
    /// Puts this side's and the other side's values in left, right order.
    orient: Orient<K, VThis, VOther, V1, V2, VR>,
    /// Shared with the other side.
    shared_time: SharedJoinTime,
    /// This side's store, opened in `init`.
    pub(crate) this_handle: Option<WindowStoreHandle<K, VThis>>,
    /// The other side's store, opened in `init`.
    pub(crate) other_handle: Option<WindowStoreHandle<K, VOther>>,
    /// The outer store, opened in `init`; its keys and values are encoded here (module docs).
    pub(crate) outer_handle: Option<KeyValueStoreHandle<Vec<u8>, Vec<u8>>>,
    /// The task, for `close`.
    task: Option<TaskId>,
}

impl<K, VThis, VOther, V1, V2, VR> fmt::Debug for StreamStreamJoin<K, VThis, VOther, V1, V2, VR> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamStreamJoin")
            .field("side", &self.side)
            .field("windows", &self.windows)
            .field("kind", &self.kind)
            .field("this_store", &self.this_store)
            .field("other_store", &self.other_store)
            .field("outer_store", &self.outer_store)
            .finish()
    }
}

impl<K, V1, V2, VR> StreamStreamJoin<K, V1, V2, V1, V2, VR> {
    /// The processor of the left stream's records.
    pub(crate) fn left(spec: &StreamJoinSpec<K, V1, V2, VR>) -> Self {
        StreamStreamJoin {
            side: JoinSide::Left,
            windows: spec.windows,
            kind: spec.kind,
            this_store: spec.left_store.clone(),
            other_store: spec.right_store.clone(),
            outer_store: spec.outer_store.clone(),
            key_serde: spec.key_serde.clone(),
            this_value_serde: spec.left_value_serde.clone(),
            other_value_serde: spec.right_value_serde.clone(),
            joiner: spec.joiner.clone(),
            orient: left_first::<K, V1, V2, VR>,
            shared_time: spec.shared_time.clone(),
            this_handle: None,
            other_handle: None,
            outer_handle: None,
            task: None,
        }
    }
}

impl<K, V1, V2, VR> StreamStreamJoin<K, V2, V1, V1, V2, VR> {
    /// The processor of the right stream's records.
    pub(crate) fn right(spec: &StreamJoinSpec<K, V1, V2, VR>) -> Self {
        StreamStreamJoin {
            side: JoinSide::Right,
            windows: spec.windows,
            kind: spec.kind,
            this_store: spec.right_store.clone(),
            other_store: spec.left_store.clone(),
            outer_store: spec.outer_store.clone(),
            key_serde: spec.key_serde.clone(),
            this_value_serde: spec.right_value_serde.clone(),
            other_value_serde: spec.left_value_serde.clone(),
            joiner: spec.joiner.clone(),
            orient: right_first::<K, V1, V2, VR>,
            shared_time: spec.shared_time.clone(),
            this_handle: None,
            other_handle: None,
            outer_handle: None,
            task: None,
        }
    }
}

/// The context a join side forwards through.
type Ctx<'a, 'b, K, VR> = &'a mut ProcessorContext<'b, K, VR>;

impl<K, VThis, VOther, V1, V2, VR> StreamStreamJoin<K, VThis, VOther, V1, V2, VR>
where
    K: Data,
    VThis: Data,
    VOther: Data,
    V1: 'static,
    V2: 'static,
    VR: Data,
{
    /// How far before a record of this side the other side's records join (Kafka's `joinBeforeMs`).
    fn join_before(&self) -> i64 {
        match self.side {
            JoinSide::Left => self.windows.before_ms(),
            JoinSide::Right => self.windows.after_ms(),
        }
    }

    /// How far after a record of this side the other side's records join (Kafka's `joinAfterMs`).
    fn join_after(&self) -> i64 {
        match self.side {
            JoinSide::Left => self.windows.after_ms(),
            JoinSide::Right => self.windows.before_ms(),
        }
    }

    /// Whether this side's non-matches are emitted.
    fn this_is_outer(&self) -> bool {
        matches!(
            (self.side, self.kind),
            (_, JoinKind::Outer) | (JoinSide::Left, JoinKind::Left)
        )
    }

    fn other_side(&self) -> JoinSide {
        match self.side {
            JoinSide::Left => JoinSide::Right,
            JoinSide::Right => JoinSide::Left,
        }
    }

    /// How long after its timestamp a buffered record of `side` can still be joined (Kafka's
    /// `getOuterJoinLookBackTimeMs`).
    fn lookback(&self, side: JoinSide) -> i64 {
        match side {
            JoinSide::Left => self.windows.after_ms(),
            JoinSide::Right => self.windows.before_ms(),
        }
    }

    /// The bytes of `key` in the outer store's keys.
    fn outer_key_bytes(&self, outer: &KeyValueStoreHandle<Vec<u8>, Vec<u8>>, key: &K) -> Result<Vec<u8>> {
        Ok(serialize(&self.key_serde, &outer.serdes.topic, key, "a key")?.unwrap_or_default())
    }

    /// Fails unless `name` is a window store as a join needs it.
    fn check_window_store(&self, ctx: &ProcessorContext<'_, K, VR>, name: &str) -> Result<()> {
        let (_, spec) = ctx.task.connected_store(ctx.node, name)?;
        let size = self.windows.size_ms();
        let retention = size.saturating_add(self.windows.grace_ms());
        match spec.kind() {
            StoreKind::Window {
                window_size_ms,
                retention_ms,
                retain_duplicates: true,
            } if window_size_ms == size && retention_ms == retention => Ok(()),
            kind => Err(Error::Topology(format!(
                "store {name} of stream-stream join {} must be a window store retaining duplicates, of window size \
                 {size} ms (before + after) and retention {retention} ms (before + after + grace); it is {kind:?}",
                ctx.node_name()
            ))),
        }
    }

    /// Forwards the non-match result of one record (of this side or of the other) at `timestamp`.
    fn forward_non_match(
        &self,
        ctx: Ctx<'_, '_, K, VR>,
        key: K,
        value: NonMatch<'_, VThis, VOther>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<()> {
        let value = match value {
            NonMatch::This(this) => (self.orient)(&self.joiner, &key, Some(this), None),
            NonMatch::Other(other) => (self.orient)(&self.joiner, &key, None, Some(other)),
        };
        ctx.forward(Record {
            key,
            value,
            timestamp,
            headers,
        })
    }

    /// Emits and removes every buffered record whose window has closed at `stream_time`, in the
    /// buffer's order, stopping at the first open record of each side (Kafka's
    /// `emitNonJoinedOuterRecords` past its throttles); updates `minTime`.
    fn emit_closed(&self, ctx: Ctx<'_, '_, K, VR>, stream_time: i64, headers: &Headers) -> Result<()> {
        let Some(outer) = self.outer_handle.as_ref() else {
            return Ok(());
        };
        let topic = outer.serdes.topic.clone();
        let grace = self.windows.grace_ms();
        let entries = ctx.key_value_store(outer).store.all()?;
        let (mut left_open, mut right_open) = (false, false);
        let mut min_time = i64::MAX;
        for (raw_key, raw_value) in entries {
            let entry = OuterKey::decode(&raw_key).map_err(|e| Error::processing(format!("{topic}: {e}")))?;
            min_time = entry.time;
            if left_open && right_open {
                break;
            }
            if entry
                .time
                .saturating_add(self.lookback(entry.side))
                .saturating_add(grace)
                >= stream_time
            {
                match entry.side {
                    JoinSide::Left => left_open = true,
                    JoinSide::Right => right_open = true,
                }
                continue;
            }
            let key = deserialize(&self.key_serde, &topic, &entry.key, "a key")?;
            if entry.side == self.side {
                let value = deserialize(&self.this_value_serde, &topic, &raw_value, "a value")?;
                self.forward_non_match(ctx, key, NonMatch::This(&value), entry.time, headers.clone())?;
            } else {
                let value = deserialize(&self.other_value_serde, &topic, &raw_value, "a value")?;
                self.forward_non_match(ctx, key, NonMatch::Other(&value), entry.time, headers.clone())?;
            }
            ctx.key_value_store(outer).store.delete(&raw_key)?;
        }
        self.shared_time.with(ctx.task_id(), |time| time.min_time = min_time);
        Ok(())
    }
}

/// A non-match's value, of this side or of the other.
enum NonMatch<'a, VThis, VOther> {
    This(&'a VThis),
    Other(&'a VOther),
}

impl<K, VThis, VOther, V1, V2, VR> Processor<K, VThis, K, VR> for StreamStreamJoin<K, VThis, VOther, V1, V2, VR>
where
    K: Data,
    VThis: Data,
    VOther: Data,
    V1: 'static,
    V2: 'static,
    VR: Data,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.check_window_store(ctx, &self.this_store)?;
        self.check_window_store(ctx, &self.other_store)?;
        self.this_handle = Some(ctx.window_store_handle_with(
            &self.this_store,
            self.key_serde.clone(),
            self.this_value_serde.clone(),
        )?);
        self.other_handle = Some(ctx.window_store_handle_with(
            &self.other_store,
            self.key_serde.clone(),
            self.other_value_serde.clone(),
        )?);
        if let Some(outer) = &self.outer_store {
            let bytes: SharedSerde<Vec<u8>> = Arc::new(BytesSerde);
            self.outer_handle = Some(ctx.key_value_store_handle_with(outer, bytes.clone(), bytes)?);
            ctx.schedule(Duration::from_millis(1), PunctuationType::StreamTime);
        }
        self.task = Some(ctx.task_id());
        Ok(())
    }

    fn process(&mut self, record: Record<K, VThis>, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        let this = self.this_handle.as_ref().expect("init ran");
        let other = self.other_handle.as_ref().expect("init ran");
        let t = record.timestamp;
        let stream_time = ctx.stream_time().unwrap_or(t);
        let this_topic = this.serdes.topic.clone();
        let key_bytes = serialize(&this.serdes.key, &this_topic, &record.key, "a key")?;
        let value_bytes = serialize(&this.serdes.value, &this_topic, &record.value, "a value")?;
        let (key_bytes, value_bytes) = match (key_bytes, value_bytes) {
            (Some(key), Some(value)) => (key, value),
            (None, Some(_)) if self.this_is_outer() => {
                let Record {
                    key, value, headers, ..
                } = record;
                return self.forward_non_match(ctx, key, NonMatch::This(&value), t, headers);
            }
            _ => {
                ctx.record_dropped();
                return Ok(());
            }
        };

        // Non-matches whose window has closed, before this record's results (Kafka's order).
        if t == stream_time && self.outer_handle.is_some() {
            let gate = self.join_after().wrapping_add(self.windows.grace_ms());
            let skip = self.shared_time.with(ctx.task_id(), |time| {
                time.checked = Some(stream_time);
                time.min_time.wrapping_add(gate) >= stream_time
            });
            if !skip {
                self.emit_closed(ctx, stream_time, &record.headers)?;
            }
        }

        let from = t.saturating_sub(self.join_before()).max(0);
        let to = t.saturating_add(self.join_after()).max(0);
        let other_key = serialize(&other.serdes.key, &other.serdes.topic, &record.key, "a key")?.unwrap_or_default();
        let matches = ctx.window_store(other).store.fetch_range(&other_key, from, to)?;
        let unmatched = matches.is_empty();
        for (other_time, other_bytes) in matches {
            let other_value = deserialize(&other.serdes.value, &other.serdes.topic, &other_bytes, "a value")?;
            if let Some(outer) = self.outer_handle.as_ref() {
                // The other record has joined: it is no longer a non-match.
                let key = self.outer_key_bytes(outer, &record.key)?;
                let prefix = OuterKey::prefix(other_time, self.other_side(), &key);
                let store = ctx.key_value_store(outer);
                for (buffered, _) in store.store.prefix_scan(&prefix)? {
                    store.store.delete(&buffered)?;
                }
            }
            let value = (self.orient)(&self.joiner, &record.key, Some(&record.value), Some(&other_value));
            ctx.forward(Record {
                key: record.key.clone(),
                value,
                timestamp: t.max(other_time),
                headers: record.headers.clone(),
            })?;
        }

        if unmatched && self.this_is_outer() {
            match self.outer_handle.as_ref() {
                Some(outer) if to.saturating_add(self.windows.grace_ms()) >= stream_time => {
                    self.shared_time
                        .with(ctx.task_id(), |time| time.min_time = time.min_time.min(t));
                    let key = self.outer_key_bytes(outer, &record.key)?;
                    let value = serialize(&self.this_value_serde, &outer.serdes.topic, &record.value, "a value")?
                        .unwrap_or_default();
                    let prefix = OuterKey::prefix(t, self.side, &key);
                    let store = ctx.key_value_store(outer);
                    let sequence = match store.store.prefix_scan(&prefix)?.last() {
                        Some((last, _)) => OuterKey::sequence_of(last).wrapping_add(1),
                        None => 0,
                    };
                    store
                        .store
                        .put(&OuterKey::with_sequence(prefix, sequence), Some(&value))?;
                }
                // Its window has closed already (or there is no buffer: Kafka's pre-3.1 joins).
                _ => {
                    let headers = record.headers.clone();
                    self.forward_non_match(ctx, record.key.clone(), NonMatch::This(&record.value), t, headers)?;
                }
            }
        }

        // Kafka's `KStreamJoinWindow` puts the record into its store once the join returns.
        let dropped = {
            let store = ctx.window_store(this).store;
            let expired = store.expired_puts();
            store.put(&key_bytes, Some(&value_bytes), t)?;
            store.expired_puts() > expired
        };
        if dropped {
            ctx.record_dropped();
        }
        Ok(())
    }

    fn punctuate(&mut self, _id: PunctuatorId, now: i64, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        let run = self.shared_time.with(ctx.task_id(), |time| {
            let run = time.checked != Some(now);
            time.checked = Some(now);
            run
        });
        if run {
            self.emit_closed(ctx, now, &Headers::new())?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(task) = self.task.take() {
            self.shared_time.remove(task);
        }
        Ok(())
    }
}

/// `value`'s bytes, `None` for null.
fn serialize<T: 'static>(serde: &SharedSerde<T>, topic: &str, value: &T, what: &str) -> Result<Option<Vec<u8>>> {
    serde
        .serialize(topic, value)
        .map_err(|e| Error::processing(format!("serializing {what} for {topic}: {e}")))
}

fn deserialize<T: 'static>(serde: &SharedSerde<T>, topic: &str, bytes: &[u8], what: &str) -> Result<T> {
    serde
        .deserialize(topic, Some(bytes))
        .map_err(|e| Error::processing(format!("reading {what} of {topic}: {e}")))
}

/// A decoded key of the outer store (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OuterKey {
    time: i64,
    side: JoinSide,
    key: Vec<u8>,
    sequence: u64,
}

impl OuterKey {
    /// The bytes every entry of one time, side and key starts with.
    fn prefix(time: i64, side: JoinSide, key: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + 1 + key.len() + 2 + 8);
        bytes.extend_from_slice(&(time ^ i64::MIN).to_be_bytes());
        bytes.push(match side {
            JoinSide::Right => 0,
            JoinSide::Left => 1,
        });
        for &byte in key {
            bytes.push(byte);
            if byte == 0 {
                bytes.push(0xFF);
            }
        }
        bytes.extend_from_slice(&[0, 0]);
        bytes
    }

    /// A prefix completed with a sequence number.
    fn with_sequence(mut prefix: Vec<u8>, sequence: u64) -> Vec<u8> {
        prefix.extend_from_slice(&sequence.to_be_bytes());
        prefix
    }

    /// The encoded key.
    #[cfg(test)]
    fn encode(&self) -> Vec<u8> {
        Self::with_sequence(Self::prefix(self.time, self.side, &self.key), self.sequence)
    }

    /// The sequence number of an encoded key (its last 8 bytes).
    fn sequence_of(bytes: &[u8]) -> u64 {
        let mut sequence = [0; 8];
        let tail = &bytes[bytes.len().saturating_sub(8)..];
        sequence[8 - tail.len()..].copy_from_slice(tail);
        u64::from_be_bytes(sequence)
    }

    fn decode(bytes: &[u8]) -> std::result::Result<OuterKey, String> {
        let bad = || format!("malformed outer-join buffer key {bytes:02x?}");
        let (time, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
        let (side, mut rest) = rest.split_first().ok_or_else(bad)?;
        let side = match side {
            0 => JoinSide::Right,
            1 => JoinSide::Left,
            _ => return Err(bad()),
        };
        let mut key = Vec::new();
        loop {
            match rest {
                [0, 0xFF, tail @ ..] => {
                    key.push(0);
                    rest = tail;
                }
                [0, 0, tail @ ..] => {
                    rest = tail;
                    break;
                }
                [byte, tail @ ..] if *byte != 0 => {
                    key.push(*byte);
                    rest = tail;
                }
                _ => return Err(bad()),
            }
        }
        let sequence: [u8; 8] = rest.try_into().map_err(|_| bad())?;
        Ok(OuterKey {
            time: i64::from_be_bytes(*time) ^ i64::MIN,
            side,
            key,
            sequence: u64::from_be_bytes(sequence),
        })
    }
}

#[cfg(test)]
mod tests;
