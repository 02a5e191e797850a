//! Through the real [`TopologyTestDriver`]: source → sliding aggregate (window store of size `d`,
//! retention `2d + grace`, as the DSL declares it) → `(new, old)` pairs → sink. Expected outputs
//! marked "Kafka" are transcribed from Kafka Streams' `KStreamSlidingWindowAggregateTest` and
//! `SlidingWindows` javadoc; the aggregator there is `MockAggregator.TOSTRING_ADDER` with initial
//! value `"0"`, which [`kafka_adder`] reproduces.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::StreamsConfig;
use crate::serde::{DefaultSerde, JsonSerde};
use crate::state::StoreBuilder;
use crate::testing::{TestInputTopic, TestOutputTopic, TopologyTestDriver};
use crate::topology::Topology;

/// Forwards each change as a `(new, old)` pair, which a JSON sink can write.
struct Pairs;

impl<VA: Data> Processor<Windowed<String>, Change<VA>, Windowed<String>, (VA, Option<VA>)> for Pairs {
    fn process(
        &mut self,
        record: Record<Windowed<String>, Change<VA>>,
        ctx: &mut ProcessorContext<'_, Windowed<String>, (VA, Option<VA>)>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let new = value.new.expect("a sliding aggregate always has a new value");
        ctx.forward(Record {
            key,
            value: (new, value.old),
            timestamp,
            headers,
        })
    }
}

/// One forwarded update, flattened for comparisons.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Update<VA> {
    key: String,
    start: i64,
    end: i64,
    new: VA,
    old: Option<VA>,
    timestamp: i64,
}

/// An expected update of key `"a"`.
fn up<VA>(start: i64, end: i64, new: VA, old: Option<VA>, timestamp: i64) -> Update<VA> {
    Update {
        key: "a".into(),
        start,
        end,
        new,
        old,
        timestamp,
    }
}

/// A driver running one sliding aggregation from topic `input` to topic `output`.
struct Harness<V, VA> {
    driver: TopologyTestDriver,
    input: TestInputTopic<String, V>,
    output: TestOutputTopic<Windowed<String>, (VA, Option<VA>)>,
}

impl<V, VA> Harness<V, VA>
where
    V: DefaultSerde + Data,
    VA: DefaultSerde + Data + Serialize + DeserializeOwned + Send + Sync,
{
    fn new(d: u64, grace: u64, update: Updater<String, V, VA>) -> Self {
        let windows =
            SlidingWindows::of_time_difference_and_grace(Duration::from_millis(d), Duration::from_millis(grace));
        let mut topology = Topology::new();
        topology.add_source::<String, V>("source", &["input"]).unwrap();
        let store = StoreBuilder::window(
            "sliding",
            Duration::from_millis(d),
            Duration::from_millis(2 * d + grace),
        );
        topology.add_store(store.timestamped()).unwrap();
        let aggregate = topology
            .add_processor_node::<String, V, Windowed<String>, Change<VA>, _>(
                "aggregate",
                &[0],
                vec!["sliding".into()],
                move || SlidingWindowAggregate {
                    windows,
                    store: "sliding".into(),
                    key_serde: String::default_serde(),
                    value_serde: VA::default_serde(),
                    update: update.clone(),
                    handle: None,
                },
            )
            .unwrap();
        topology
            .add_processor_node::<Windowed<String>, Change<VA>, Windowed<String>, (VA, Option<VA>), _>(
                "pairs",
                &[aggregate],
                Vec::new(),
                || Pairs,
            )
            .unwrap();
        topology
            .add_sink_with(
                "sink",
                "output",
                &["pairs"],
                Windowed::<String>::default_serde(),
                Arc::new(JsonSerde::<(VA, Option<VA>)>::new()),
            )
            .unwrap();
        let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("sliding")).unwrap();
        let input = driver.input_topic::<String, V>("input");
        let output = driver.output_topic_with(
            "output",
            Windowed::<String>::default_serde(),
            Arc::new(JsonSerde::new()),
        );
        Harness { driver, input, output }
    }

    fn pipe(&self, key: &str, value: V, timestamp: i64) {
        self.input.pipe_input_at(key.to_string(), value, timestamp);
    }

    /// Every update forwarded since the last call, in order.
    fn updates(&self) -> Vec<Update<VA>> {
        self.output
            .read_records_to_list()
            .into_iter()
            .map(|r| Update {
                key: r.key.key,
                start: r.key.window.start,
                end: r.key.window.end,
                new: r.value.0,
                old: r.value.1,
                timestamp: r.timestamp,
            })
            .collect()
    }

    /// The store's content: `(key, window start) → aggregate`.
    fn store(&self) -> BTreeMap<(String, i64), VA> {
        let store = self.driver.window_store::<String, VA>("sliding");
        store
            .all()
            .into_iter()
            .map(|(key, start, value)| ((key, start), value))
            .collect()
    }
}

