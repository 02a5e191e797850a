//! `KStream::dedupe_by` with the TopologyTestDriver: which replays are dropped (inside the window,
//! both ends inclusive, in either order), which pass (after the window, other ids, null ids, too far
//! behind stream time with the original expired), that what passes is unchanged, the store and its
//! changelog as `describe()` and `internal_topics()` show them, and a property test of the
//! semantics on generated streams.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use streams_core::StreamsConfig;
use streams_core::dsl::{Deduplicated, StreamsBuilder};
use streams_core::processor::{Headers, Record};
use streams_core::serde::StringSerde;
use streams_core::testing::TopologyTestDriver;
use streams_core::time::{millis, seconds};
use streams_core::topology::{InternalTopic, TopicPurpose};

fn s(text: &str) -> String {
    text.to_string()
}

/// Payments keyed by card, valued `"<txn id>:<amount>"`, deduplicated by transaction id into
/// `payments-once`.
fn payments(deduplicated: Deduplicated<String>, window: Duration) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("payments")
        .dedupe_by_with(|_card, payment| txn_id(payment), window, deduplicated)
        .to("payments-once");
    TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("dedupe")).unwrap()
}

fn txn_id(payment: &str) -> String {
    payment.split(':').next().unwrap_or_default().to_string()
}

/// Pipes `(card, payment, timestamp)`s and returns the values forwarded.
fn run(driver: &TopologyTestDriver, records: &[(&str, &str, i64)]) -> Vec<String> {
    let input = driver.input_topic::<String, String>("payments");
    for (card, payment, timestamp) in records {
        input.pipe_input_at(s(card), s(payment), *timestamp);
    }
    driver
        .output_topic::<String, String>("payments-once")
        .read_values_to_list()
}

fn ten_seconds() -> TopologyTestDriver {
    payments(Deduplicated::default(), seconds(10))
}

#[test]
fn a_replay_inside_the_window_is_dropped_and_the_original_passes_unchanged() {
    let driver = ten_seconds();
    let input = driver.input_topic::<String, String>("payments");
    let mut headers = Headers::new();
    headers.add("trace", Some(b"abc".to_vec())).add("empty", None);
    let original = Record::new(s("card-1"), s("t1:500"), 1_000).with_headers(headers.clone());
    input.pipe_record(original.clone());
    // The client retries: same id, another key, value and headers, later.
    input.pipe_record(Record::new(s("card-9"), s("t1:999"), 4_000));
    input.pipe_input_at(s("card-1"), s("t1:500"), 1_000);
    let output = driver.output_topic::<String, String>("payments-once");
    assert_eq!(output.read_records_to_list(), vec![original]);
    assert_eq!(
        driver.dropped_records(),
        0,
        "replays are not late records: not in the dropped-records metric"
    );
}

#[test]
fn the_window_is_inclusive_at_both_ends() {
    let driver = ten_seconds();
    let forwarded = run(
        &driver,
        &[
            ("c", "a:1", 0),
            ("c", "a:2", 10_000), // exactly the window after: a replay
            ("c", "b:1", 0),
            ("c", "b:2", 10_001), // one millisecond more: a new event
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("b:1"), s("b:2")]);

    // The same, looking back: the original's timestamp is the later one.
    let driver = ten_seconds();
    let forwarded = run(
        &driver,
        &[
            ("c", "a:1", 20_000),
            ("c", "a:2", 10_000), // exactly the window before: a replay
            ("c", "b:1", 20_000),
            ("c", "b:2", 9_999), // one millisecond more: a new event
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("b:1"), s("b:2")]);
}

#[test]
fn a_replay_after_the_window_passes_and_holds_a_window_of_its_own() {
    let driver = ten_seconds();
    let forwarded = run(
        &driver,
        &[
            ("c", "a:1", 0),
            ("c", "a:2", 8_000),  // a replay: dropped, and it does not extend the window (KIP-655)
            ("c", "a:3", 11_000), // 11 s after the original: passes
            ("c", "a:4", 21_000), // within 10 s of a:3: dropped
            ("c", "a:5", 21_001), // past a:3's window: passes
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("a:3"), s("a:5")]);
}

