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
