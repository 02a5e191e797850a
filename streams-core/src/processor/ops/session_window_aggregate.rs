//! Session-windowed `count` / `reduce` / `aggregate` over [`SessionWindows`]: one running value per
//! key and activity session, sessions merged as records bridge them, late records dropped (Kafka
//! Streams' `KStreamSessionWindowAggregate`).
//!
//! A session is `[first, last]`, both inclusive. A record of key `k` at `t` belongs with every
//! session of `k` that reaches into `[t - gap, t + gap]` (a session ending exactly `gap` before `t`,
//! or starting exactly `gap` after it, counts); all of them and the record become one session:
//!
//! ```text
//!   gap = 5        record at 12
//!                       │
//!   before:  [3 ─── 8]  ▼  [15 ── 19]        two sessions, each within 5 of 12
//!   after:   [3 ──────────────── 19]         one session: the merged aggregates, then the record
//!   forwarded:  [3, 8]   → Change(None, old)    tombstone, timestamp 8
//!               [15, 19] → Change(None, old)    tombstone, timestamp 19
//!               [3, 19]  → Change(new, None)    the merged session, timestamp 19
//! ```

use std::sync::Arc;

use super::stream_aggregate::Updater;
use crate::error::Result;
use crate::processor::{Change, Data, Processor, ProcessorContext, Record, SessionStoreHandle};
use crate::serde::SharedSerde;
use crate::state::traits::SessionWindow;
use crate::time::{SessionWindows, Window, Windowed};

/// Merges two sessions' aggregates when a record bridges them: `merge(key, earlier, later)`, where
/// `earlier` is what has been merged so far and `later` the next session by end time (Kafka's
/// `Merger`).
pub(crate) type Merger<K, VA> = Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>;

/// For each record at `t`, with `gap` the inactivity gap:
///
/// 1. Finds the key's sessions that end at or after `t - gap` and start at or before `t + gap`,
///    and the merged session `[min start, max end]` of them and `[t, t]`.
/// 2. If the merged session's end is before the close time, *stream time − grace − gap* (the
///    task's stream time, which counts this record), the record is late: it is dropped and counted
///    in the dropped-records metric, and nothing changes. A session can therefore still be
///    extended by an out-of-order record until stream time passes its end + gap + grace.
/// 3. Otherwise the aggregate is the found sessions' aggregates folded with `merge`, in the store's
///    order (by end, then start), then the record applied with `update`
///    (`update(key, value, None)` when no session was found). Kafka folds the same way from the
///    initializer, so the results agree whenever the initializer is neutral for the merger (as for
///    `count`, `reduce`, and any sensible `aggregate`).
/// 4. Each found session other than the merged one is removed from the store and a tombstone
///    `Change(None, Some(its aggregate))` is forwarded for it; then the merged session is put and
///    `Change(Some(new), old)` is forwarded, `old` being the aggregate the store held for that same
///    session window, if any. Every record forwarded is stamped with its session's end, as Kafka
///    Streams does, and keeps the input's headers.
///
/// Step 4 is what Kafka Streams forwards when the store's cache is flushed after every record
/// with old values enabled, which is this crate's model (see the test driver). Kafka without a cache
/// differs in two ways: when the record changes the session's window, it also forwards a tombstone
/// for a found session whose window equals the merged one (just before re-putting it), and the
/// update never carries an old value.
pub(crate) struct SessionWindowAggregate<K, V, VA> {
    pub(crate) windows: SessionWindows,
    pub(crate) store: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<VA>,
    pub(crate) update: Updater<K, V, VA>,
    pub(crate) merge: Merger<K, VA>,
    /// The session store; values are plain aggregates with no timestamp, as in Kafka's session
    /// stores (a session's timestamp is its end).
    pub(crate) handle: Option<SessionStoreHandle<K, VA>>,
}

/// What one record does to its key's sessions: the records to forward, in order.
type Forwards<K, VA> = Vec<(Windowed<K>, Change<VA>)>;