#[test]
fn out_of_order_replays_within_the_window_are_dropped() {
    let driver = ten_seconds();
    let forwarded = run(
        &driver,
        &[
            ("c", "a:1", 100_000),
            ("c", "x:1", 105_000), // stream time moves on
            ("c", "a:2", 95_000),  // earlier than the original, 10 s behind stream time: dropped
            ("c", "y:1", 96_000),  // another id, as out of order: passes
            ("c", "y:2", 99_000),  // a replay of it, in order with it: dropped
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("x:1"), s("y:1")]);
}

#[test]
fn different_ids_pass_whatever_their_keys_and_values() {
    let driver = ten_seconds();
    let forwarded = run(
        &driver,
        &[
            ("c1", "a:1", 0),
            ("c1", "b:1", 0),
            ("c2", "c:1", 0),
            ("c1", "d:1", 1),
            ("c2", "a:1", 2), // same id from another card: a replay all the same
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("b:1"), s("c:1"), s("d:1")]);
}

#[test]
fn a_null_id_is_never_checked_nor_remembered() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("payments")
        .dedupe_by(
            |_, payment| Some(txn_id(payment)).filter(|id| !id.is_empty()),
            seconds(10),
        )
        .to("payments-once");
    let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("dedupe")).unwrap();
    let forwarded = run(
        &driver,
        &[
            ("c", ":1", 0),
            ("c", ":1", 0),
            ("c", "a:1", 0),
            ("c", ":2", 1),
            ("c", "a:2", 1),
        ],
    );
    assert_eq!(forwarded, vec![s(":1"), s(":1"), s("a:1"), s(":2")]);
    let stored = driver
        .window_store::<Option<String>, Vec<u8>>("KSTREAM-DEDUPLICATE-STATE-STORE-0000000001")
        .all();
    let ids: Vec<_> = stored.into_iter().map(|(id, t, _)| (id, t)).collect();
    assert_eq!(ids, vec![(Some(s("a")), 0)]);
}

#[test]
fn a_record_within_the_grace_finds_every_id_of_its_window() {
    // Window 10 s, grace 10 s (the default): ids are kept 20 s + 1 ms of stream time.
    let driver = ten_seconds();
    let forwarded = run(
        &driver,
        &[
            ("c", "a:1", 5_000),
            ("c", "x:1", 25_000),
            // Exactly the grace behind stream time, exactly the window after the original, which
            // is exactly window + grace behind stream time: still kept, so a replay.
            ("c", "a:2", 15_000),
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("x:1")]);
}

#[test]
fn a_record_beyond_the_grace_is_checked_against_the_ids_still_kept() {
    // Window 10 s, no grace: ids are kept 10 s + 1 ms of stream time.
    let driver = payments(Deduplicated::default().with_grace(Duration::ZERO), seconds(10));
    let forwarded = run(
        &driver,
        &[
            ("c", "a:1", 0),
            ("c", "b:1", 25_000), // a:1 expires (0 <= 25 s - 10.001 s)
            ("c", "x:1", 30_000),
            ("c", "a:2", 0),      // a replay, but its original is gone: forwarded, not lost
            ("c", "b:2", 24_000), // beyond the grace too, but b:1 is still kept: dropped
        ],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("b:1"), s("x:1"), s("a:2")]);
}

#[test]
fn a_zero_window_drops_only_replays_with_the_same_timestamp() {
    let driver = payments(Deduplicated::default(), Duration::ZERO);
    let forwarded = run(
        &driver,
        &[("c", "a:1", 7), ("c", "a:2", 7), ("c", "a:3", 8), ("c", "a:4", 6)],
    );
    assert_eq!(forwarded, vec![s("a:1"), s("a:3"), s("a:4")]);
}