/// Sums `i64` values.
fn sum() -> Updater<String, i64, i64> {
    Arc::new(|_key, value, aggregate| aggregate.unwrap_or(0) + value)
}

/// Kafka's test aggregator: initial value `"0"`, then `aggregate + "+" + value`.
fn kafka_adder() -> Updater<String, String, String> {
    Arc::new(|_key, value, aggregate| format!("{}+{value}", aggregate.as_deref().unwrap_or("0")))
}

/// Kafka's test reducer (`MockReducer.STRING_ADDER`): the first value, then `aggregate + "+" + value`.
fn kafka_reducer() -> Updater<String, String, String> {
    Arc::new(|_key, value, aggregate| match aggregate {
        None => value.clone(),
        Some(aggregate) => format!("{aggregate}+{value}"),
    })
}

/// Updates as Kafka's tests compare them: per window start, the set of (value, timestamp).
fn by_start(updates: &[Update<String>]) -> BTreeMap<i64, BTreeSet<(String, i64)>> {
    let mut grouped: BTreeMap<i64, BTreeSet<(String, i64)>> = BTreeMap::new();
    for update in updates {
        grouped
            .entry(update.start)
            .or_default()
            .insert((update.new.clone(), update.timestamp));
    }
    grouped
}

fn expected(entries: &[(i64, &[(&str, i64)])]) -> BTreeMap<i64, BTreeSet<(String, i64)>> {
    entries
        .iter()
        .map(|(start, values)| (*start, values.iter().map(|(v, t)| (v.to_string(), *t)).collect()))
        .collect()
}

/// Updates sorted as Kafka's large-input tests sort them: by key, then window start, keeping the
/// order of arrival within one window (a stable sort); as `(key, start, end, value, timestamp)`.
fn sorted_like_kafka(mut updates: Vec<Update<String>>) -> Vec<(String, i64, i64, String, i64)> {
    updates.sort_by(|a, b| (&a.key, a.start).cmp(&(&b.key, b.start)));
    updates
        .into_iter()
        .map(|u| (u.key, u.start, u.end, u.new, u.timestamp))
        .collect()
}

fn rows(key: &str, rows: &[(i64, i64, &str, i64)]) -> Vec<(String, i64, i64, String, i64)> {
    rows.iter()
        .map(|(s, e, v, t)| (key.to_string(), *s, *e, v.to_string(), *t))
        .collect()
}

#[test]
fn sliding_javadoc_example_creates_five_windows() {
    // Kafka's `SlidingWindows` javadoc: d = 5000, A:1@8000, A:2@9200, A:3@12400.
    let h = Harness::new(5000, 0, sum());
    h.pipe("a", 1, 8000);
    assert_eq!(h.updates(), vec![up(3000, 8000, 1, None, 8000)]);
    h.pipe("a", 2, 9200);
    assert_eq!(
        h.updates(),
        vec![up(8001, 13001, 2, None, 9200), up(4200, 9200, 3, None, 9200)]
    );
    h.pipe("a", 3, 12400);
    assert_eq!(
        h.updates(),
        vec![
            up(8001, 13001, 5, Some(2), 12400),
            up(9201, 14201, 3, None, 12400),
            up(7400, 12400, 6, None, 12400)
        ]
    );
    // [3000;8000] = [1], [4200;9200] = [1,2], [7400;12400] = [1,2,3], [8001;13001] = [2,3], [9201;14201] = [3].
    let a = |start| ("a".to_string(), start);
    let expected = BTreeMap::from([(a(3000), 1), (a(4200), 3), (a(7400), 6), (a(8001), 5), (a(9201), 3)]);
    assert_eq!(h.store(), expected);
    assert_eq!(h.driver.dropped_records(), 0);
}