impl<K: Data, V: Data, VA: Data> SessionWindowAggregate<K, V, VA> {
    /// Applies `record` to the store; `None` when it is late (nothing was changed).
    fn apply(
        &self,
        record: &Record<K, V>,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<Option<Forwards<K, VA>>> {
        let handle = self.handle.as_ref().expect("init ran");
        let (key, time, gap) = (&record.key, record.timestamp, self.windows.inactivity_gap_ms());
        let mut store = ctx.session_store(handle);
        let found = store.find_sessions(key, time.saturating_sub(gap), time.saturating_add(gap))?;
        let merged = found
            .iter()
            .fold(SessionWindow { start: time, end: time }, |merged, (session, _)| {
                SessionWindow {
                    start: merged.start.min(session.start),
                    end: merged.end.max(session.end),
                }
            });
        if merged.end < close_time {
            return Ok(None);
        }
        let windowed = |session: SessionWindow| Windowed::new(key.clone(), Window::new(session.start, session.end));
        let mut forwards = Vec::with_capacity(found.len() + 1);
        let (mut aggregate, mut old) = (None, None);
        for (session, value) in found {
            if session == merged {
                old = Some(value.clone());
            } else {
                store.remove(key, session)?;
                forwards.push((windowed(session), Change::new(None, Some(value.clone()))));
            }
            aggregate = Some(match aggregate {
                None => value,
                Some(so_far) => (self.merge)(key, so_far, value),
            });
        }
        let new = (self.update)(key, &record.value, aggregate);
        store.put(key, merged, &new)?;
        forwards.push((windowed(merged), Change::new(Some(new), old)));
        Ok(Some(forwards))
    }
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, Windowed<K>, Change<VA>> for SessionWindowAggregate<K, V, VA> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        self.handle =
            Some(ctx.session_store_handle_with(&self.store, self.key_serde.clone(), self.value_serde.clone())?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let stream_time = ctx
            .stream_time()
            .map_or(record.timestamp, |time| time.max(record.timestamp));
        let close_time = stream_time
            .saturating_sub(self.windows.grace_ms())
            .saturating_sub(self.windows.inactivity_gap_ms());
        let Some(forwards) = self.apply(&record, close_time, ctx)? else {
            ctx.record_dropped();
            return Ok(());
        };
        let handle = self.handle.as_ref().expect("init ran");
        for (key, change) in forwards {
            let timestamp = key.window.end;
            let session = SessionWindow {
                start: key.window.start,
                end: key.window.end,
            };
            let change = Record {
                key,
                value: change,
                timestamp,
                headers: record.headers.clone(),
            };
            ctx.forward_session_change(handle, &record.key, session, change)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::config::StreamsConfig;
    use crate::serde::DefaultSerde;
    use crate::state::StoreBuilder;
    use crate::testing::{TestInputTopic, TopologyTestDriver};
    use crate::topology::Topology;

    const STORE: &str = "sessions";

    /// What the aggregate forwarded: key, window start and end, new, old, timestamp.
    type Output = (String, i64, i64, Option<i64>, Option<i64>, i64);

    /// Records every change the aggregate forwards, tombstones included.
    struct Capture(Arc<Mutex<Vec<Output>>>);

    impl Processor<Windowed<String>, Change<i64>, Windowed<String>, Change<i64>> for Capture {
        fn process(
            &mut self,
            record: Record<Windowed<String>, Change<i64>>,
            _ctx: &mut ProcessorContext<'_, Windowed<String>, Change<i64>>,
        ) -> Result<()> {
            let Record {
                key, value, timestamp, ..
            } = record;
            self.0.lock().unwrap().push((
                key.key,
                key.window.start,
                key.window.end,
                value.new,
                value.old,
                timestamp,
            ));
            Ok(())
        }
    }

    struct Harness {
        driver: TopologyTestDriver,
        input: TestInputTopic<String, i64>,
        outputs: Arc<Mutex<Vec<Output>>>,
    }

    impl Harness {
        /// Sums the values of each session (the merger adds); the store keeps `retention`, by default
        /// `gap + grace` as the DSL gives it.
        fn sum(gap: i64, grace: i64) -> Self {
            Self::new(gap, grace, gap + grace, Arc::new(|_: &String, a: i64, b: i64| a + b))
        }

        fn new(gap: i64, grace: i64, retention: i64, merge: Merger<String, i64>) -> Self {
            let windows = SessionWindows::of_inactivity_gap_and_grace(
                Duration::from_millis(gap as u64),
                Duration::from_millis(grace as u64),
            );
            let update: Updater<String, i64, i64> = Arc::new(|_, value, sum| sum.unwrap_or(0) + value);
            let outputs = Arc::new(Mutex::new(Vec::new()));
            let mut topology = Topology::new();
            topology.add_source::<String, i64>("source", &["input"]).unwrap();
            topology
                .add_store(StoreBuilder::session(STORE, Duration::from_millis(retention as u64)))
                .unwrap();
            let aggregate = topology
                .add_processor_node("aggregate", &[0], vec![STORE.into()], move || SessionWindowAggregate {
                    windows,
                    store: STORE.to_string(),
                    key_serde: String::default_serde(),
                    value_serde: i64::default_serde(),
                    update: update.clone(),
                    merge: merge.clone(),
                    handle: None,
                })
                .unwrap();
            let captured = outputs.clone();
            topology
                .add_processor_node("capture", &[aggregate], Vec::new(), move || Capture(captured.clone()))
                .unwrap();
            let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("sessions")).unwrap();
            let input = driver.input_topic::<String, i64>("input");
            Harness { driver, input, outputs }
        }

        fn pipe(&self, key: &str, value: i64, time: i64) {
            self.input.pipe_input_at(key.to_string(), value, time);
        }

        /// The outputs since the last call.
        fn take(&self) -> Vec<Output> {
            std::mem::take(&mut *self.outputs.lock().unwrap())
        }

        /// The sessions of `key` in the store: `(start, end, aggregate)`.
        fn sessions(&self, key: &str) -> Vec<(i64, i64, i64)> {
            let store = self.driver.session_store::<String, i64>(STORE);
            store
                .fetch_sessions(&key.to_string())
                .into_iter()
                .map(|(w, v)| (w.start, w.end, v))
                .collect()
        }
    }

    fn out(key: &str, start: i64, end: i64, new: Option<i64>, old: Option<i64>) -> Output {
        (key.to_string(), start, end, new, old, end)
    }

    #[test]
    fn session_window_isolated_records_start_new_sessions() {
        let h = Harness::sum(10, 100);
        h.pipe("a", 1, 0);
        h.pipe("a", 2, 11);
        h.pipe("a", 3, 30);
        assert_eq!(
            h.take(),
            vec![
                out("a", 0, 0, Some(1), None),
                out("a", 11, 11, Some(2), None),
                out("a", 30, 30, Some(3), None),
            ]
        );
        assert_eq!(h.sessions("a"), vec![(0, 0, 1), (11, 11, 2), (30, 30, 3)]);
    }

    #[test]
    fn session_window_a_record_within_the_gap_extends_the_session() {
        let h = Harness::sum(10, 0);
        h.pipe("a", 1, 0);
        h.pipe("a", 2, 5);
        h.pipe("a", 4, 12);
        // A record inside the session keeps its window: an update with the old value, no tombstone.
        h.pipe("a", 8, 7);
        assert_eq!(
            h.take(),
            vec![
                out("a", 0, 0, Some(1), None),
                out("a", 0, 0, None, Some(1)),
                out("a", 0, 5, Some(3), None),
                out("a", 0, 5, None, Some(3)),
                out("a", 0, 12, Some(7), None),
                out("a", 0, 12, Some(15), Some(7)),
            ]
        );
        assert_eq!(h.sessions("a"), vec![(0, 12, 15)]);
        // A second record at the same time as a one-record session: same window, updated.
        h.pipe("a", 1, 40);
        h.pipe("a", 1, 40);
        assert_eq!(
            h.take(),
            vec![out("a", 40, 40, Some(1), None), out("a", 40, 40, Some(2), Some(1))]
        );
    }

    #[test]
    fn session_window_a_record_in_the_gap_merges_two_sessions_with_the_merger() {
        // The merger tells its arguments apart: (earlier, later) -> earlier * 100 + later.
        let h = Harness::new(10, 100, 110, Arc::new(|_: &String, a: i64, b: i64| a * 100 + b));
        h.pipe("a", 1, 0);
        h.pipe("a", 2, 20);
        h.take();
        h.pipe("a", 3, 10);
        // The sessions folded by end (1 then 2) with the merger, then the record added: 102 + 3.
        assert_eq!(
            h.take(),
            vec![
                out("a", 0, 0, None, Some(1)),
                out("a", 20, 20, None, Some(2)),
                out("a", 0, 20, Some(105), None)
            ]
        );
        assert_eq!(h.sessions("a"), vec![(0, 20, 105)]);
    }

    #[test]
    fn session_window_a_record_merges_every_session_it_reaches_and_keeps_the_others() {
        let h = Harness::sum(10, 100);
        for (value, time) in [(1, 0), (2, 15), (4, 30), (8, 45)] {
            h.pipe("a", value, time);
        }
        h.take();
        // 22 reaches [15, 15] (7 before) and [30, 30] (8 after), not [0, 0] (22 before) nor [45, 45].
        h.pipe("a", 16, 22);
        assert_eq!(
            h.take(),
            vec![
                out("a", 15, 15, None, Some(2)),
                out("a", 30, 30, None, Some(4)),
                out("a", 15, 30, Some(22), None)
            ]
        );
        assert_eq!(h.sessions("a"), vec![(0, 0, 1), (15, 30, 22), (45, 45, 8)]);
        // A record bridging a merged session and the one after it replaces both.
        h.pipe("a", 32, 38);
        assert_eq!(
            h.take(),
            vec![
                out("a", 15, 30, None, Some(22)),
                out("a", 45, 45, None, Some(8)),
                out("a", 15, 45, Some(62), None)
            ]
        );
        assert_eq!(h.sessions("a"), vec![(0, 0, 1), (15, 45, 62)]);
    }

    #[test]
    fn session_window_bounds_are_inclusive_of_the_gap() {
        // Grace only keeps the first session in the store to be read.
        let h = Harness::sum(10, 20);
        h.pipe("a", 1, 100);
        // Exactly `gap` after the session's end: joins it.
        h.pipe("a", 2, 110);
        assert_eq!(h.sessions("a"), vec![(100, 110, 3)]);
        // `gap + 1` after: a new session.
        h.pipe("a", 4, 121);
        assert_eq!(h.sessions("a"), vec![(100, 110, 3), (121, 121, 4)]);

        // Exactly `gap` before a session's start (out of order, within grace) joins it too.
        let h = Harness::sum(10, 50);
        h.pipe("b", 1, 100);
        h.pipe("b", 2, 90);
        assert_eq!(h.sessions("b"), vec![(90, 100, 3)]);
        h.pipe("b", 4, 79);
        assert_eq!(h.sessions("b"), vec![(79, 79, 4), (90, 100, 3)]);
    }

    #[test]
    fn session_window_an_out_of_order_record_within_grace_extends_an_old_session() {
        let h = Harness::sum(10, 20);
        h.pipe("a", 1, 0);
        h.pipe("a", 2, 5);
        h.pipe("other", 1, 30);
        h.take();
        // Stream time 30: close time 30 - 20 - 10 = 0; the session [0, 5] is still open.
        h.pipe("a", 4, 3);
        assert_eq!(h.take(), vec![out("a", 0, 5, Some(7), Some(3))]);
        h.pipe("a", 8, 14);
        assert_eq!(
            h.take(),
            vec![out("a", 0, 5, None, Some(7)), out("a", 0, 14, Some(15), None)]
        );
        assert_eq!(h.sessions("a"), vec![(0, 14, 15)]);
        assert_eq!(h.driver.dropped_records(), 0);
    }

    #[test]
    fn session_window_a_late_record_is_dropped_and_counted() {
        // Kafka's test: gap 10, grace 1; a session closes once stream time passes end + gap + grace.
        // A long retention keeps closed sessions readable.
        let h = Harness::new(10, 1, 1_000, Arc::new(|_: &String, a: i64, b: i64| a + b));
        h.pipe("on-time", 1, 0);
        h.pipe("x", 1, 8);
        h.pipe("dummy", 1, 11);
        h.take();
        // Close time 11 - 1 - 10 = 0: a session ending at 0 is not before it.
        h.pipe("on-time-2", 1, 0);
        assert_eq!(h.take(), vec![out("on-time-2", 0, 0, Some(1), None)]);
        h.pipe("dummy", 1, 12);
        h.take();
        // Close time 1: a new session [0, 0] would end before it.
        h.pipe("late", 1, 0);
        assert_eq!(h.take(), vec![]);
        assert_eq!(h.sessions("late"), vec![]);
        assert_eq!(h.driver.dropped_records(), 1);
        // Nor is a closed session extended.
        h.pipe("on-time", 5, 0);
        assert_eq!(h.take(), vec![]);
        assert_eq!(h.sessions("on-time"), vec![(0, 0, 1)]);
        assert_eq!(h.driver.dropped_records(), 2);
        // A record at 0 that reaches an open session is on time: the merged session's end counts.
        h.pipe("x", 2, 0);
        assert_eq!(
            h.take(),
            vec![out("x", 8, 8, None, Some(1)), out("x", 0, 8, Some(3), None)]
        );
        assert_eq!(h.sessions("x"), vec![(0, 8, 3)]);
        assert_eq!(h.driver.dropped_records(), 2);
    }

    #[test]
    fn session_window_sessions_of_different_keys_are_independent() {
        let h = Harness::sum(10, 100);
        h.pipe("a", 1, 0);
        h.pipe("b", 10, 5);
        h.pipe("a", 2, 8);
        h.pipe("b", 20, 30);
        assert_eq!(
            h.take(),
            vec![
                out("a", 0, 0, Some(1), None),
                out("b", 5, 5, Some(10), None),
                out("a", 0, 0, None, Some(1)),
                out("a", 0, 8, Some(3), None),
                out("b", 30, 30, Some(20), None),
            ]
        );
        assert_eq!(h.sessions("a"), vec![(0, 8, 3)]);
        assert_eq!(h.sessions("b"), vec![(5, 5, 10), (30, 30, 20)]);
    }

    /// Sessions of a set of timestamps, by brute force: sorted, split where consecutive timestamps
    /// are more than `gap` apart; `(start, end, sum of values)`.
    fn model(mut records: Vec<(i64, i64)>, gap: i64) -> Vec<(i64, i64, i64)> {
        records.sort_unstable();
        let mut sessions: Vec<(i64, i64, i64)> = Vec::new();
        for (time, value) in records {
            match sessions.last_mut() {
                Some(last) if time - last.1 <= gap => {
                    last.1 = time;
                    last.2 += value;
                }
                _ => sessions.push((time, time, value)),
            }
        }
        sessions
    }

    /// The table the forwarded changes describe, replayed: `(start, end, aggregate)` by end.
    fn replay(outputs: Vec<Output>) -> Vec<(i64, i64, i64)> {
        let mut table = std::collections::BTreeMap::new();
        for (_, start, end, new, _, _) in outputs {
            match new {
                Some(value) => table.insert((end, start), value),
                None => table.remove(&(end, start)),
            };
        }
        table
            .into_iter()
            .map(|((end, start), value)| (start, end, value))
            .collect()
    }

    proptest! {
        #[test]
        fn session_window_in_order_records_match_the_brute_force_sessions(
            gap in 1i64..50,
            steps in prop::collection::vec((0i64..80, 1i64..10), 1..40),
        ) {
            let mut time = 0;
            let records: Vec<(i64, i64)> = steps.into_iter().map(|(step, value)| { time += step; (time, value) }).collect();
            // A long retention so that no session expires from the store before it is read.
            let h = Harness::new(gap, 0, 1_000_000, Arc::new(|_: &String, a: i64, b: i64| a + b));
            for &(time, value) in &records {
                h.pipe("k", value, time);
            }
            let expected = model(records, gap);
            prop_assert_eq!(h.sessions("k"), expected.clone());
            prop_assert_eq!(replay(h.take()), expected);
            prop_assert_eq!(h.driver.dropped_records(), 0);
        }

        #[test]
        fn session_window_shuffled_records_within_grace_give_the_same_sessions(
            gap in 1i64..50,
            records in prop::collection::vec((0i64..1_000, 1i64..10), 1..40).prop_shuffle(),
        ) {
            // Grace covers the whole time span, so nothing is late and nothing expires: sessions
            // depend only on the set of timestamps, not on their order.
            let h = Harness::sum(gap, 1_000);
            for &(time, value) in &records {
                h.pipe("k", value, time);
            }
            let expected = model(records, gap);
            prop_assert_eq!(h.sessions("k"), expected.clone());
            prop_assert_eq!(replay(h.take()), expected);
            prop_assert_eq!(h.driver.dropped_records(), 0);
        }
    }
}