#[test]
fn repeats_of_an_id_from_one_input_record_are_dropped_too() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("batches") // a batch: "t1:5,t2:7,t1:5"
        .flat_map_values(|batch| batch.split(',').map(str::to_string).collect::<Vec<_>>())
        .dedupe_by(|_, payment| txn_id(payment), seconds(10))
        .to("payments-once");
    let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("dedupe")).unwrap();
    driver
        .input_topic::<String, String>("batches")
        .pipe_input_at(s("c"), s("t1:5,t2:7,t1:5"), 0);
    let forwarded = driver
        .output_topic::<String, String>("payments-once")
        .read_values_to_list();
    assert_eq!(forwarded, vec![s("t1:5"), s("t2:7")]);
}

#[test]
fn the_store_holds_one_entry_per_forwarded_id_at_its_timestamp() {
    let driver = payments(Deduplicated::named("txn"), seconds(10));
    run(
        &driver,
        &[
            ("c", "a:1", 1_000),
            ("c", "a:2", 2_000),
            ("c", "b:1", 3_000),
            ("c", "a:3", 22_000),
        ],
    );
    let entries: Vec<_> = driver
        .window_store::<String, Vec<u8>>("txn-store")
        .all()
        .into_iter()
        .map(|(id, t, _)| (id, t))
        .collect();
    // The replay a:2 is not stored; a:1 at 1 s expired when stream time reached 22 s (ids are kept
    // 20.001 s), b:1 at 3 s has not.
    assert_eq!(entries, vec![(s("b"), 3_000), (s("a"), 22_000)]);
}

#[test]
fn describe_and_internal_topics_show_the_store_and_its_changelog() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("payments")
        .dedupe_by(|_, payment| txn_id(payment), seconds(10))
        .to("payments-once");
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description.contains(
            "Processor: KSTREAM-DEDUPLICATE-0000000002 (stores: [KSTREAM-DEDUPLICATE-STATE-STORE-0000000001])"
        ),
        "{description}"
    );
    assert!(
        description.contains("Sink: KSTREAM-SINK-0000000003 (topic: payments-once)"),
        "{description}"
    );
    assert_eq!(
        topology.internal_topics("app"),
        vec![InternalTopic {
            name: s("app-KSTREAM-DEDUPLICATE-STATE-STORE-0000000001-changelog"),
            purpose: TopicPurpose::Changelog {
                store: s("KSTREAM-DEDUPLICATE-STATE-STORE-0000000001")
            },
            config: [
                (s("cleanup.policy"), s("compact,delete")),
                // window + grace + 1 ms, and Kafka's extra day for window changelogs.
                (s("retention.ms"), (20_001 + 86_400_000).to_string()),
            ]
            .into_iter()
            .collect(),
        }]
    );
}

#[test]
fn names_name_the_node_and_the_store_and_logging_can_be_turned_off() {
    let builder = StreamsBuilder::new();
    let payments = builder.stream::<String, String>("payments");
    payments
        .dedupe_by_with(
            |_, p| txn_id(p),
            seconds(10),
            Deduplicated::with(Arc::new(StringSerde)).with_name("txn-dedupe"),
        )
        .to("a");
    payments
        .dedupe_by_with(
            |_, p| txn_id(p),
            seconds(10),
            Deduplicated::named("by-card")
                .with_store_name("card-ids")
                .with_grace(millis(1))
                .with_caching()
                .in_memory(),
        )
        .to("b");
    payments
        .dedupe_by_with(
            |_, p| txn_id(p),
            seconds(10),
            Deduplicated::named("scratch").without_logging(),
        )
        .to("c");
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    for shown in [
        "Processor: txn-dedupe (stores: [txn-dedupe-store])",
        "Processor: by-card (stores: [card-ids])",
        "Processor: scratch (stores: [scratch-store])",
    ] {
        assert!(description.contains(shown), "{shown} in\n{description}");
    }
    let changelogs: Vec<_> = topology
        .internal_topics("app")
        .into_iter()
        .map(|topic| (topic.name, topic.config["retention.ms"].clone()))
        .collect();
    assert_eq!(
        changelogs,
        vec![
            (s("app-card-ids-changelog"), (10_002 + 86_400_000).to_string()),
            (s("app-txn-dedupe-store-changelog"), (20_001 + 86_400_000).to_string()),
        ]
    );
}