#[test]
fn sliding_aggregate_small_input_as_kafka() {
    // Kafka: testAggregateSmallInput (d = 10, grace = 5), eager emission.
    let h = Harness::new(10, 5, kafka_adder());
    for (value, time) in [(1, 10), (2, 10), (3, 14), (4, 15), (5, 20), (6, 22), (7, 30)] {
        h.pipe("A", value.to_string(), time);
    }
    let expected = expected(&[
        (0, &[("0+1", 10), ("0+1+2", 10)]),
        (4, &[("0+1+2+3", 14)]),
        (5, &[("0+1+2+3+4", 15)]),
        (10, &[("0+1+2+3+4+5", 20)]),
        (11, &[("0+3", 14), ("0+3+4", 15), ("0+3+4+5", 20)]),
        (12, &[("0+3+4+5+6", 22)]),
        (15, &[("0+4", 15), ("0+4+5", 20), ("0+4+5+6", 22)]),
        (16, &[("0+5", 20), ("0+5+6", 22)]),
        (20, &[("0+5+6+7", 30)]),
        (21, &[("0+6", 22), ("0+6+7", 30)]),
        (23, &[("0+7", 30)]),
    ]);
    let updates = h.updates();
    assert!(updates.iter().all(|u| u.key == "A" && u.end == u.start + 10));
    assert_eq!(by_start(&updates), expected);
}

#[test]
fn sliding_reduce_small_input_as_kafka() {
    // Kafka: testReduceSmallInput (d = 10, grace = 5), eager emission.
    let h = Harness::new(10, 5, kafka_reducer());
    for (value, time) in [(1, 10), (2, 14), (3, 15), (4, 22), (5, 26), (6, 30)] {
        h.pipe("A", value.to_string(), time);
    }
    let expected = expected(&[
        (0, &[("1", 10)]),
        (4, &[("1+2", 14)]),
        (5, &[("1+2+3", 15)]),
        (11, &[("2", 14), ("2+3", 15)]),
        (12, &[("2+3+4", 22)]),
        (15, &[("3", 15), ("3+4", 22)]),
        (16, &[("4", 22), ("4+5", 26)]),
        (20, &[("4+5+6", 30)]),
        (23, &[("5", 26), ("5+6", 30)]),
        (27, &[("6", 30)]),
    ]);
    assert_eq!(by_start(&h.updates()), expected);
}

