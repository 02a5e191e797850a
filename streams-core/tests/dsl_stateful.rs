//! Grouping, aggregations, time windows, suppression and tables, with the TopologyTestDriver:
//! the time semantics users get wrong, each pinned.

use serde::{Deserialize, Serialize};
use streams_core::dsl::{Grouped, KTable, Materialized, StreamsBuilder};
use streams_core::processor::Record;
use streams_core::testing::TopologyTestDriver;
use streams_core::time::{
    BufferConfig, SessionWindows, SlidingWindows, Suppressed, TimeWindows, Window, Windowed, millis, minutes, seconds,
};
use streams_core::{StreamsConfig, json_serde};

fn s(text: &str) -> String {
    text.to_string()
}

fn driver(builder: StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::new(
        builder.build().expect("a valid topology"),
        StreamsConfig::for_tests("stateful"),
    )
    .expect("the driver starts")
}

fn w(key: &str, start: i64, end: i64) -> Windowed<String> {
    Windowed::new(s(key), Window::new(start, end))
}

// --- the STYLE.md example ---------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Txn {
    amount_cents: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct CardStats {
    count: u32,
    total_cents: i64,
}

impl CardStats {
    fn add(mut self, txn: &Txn) -> Self {
        self.count += 1;
        self.total_cents += txn.amount_cents;
        self
    }
}

json_serde!(Txn, CardStats);

fn txn(amount_cents: i64) -> Txn {
    Txn { amount_cents }
}

/// Milliseconds of a wall-clock time of day ("10:00:01") on the epoch's first day.
fn ts(time: &str) -> i64 {
    let parts: Vec<i64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000
}

#[test]
fn the_style_guide_example_emits_one_final_window() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, Txn>("transactions")
        .filter(|_card, txn| txn.amount_cents > 0)
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(minutes(10), seconds(30)))
        .aggregate(
            CardStats::default,
            |_card, txn, stats| stats.add(txn),
            Materialized::named("card-stats"),
        )
        .suppress(Suppressed::until_window_closes())
        .to_stream()
        .to("card-stats-final");
    let topology = builder.build().unwrap();

    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("fraud")).unwrap();
    let input = driver.input_topic::<String, Txn>("transactions");
    let output = driver.output_topic::<Windowed<String>, Option<CardStats>>("card-stats-final");
    input.pipe_input_at(s("card-1"), txn(500), ts("10:00:01"));
    input.pipe_input_at(s("card-1"), txn(-5), ts("10:00:02"));
    input.pipe_input_at(s("card-1"), txn(700), ts("10:09:59"));
    assert!(output.is_empty(), "nothing before the window closes");
    driver.advance_stream_time_to(ts("10:10:29"));
    assert!(output.is_empty(), "the window is open until its end plus grace");
    driver.advance_stream_time_to(ts("10:11:00"));
    let window = Window::new(ts("10:00:00"), ts("10:10:00"));
    assert_eq!(
        output.read_key_values_to_list(),
        vec![(
            Windowed::new(s("card-1"), window),
            Some(CardStats {
                count: 2,
                total_cents: 1200
            })
        )]
    );
    let store = driver.window_store::<String, CardStats>("card-stats");
    assert_eq!(
        store.fetch(&s("card-1"), ts("10:00:00")),
        Some(CardStats {
            count: 2,
            total_cents: 1200
        })
    );
}

// --- grouped aggregations ------------------------------------------------------------------------

