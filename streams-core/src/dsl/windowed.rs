//! Windowed grouped streams: [`TimeWindowedKStream`] and the [`Windowing`] choice.

use std::sync::Arc;

use super::builder::Shared;
use super::grouped::KGroupedStream;
use super::ktable::{KTable, TableWindow};
use super::materialized::Materialized;
use crate::processor::Data;
use crate::processor::ops::session_window_aggregate::{Merger, SessionWindowAggregate};
use crate::processor::ops::sliding_window_aggregate::SlidingWindowAggregate;
use crate::processor::ops::stream_aggregate::{Updater, aggregating, counting, reducing};
use crate::processor::ops::suppress::WindowEnd;
use crate::processor::ops::window_aggregate::TimeWindowAggregate;
use crate::serde::{DefaultSerde, SharedSerde};
use crate::state::StoreBuilder;
use crate::time::{SessionWindows, SlidingWindows, TimeWindows, Windowed, duration, ms};

/// A kind of windows a grouped stream can be aggregated over; [`KGroupedStream::windowed_by`]
/// takes any of them and gives the matching windowed stream.
pub trait Windowing<K, V> {
    /// The windowed stream.
    type Stream;
    /// Windows `grouped`.
    fn windowed(self, grouped: KGroupedStream<K, V>) -> Self::Stream;
}

impl<K: Data, V: Data> Windowing<K, V> for TimeWindows {
    type Stream = TimeWindowedKStream<K, V>;

    fn windowed(self, grouped: KGroupedStream<K, V>) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped,
            windows: Kind::Time(self),
        }
    }
}

impl<K: Data, V: Data> Windowing<K, V> for SlidingWindows {
    type Stream = TimeWindowedKStream<K, V>;

    fn windowed(self, grouped: KGroupedStream<K, V>) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped,
            windows: Kind::Sliding(self),
        }
    }
}

impl<K: Data, V: Data> Windowing<K, V> for SessionWindows {
    type Stream = SessionWindowedKStream<K, V>;

    fn windowed(self, grouped: KGroupedStream<K, V>) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream { grouped, windows: self }
    }
}

/// The fixed-length windows of a [`TimeWindowedKStream`].
#[derive(Debug, Clone, Copy)]
enum Kind {
    Time(TimeWindows),
    Sliding(SlidingWindows),
}

/// A grouped stream over tumbling, hopping or sliding windows: aggregations give a table with one
/// row per key and window, `KTable<Windowed<K>, VA>`.
///
/// Time windows: each record updates every window it belongs to, unless stream time has reached
/// that window's end plus grace: then it is dropped for that window and counted in the
/// dropped-records metric. Sliding windows: windows `[start, start + d]` (inclusive) are created and
/// updated as records arrive, as Kafka Streams' `SlidingWindows` do; a window closes once stream
/// time passes its end plus grace.
/// Results are updates (one per record and window) unless followed by
/// [`KTable::suppress`] with [`Suppressed::until_window_closes`](crate::time::Suppressed::until_window_closes).
pub struct TimeWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: Kind,
}