#[test]
fn sliding_aggregate_large_input_as_kafka() {
    // Kafka: testAggregateLargeInput (d = 10, grace = 50), eager emission; four keys, out of order.
    let h = Harness::new(10, 50, kafka_adder());
    let input = [
        ("A", 1, 10),
        ("A", 2, 20),
        ("A", 3, 22),
        ("A", 4, 15),
        ("B", 1, 12),
        ("B", 2, 13),
        ("B", 3, 18),
        ("B", 4, 19),
        ("B", 5, 25),
        ("B", 6, 14),
        ("C", 1, 11),
        ("C", 2, 15),
        ("C", 3, 16),
        ("C", 4, 21),
        ("C", 5, 23),
        ("D", 4, 11),
        ("D", 2, 12),
        ("D", 3, 29),
        ("D", 5, 16),
    ];
    for (key, value, time) in input {
        h.pipe(key, value.to_string(), time);
    }
    let mut expected = rows(
        "A",
        &[
            (0, 10, "0+1", 10),
            (5, 15, "0+1+4", 15),
            (10, 20, "0+1+2", 20),
            (10, 20, "0+1+2+4", 20),
            (11, 21, "0+2", 20),
            (11, 21, "0+2+4", 20),
            (12, 22, "0+2+3", 22),
            (12, 22, "0+2+3+4", 22),
            (16, 26, "0+2+3", 22),
            (21, 31, "0+3", 22),
        ],
    );
    expected.extend(rows(
        "B",
        &[
            (2, 12, "0+1", 12),
            (3, 13, "0+1+2", 13),
            (4, 14, "0+1+2+6", 14),
            (8, 18, "0+1+2+3", 18),
            (8, 18, "0+1+2+3+6", 18),
            (9, 19, "0+1+2+3+4", 19),
            (9, 19, "0+1+2+3+4+6", 19),
            (13, 23, "0+2", 13),
            (13, 23, "0+2+3", 18),
            (13, 23, "0+2+3+4", 19),
            (13, 23, "0+2+3+4+6", 19),
            (14, 24, "0+3", 18),
            (14, 24, "0+3+4", 19),
            (14, 24, "0+3+4+6", 19),
            (15, 25, "0+3+4+5", 25),
            (19, 29, "0+4", 19),
            (19, 29, "0+4+5", 25),
            (20, 30, "0+5", 25),
        ],
    ));
    expected.extend(rows(
        "C",
        &[
            (1, 11, "0+1", 11),
            (5, 15, "0+1+2", 15),
            (6, 16, "0+1+2+3", 16),
            (11, 21, "0+1+2+3+4", 21),
            (12, 22, "0+2", 15),
            (12, 22, "0+2+3", 16),
            (12, 22, "0+2+3+4", 21),
            (13, 23, "0+2+3+4+5", 23),
            (16, 26, "0+3", 16),
            (16, 26, "0+3+4", 21),
            (16, 26, "0+3+4+5", 23),
            (17, 27, "0+4", 21),
            (17, 27, "0+4+5", 23),
            (22, 32, "0+5", 23),
        ],
    ));
    expected.extend(rows(
        "D",
        &[
            (1, 11, "0+4", 11),
            (2, 12, "0+4+2", 12),
            (6, 16, "0+4+2+5", 16),
            (12, 22, "0+2", 12),
            (12, 22, "0+2+5", 16),
            (13, 23, "0+5", 16),
            (19, 29, "0+3", 29),
        ],
    ));
    assert_eq!(sorted_like_kafka(h.updates()), expected);
    assert_eq!(h.driver.dropped_records(), 0);
}

#[test]
fn sliding_records_exactly_d_apart_share_a_window_and_d_plus_1_apart_do_not() {
    let h = Harness::new(10, 0, sum());
    let a = |start| ("a".to_string(), start);
    // 100 and 110: [100, 110] holds both.
    h.pipe("a", 1, 100);
    h.pipe("a", 2, 110);
    assert_eq!(
        h.updates(),
        vec![
            up(90, 100, 1, None, 100),
            up(101, 111, 2, None, 110),
            up(100, 110, 3, None, 110)
        ]
    );
    assert_eq!(h.store(), BTreeMap::from([(a(90), 1), (a(100), 3), (a(101), 2)]));
    // 200 and 211: no window holds both. 200's right window and 211's left window are the same
    // window, [201, 211], holding 211 alone; 200's windows lie before the scan's range.
    h.pipe("a", 4, 200);
    h.pipe("a", 8, 211);
    assert_eq!(
        h.updates(),
        vec![up(190, 200, 4, None, 200), up(201, 211, 8, None, 211)]
    );
    // (The windows of 100 and 110 have left the store's retention, 2d + grace = 20.)
    assert_eq!(h.store(), BTreeMap::from([(a(190), 4), (a(201), 8)]));
}

#[test]
fn sliding_out_of_order_record_within_grace_updates_and_creates_windows() {
    let h = Harness::new(10, 20, sum());
    h.pipe("a", 1, 100);
    h.pipe("a", 2, 115);
    assert_eq!(h.updates(), vec![up(90, 100, 1, None, 100), up(105, 115, 2, None, 115)]);
    // 105 arrives at stream time 115 (close time 95): it joins [105, 115], creates 100's right
    // window, its own left window (seeded with [90, 100]) and its right window (from [105, 115]).
    h.pipe("a", 4, 105);
    assert_eq!(
        h.updates(),
        vec![
            up(105, 115, 6, Some(2), 115),
            up(101, 111, 4, None, 105),
            up(95, 105, 5, None, 105),
            up(106, 116, 2, None, 115),
        ]
    );
    let a = |start| ("a".to_string(), start);
    assert_eq!(
        h.store(),
        BTreeMap::from([(a(90), 1), (a(95), 5), (a(101), 4), (a(105), 6), (a(106), 2)])
    );
    assert_eq!(h.driver.dropped_records(), 0);
}