#[test]
fn count_reduce_and_aggregate_per_key_with_the_largest_input_timestamp() {
    let builder = StreamsBuilder::new();
    let amounts = builder.stream::<String, i64>("amounts");
    let grouped = amounts.group_by_key();
    grouped
        .count_with(Materialized::named("counts"))
        .to_stream()
        .to("counts");
    grouped.reduce(|a, b| a.max(*b)).to_stream().to("maxima");
    grouped
        .aggregate(
            || s(""),
            |_, v, acc: String| format!("{acc}{v};"),
            Materialized::named("joined"),
        )
        .to_stream()
        .to("joined");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("amounts");
    input.pipe_input_at(s("a"), 5, 100);
    input.pipe_input_at(s("b"), 1, 50);
    input.pipe_input_at(s("a"), 3, 70);

    let counts = driver
        .output_topic::<String, Option<i64>>("counts")
        .read_records_to_list();
    let counts: Vec<(String, Option<i64>, i64)> = counts.into_iter().map(|r| (r.key, r.value, r.timestamp)).collect();
    assert_eq!(
        counts,
        vec![(s("a"), Some(1), 100), (s("b"), Some(1), 50), (s("a"), Some(2), 100)],
        "timestamp: the largest input's"
    );
    assert_eq!(
        driver
            .output_topic::<String, Option<i64>>("maxima")
            .read_values_to_list(),
        vec![Some(5), Some(1), Some(5)]
    );
    assert_eq!(
        driver
            .output_topic::<String, Option<String>>("joined")
            .read_values_to_list()
            .last()
            .unwrap(),
        &Some(s("5;3;"))
    );
    let store = driver.key_value_store::<String, i64>("counts");
    assert_eq!(store.get(&s("a")), Some(2));
    assert_eq!(store.all(), vec![(s("a"), 2), (s("b"), 1)]);
}

#[test]
fn select_key_then_group_by_key_repartitions_like_group_by() {
    let via_select_key = StreamsBuilder::new();
    via_select_key
        .stream::<String, String>("words")
        .select_key(|_, word| word.chars().next().unwrap().to_string())
        .group_by_key()
        .count_with(Materialized::named("by-letter"))
        .to_stream()
        .to("out");
    let via_group_by = StreamsBuilder::new();
    via_group_by
        .stream::<String, String>("words")
        .group_by(|_, word| word.chars().next().unwrap().to_string())
        .count_with(Materialized::named("by-letter"))
        .to_stream()
        .to("out");

    let words = [
        (s("1"), s("kafka")),
        (s("2"), s("rust")),
        (s("3"), s("kotlin")),
        (s("1"), s("rocks")),
    ];
    let mut results = Vec::new();
    for builder in [via_select_key, via_group_by] {
        let topology = builder.build().unwrap();
        let description = topology.describe().to_string();
        assert!(
            description.contains("(topic: by-letter-repartition)"),
            "repartitioned through the store's topic:\n{description}"
        );
        assert_eq!(topology.describe().subtopology_count(), 2);
        let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("letters")).unwrap();
        driver
            .input_topic::<String, String>("words")
            .pipe_key_value_list(words.clone());
        results.push(
            driver
                .output_topic::<String, Option<i64>>("out")
                .read_key_values_to_list(),
        );
    }
    assert_eq!(
        results[0],
        vec![
            (s("k"), Some(1)),
            (s("r"), Some(1)),
            (s("k"), Some(2)),
            (s("r"), Some(2))
        ]
    );
    assert_eq!(results[0], results[1]);
}

#[test]
fn group_by_key_without_a_key_change_does_not_repartition_and_grouped_names_the_topic() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .filter(|_, v| *v > 0)
        .group_by_key()
        .count()
        .to_stream()
        .to("out");
    let topology = builder.build().unwrap();
    assert_eq!(topology.describe().subtopology_count(), 1);

    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .map(|k, v| (k, v))
        .group_by_key_with(Grouped::default().with_name("regrouped"))
        .count()
        .to_stream()
        .to("out");
    let description = builder.build().unwrap().describe().to_string();
    assert!(
        description.contains("Sink: regrouped-repartition-sink (topic: regrouped-repartition)"),
        "{description}"
    );
}

// --- time windows --------------------------------------------------------------------------------

fn windowed_counts(windows: TimeWindows) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("events")
        .group_by_key()
        .windowed_by(windows)
        .count_with(Materialized::named("window-counts"))
        .to_stream()
        .to("counts");
    driver(builder)
}

fn read_counts(driver: &TopologyTestDriver) -> Vec<(Windowed<String>, Option<i64>)> {
    driver
        .output_topic::<Windowed<String>, Option<i64>>("counts")
        .read_key_values_to_list()
}