impl<K, V> std::fmt::Debug for TimeWindowedKStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeWindowedKStream")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl<K: Data, V: Data> TimeWindowedKStream<K, V> {
    /// The number of records per key and window.
    pub fn count(&self) -> KTable<Windowed<K>, i64>
    where
        K: DefaultSerde,
    {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) into the store `materialized` describes.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.aggregate_with_updater("KSTREAM-AGGREGATE-", materialized, counting())
    }

    /// Combines the values of each key and window: the first as it is, then `reducer(aggregate, value)`.
    pub fn reduce(&self, reducer: impl Fn(V, &V) -> V + Send + Sync + 'static) -> KTable<Windowed<K>, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) into the store `materialized` describes.
    pub fn reduce_with(
        &self,
        reducer: impl Fn(V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        self.aggregate_with_updater("KSTREAM-REDUCE-", materialized, reducing(reducer))
    }

    /// Folds the values of each key and window: `initializer()` for a new window, then
    /// `aggregator(&key, &value, aggregate)`.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.aggregate_with_updater("KSTREAM-AGGREGATE-", materialized, aggregating(initializer, aggregator))
    }

    fn aggregate_with_updater<VA: Data>(
        &self,
        prefix: &str,
        materialized: Materialized<K, VA>,
        update: Updater<K, V, VA>,
    ) -> KTable<Windowed<K>, VA> {
        // Window size, the retention it needs at least, the grace, and the end suppression waits for.
        let (size_ms, minimum_retention, grace_ms, end): (i64, i64, i64, WindowEnd<Windowed<K>>) = match self.windows {
            Kind::Time(w) => (
                w.size_ms(),
                w.size_ms() + w.grace_ms(),
                w.grace_ms(),
                Arc::new(|key: &Windowed<K>| key.window.end),
            ),
            // Inclusive ends: a window is closed once stream time passes end + grace.
            Kind::Sliding(w) => {
                let d = w.time_difference_ms();
                (
                    d,
                    2 * d + w.grace_ms(),
                    w.grace_ms(),
                    Arc::new(|key: &Windowed<K>| key.window.end + 1),
                )
            }
        };
        let windows = self.windows;
        let store = self.grouped.store_name(prefix, &materialized);
        let building = self.grouped.stream.building.clone();
        let retention = match window_retention(&store, materialized.retention, minimum_retention) {
            Ok(retention) => retention,
            Err(error) => return unbuilt(&building, error, store, materialized),
        };
        let source = self.grouped.source(&store);
        let spec = StoreBuilder::window(&store, duration(size_ms), duration(retention)).timestamped();
        let spec = materialized.configure(spec);
        let (key_serde, value_serde) = (materialized.key_serde, materialized.value_serde);
        let node = {
            let mut building = building.borrow_mut();
            let name = building.name(prefix, None);
            let (store, ks, vs) = (store.clone(), key_serde.clone(), value_serde.clone());
            match windows {
                Kind::Time(windows) => building.add_stateful(&name, source, spec, move || TimeWindowAggregate {
                    windows,
                    store: store.clone(),
                    key_serde: ks.clone(),
                    value_serde: vs.clone(),
                    update: update.clone(),
                    handle: None,
                }),
                Kind::Sliding(windows) => building.add_stateful(&name, source, spec, move || SlidingWindowAggregate {
                    windows,
                    store: store.clone(),
                    key_serde: ks.clone(),
                    value_serde: vs.clone(),
                    update: update.clone(),
                    handle: None,
                }),
            }
        };
        let window = TableWindow { grace_ms, end };
        KTable::new(
            building,
            node,
            Some(store),
            windowed_serde(&key_serde),
            Some(value_serde),
            Some(window),
        )
    }
}

/// A grouped stream over session windows: aggregations give a table with one row per key and
/// session, `KTable<Windowed<K>, VA>`, whose windows are `[first, last]` record timestamps.
///
/// A record within the inactivity gap of a key's sessions merges them (with the merger) into one;
/// the replaced sessions are forwarded as tombstones. A record whose merged session would end more
/// than gap plus grace before stream time is dropped and counted (Kafka Streams' rule).
pub struct SessionWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: SessionWindows,
}