#[test]
fn sliding_late_record_is_dropped_and_counted() {
    let h = Harness::new(10, 5, sum());
    h.pipe("a", 1, 100);
    h.pipe("a", 2, 200);
    h.updates();
    // Close time 195. 184: 184 + 10 < 195, every window of it is closed: dropped, counted once.
    h.pipe("a", 4, 184);
    assert_eq!(h.updates(), vec![]);
    assert_eq!(h.driver.dropped_records(), 1);
    // 185: 185 + 10 = 195 is not before the close time, so Kafka processes it, but its only
    // window, its left window [175, 185], is closed: skipped and counted.
    h.pipe("a", 8, 185);
    assert_eq!(h.updates(), vec![]);
    assert_eq!(h.driver.dropped_records(), 2);
    // 190: joins the open [190, 200] and creates its right window, but its left window
    // [180, 190] is closed: counted as dropped for that window, as Kafka does.
    h.pipe("a", 16, 190);
    assert_eq!(
        h.updates(),
        vec![up(190, 200, 18, Some(2), 200), up(191, 201, 2, None, 200)]
    );
    assert_eq!(h.driver.dropped_records(), 3);
}

#[test]
fn sliding_expired_windows_by_grace_as_kafka() {
    // Kafka: shouldLogAndMeterWhenSkippingExpiredWindowByGrace (d = 10, grace = 90): seven drops,
    // the left windows of 100..=105 (closed, though the records are not late for [t, t + d]) and 15.
    let h = Harness::new(10, 90, kafka_adder());
    let input = [
        ("100", 200),
        ("0", 100),
        ("1", 101),
        ("2", 102),
        ("3", 103),
        ("4", 104),
        ("5", 105),
        ("6", 15),
    ];
    for (value, time) in input {
        h.pipe("k", value.to_string(), time);
    }
    h.pipe("k", "101".to_string(), 300);
    h.pipe("k", "102".to_string(), 400);
    assert_eq!(h.driver.dropped_records(), 7);
    let got: Vec<_> = h
        .updates()
        .into_iter()
        .map(|u| (u.key, u.start, u.end, u.new, u.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            ("k".to_string(), 190, 200, "0+100".to_string(), 200),
            ("k".to_string(), 290, 300, "0+101".to_string(), 300),
            ("k".to_string(), 390, 400, "0+102".to_string(), 400),
        ]
    );
}

#[test]
fn sliding_no_grace_small_input_as_kafka() {
    // Kafka: testNoGracePeriodSmallInput (d = 50, no grace). 103 arrives at stream time 106: its
    // left window [53, 103] and [55, 105] are closed (two drops counted), [56, 106] is not; 110
    // arrives at 113: its left window [60, 110] is closed (a third drop).
    let h = Harness::new(50, 0, kafka_adder());
    for (value, time) in [(1, 100), (2, 105), (3, 106), (4, 103), (5, 113), (6, 110)] {
        h.pipe("A", value.to_string(), time);
    }
    let expected = expected(&[
        (50, &[("0+1", 100)]),
        (55, &[("0+1+2", 105)]),
        (56, &[("0+1+2+3", 106), ("0+1+2+3+4", 106)]),
        (63, &[("0+1+2+3+4+5", 113), ("0+1+2+3+4+5+6", 113)]),
        (
            101,
            &[
                ("0+2", 105),
                ("0+2+3", 106),
                ("0+2+3+4", 106),
                ("0+2+3+4+5", 113),
                ("0+2+3+4+5+6", 113),
            ],
        ),
        (104, &[("0+2+3", 106), ("0+2+3+5", 113), ("0+2+3+5+6", 113)]),
        (106, &[("0+3", 106), ("0+3+5", 113), ("0+3+5+6", 113)]),
        (107, &[("0+5", 113), ("0+5+6", 113)]),
        (111, &[("0+5", 113)]),
    ]);
    assert_eq!(by_start(&h.updates()), expected);
    assert_eq!(h.driver.dropped_records(), 3);
}