#[test]
fn a_record_at_a_window_start_belongs_to_it_and_one_at_its_end_to_the_next() {
    let driver = windowed_counts(TimeWindows::of_size_and_grace(millis(10), millis(100)));
    let input = driver.input_topic::<String, i64>("events");
    input.pipe_input_at(s("k"), 0, 10);
    input.pipe_input_at(s("k"), 0, 19);
    input.pipe_input_at(s("k"), 0, 20);
    assert_eq!(
        read_counts(&driver),
        vec![
            (w("k", 10, 20), Some(1)),
            (w("k", 10, 20), Some(2)),
            (w("k", 20, 30), Some(1))
        ]
    );
}

#[test]
fn hopping_windows_place_a_record_in_every_window_holding_it_aligned_to_the_epoch() {
    let driver = windowed_counts(TimeWindows::of_size_and_grace(millis(10), millis(100)).advance_by(millis(5)));
    driver.input_topic::<String, i64>("events").pipe_input_at(s("k"), 0, 12);
    assert_eq!(
        read_counts(&driver),
        vec![(w("k", 5, 15), Some(1)), (w("k", 10, 20), Some(1))]
    );
}

#[test]
fn out_of_order_records_within_grace_count_and_later_ones_are_dropped_and_counted() {
    let driver = windowed_counts(TimeWindows::of_size_and_grace(millis(10), millis(5)));
    let input = driver.input_topic::<String, i64>("events");
    input.pipe_input_at(s("k"), 0, 3);
    input.pipe_input_at(s("k"), 0, 14);
    // Stream time 14 < 10 + 5: the window [0, 10) still takes an out-of-order record.
    input.pipe_input_at(s("k"), 0, 8);
    assert_eq!(
        read_counts(&driver),
        vec![
            (w("k", 0, 10), Some(1)),
            (w("k", 10, 20), Some(1)),
            (w("k", 0, 10), Some(2))
        ]
    );
    assert_eq!(driver.dropped_records(), 0);
    // Stream time 15 = 10 + 5: [0, 10) is closed.
    input.pipe_input_at(s("k"), 0, 15);
    input.pipe_input_at(s("k"), 0, 9);
    assert_eq!(
        read_counts(&driver),
        vec![(w("k", 10, 20), Some(2))],
        "the late record produced nothing"
    );
    assert_eq!(driver.dropped_records(), 1);
    // An older record does not move stream time back: [10, 20) is still open until 25.
    input.pipe_input_at(s("k"), 0, 11);
    assert_eq!(read_counts(&driver), vec![(w("k", 10, 20), Some(3))]);
}

#[test]
fn with_no_grace_a_window_closes_at_its_end() {
    let driver = windowed_counts(TimeWindows::of_size_with_no_grace(millis(10)));
    let input = driver.input_topic::<String, i64>("events");
    input.pipe_input_at(s("k"), 0, 10);
    input.pipe_input_at(s("k"), 0, 9);
    assert_eq!(read_counts(&driver), vec![(w("k", 10, 20), Some(1))]);
    assert_eq!(driver.dropped_records(), 1);
}

#[test]
fn a_retention_shorter_than_size_plus_grace_is_refused() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(seconds(10), seconds(5)))
        .count_with(Materialized::named("short").with_retention(seconds(12)));
    let error = builder.build().unwrap_err().to_string();
    assert!(
        error.contains(
            "retention of window store short (12000 ms) must be at least its window size plus grace (15000 ms)"
        ),
        "{error}"
    );
}

// --- suppression ---------------------------------------------------------------------------------

fn suppressed_counts(suppressed: Suppressed) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("events")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(millis(10), millis(5)))
        .count()
        .suppress(suppressed)
        .to_stream()
        .to("counts");
    driver(builder)
}