impl<K, V> std::fmt::Debug for SessionWindowedKStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWindowedKStream")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl<K: Data, V: Data> SessionWindowedKStream<K, V> {
    /// The number of records per key and session.
    pub fn count(&self) -> KTable<Windowed<K>, i64>
    where
        K: DefaultSerde,
    {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) into the store `materialized` describes.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.aggregate_with(
            "KSTREAM-AGGREGATE-",
            materialized,
            counting(),
            Arc::new(|_, a, b| a + b),
        )
    }

    /// Combines the values of each session with `reducer`, which also merges sessions.
    pub fn reduce(&self, reducer: impl Fn(V, &V) -> V + Send + Sync + 'static) -> KTable<Windowed<K>, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) into the store `materialized` describes.
    pub fn reduce_with(
        &self,
        reducer: impl Fn(V, &V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let reducer = Arc::new(reducer);
        let merge = reducer.clone();
        self.aggregate_with(
            "KSTREAM-REDUCE-",
            materialized,
            reducing(move |aggregate, value| reducer(aggregate, value)),
            Arc::new(move |_, a, b| merge(a, &b)),
        )
    }

    /// Folds the values of each session: `initializer()` for a new session,
    /// `aggregator(&key, &value, aggregate)` per record, and `merger(&key, a, b)` when a record
    /// bridges two sessions.
    pub fn aggregate<VA: Data>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.aggregate_with(
            "KSTREAM-AGGREGATE-",
            materialized,
            aggregating(initializer, aggregator),
            Arc::new(merger),
        )
    }

    fn aggregate_with<VA: Data>(
        &self,
        prefix: &str,
        materialized: Materialized<K, VA>,
        update: Updater<K, V, VA>,
        merge: Merger<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let windows = self.windows;
        let hold_ms = windows.inactivity_gap_ms() + windows.grace_ms();
        let store = self.grouped.store_name(prefix, &materialized);
        let building = self.grouped.stream.building.clone();
        let retention = match window_retention(&store, materialized.retention, hold_ms) {
            Ok(retention) => retention,
            Err(error) => return unbuilt(&building, error, store, materialized),
        };
        let source = self.grouped.source(&store);
        let spec = StoreBuilder::session(&store, duration(retention));
        let spec = materialized.configure(spec);
        let (key_serde, value_serde) = (materialized.key_serde, materialized.value_serde);
        let node = {
            let mut building = building.borrow_mut();
            let name = building.name(prefix, None);
            let (store, ks, vs) = (store.clone(), key_serde.clone(), value_serde.clone());
            building.add_stateful(&name, source, spec, move || SessionWindowAggregate {
                windows,
                store: store.clone(),
                key_serde: ks.clone(),
                value_serde: vs.clone(),
                update: update.clone(),
                merge: merge.clone(),
                handle: None,
            })
        };
        // A session may still grow for gap + grace after its (inclusive) end.
        let window = TableWindow {
            grace_ms: hold_ms,
            end: Arc::new(|key: &Windowed<K>| key.window.end + 1),
        };
        KTable::new(
            building,
            node,
            Some(store),
            windowed_serde(&key_serde),
            Some(value_serde),
            Some(window),
        )
    }
}

/// The table of a windowed aggregation that could not be added: the builder keeps `error` for
/// `build`.
fn unbuilt<K: Data, VA: Data>(
    building: &Shared,
    error: crate::Error,
    store: String,
    materialized: Materialized<K, VA>,
) -> KTable<Windowed<K>, VA> {
    building.borrow_mut().fail(error);
    let key_serde = windowed_serde(&materialized.key_serde);
    KTable::new(
        building.clone(),
        None,
        Some(store),
        key_serde,
        Some(materialized.value_serde),
        None,
    )
}

/// The serde of windowed keys over `key_serde`: the default `Windowed<K>` layout.
pub(crate) fn windowed_serde<K: 'static>(key_serde: &SharedSerde<K>) -> SharedSerde<Windowed<K>> {
    Arc::new(crate::time::SessionWindowedSerde::new(key_serde.clone()))
}

/// A window store's retention: the materialized one, at least `minimum` (window size plus grace),
/// which is the default.
pub(crate) fn window_retention(
    store: &str,
    materialized: Option<std::time::Duration>,
    minimum: i64,
) -> crate::Result<i64> {
    match materialized.map(ms) {
        None => Ok(minimum),
        Some(retention) if retention >= minimum => Ok(retention),
        Some(retention) => Err(crate::Error::Topology(format!(
            "the retention of window store {store} ({retention} ms) must be at least its window size plus grace ({minimum} ms)"
        ))),
    }
}