#[test]
fn sliding_records_near_time_zero_share_the_window_from_zero() {
    let h = Harness::new(10, 0, sum());
    h.pipe("a", 1, 0);
    assert_eq!(h.updates(), vec![up(0, 10, 1, None, 0)]);
    h.pipe("a", 2, 4);
    assert_eq!(h.updates(), vec![up(1, 11, 2, None, 4), up(0, 10, 3, Some(1), 4)]);
    h.pipe("a", 4, 11);
    assert_eq!(h.updates(), vec![up(1, 11, 6, Some(2), 11), up(5, 15, 4, None, 11)]);
    let a = |start| ("a".to_string(), start);
    assert_eq!(h.store(), BTreeMap::from([(a(0), 3), (a(1), 6), (a(5), 4)]));
}

#[test]
fn sliding_early_records_small_input_as_kafka() {
    // Kafka: testEarlyRecordsSmallInput (d = 50, grace = 0): records before d, out of order.
    let h = Harness::new(50, 0, kafka_adder());
    for (value, time) in [(1, 0), (2, 5), (3, 6), (4, 3), (5, 13), (6, 10), (7, 70)] {
        h.pipe("A", value.to_string(), time);
    }
    let expected = expected(&[
        (
            0,
            &[
                ("0+1", 0),
                ("0+1+2", 5),
                ("0+1+2+3", 6),
                ("0+1+2+3+4", 6),
                ("0+1+2+3+4+5", 13),
                ("0+1+2+3+4+5+6", 13),
            ],
        ),
        (
            1,
            &[
                ("0+2", 5),
                ("0+2+3", 6),
                ("0+2+3+4", 6),
                ("0+2+3+4+5", 13),
                ("0+2+3+4+5+6", 13),
            ],
        ),
        (4, &[("0+2+3", 6), ("0+2+3+5", 13), ("0+2+3+5+6", 13)]),
        (6, &[("0+3", 6), ("0+3+5", 13), ("0+3+5+6", 13)]),
        (7, &[("0+5", 13), ("0+5+6", 13)]),
        (11, &[("0+5", 13)]),
        (20, &[("0+7", 70)]),
    ]);
    assert_eq!(by_start(&h.updates()), expected);
}

#[test]
fn sliding_early_records_large_input_as_kafka() {
    // Kafka: testEarlyRecordsLargeInput (d = 10, grace = 50), eager emission.
    let h = Harness::new(10, 50, kafka_adder());
    for (value, time) in [
        (1, 0),
        (3, 5),
        (4, 6),
        (2, 3),
        (6, 13),
        (5, 10),
        (7, 4),
        (8, 2),
        (9, 15),
    ] {
        h.pipe("E", value.to_string(), time);
    }
    let expected = rows(
        "E",
        &[
            (0, 10, "0+1", 0),
            (0, 10, "0+1+3", 5),
            (0, 10, "0+1+3+4", 6),
            (0, 10, "0+1+3+4+2", 6),
            (0, 10, "0+1+3+4+2+5", 10),
            (0, 10, "0+1+3+4+2+5+7", 10),
            (0, 10, "0+1+3+4+2+5+7+8", 10),
            (1, 11, "0+3", 5),
            (1, 11, "0+3+4", 6),
            (1, 11, "0+3+4+2", 6),
            (1, 11, "0+3+4+2+5", 10),
            (1, 11, "0+3+4+2+5+7", 10),
            (1, 11, "0+3+4+2+5+7+8", 10),
            (3, 13, "0+3+4+2+6", 13),
            (3, 13, "0+3+4+2+6+5", 13),
            (3, 13, "0+3+4+2+6+5+7", 13),
            (4, 14, "0+3+4", 6),
            (4, 14, "0+3+4+6", 13),
            (4, 14, "0+3+4+6+5", 13),
            (4, 14, "0+3+4+6+5+7", 13),
            (5, 15, "0+3+4+6+5", 13),
            (5, 15, "0+3+4+6+5+9", 15),
            (6, 16, "0+4", 6),
            (6, 16, "0+4+6", 13),
            (6, 16, "0+4+6+5", 13),
            (6, 16, "0+4+6+5+9", 15),
            (7, 17, "0+6", 13),
            (7, 17, "0+6+5", 13),
            (7, 17, "0+6+5+9", 15),
            (11, 21, "0+6", 13),
            (11, 21, "0+6+9", 15),
            (14, 24, "0+9", 15),
        ],
    );
    assert_eq!(sorted_like_kafka(h.updates()), expected);
}