#[test]
fn until_window_closes_emits_exactly_one_final_result_per_window_and_none_is_lost() {
    let driver = suppressed_counts(Suppressed::until_window_closes());
    let input = driver.input_topic::<String, i64>("events");
    for (key, t) in [("a", 1), ("b", 2), ("a", 9), ("a", 12), ("b", 7), ("a", 14)] {
        input.pipe_input_at(s(key), 0, t);
    }
    assert!(
        read_counts(&driver).is_empty(),
        "stream time 14 < 10 + 5: nothing final yet"
    );
    input.pipe_input_at(s("c"), 0, 15);
    let mut finals = read_counts(&driver);
    finals.sort();
    assert_eq!(
        finals,
        vec![(w("a", 0, 10), Some(2)), (w("b", 0, 10), Some(2))],
        "every key's window, once"
    );
    input.pipe_input_at(s("a"), 0, 16);
    input.pipe_input_at(s("a"), 0, 24);
    assert!(read_counts(&driver).is_empty());
    driver.advance_stream_time_to(25);
    let mut finals = read_counts(&driver);
    finals.sort();
    assert_eq!(finals, vec![(w("a", 10, 20), Some(3)), (w("c", 10, 20), Some(1))]);
    driver.advance_stream_time_to(1_000);
    assert_eq!(read_counts(&driver), vec![(w("a", 20, 30), Some(1))]);
    driver.advance_stream_time_to(2_000);
    assert!(read_counts(&driver).is_empty(), "never twice");
}

#[test]
fn until_time_limit_emits_each_keys_latest_value_a_fixed_time_after_its_first_update() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("events")
        .group_by_key()
        .count()
        .suppress(Suppressed::until_time_limit(millis(10), BufferConfig::unbounded()))
        .to_stream()
        .to("counts");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("events");
    let out = driver.output_topic::<String, Option<i64>>("counts");
    input.pipe_input_at(s("a"), 0, 100);
    input.pipe_input_at(s("a"), 0, 105);
    input.pipe_input_at(s("b"), 0, 106);
    assert!(out.is_empty());
    input.pipe_input_at(s("a"), 0, 110);
    assert_eq!(
        out.read_key_values_to_list(),
        vec![(s("a"), Some(3))],
        "a's first update was at 100"
    );
    driver.advance_stream_time_to(116);
    assert_eq!(out.read_key_values_to_list(), vec![(s("b"), Some(1))]);
}

#[test]
fn a_full_buffer_emits_early_or_stops_as_configured() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("events")
        .group_by_key()
        .count()
        .suppress(Suppressed::until_time_limit(
            minutes(1),
            BufferConfig::max_records(1).emit_early_when_full(),
        ))
        .to_stream()
        .to("counts");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("events");
    input.pipe_input_at(s("a"), 0, 1);
    input.pipe_input_at(s("b"), 0, 2);
    assert_eq!(
        driver
            .output_topic::<String, Option<i64>>("counts")
            .read_key_values_to_list(),
        vec![(s("a"), Some(1))]
    );

    let driver = suppressed_counts(Suppressed::until_window_closes_with(BufferConfig::max_records(1)));
    let input = driver.input_topic::<String, i64>("events");
    input.pipe_input_at(s("a"), 0, 1);
    let error = input
        .try_pipe_record(Record::new(s("b"), 0, 2))
        .unwrap_err()
        .to_string();
    assert!(error.contains("suppression buffer full (1 keys)"), "{error}");
}

#[test]
fn until_window_closes_on_a_table_without_windows_is_refused() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in")
        .group_by_key()
        .count()
        .suppress(Suppressed::until_window_closes());
    let error = builder.build().unwrap_err().to_string();
    assert!(error.contains("needs a windowed table"), "{error}");
}

// --- tables --------------------------------------------------------------------------------------