#[test]
fn a_store_name_used_twice_fails_the_build() {
    let builder = StreamsBuilder::new();
    let payments = builder.stream::<String, String>("payments");
    payments.dedupe_by_with(|_, p| txn_id(p), seconds(1), Deduplicated::named("same"));
    payments.dedupe_by_with(
        |_, p| txn_id(p),
        seconds(1),
        Deduplicated::named("other").with_store_name("same-store"),
    );
    assert!(builder.build().is_err());
}

// --- the semantics, on generated streams -----------------------------------------------------------

/// A generated input record: an id (`None` is a null id) and a timestamp.
fn records() -> impl Strategy<Value = Vec<(Option<u8>, i64)>> {
    prop::collection::vec((prop::option::weighted(0.9, 0u8..4), 0i64..200), 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// With `S` the stream time when a record is processed (the largest timestamp so far,
    /// its own included):
    /// - what passes is forwarded unchanged and in order, and every null id passes;
    /// - a record is dropped only when a record of its id within the window was forwarded before
    ///   (never a loss of a new event);
    /// - a record at most the grace behind `S` is forwarded only when no record of its id within
    ///   the window was forwarded before (every replay that can be checked is caught).
    #[test]
    fn dedupe_by_drops_exactly_the_replays_it_can_check(
        records in records(),
        window in 0i64..30,
        grace in 0i64..30,
    ) {
        let builder = StreamsBuilder::new();
        builder
            .stream::<i64, Option<String>>("in")
            .dedupe_by_with(
                |_, id| id.clone(),
                millis(window as u64),
                Deduplicated::default().with_grace(millis(grace as u64)),
            )
            .to("out");
        let driver = TopologyTestDriver::new(builder.build().unwrap(), StreamsConfig::for_tests("prop")).unwrap();
        let input = driver.input_topic::<i64, Option<String>>("in");
        for (index, (id, t)) in records.iter().enumerate() {
            input.pipe_input_at(index as i64, id.map(|id| id.to_string()), *t);
        }
        let out = driver.output_topic::<i64, Option<String>>("out").read_records_to_list();
        let passed: Vec<usize> = out.iter().map(|r| r.key as usize).collect();
        prop_assert!(passed.windows(2).all(|w| w[0] < w[1]), "in order: {passed:?}");
        for record in &out {
            let (id, t) = records[record.key as usize];
            prop_assert_eq!(&record.value, &id.map(|id| id.to_string()));
            prop_assert_eq!(record.timestamp, t);
        }

        let mut forwarded: Vec<(u8, i64)> = Vec::new();
        let mut stream_time = i64::MIN;
        for (index, (id, t)) in records.iter().copied().enumerate() {
            stream_time = stream_time.max(t);
            let was_passed = passed.contains(&index);
            let Some(id) = id else {
                prop_assert!(was_passed, "null id of record {index} passes");
                continue;
            };
            let replay = forwarded.iter().any(|&(f, ft)| f == id && (t - ft).abs() <= window);
            if !was_passed {
                prop_assert!(replay, "record {index} ({id}, {t}) dropped without an original");
            } else {
                forwarded.push((id, t));
                if stream_time - t <= grace {
                    prop_assert!(!replay, "record {index} ({id}, {t}) at stream time {stream_time} passed as a replay");
                }
            }
        }
    }
}