#[test]
fn sliding_same_timestamp_records_update_the_same_windows() {
    let h = Harness::new(10, 10, sum());
    h.pipe("a", 1, 50);
    h.pipe("a", 2, 50);
    // The second record at 50 finds its left window holding a record at 50: it only updates it.
    assert_eq!(h.updates(), vec![up(40, 50, 1, None, 50), up(40, 50, 3, Some(1), 50)]);
    h.pipe("a", 4, 55);
    assert_eq!(h.updates(), vec![up(51, 61, 4, None, 55), up(45, 55, 7, None, 55)]);
    // A third record at 50, after 55: its right window [51, 61] exists; it updates [45, 55] and [40, 50].
    h.pipe("a", 8, 50);
    assert_eq!(
        h.updates(),
        vec![up(45, 55, 15, Some(7), 55), up(40, 50, 11, Some(3), 50)]
    );
    let a = |start| ("a".to_string(), start);
    assert_eq!(h.store(), BTreeMap::from([(a(40), 11), (a(45), 15), (a(51), 4)]));
}

#[test]
fn sliding_early_records_repeated_timestamps_as_kafka() {
    // Kafka: testEarlyRecordsRepeatedInput (d = 5, grace = 0): duplicate timestamps near 0.
    let h = Harness::new(5, 0, kafka_adder());
    for (value, time) in [(1, 0), (2, 2), (3, 4), (4, 0), (5, 2), (6, 2), (7, 0), (8, 7)] {
        h.pipe("A", value.to_string(), time);
    }
    let expected = expected(&[
        (
            0,
            &[
                ("0+1", 0),
                ("0+1+2", 2),
                ("0+1+2+3+4+5", 4),
                ("0+1+2+3+4+5+6", 4),
                ("0+1+2+3", 4),
                ("0+1+2+3+4", 4),
                ("0+1+2+3+4+5+6+7", 4),
            ],
        ),
        (1, &[("0+2+3+5+6", 4), ("0+2", 2), ("0+2+3", 4), ("0+2+3+5", 4)]),
        (2, &[("0+2+3+5+6+8", 7)]),
        (3, &[("0+3", 4), ("0+3+8", 7)]),
        (5, &[("0+8", 7)]),
    ]);
    assert_eq!(by_start(&h.updates()), expected);
}

#[test]
fn sliding_keys_are_aggregated_apart() {
    let h = Harness::new(10, 0, sum());
    h.pipe("a", 1, 100);
    h.pipe("b", 2, 105);
    let updates = h.updates();
    assert_eq!(updates.len(), 2);
    assert_eq!(
        (
            updates[1].key.as_str(),
            updates[1].start,
            updates[1].new,
            updates[1].old
        ),
        ("b", 95, 2, None)
    );
}

/// Kafka's testAggregateRandomInput: the final value of each window, whatever the arrival
/// order, with an aggregator that sorts the letters it has seen.
fn letters() -> Updater<String, String, String> {
    Arc::new(|_key, value, aggregate| {
        let mut letters: Vec<char> = aggregate.unwrap_or_default().chars().chain(value.chars()).collect();
        letters.sort_unstable();
        letters.into_iter().collect()
    })
}

const KAFKA_RANDOM_INPUT: [(&str, i64); 21] = [
    ("A", 10),
    ("B", 15),
    ("C", 16),
    ("D", 18),
    ("E", 30),
    ("F", 40),
    ("G", 55),
    ("H", 56),
    ("I", 58),
    ("J", 58),
    ("K", 62),
    ("L", 63),
    ("M", 63),
    ("N", 63),
    ("O", 76),
    ("P", 77),
    ("Q", 80),
    ("R", 2),
    ("S", 3),
    ("T", 5),
    ("U", 8),
];

/// Per key, the records `(timestamp, value)` in arrival order.
type Input = Vec<(String, i64, i64)>;