#[test]
fn table_tombstones_flow_through_filter_map_values_and_to_stream() {
    let builder = StreamsBuilder::new();
    let prices: KTable<String, i64> = builder.table("prices");
    prices
        .filter(|_, p| *p >= 10)
        .map_values(|p| p * 2)
        .to_stream()
        .to("doubled-expensive");
    let driver = driver(builder);
    let input = driver.input_topic::<String, Option<i64>>("prices");
    let out = driver.output_topic::<String, Option<i64>>("doubled-expensive");
    input.pipe_input(s("apple"), Some(12));
    input.pipe_input(s("pear"), Some(3));
    input.pipe_input(s("apple"), Some(4));
    input.pipe_input(s("pear"), Some(30));
    input.pipe_input(s("pear"), None);
    assert_eq!(
        out.read_key_values_to_list(),
        vec![
            (s("apple"), Some(24)),
            (s("apple"), None),
            (s("pear"), Some(60)),
            (s("pear"), None)
        ],
        "a row that stops passing the filter, and a deleted row, become tombstones"
    );
    let store = driver.key_value_store::<String, i64>("prices-STATE-STORE-0000000001");
    assert_eq!(store.all(), vec![(s("apple"), 4)], "the tombstone deleted pear");
}

#[test]
fn a_grouped_table_subtracts_the_old_value_then_adds_the_new_one() {
    let builder = StreamsBuilder::new();
    // user → region; count users per region, and total of user ids per region.
    let users: KTable<String, String> = builder.table("user-regions");
    let by_region = users.group_by(|_user, region| (region.clone(), 1i64));
    by_region
        .count_with(Materialized::named("users-per-region"))
        .to_stream()
        .to("counts");
    by_region
        .aggregate(
            || 0i64,
            |_, v, sum| sum + v,
            |_, v, sum| sum - v,
            Materialized::named("sum-per-region"),
        )
        .to_stream()
        .to("sums");
    let driver = driver(builder);
    let input = driver.input_topic::<String, Option<String>>("user-regions");
    input.pipe_input(s("alice"), Some(s("eu")));
    input.pipe_input(s("bob"), Some(s("eu")));
    input.pipe_input(s("alice"), Some(s("us")));
    input.pipe_input(s("bob"), None);
    let counts = driver
        .output_topic::<String, Option<i64>>("counts")
        .read_key_values_to_list();
    assert_eq!(
        counts,
        vec![
            (s("eu"), Some(1)),
            (s("eu"), Some(2)),
            (s("eu"), Some(1)), // alice leaves eu (subtractor first) …
            (s("us"), Some(1)), // … then joins us (adder)
            (s("eu"), Some(0)), // bob deleted
        ]
    );
    let store = driver.key_value_store::<String, i64>("users-per-region");
    assert_eq!(store.all(), vec![(s("eu"), 0), (s("us"), 1)]);
    assert_eq!(
        driver.key_value_store::<String, i64>("sum-per-region").all(),
        vec![(s("eu"), 0), (s("us"), 1)]
    );
}

#[test]
fn a_store_name_used_twice_is_refused() {
    let builder = StreamsBuilder::new();
    let stream = builder.stream::<String, i64>("in");
    stream.group_by_key().count_with(Materialized::named("same"));
    stream.group_by_key().count_with(Materialized::named("same"));
    let error = builder.build().unwrap_err().to_string();
    assert!(error.contains("the store name same is used twice"), "{error}");
}

// --- sliding and session windows through the DSL ------------------------------------------------

#[test]
fn sliding_windows_are_created_by_records_with_inclusive_bounds() {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, i64>("events")
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_with_no_grace(millis(10)))
        .count_with(Materialized::named("sliding"));
    counts
        .suppress(Suppressed::until_window_closes())
        .to_stream()
        .to("finals");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("events");
    input.pipe_input_at(s("k"), 0, 10);
    input.pipe_input_at(s("k"), 0, 15);
    // [0, 10] holds 10; [5, 15] holds 10 and 15 (10 is exactly d before 15: inclusive); the right
    // window of 10, [11, 21], holds 15.
    let mut windows = driver.window_store::<String, i64>("sliding").all();
    windows.sort();
    assert_eq!(windows, vec![(s("k"), 0, 1), (s("k"), 5, 2), (s("k"), 11, 1)]);
    // With no grace, [0, 10] closed when stream time passed 10.
    let finals = driver.output_topic::<Windowed<String>, Option<i64>>("finals");
    assert_eq!(finals.read_key_values_to_list(), vec![(w("k", 0, 10), Some(1))]);
    driver.advance_stream_time_to(16);
    assert_eq!(
        finals.read_key_values_to_list(),
        vec![(w("k", 5, 15), Some(2))],
        "closed once stream time passes its end"
    );
    driver.advance_stream_time_to(21);
    assert!(finals.is_empty(), "[11, 21] holds time 21: still open");
    driver.advance_stream_time_to(22);
    assert_eq!(finals.read_key_values_to_list(), vec![(w("k", 11, 21), Some(1))]);
}

