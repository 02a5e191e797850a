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
mod tests {
    //! Through the real [`TopologyTestDriver`]: two sources → the two join sides (each connected to
    //! both window stores and the outer store) → a merge → one sink, as the DSL wires a join.
    //! Tests named `kafka_*` transcribe the steps and expected outputs of Kafka Streams'
    //! `KStreamKStreamJoinTest`, `KStreamKStreamLeftJoinTest` and `KStreamKStreamOuterJoinTest`
    //! (keys `0..3` as strings, the joiner `MockValueJoiner.TOSTRING_JOINER`, `"left+right"` with
    //! `null` for a missing side); the others state the semantics directly.

    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::StreamsConfig;
    use crate::processor::ops::pass_through::PassThrough;
    use crate::serde::DefaultSerde;
    use crate::state::StoreBuilder;
    use crate::testing::{TestInputTopic, TestOutputTopic, TopologyTestDriver};
    use crate::topology::Topology;

    /// Kafka's `MockValueJoiner.TOSTRING_JOINER`.
    fn kafka_joiner<K>() -> StreamJoiner<K, String, String, String> {
        Arc::new(|_key: &K, left: Option<&String>, right: Option<&String>| {
            format!(
                "{}+{}",
                left.map_or("null", String::as_str),
                right.map_or("null", String::as_str)
            )
        })
    }