/// In-order records of keys `a` and `b` from time 0 (so that early records occur), with repeated
/// timestamps, and a time difference.
fn in_order_input() -> impl Strategy<Value = (i64, Input)> {
    let record = (prop::sample::select(vec!["a", "b"]), 0i64..8, 1i64..100);
    (1i64..12, 0i64..15, prop::collection::vec(record, 1..30)).prop_map(|(d, first, records)| {
        let mut time = first;
        let input = records
            .into_iter()
            .map(|(key, gap, value)| {
                time += gap;
                (key.to_string(), time, value)
            })
            .collect();
        (d, input)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sliding_random_order_gives_kafkas_final_windows(input in Just(KAFKA_RANDOM_INPUT.to_vec()).prop_shuffle()) {
        let h = Harness::new(10, 100, letters());
        for (letter, time) in input {
            h.pipe("A", letter.to_string(), time);
        }
        h.pipe("A", "V".to_string(), 181);
        let mut last: BTreeMap<i64, (String, i64)> = BTreeMap::new();
        for update in h.updates() {
            last.insert(update.start, (update.new, update.timestamp));
        }
        let expected: BTreeMap<i64, (String, i64)> = [
            (0, "ARSTU", 10), (3, "ASTU", 10), (4, "ATU", 10), (5, "ABTU", 15), (6, "ABCU", 16),
            (8, "ABCDU", 18), (9, "ABCD", 18), (11, "BCD", 18), (16, "CD", 18), (17, "D", 18),
            (20, "E", 30), (30, "EF", 40), (31, "F", 40), (45, "G", 55), (46, "GH", 56),
            (48, "GHIJ", 58), (52, "GHIJK", 62), (53, "GHIJKLMN", 63), (56, "HIJKLMN", 63),
            (57, "IJKLMN", 63), (59, "KLMN", 63), (63, "LMN", 63), (66, "O", 76), (67, "OP", 77),
            (70, "OPQ", 80), (77, "PQ", 80), (78, "Q", 80), (171, "V", 181),
        ]
        .into_iter()
        .map(|(start, value, time)| (start, (value.to_string(), time)))
        .collect();
        prop_assert_eq!(last, expected);
        prop_assert_eq!(h.driver.dropped_records(), 0);
    }

    #[test]
    fn sliding_in_order_windows_match_brute_force((d, input) in in_order_input()) {
        // Grace long enough that retention (2d + grace) keeps every window.
        let h = Harness::new(d as u64, 1000, sum());
        for (key, time, value) in &input {
            h.pipe(key, *value, *time);
        }
        let store = h.store();
        let mut last: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
        for update in h.updates() {
            prop_assert_eq!(update.end, update.start + d);
            last.insert((update.key, update.start), (update.new, update.timestamp));
        }
        for key in ["a", "b"] {
            let records: Vec<(i64, i64)> =
                input.iter().filter(|(k, _, _)| k == key).map(|(_, time, value)| (*time, *value)).collect();
            // Kafka's windows: each record's left window ([0, d] for records before d), and the
            // right window of each record followed by another within d + 1.
            let mut starts = BTreeSet::new();
            for &(time, _) in &records {
                starts.insert((time - d).max(0));
                if records.iter().any(|&(other, _)| other > time && other <= time + 1 + d) {
                    starts.insert(time + 1);
                }
            }
            let stored: BTreeSet<i64> =
                store.keys().filter(|(k, _)| k == key).map(|(_, start)| *start).collect();
            prop_assert_eq!(&stored, &starts, "window starts of key {}", key);
            for start in starts {
                let inside: Vec<&(i64, i64)> =
                    records.iter().filter(|(time, _)| (start..=start + d).contains(time)).collect();
                let total: i64 = inside.iter().map(|(_, value)| value).sum();
                let latest = inside.iter().map(|(time, _)| *time).max().expect("windows are never empty");
                let slot = (key.to_string(), start);
                prop_assert_eq!(store[&slot], total, "window [{}, {}] of key {}", start, start + d, key);
                prop_assert_eq!(last[&slot], (total, latest), "last update of [{}, {}] of key {}", start, start + d, key);
            }
        }
    }
}