#[test]
fn session_windows_merge_on_a_bridging_record_and_forward_tombstones_for_replaced_sessions() {
    let builder = StreamsBuilder::new();
    let sessions = builder
        .stream::<String, i64>("clicks")
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(millis(5), millis(20)))
        .count_with(Materialized::named("sessions"));
    sessions.to_stream().to("updates");
    sessions
        .suppress(Suppressed::until_window_closes())
        .to_stream()
        .to("finals");
    let driver = driver(builder);
    let input = driver.input_topic::<String, i64>("clicks");
    for t in [0, 3, 8, 20, 15] {
        input.pipe_input_at(s("u"), 0, t);
    }
    let mut sessions_now = driver.session_store::<String, i64>("sessions").fetch_sessions(&s("u"));
    sessions_now.sort();
    assert_eq!(
        sessions_now
            .iter()
            .map(|(window, n)| (window.start, window.end, *n))
            .collect::<Vec<_>>(),
        vec![(0, 8, 3), (15, 20, 2)],
        "8 is exactly the gap after 3: same session"
    );
    let updates = driver.output_topic::<Windowed<String>, Option<i64>>("updates");
    updates.read_records_to_list();
    input.pipe_input_at(s("u"), 0, 12);
    let mut merged = updates.read_key_values_to_list();
    merged.sort();
    assert_eq!(
        merged,
        vec![(w("u", 0, 8), None), (w("u", 0, 20), Some(6)), (w("u", 15, 20), None)]
    );
    let finals = driver.output_topic::<Windowed<String>, Option<i64>>("finals");
    driver.advance_stream_time_to(45);
    assert!(
        finals.is_empty(),
        "a session may still grow until its end + gap, and take late records for grace"
    );
    driver.advance_stream_time_to(46);
    assert_eq!(
        finals.read_key_values_to_list(),
        vec![(w("u", 0, 20), Some(6))],
        "only the merged session, once"
    );
}

#[test]
fn internal_topics_follow_kafka_streams_naming_and_settings() {
    use streams_core::topology::{InternalTopic, TopicPurpose};
    let builder = StreamsBuilder::new();
    let words = builder.stream::<String, String>("words");
    words
        .group_by(|_, w| w.clone())
        .count_with(Materialized::named("word-counts"));
    words
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(minutes(5), seconds(30)))
        .count_with(Materialized::named("recent"));
    words
        .group_by_key()
        .count_with(Materialized::named("unlogged").without_logging());
    let topics = builder.build().unwrap().internal_topics("app");
    let topic = |name: &str, purpose: TopicPurpose, config: &[(&str, String)]| InternalTopic {
        name: s(name),
        purpose,
        config: config.iter().map(|(k, v)| (s(k), v.clone())).collect(),
    };
    assert_eq!(
        topics,
        vec![
            topic(
                "app-recent-changelog",
                TopicPurpose::Changelog { store: s("recent") },
                &[
                    ("cleanup.policy", s("compact,delete")),
                    ("retention.ms", (330_000 + 86_400_000).to_string())
                ],
            ),
            topic(
                "app-word-counts-changelog",
                TopicPurpose::Changelog {
                    store: s("word-counts")
                },
                &[("cleanup.policy", s("compact"))]
            ),
            topic(
                "app-word-counts-repartition",
                TopicPurpose::Repartition,
                &[
                    ("cleanup.policy", s("delete")),
                    ("retention.ms", s("-1")),
                    ("segment.bytes", s("52428800")),
                    ("segment.ms", s("600000"))
                ]
            ),
        ]
    );
}