    fn millis(ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(ms).expect("non-negative"))
    }

    /// `windows` joined as the DSL does: window stores retaining duplicates (unless
    /// `retain_duplicates` is false, to test the check) and, for left/outer joins, the outer store.
    fn topology<K: DefaultSerde + Data>(kind: JoinKind, windows: JoinWindows, retain_duplicates: bool) -> Topology {
        let mut topology = Topology::new();
        topology.add_source::<K, String>("left-source", &["left"]).unwrap();
        topology.add_source::<K, String>("right-source", &["right"]).unwrap();
        let size = windows.size_ms();
        let retention = size + windows.grace_ms();
        for name in ["left-store", "right-store"] {
            let store = StoreBuilder::window(name, millis(size), millis(retention));
            let store = if retain_duplicates {
                store.retaining_duplicates()
            } else {
                store
            };
            topology.add_store(store).unwrap();
        }
        let mut stores = vec!["left-store".to_string(), "right-store".to_string()];
        let outer_store = (kind != JoinKind::Inner).then(|| "outer-store".to_string());
        if let Some(outer) = &outer_store {
            topology.add_store(StoreBuilder::key_value(outer.clone())).unwrap();
            stores.push(outer.clone());
        }
        let spec = StreamJoinSpec {
            windows,
            kind,
            left_store: "left-store".into(),
            right_store: "right-store".into(),
            outer_store,
            key_serde: K::default_serde(),
            left_value_serde: String::default_serde(),
            right_value_serde: String::default_serde(),
            joiner: kafka_joiner(),
            shared_time: SharedJoinTime::default(),
        };
        let left_spec = spec.clone();
        let left = topology
            .add_processor_node::<K, String, K, String, _>("join-left", &[0], stores.clone(), move || {
                StreamStreamJoin::left(&left_spec)
            })
            .unwrap();
        let right = topology
            .add_processor_node::<K, String, K, String, _>("join-right", &[1], stores, move || {
                StreamStreamJoin::right(&spec)
            })
            .unwrap();
        topology
            .add_processor_node::<K, String, K, String, _>("merge", &[left, right], Vec::new(), || PassThrough)
            .unwrap();
        topology.add_sink::<K, String>("sink", "output", &["merge"]).unwrap();
        topology
    }

    /// One output record, flattened.
    type Out = (String, String, i64);

    fn out(key: &str, value: &str, timestamp: i64) -> Out {
        (key.to_string(), value.to_string(), timestamp)
    }

    /// Pipes a record to one side of a [`Harness`].
    type Pipe = fn(&Harness, &str, &str, i64);

    /// A join of string-keyed streams `left` and `right` into `output`.
    struct Harness {
        driver: TopologyTestDriver,
        left: TestInputTopic<String, String>,
        right: TestInputTopic<String, String>,
        output: TestOutputTopic<String, String>,
    }

    impl Harness {
        fn new(kind: JoinKind, windows: JoinWindows) -> Self {
            let topology = topology::<String>(kind, windows, true);
            let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("join")).unwrap();
            Harness {
                left: driver.input_topic("left"),
                right: driver.input_topic("right"),
                output: driver.output_topic("output"),
                driver,
            }
        }

        fn left(&self, key: &str, value: &str, timestamp: i64) {
            self.left.pipe_input_at(key.into(), value.into(), timestamp);
        }

        fn right(&self, key: &str, value: &str, timestamp: i64) {
            self.right.pipe_input_at(key.into(), value.into(), timestamp);
        }

        /// Pipes, for each key (a character) of `keys`, the value `prefix` + key to the left.
        fn lefts(&self, keys: &str, prefix: &str, timestamp: i64) {
            for key in keys.chars() {
                self.left(&key.to_string(), &format!("{prefix}{key}"), timestamp);
            }
        }

        /// [`lefts`](Self::lefts), to the right.
        fn rights(&self, keys: &str, prefix: &str, timestamp: i64) {
            for key in keys.chars() {
                self.right(&key.to_string(), &format!("{prefix}{key}"), timestamp);
            }
        }

        /// Everything output since the last call.
        fn take(&self) -> Vec<Out> {
            self.output
                .read_records_to_list()
                .into_iter()
                .map(|r| (r.key, r.value, r.timestamp))
                .collect()
        }
    }

    fn no_grace(d: i64) -> JoinWindows {
        JoinWindows::of_time_difference_with_no_grace(millis(d))
    }

    fn with_grace(d: i64, grace: i64) -> JoinWindows {
        JoinWindows::of_time_difference_and_grace(millis(d), millis(grace))
    }

    // --- inner joins ---------------------------------------------------------------------------

    #[test]
    fn inner_join_matches_at_exactly_d_on_both_sides_and_not_at_d_plus_one() {
        let h = Harness::new(JoinKind::Inner, with_grace(10, 50));
        h.left("k", "L", 100);
        h.right("k", "r89", 89);
        h.right("k", "r90", 90);
        h.right("k", "r110", 110);
        h.right("k", "r111", 111);
        assert_eq!(h.take(), vec![out("k", "L+r90", 100), out("k", "L+r110", 110)]);
        // From the left: 121 is d after r111 and d + 1 after r110.
        h.left("k", "L2", 121);
        assert_eq!(h.take(), vec![out("k", "L2+r111", 121)]);
        // Other keys never join.
        h.right("j", "x", 100);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn asymmetric_windows_join_before_and_after_as_declared() {
        // A left record at t joins right records in [t - 10, t]; a right record at s joins left
        // records in [s, s + 10].
        let h = Harness::new(JoinKind::Inner, with_grace(0, 50).before(millis(10)));
        h.left("k", "L", 100);
        h.right("k", "r89", 89);
        h.right("k", "r90", 90);
        h.right("k", "r100", 100);
        h.right("k", "r101", 101);
        assert_eq!(h.take(), vec![out("k", "L+r90", 100), out("k", "L+r100", 100)]);
        h.right("j", "R", 200);
        h.left("j", "l199", 199);
        h.left("j", "l200", 200);
        h.left("j", "l210", 210);
        h.left("j", "l211", 211);
        assert_eq!(h.take(), vec![out("j", "l200+R", 200), out("j", "l210+R", 210)]);
    }

    #[test]
    fn duplicates_on_either_side_give_one_result_per_pair() {
        let h = Harness::new(JoinKind::Inner, no_grace(10));
        h.left("k", "A", 100);
        h.left("k", "A", 100);
        h.left("k", "B", 100);
        h.right("k", "a", 105);
        assert_eq!(
            h.take(),
            vec![out("k", "A+a", 105), out("k", "A+a", 105), out("k", "B+a", 105)]
        );
        h.right("k", "b", 105);
        h.left("k", "C", 106);
        assert_eq!(
            h.take(),
            vec![
                out("k", "A+b", 105),
                out("k", "A+b", 105),
                out("k", "B+b", 105),
                out("k", "C+a", 106),
                out("k", "C+b", 106),
            ]
        );
    }

    #[test]
    fn output_timestamp_is_the_larger_of_the_pair() {
        let h = Harness::new(JoinKind::Inner, with_grace(10, 20));
        h.left("k", "A", 100);
        h.right("k", "early", 95);
        h.right("k", "late", 105);
        h.right("j", "x", 300);
        h.left("j", "X", 295);
        assert_eq!(
            h.take(),
            vec![out("k", "A+early", 100), out("k", "A+late", 105), out("j", "X+x", 300)]
        );
    }

    #[test]
    fn an_out_of_order_record_within_grace_joins() {
        let h = Harness::new(JoinKind::Inner, with_grace(10, 5));
        h.left("k", "A", 100);
        h.right("other", "z", 112);
        h.right("k", "a", 95);
        assert_eq!(h.take(), vec![out("k", "A+a", 100)]);
        assert_eq!(h.driver.dropped_records(), 0);
    }

    #[test]
    fn a_late_record_is_dropped_from_its_store_and_counted_but_joins_what_the_other_store_still_holds() {
        // Window stores of size 20 and retention 25: a put at t is dropped once the store has seen
        // t + 25, as Kafka's join window stores do.
        let h = Harness::new(JoinKind::Inner, with_grace(10, 5));
        h.left("k", "A", 100);
        h.left("x", "X", 200);
        h.left("k", "B", 170); // 170 <= 200 - 25: dropped from the left store
        assert_eq!(h.driver.dropped_records(), 1);
        h.right("k", "b", 165); // would join B, but the left store never kept it
        assert_eq!(h.take(), vec![]);
        h.right("k", "c", 178);
        assert_eq!(h.take(), vec![]);
        // Late again, but the right store still holds b and c: Kafka joins them.
        h.left("k", "C", 175);
        assert_eq!(h.driver.dropped_records(), 2);
        assert_eq!(h.take(), vec![out("k", "C+b", 175), out("k", "C+c", 178)]);
    }

    #[test]
    fn init_rejects_a_window_store_that_does_not_retain_duplicates() {
        let topology = topology::<String>(JoinKind::Inner, no_grace(10), false);
        let error = TopologyTestDriver::new(topology, StreamsConfig::for_tests("join")).unwrap_err();
        assert!(error.to_string().contains("retaining duplicates"), "{error}");
    }

    #[test]
    fn kafka_inner_join() {
        // KStreamKStreamJoinTest.testJoin: every record at 0.
        let h = Harness::new(JoinKind::Inner, no_grace(100));
        h.lefts("01", "A", 0);
        assert_eq!(h.take(), vec![]);
        h.rights("01", "a", 0);
        assert_eq!(h.take(), vec![out("0", "A0+a0", 0), out("1", "A1+a1", 0)]);
        h.lefts("0123", "B", 0);
        assert_eq!(h.take(), vec![out("0", "B0+a0", 0), out("1", "B1+a1", 0)]);
        h.rights("0123", "b", 0);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+b0", 0),
                out("0", "B0+b0", 0),
                out("1", "A1+b1", 0),
                out("1", "B1+b1", 0),
                out("2", "B2+b2", 0),
                out("3", "B3+b3", 0),
            ]
        );
        h.lefts("0123", "C", 0);
        assert_eq!(
            h.take(),
            vec![
                out("0", "C0+a0", 0),
                out("0", "C0+b0", 0),
                out("1", "C1+a1", 0),
                out("1", "C1+b1", 0),
                out("2", "C2+b2", 0),
                out("3", "C3+b3", 0),
            ]
        );
        h.rights("01", "c", 0);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+c0", 0),
                out("0", "B0+c0", 0),
                out("0", "C0+c0", 0),
                out("1", "A1+c1", 0),
                out("1", "B1+c1", 0),
                out("1", "C1+c1", 0),
            ]
        );
    }

    #[test]
    fn kafka_inner_windowing() {
        // KStreamKStreamJoinTest.testWindowing.
        let h = Harness::new(JoinKind::Inner, no_grace(100));
        h.lefts("01", "A", 0);
        assert_eq!(h.take(), vec![]);
        h.rights("01", "a", 0);
        assert_eq!(h.take(), vec![out("0", "A0+a0", 0), out("1", "A1+a1", 0)]);
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.left(key, &format!("B{key}"), 1000 + i as i64);
        }
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "b", 1100);
        assert_eq!(
            h.take(),
            vec![
                out("0", "B0+b0", 1100),
                out("1", "B1+b1", 1100),
                out("2", "B2+b2", 1100),
                out("3", "B3+b3", 1100),
            ]
        );
        h.rights("0123", "c", 1101);
        assert_eq!(
            h.take(),
            vec![
                out("1", "B1+c1", 1101),
                out("2", "B2+c2", 1101),
                out("3", "B3+c3", 1101)
            ]
        );
        h.rights("0123", "d", 1102);
        assert_eq!(h.take(), vec![out("2", "B2+d2", 1102), out("3", "B3+d3", 1102)]);
        h.rights("0123", "e", 1103);
        assert_eq!(h.take(), vec![out("3", "B3+e3", 1103)]);
        h.rights("0123", "f", 1104);
        assert_eq!(h.take(), vec![]);
        // Before the window; from here on the right store expires these puts (each is counted),
        // yet they still join the left records the left store holds.
        h.rights("0123", "g", 899);
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "h", 900);
        assert_eq!(h.take(), vec![out("0", "B0+h0", 1000)]);
        h.rights("0123", "i", 901);
        assert_eq!(h.take(), vec![out("0", "B0+i0", 1000), out("1", "B1+i1", 1001)]);
        h.rights("0123", "j", 902);
        assert_eq!(
            h.take(),
            vec![
                out("0", "B0+j0", 1000),
                out("1", "B1+j1", 1001),
                out("2", "B2+j2", 1002)
            ]
        );
        h.rights("0123", "k", 903);
        assert_eq!(
            h.take(),
            vec![
                out("0", "B0+k0", 1000),
                out("1", "B1+k1", 1001),
                out("2", "B2+k2", 1002),
                out("3", "B3+k3", 1003),
            ]
        );
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.right(key, &format!("l{key}"), 2000 + i as i64);
        }
        assert_eq!(h.take(), vec![]);
        h.lefts("0123", "C", 2100);
        assert_eq!(
            h.take(),
            vec![
                out("0", "C0+l0", 2100),
                out("1", "C1+l1", 2100),
                out("2", "C2+l2", 2100),
                out("3", "C3+l3", 2100),
            ]
        );
        h.lefts("0123", "D", 2101);
        assert_eq!(
            h.take(),
            vec![
                out("1", "D1+l1", 2101),
                out("2", "D2+l2", 2101),
                out("3", "D3+l3", 2101)
            ]
        );
        h.lefts("0123", "E", 2102);
        assert_eq!(h.take(), vec![out("2", "E2+l2", 2102), out("3", "E3+l3", 2102)]);
        h.lefts("0123", "F", 2103);
        assert_eq!(h.take(), vec![out("3", "F3+l3", 2103)]);
        h.lefts("0123", "G", 2104);
        assert_eq!(h.take(), vec![]);
        h.lefts("0123", "H", 1899);
        assert_eq!(h.take(), vec![]);
        h.lefts("0123", "I", 1900);
        assert_eq!(h.take(), vec![out("0", "I0+l0", 2000)]);
        h.lefts("0123", "J", 1901);
        assert_eq!(h.take(), vec![out("0", "J0+l0", 2000), out("1", "J1+l1", 2001)]);
        h.lefts("0123", "K", 1902);
        assert_eq!(
            h.take(),
            vec![
                out("0", "K0+l0", 2000),
                out("1", "K1+l1", 2001),
                out("2", "K2+l2", 2002)
            ]
        );
        h.lefts("0123", "L", 1903);
        assert_eq!(
            h.take(),
            vec![
                out("0", "L0+l0", 2000),
                out("1", "L1+l1", 2001),
                out("2", "L2+l2", 2002),
                out("3", "L3+l3", 2003),
            ]
        );
        // g..k on the right (20 puts at or before 1104 - 200) and H..L on the left (20 puts at or
        // before 2104 - 200), by the in-memory store's rule (Kafka's RocksDB segments expire later).
        assert_eq!(h.driver.dropped_records(), 40);
    }

    #[test]
    fn kafka_inner_asymmetric_after() {
        // KStreamKStreamJoinTest.testAsymmetricWindowingAfter: before 0, after 100.
        let h = Harness::new(JoinKind::Inner, no_grace(0).after(millis(100)));
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.left(key, &format!("A{key}"), 1000 + i as i64);
        }
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "a", 999);
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "b", 1000);
        assert_eq!(h.take(), vec![out("0", "A0+b0", 1000)]);
        h.rights("0123", "c", 1001);
        assert_eq!(h.take(), vec![out("0", "A0+c0", 1001), out("1", "A1+c1", 1001)]);
        h.rights("0123", "d", 1002);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+d0", 1002),
                out("1", "A1+d1", 1002),
                out("2", "A2+d2", 1002)
            ]
        );
        h.rights("0123", "e", 1003);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+e0", 1003),
                out("1", "A1+e1", 1003),
                out("2", "A2+e2", 1003),
                out("3", "A3+e3", 1003),
            ]
        );
        h.rights("0123", "f", 1100);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+f0", 1100),
                out("1", "A1+f1", 1100),
                out("2", "A2+f2", 1100),
                out("3", "A3+f3", 1100),
            ]
        );
        h.rights("0123", "g", 1101);
        assert_eq!(
            h.take(),
            vec![
                out("1", "A1+g1", 1101),
                out("2", "A2+g2", 1101),
                out("3", "A3+g3", 1101)
            ]
        );
        h.rights("0123", "h", 1102);
        assert_eq!(h.take(), vec![out("2", "A2+h2", 1102), out("3", "A3+h3", 1102)]);
        h.rights("0123", "i", 1103);
        assert_eq!(h.take(), vec![out("3", "A3+i3", 1103)]);
        h.rights("0123", "j", 1104);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn kafka_inner_asymmetric_before() {
        // KStreamKStreamJoinTest.testAsymmetricWindowingBefore: before 100, after 0.
        let h = Harness::new(JoinKind::Inner, no_grace(0).before(millis(100)));
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.left(key, &format!("A{key}"), 1000 + i as i64);
        }
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "a", 899);
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "b", 900);
        assert_eq!(h.take(), vec![out("0", "A0+b0", 1000)]);
        h.rights("0123", "c", 901);
        assert_eq!(h.take(), vec![out("0", "A0+c0", 1000), out("1", "A1+c1", 1001)]);
        h.rights("0123", "d", 902);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+d0", 1000),
                out("1", "A1+d1", 1001),
                out("2", "A2+d2", 1002)
            ]
        );
        h.rights("0123", "e", 903);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+e0", 1000),
                out("1", "A1+e1", 1001),
                out("2", "A2+e2", 1002),
                out("3", "A3+e3", 1003),
            ]
        );
        h.rights("0123", "f", 1000);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+f0", 1000),
                out("1", "A1+f1", 1001),
                out("2", "A2+f2", 1002),
                out("3", "A3+f3", 1003),
            ]
        );
        h.rights("0123", "g", 1001);
        assert_eq!(
            h.take(),
            vec![
                out("1", "A1+g1", 1001),
                out("2", "A2+g2", 1002),
                out("3", "A3+g3", 1003)
            ]
        );
        h.rights("0123", "h", 1002);
        assert_eq!(h.take(), vec![out("2", "A2+h2", 1002), out("3", "A3+h3", 1003)]);
        h.rights("0123", "i", 1003);
        assert_eq!(h.take(), vec![out("3", "A3+i3", 1003)]);
        h.rights("0123", "j", 1004);
        assert_eq!(h.take(), vec![]);
    }

    // --- left joins ----------------------------------------------------------------------------

    #[test]
    fn left_join_emits_a_non_match_once_stream_time_passes_window_end_plus_grace_and_not_before() {
        // A at 100 joins right records up to 110; with grace 5 its window closes after 115.
        let h = Harness::new(JoinKind::Left, with_grace(10, 5));
        h.left("k", "A", 100);
        h.right("x", "x", 110);
        h.right("x", "y", 115);
        assert_eq!(h.take(), vec![]);
        h.right("x", "z", 116);
        assert_eq!(h.take(), vec![out("k", "A+null", 100)]);
        // Stream time alone (the driver's shorthand) closes windows too, through the punctuation.
        h.left("k", "B", 200);
        h.driver.advance_stream_time_to(215);
        assert_eq!(h.take(), vec![]);
        h.driver.advance_stream_time_to(216);
        let emitted = h.output.read_records_to_list();
        assert_eq!(emitted.len(), 1);
        assert_eq!((emitted[0].key.as_str(), emitted[0].value.as_str()), ("k", "B+null"));
        assert_eq!(emitted[0].timestamp, 200);
        assert!(emitted[0].headers.is_empty());
        h.driver.advance_stream_time_to(1000);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn left_join_emits_no_non_match_for_a_record_that_found_a_match_in_time() {
        let h = Harness::new(JoinKind::Left, with_grace(10, 5));
        h.left("k", "A", 100);
        h.right("k", "a", 110);
        assert_eq!(h.take(), vec![out("k", "A+a", 110)]);
        // After the window's end, within grace, an out-of-order match still counts.
        h.left("k", "B", 300);
        h.right("x", "z", 313);
        h.right("k", "b", 310);
        assert_eq!(h.take(), vec![out("k", "B+b", 310)]);
        h.driver.advance_stream_time_to(1000);
        h.right("x", "dummy", 2000);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn non_matches_come_out_in_time_order() {
        let h = Harness::new(JoinKind::Left, with_grace(10, 50));
        h.left("b", "B", 50);
        h.left("c", "C", 60);
        h.left("a", "A", 40);
        h.left("a", "A2", 40);
        h.left("d", "D", 45);
        assert_eq!(h.take(), vec![]);
        h.driver.advance_stream_time_to(200);
        assert_eq!(
            h.take(),
            vec![
                out("a", "A+null", 40),
                out("a", "A2+null", 40),
                out("d", "D+null", 45),
                out("b", "B+null", 50),
                out("c", "C+null", 60),
            ]
        );
    }

    #[test]
    fn closed_non_matches_wait_for_kafkas_trigger_while_records_reach_the_join() {
        // Before 100, after 0: A's window [900, 1000] closes after 1000. Kafka's walk is skipped
        // when `minTime + this side's after + grace >= stream time`; on the right side "after" is
        // 100, so a right record at 1050 does not emit A, and neither does the punctuation, since
        // a join record handled that stream time. The next left record does.
        let h = Harness::new(JoinKind::Left, no_grace(100).after(millis(0)));
        h.left("a", "A", 1000);
        h.right("x", "x", 1050);
        assert_eq!(h.take(), vec![]);
        h.left("b", "B", 1051);
        assert_eq!(h.take(), vec![out("a", "A+null", 1000)]);
        // Stream time moved by no join record: the punctuation walks the buffer.
        h.driver.advance_stream_time_to(1052);
        assert_eq!(h.take(), vec![out("b", "B+null", 1051)]);
    }

    #[test]
    fn kafka_left_duplicates() {
        // KStreamKStreamLeftJoinTest.testLeftJoinDuplicates: 100 ms, grace 10.
        let h = Harness::new(JoinKind::Left, with_grace(100, 10));
        h.left("0", "A0", 0);
        h.left("0", "A0-0", 0);
        h.right("1", "a0", 111);
        h.right("2", "dummy", 500);
        assert_eq!(h.take(), vec![out("0", "A0+null", 0), out("0", "A0-0+null", 0)]);
        h.left("2", "A2", 1000);
        h.left("2", "A2-0", 1000);
        h.right("2", "a2", 1001);
        assert_eq!(h.take(), vec![out("2", "A2+a2", 1001), out("2", "A2-0+a2", 1001)]);
        h.right("3", "a3", 315);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn kafka_left_expired_non_joined_records_are_emitted_by_either_processor() {
        // KStreamKStreamLeftJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByThe{Left,Right}Processor.
        for by_left in [true, false] {
            let h = Harness::new(JoinKind::Left, with_grace(100, 0));
            h.left("0", "A0", 1);
            h.left("1", "A1", 2);
            h.left("0", "A0-0", 3);
            assert_eq!(h.take(), vec![]);
            h.right("1", "a1", 3);
            assert_eq!(h.take(), vec![out("1", "A1+a1", 3)]);
            if by_left {
                h.left("2", "dummy", 401);
            } else {
                h.right("2", "dummy", 401);
            }
            assert_eq!(h.take(), vec![out("0", "A0+null", 1), out("0", "A0-0+null", 3)]);
            if by_left {
                h.right("2", "dummy", 401);
                assert_eq!(h.take(), vec![out("2", "dummy+dummy", 401)]);
            } else {
                h.left("2", "dummy", 402);
                assert_eq!(h.take(), vec![out("2", "dummy+dummy", 402)]);
            }
        }
    }

    #[test]
    fn kafka_left_right_non_joined_records_are_never_emitted() {
        // KStreamKStreamLeftJoinTest.testRightNonJoinedRecordsAreNeverEmittedByThe{Left,Right}Processor.
        for by_left in [true, false] {
            let h = Harness::new(JoinKind::Left, with_grace(100, 0));
            h.right("0", "A0", 1);
            h.right("1", "A1", 2);
            h.right("0", "A0-0", 3);
            assert_eq!(h.take(), vec![]);
            h.left("1", "a1", 3);
            assert_eq!(h.take(), vec![out("1", "a1+A1", 3)]);
            if by_left {
                h.left("2", "dummy", 401);
                assert_eq!(h.take(), vec![]);
                h.right("2", "dummy", 402);
            } else {
                h.right("2", "dummy", 401);
                assert_eq!(h.take(), vec![]);
                h.left("2", "dummy", 402);
            }
            assert_eq!(h.take(), vec![out("2", "dummy+dummy", 402)]);
        }
    }

    #[test]
    fn kafka_left_joined_records_with_zero_after_are_emitted() {
        // KStreamKStreamLeftJoinTest.testLeftJoinedRecordsWithZeroAfterAreEmitted: before 100,
        // after 0. A left record's window ends at its own timestamp, so the next record closes it;
        // a right record still joins it later (its window is [s, s + 100]), as in Kafka.
        let h = Harness::new(JoinKind::Left, no_grace(100).after(millis(0)));
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.left(key, &format!("A{key}"), 1000 + i as i64);
        }
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+null", 1000),
                out("1", "A1+null", 1001),
                out("2", "A2+null", 1002)
            ]
        );
        h.rights("0123", "a", 999);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+a0", 1000),
                out("1", "A1+a1", 1001),
                out("2", "A2+a2", 1002),
                out("3", "A3+a3", 1003),
            ]
        );
        h.rights("0123", "b", 1000);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+b0", 1000),
                out("1", "A1+b1", 1001),
                out("2", "A2+b2", 1002),
                out("3", "A3+b3", 1003),
            ]
        );
        h.rights("0123", "c", 1001);
        assert_eq!(
            h.take(),
            vec![
                out("1", "A1+c1", 1001),
                out("2", "A2+c2", 1002),
                out("3", "A3+c3", 1003)
            ]
        );
        h.rights("0123", "d", 1002);
        assert_eq!(h.take(), vec![out("2", "A2+d2", 1002), out("3", "A3+d3", 1003)]);
        h.rights("0123", "e", 1003);
        assert_eq!(h.take(), vec![out("3", "A3+e3", 1003)]);
        h.rights("0123", "f", 1100);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn kafka_left_ordering() {
        // KStreamKStreamLeftJoinTest.testOrdering: the closed non-match comes before the join.
        let h = Harness::new(JoinKind::Left, no_grace(100));
        h.left("0", "A0", 0);
        h.left("1", "A1", 100);
        assert_eq!(h.take(), vec![]);
        h.right("1", "a1", 110);
        assert_eq!(h.take(), vec![out("0", "A0+null", 0), out("1", "A1+a1", 110)]);
    }

    #[test]
    fn kafka_left_grace_period() {
        // KStreamKStreamLeftJoinTest.testGracePeriod: 100 ms, grace 10.
        let h = Harness::new(JoinKind::Left, with_grace(100, 10));
        h.lefts("01", "A", 0);
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "a", 101);
        assert_eq!(h.take(), vec![]);
        h.right("0", "dummy", 1201);
        assert_eq!(h.take(), vec![out("0", "A0+null", 0), out("1", "A1+null", 0)]);
    }

    #[test]
    fn kafka_left_windowing() {
        // KStreamKStreamLeftJoinTest.testWindowing with testUpperWindowBound and
        // testLowerWindowBound.
        let h = Harness::new(JoinKind::Left, no_grace(100));
        h.lefts("01", "A", 0);
        assert_eq!(h.take(), vec![]);
        h.rights("0123", "a", 0);
        assert_eq!(h.take(), vec![out("0", "A0+a0", 0), out("1", "A1+a1", 0)]);
        // Upper bound.
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.right(key, &format!("b{key}"), 1000 + i as i64);
        }
        assert_eq!(h.take(), vec![]);
        h.lefts("0123", "B", 1100);
        assert_eq!(
            h.take(),
            vec![
                out("0", "B0+b0", 1100),
                out("1", "B1+b1", 1100),
                out("2", "B2+b2", 1100),
                out("3", "B3+b3", 1100),
            ]
        );
        h.lefts("0123", "C", 1101);
        assert_eq!(
            h.take(),
            vec![
                out("1", "C1+b1", 1101),
                out("2", "C2+b2", 1101),
                out("3", "C3+b3", 1101)
            ]
        );
        h.lefts("0123", "D", 1102);
        assert_eq!(h.take(), vec![out("2", "D2+b2", 1102), out("3", "D3+b3", 1102)]);
        h.lefts("0123", "E", 1103);
        assert_eq!(h.take(), vec![out("3", "E3+b3", 1103)]);
        h.lefts("0123", "F", 1104);
        assert_eq!(h.take(), vec![]);
        h.left("0", "dummy", 1405);
        assert_eq!(
            h.take(),
            vec![
                out("0", "C0+null", 1101),
                out("0", "D0+null", 1102),
                out("1", "D1+null", 1102),
                out("0", "E0+null", 1103),
                out("1", "E1+null", 1103),
                out("2", "E2+null", 1103),
                out("0", "F0+null", 1104),
                out("1", "F1+null", 1104),
                out("2", "F2+null", 1104),
                out("3", "F3+null", 1104),
            ]
        );
        // Lower bound: records whose window has closed are emitted at once when unmatched.
        h.lefts("0123", "G", 899);
        assert_eq!(
            h.take(),
            vec![
                out("0", "G0+null", 899),
                out("1", "G1+null", 899),
                out("2", "G2+null", 899),
                out("3", "G3+null", 899),
            ]
        );
        h.lefts("0123", "H", 900);
        assert_eq!(
            h.take(),
            vec![
                out("0", "H0+b0", 1000),
                out("1", "H1+null", 900),
                out("2", "H2+null", 900),
                out("3", "H3+null", 900),
            ]
        );
        h.lefts("0123", "I", 901);
        assert_eq!(
            h.take(),
            vec![
                out("0", "I0+b0", 1000),
                out("1", "I1+b1", 1001),
                out("2", "I2+null", 901),
                out("3", "I3+null", 901),
            ]
        );
        h.lefts("0123", "J", 902);
        assert_eq!(
            h.take(),
            vec![
                out("0", "J0+b0", 1000),
                out("1", "J1+b1", 1001),
                out("2", "J2+b2", 1002),
                out("3", "J3+null", 902),
            ]
        );
        h.lefts("0123", "K", 903);
        assert_eq!(
            h.take(),
            vec![
                out("0", "K0+b0", 1000),
                out("1", "K1+b1", 1001),
                out("2", "K2+b2", 1002),
                out("3", "K3+b3", 1003),
            ]
        );
        h.left("0", "dummy", 1203);
        assert_eq!(h.take(), vec![out("0", "dummy+null", 1203)]);
    }

    #[test]
    fn kafka_left_asymmetric_window() {
        // KStreamKStreamLeftJoinTest.shouldNotEmitLeftJoinResultForAsymmetricWindow: before 0.
        let h = Harness::new(JoinKind::Left, no_grace(100).before(millis(0)));
        h.left("0", "A0", 0);
        h.left("1", "A1", 1);
        assert_eq!(h.take(), vec![]);
        h.right("0", "a0", 100);
        assert_eq!(h.take(), vec![out("0", "A0+a0", 100)]);
        h.right("1", "a1", 102);
        assert_eq!(h.take(), vec![out("1", "A1+null", 1)]);
    }

    // --- outer joins ---------------------------------------------------------------------------

    #[test]
    fn outer_join_emits_the_non_matches_of_both_sides_in_time_order() {
        let h = Harness::new(JoinKind::Outer, with_grace(10, 50));
        h.left("k1", "A", 100);
        h.right("k2", "b", 95);
        h.left("k3", "C", 98);
        h.right("k4", "d", 103);
        h.right("k1", "a", 120); // too far from A
        assert_eq!(h.take(), vec![]);
        h.driver.advance_stream_time_to(155); // b's window [85, 105] closes after 155
        assert_eq!(h.take(), vec![]);
        h.driver.advance_stream_time_to(300);
        assert_eq!(
            h.take(),
            vec![
                out("k2", "null+b", 95),
                out("k3", "C+null", 98),
                out("k1", "A+null", 100),
                out("k4", "null+d", 103),
                out("k1", "null+a", 120),
            ]
        );
    }

    #[test]
    fn outer_join_sends_a_null_key_on_at_once_and_an_inner_join_drops_it() {
        // Keys are `Option<String>`; `None` is a null key on the topic.
        for kind in [JoinKind::Outer, JoinKind::Inner] {
            let topology = topology::<Option<String>>(kind, no_grace(10), true);
            let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("join")).unwrap();
            let left = driver.input_topic::<Option<String>, String>("left");
            let right = driver.input_topic::<Option<String>, String>("right");
            let output = driver.output_topic::<Option<String>, String>("output");
            left.pipe_input_at(None, "A".into(), 100);
            right.pipe_input_at(None, "a".into(), 100);
            right.pipe_input_at(Some("k".into()), "b".into(), 100);
            left.pipe_input_at(Some("k".into()), "B".into(), 101);
            let outputs: Vec<_> = output
                .read_records_to_list()
                .into_iter()
                .map(|r| (r.key, r.value, r.timestamp))
                .collect();
            let joined = (Some("k".to_string()), "B+b".to_string(), 101);
            if kind == JoinKind::Outer {
                let a = (None, "A+null".to_string(), 100);
                let b = (None, "null+a".to_string(), 100);
                assert_eq!(outputs, vec![a, b, joined]);
                assert_eq!(driver.dropped_records(), 0);
            } else {
                assert_eq!(outputs, vec![joined]);
                assert_eq!(driver.dropped_records(), 2);
            }
        }
    }

    #[test]
    fn kafka_outer_duplicates() {
        // KStreamKStreamOuterJoinTest.testOuterJoinDuplicates: 100 ms, grace 10.
        let h = Harness::new(JoinKind::Outer, with_grace(100, 10));
        h.left("0", "A0", 0);
        h.left("0", "A0-0", 0);
        h.right("1", "11", 0);
        h.right("1", "12", 0);
        h.right("1", "10", 111);
        h.right("3", "100", 211);
        assert_eq!(
            h.take(),
            vec![
                out("1", "null+11", 0),
                out("1", "null+12", 0),
                out("0", "A0+null", 0),
                out("0", "A0-0+null", 0),
            ]
        );
        h.left("2", "A2", 200);
        h.left("2", "A2-0", 200);
        h.right("2", "13", 201);
        h.right("2", "14", 201);
        assert_eq!(
            h.take(),
            vec![
                out("2", "A2+13", 201),
                out("2", "A2-0+13", 201),
                out("2", "A2+14", 201),
                out("2", "A2-0+14", 201),
            ]
        );
        h.right("3", "100", 1500);
        assert_eq!(h.take(), vec![out("1", "null+10", 111), out("3", "null+100", 211)]);
    }

    #[test]
    fn kafka_outer_expired_non_joined_records_of_either_side_are_emitted_by_either_processor() {
        // KStreamKStreamOuterJoinTest.test{Left,Right}ExpiredNonJoinedRecordsAreEmittedByThe{Left,Right}Processor.
        for (unmatched_left, by_left) in [(true, true), (true, false), (false, true), (false, false)] {
            let h = Harness::new(JoinKind::Outer, with_grace(100, 0));
            let (first, second): (Pipe, Pipe) = if unmatched_left {
                (Harness::left, Harness::right)
            } else {
                (Harness::right, Harness::left)
            };
            let (a0, a1, a0_0, match_value) = if unmatched_left {
                ("A0", "A1", "A0-0", "11")
            } else {
                ("10", "11", "12", "A1")
            };
            first(&h, "0", a0, 1);
            first(&h, "1", a1, 2);
            first(&h, "0", a0_0, 3);
            assert_eq!(h.take(), vec![]);
            second(&h, "1", match_value, 3);
            assert_eq!(h.take(), vec![out("1", "A1+11", 3)]);
            let expected = if unmatched_left {
                vec![out("0", "A0+null", 1), out("0", "A0-0+null", 3)]
            } else {
                vec![out("0", "null+10", 1), out("0", "null+12", 3)]
            };
            if by_left {
                h.left("2", "dummy", 401);
                assert_eq!(h.take(), expected);
                h.right("2", "100", if unmatched_left { 401 } else { 402 });
                let at = if unmatched_left { 401 } else { 402 };
                assert_eq!(h.take(), vec![out("2", "dummy+100", at)]);
            } else {
                h.right("2", "100", 401);
                assert_eq!(h.take(), expected);
                h.left("2", "dummy", 402);
                assert_eq!(h.take(), vec![out("2", "dummy+100", 402)]);
            }
        }
    }

    #[test]
    fn kafka_outer_ordering() {
        // KStreamKStreamOuterJoinTest.testOrdering.
        let h = Harness::new(JoinKind::Outer, no_grace(100));
        h.left("0", "A0", 0);
        h.left("1", "A1", 100);
        assert_eq!(h.take(), vec![]);
        h.right("1", "11", 110);
        assert_eq!(h.take(), vec![out("0", "A0+null", 0), out("1", "A1+11", 110)]);
    }

    #[test]
    fn kafka_outer_grace_period() {
        // KStreamKStreamOuterJoinTest.testGracePeriod: 100 ms, grace 10.
        let h = Harness::new(JoinKind::Outer, with_grace(100, 10));
        h.left("0", "A0", 0);
        h.right("1", "11", 0);
        assert_eq!(h.take(), vec![]);
        h.left("1", "A1", 101);
        h.right("0", "10", 101);
        assert_eq!(h.take(), vec![]);
        h.right("0", "100", 112);
        assert_eq!(h.take(), vec![out("1", "null+11", 0), out("0", "A0+null", 0)]);
    }

    #[test]
    fn kafka_outer_emits_all_non_joined_results_for_asymmetric_window() {
        // KStreamKStreamOuterJoinTest.testEmitAllNonJoinedResultsForAsymmetricWindow: before 5,
        // after 20.
        let h = Harness::new(JoinKind::Outer, no_grace(5).after(millis(20)));
        h.left("0", "A0", 29);
        assert_eq!(h.take(), vec![]);
        h.left("1", "A1", 30);
        assert_eq!(h.take(), vec![]);
        h.right("2", "12", 31);
        assert_eq!(h.take(), vec![]);
        h.right("3", "13", 36);
        assert_eq!(h.take(), vec![]);
        h.right("4", "14", 37);
        assert_eq!(h.take(), vec![out("2", "null+12", 31)]);
        h.right("5", "15", 50);
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+null", 29),
                out("3", "null+13", 36),
                out("4", "null+14", 37)
            ]
        );
    }

    #[test]
    fn kafka_outer_asymmetric_before_window() {
        // KStreamKStreamOuterJoinTest.testShouldNotEmitLeftJoinResultForAsymmetricBeforeWindow.
        let h = Harness::new(JoinKind::Outer, no_grace(100).before(millis(0)));
        h.left("0", "A0", 0);
        h.left("1", "A1", 1);
        assert_eq!(h.take(), vec![]);
        h.right("0", "10", 100);
        assert_eq!(h.take(), vec![out("0", "A0+10", 100)]);
        h.right("1", "11", 102);
        assert_eq!(h.take(), vec![out("1", "A1+null", 1)]);
        h.right("2", "12", 103);
        assert_eq!(h.take(), vec![out("1", "null+11", 102)]);
        h.left("2", "A2", 103);
        assert_eq!(h.take(), vec![out("2", "A2+12", 103)]);
    }

    #[test]
    fn kafka_outer_asymmetric_after_window() {
        // KStreamKStreamOuterJoinTest.testShouldNotEmitLeftJoinResultForAsymmetricAfterWindow.
        let h = Harness::new(JoinKind::Outer, no_grace(100).after(millis(0)));
        h.left("0", "A0", 0);
        h.left("1", "A1", 1);
        assert_eq!(h.take(), vec![out("0", "A0+null", 0)]);
        h.right("1", "11", 1);
        assert_eq!(h.take(), vec![out("1", "A1+11", 1)]);
        h.right("2", "12", 101);
        assert_eq!(h.take(), vec![]);
        h.right("3", "13", 101);
        assert_eq!(h.take(), vec![]);
        h.left("2", "A2", 201);
        assert_eq!(h.take(), vec![out("2", "A2+12", 201)]);
    }

    #[test]
    fn kafka_outer_join_all_at_zero() {
        // KStreamKStreamOuterJoinTest.runOuterJoin.
        let h = Harness::new(JoinKind::Outer, no_grace(100));
        h.lefts("01", "A", 0);
        assert_eq!(h.take(), vec![]);
        h.right("0", "10", 0);
        h.right("1", "11", 0);
        assert_eq!(h.take(), vec![out("0", "A0+10", 0), out("1", "A1+11", 0)]);
        h.lefts("012", "B", 0);
        assert_eq!(h.take(), vec![out("0", "B0+10", 0), out("1", "B1+11", 0)]);
        for key in ["0", "1", "2", "3"] {
            h.right(key, &format!("2{key}"), 0);
        }
        assert_eq!(
            h.take(),
            vec![
                out("0", "A0+20", 0),
                out("0", "B0+20", 0),
                out("1", "A1+21", 0),
                out("1", "B1+21", 0),
                out("2", "B2+22", 0),
            ]
        );
        h.lefts("0123", "C", 0);
        assert_eq!(
            h.take(),
            vec![
                out("0", "C0+10", 0),
                out("0", "C0+20", 0),
                out("1", "C1+11", 0),
                out("1", "C1+21", 0),
                out("2", "C2+22", 0),
                out("3", "C3+23", 0),
            ]
        );
        h.left("0", "dummy", 400);
        assert_eq!(h.take(), vec![]);
    }

    #[test]
    fn kafka_outer_windowing() {
        // KStreamKStreamOuterJoinTest.testWindowing with testUpperWindowBound and
        // testLowerWindowBound.
        let h = Harness::new(JoinKind::Outer, no_grace(100));
        h.lefts("01", "A", 0);
        assert_eq!(h.take(), vec![]);
        for key in ["0", "1", "2", "3"] {
            h.right(key, &format!("1{key}"), 0);
        }
        assert_eq!(h.take(), vec![out("0", "A0+10", 0), out("1", "A1+11", 0)]);
        // Upper bound.
        for (i, key) in ["0", "1", "2", "3"].into_iter().enumerate() {
            h.right(key, &format!("2{key}"), 1000 + i as i64);
        }
        assert_eq!(h.take(), vec![out("2", "null+12", 0), out("3", "null+13", 0)]);
        h.lefts("0123", "B", 1100);
        assert_eq!(
            h.take(),
            vec![
                out("0", "B0+20", 1100),
                out("1", "B1+21", 1100),
                out("2", "B2+22", 1100),
                out("3", "B3+23", 1100),
            ]
        );
        h.lefts("0123", "C", 1101);
        assert_eq!(
            h.take(),
            vec![
                out("1", "C1+21", 1101),
                out("2", "C2+22", 1101),
                out("3", "C3+23", 1101)
            ]
        );
        h.lefts("0123", "D", 1102);
        assert_eq!(h.take(), vec![out("2", "D2+22", 1102), out("3", "D3+23", 1102)]);
        h.lefts("0123", "E", 1103);
        assert_eq!(h.take(), vec![out("3", "E3+23", 1103)]);
        h.lefts("0123", "F", 1104);
        assert_eq!(h.take(), vec![]);
        h.left("0", "dummy", 1405);
        assert_eq!(
            h.take(),
            vec![
                out("0", "C0+null", 1101),
                out("0", "D0+null", 1102),
                out("1", "D1+null", 1102),
                out("0", "E0+null", 1103),
                out("1", "E1+null", 1103),
                out("2", "E2+null", 1103),
                out("0", "F0+null", 1104),
                out("1", "F1+null", 1104),
                out("2", "F2+null", 1104),
                out("3", "F3+null", 1104),
            ]
        );
        // Lower bound.
        h.lefts("0123", "G", 899);
        assert_eq!(
            h.take(),
            vec![
                out("0", "G0+null", 899),
                out("1", "G1+null", 899),
                out("2", "G2+null", 899),
                out("3", "G3+null", 899),
            ]
        );
        h.lefts("0123", "H", 900);
        assert_eq!(
            h.take(),
            vec![
                out("0", "H0+20", 1000),
                out("1", "H1+null", 900),
                out("2", "H2+null", 900),
                out("3", "H3+null", 900),
            ]
        );
        h.lefts("0123", "I", 901);
        assert_eq!(
            h.take(),
            vec![
                out("0", "I0+20", 1000),
                out("1", "I1+21", 1001),
                out("2", "I2+null", 901),
                out("3", "I3+null", 901),
            ]
        );
        h.lefts("0123", "J", 902);
        assert_eq!(
            h.take(),
            vec![
                out("0", "J0+20", 1000),
                out("1", "J1+21", 1001),
                out("2", "J2+22", 1002),
                out("3", "J3+null", 902),
            ]
        );
        h.lefts("0123", "K", 903);
        assert_eq!(
            h.take(),
            vec![
                out("0", "K0+20", 1000),
                out("1", "K1+21", 1001),
                out("2", "K2+22", 1002),
                out("3", "K3+23", 1003),
            ]
        );
        h.left("0", "dummy", 1103);
        assert_eq!(h.take(), vec![out("0", "dummy+null", 1103)]);
    }

    #[test]
    fn kafka_outer_forwards_the_current_records_headers() {
        // KStreamKStreamOuterJoinTest.testShouldForwardCurrentHeaders: non-matches carry the
        // headers of the record whose processing emitted them.
        let h = Harness::new(JoinKind::Outer, with_grace(100, 10));
        let headers = |b: u8| Headers::from(vec![("h".to_string(), Some(vec![b]))]);
        let record = |key: &str, value: &str, b: u8, timestamp: i64| Record {
            key: key.to_string(),
            value: value.to_string(),
            timestamp,
            headers: headers(b),
        };
        h.left.pipe_record(record("0", "A0", 1, 0));
        h.right.pipe_record(record("1", "10", 2, 0));
        h.right.pipe_record(record("3", "100", 3, 211));
        assert_eq!(
            h.output.read_records_to_list(),
            vec![record("1", "null+10", 3, 0), record("0", "A0+null", 3, 0)]
        );
        h.left.pipe_record(record("2", "A2", 4, 200));
        h.right.pipe_record(record("2", "12", 5, 200));
        assert_eq!(h.output.read_records_to_list(), vec![record("2", "A2+12", 5, 200)]);
    }

    // --- the outer store's key encoding ----------------------------------------------------------

    fn side() -> impl Strategy<Value = JoinSide> {
        prop_oneof![Just(JoinSide::Left), Just(JoinSide::Right)]
    }

    fn outer_key() -> impl Strategy<Value = OuterKey> {
        (
            any::<i64>(),
            side(),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..6),
            any::<u64>(),
        )
            .prop_map(|(time, side, key, sequence)| OuterKey {
                time,
                side,
                key,
                sequence,
            })
    }

    /// The order the encoding must give: time, right before left, key bytes, sequence.
    fn order(key: &OuterKey) -> (i64, bool, &[u8], u64) {
        (key.time, key.side == JoinSide::Left, &key.key, key.sequence)
    }

    proptest! {
        #[test]
        fn outer_keys_round_trip(key in outer_key()) {
            let bytes = key.encode();
            prop_assert_eq!(OuterKey::decode(&bytes), Ok(key.clone()));
            prop_assert_eq!(OuterKey::sequence_of(&bytes), key.sequence);
            prop_assert!(bytes.starts_with(&OuterKey::prefix(key.time, key.side, &key.key)));
        }

        #[test]
        fn outer_key_bytes_sort_as_time_side_key_sequence(a in outer_key(), b in outer_key()) {
            prop_assert_eq!(a.encode().cmp(&b.encode()), order(&a).cmp(&order(&b)));
        }

        #[test]
        fn a_prefix_matches_only_its_own_time_side_and_key(a in outer_key(), b in outer_key()) {
            let same = (a.time, a.side, &a.key) == (b.time, b.side, &b.key);
            prop_assert_eq!(b.encode().starts_with(&OuterKey::prefix(a.time, a.side, &a.key)), same);
        }
    }

    #[test]
    fn malformed_outer_keys_are_rejected() {
        let good = OuterKey {
            time: 5,
            side: JoinSide::Left,
            key: vec![0, 1],
            sequence: 7,
        }
        .encode();
        for bad in [&good[..7], &good[..good.len() - 1], &[0; 9][..]] {
            assert!(OuterKey::decode(bad).is_err(), "{bad:?}");
        }
        let mut wrong_side = good.clone();
        wrong_side[8] = 2;
        assert!(OuterKey::decode(&wrong_side).is_err());
    }
}
