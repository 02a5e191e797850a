//! Joins through the DSL, with the TopologyTestDriver.

use std::collections::HashMap;

use streams_core::StreamsConfig;
use streams_core::dsl::{KTable, Materialized, StreamJoined, StreamsBuilder};
use streams_core::testing::TopologyTestDriver;
use streams_core::time::{JoinWindows, millis};

fn s(text: &str) -> String {
    text.to_string()
}

fn driver(builder: StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::new(
        builder.build().expect("a valid topology"),
        StreamsConfig::for_tests("joins"),
    )
    .expect("the driver starts")
}

// --- stream-table --------------------------------------------------------------------------------

fn card_alerts(left: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let limits: KTable<String, i64> = builder.table("card-limits");
    let payments = builder.stream::<String, i64>("payments");
    if left {
        payments
            .left_join_table(&limits, |amount, limit| {
                format!("{amount}/{}", limit.map_or(s("none"), |l| l.to_string()))
            })
            .to("checked");
    } else {
        payments
            .join_table(&limits, |amount, limit| format!("{amount}/{limit}"))
            .to("checked");
    }
    driver(builder)
}

#[test]
fn a_stream_table_join_looks_up_the_tables_current_row() {
    for left in [false, true] {
        let driver = card_alerts(left);
        let payments = driver.input_topic::<String, i64>("payments");
        let limits = driver.input_topic::<String, Option<i64>>("card-limits");
        let checked = driver.output_topic::<String, String>("checked");

        payments.pipe_input_at(s("card"), 10, 100);
        let before = checked.read_key_values_to_list();
        limits.pipe_input_at(s("card"), Some(50), 200);
        assert!(checked.is_empty(), "a table update alone emits nothing");
        payments.pipe_input_at(s("card"), 20, 300);
        limits.pipe_input_at(s("card"), Some(70), 400);
        payments.pipe_input_at(s("card"), 30, 500);
        limits.pipe_input_at(s("card"), None, 600);
        payments.pipe_input_at(s("card"), 40, 700);
        let after: Vec<(String, i64)> = checked
            .read_records_to_list()
            .into_iter()
            .map(|r| (r.value, r.timestamp))
            .collect();
        if left {
            assert_eq!(before, vec![(s("card"), s("10/none"))]);
            assert_eq!(after, vec![(s("20/50"), 300), (s("30/70"), 500), (s("40/none"), 700)]);
        } else {
            assert!(before.is_empty(), "no row yet: an inner join emits nothing");
            assert_eq!(
                after,
                vec![(s("20/50"), 300), (s("30/70"), 500)],
                "a tombstone means no row; timestamps are the stream's"
            );
        }
    }
}

#[test]
fn a_join_after_a_key_change_repartitions_and_matches_the_join_on_the_original_key() {
    let payments = [
        (s("p1"), s("card-a:10")),
        (s("p2"), s("card-b:20")),
        (s("p3"), s("card-a:30")),
    ];
    let limits = [(s("card-a"), Some(s("gold"))), (s("card-b"), Some(s("basic")))];

    // Keyed by payment id; re-keyed by card before the join.
    let rekeyed = StreamsBuilder::new();
    let table: KTable<String, String> = rekeyed.table("card-tiers");
    rekeyed
        .stream::<String, String>("payments-by-id")
        .select_key(|_, v| v.split(':').next().unwrap().to_string())
        .join_table(&table, |payment, tier| format!("{payment}@{tier}"))
        .to("out");
    let topology = rekeyed.build().unwrap();
    let description = topology.describe().to_string();
    assert!(description.contains("-repartition"), "{description}");
    let rekeyed_driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("rekeyed")).unwrap();
    for (card, tier) in &limits {
        rekeyed_driver
            .input_topic::<String, Option<String>>("card-tiers")
            .pipe_input(card.clone(), tier.clone());
    }
    rekeyed_driver
        .input_topic::<String, String>("payments-by-id")
        .pipe_key_value_list(payments.clone());
    let via_repartition = rekeyed_driver
        .output_topic::<String, String>("out")
        .read_key_values_to_list();

    // Keyed by card from the start.
    let direct = StreamsBuilder::new();
    let table: KTable<String, String> = direct.table("card-tiers");
    direct
        .stream::<String, String>("payments-by-card")
        .join_table(&table, |payment, tier| format!("{payment}@{tier}"))
        .to("out");
    let direct_driver = driver(direct);
    for (card, tier) in &limits {
        direct_driver
            .input_topic::<String, Option<String>>("card-tiers")
            .pipe_input(card.clone(), tier.clone());
    }
    let by_card: Vec<(String, String)> = payments
        .iter()
        .map(|(_, v)| (v.split(':').next().unwrap().to_string(), v.clone()))
        .collect();
    direct_driver
        .input_topic::<String, String>("payments-by-card")
        .pipe_key_value_list(by_card);
    let direct_result = direct_driver
        .output_topic::<String, String>("out")
        .read_key_values_to_list();

    assert_eq!(
        via_repartition,
        vec![
            (s("card-a"), s("card-a:10@gold")),
            (s("card-b"), s("card-b:20@basic")),
            (s("card-a"), s("card-a:30@gold"))
        ]
    );
    assert_eq!(via_repartition, direct_result);
}

#[test]
fn a_derived_table_is_materialized_for_a_join_and_one_without_a_serde_must_be() {
    let builder = StreamsBuilder::new();
    let limits: KTable<String, i64> = builder.table("limits");
    let high = limits.filter(|_, limit| *limit >= 100);
    builder
        .stream::<String, i64>("payments")
        .join_table(&high, |amount, limit| amount * 1000 + limit)
        .to("out");
    let high_driver = driver(builder);
    high_driver
        .input_topic::<String, Option<i64>>("limits")
        .pipe_input(s("a"), Some(150));
    high_driver
        .input_topic::<String, Option<i64>>("limits")
        .pipe_input(s("b"), Some(50));
    high_driver
        .input_topic::<String, i64>("payments")
        .pipe_key_value_list([(s("a"), 1), (s("b"), 2)]);
    assert_eq!(
        high_driver.output_topic::<String, i64>("out").read_key_values_to_list(),
        vec![(s("a"), 1150)]
    );

    let builder = StreamsBuilder::new();
    let doubled = builder.table::<String, i64>("limits").map_values(|l| (l, l * 2));
    builder
        .stream::<String, i64>("payments")
        .join_table(&doubled, |a, (_, d)| a + d)
        .to("out");
    let error = builder.build().unwrap_err().to_string();
    assert!(
        error.contains("call .materialized(Materialized::with(key_serde, value_serde))"),
        "{error}"
    );

    let builder = StreamsBuilder::new();
    let doubled = builder
        .table::<String, i64>("limits")
        .map_values(|l| l * 2)
        .materialized(Materialized::named("doubled"));
    builder
        .stream::<String, i64>("payments")
        .join_table(&doubled, |a, d| a + d)
        .to("out");
    let doubled_driver = driver(builder);
    doubled_driver
        .input_topic::<String, Option<i64>>("limits")
        .pipe_input(s("a"), Some(5));
    doubled_driver
        .input_topic::<String, i64>("payments")
        .pipe_input(s("a"), 1);
    assert_eq!(doubled_driver.output_topic::<String, i64>("out").read_value(), 11);
    assert_eq!(
        doubled_driver.key_value_store::<String, i64>("doubled").get(&s("a")),
        Some(10)
    );
}

#[test]
fn joined_topics_must_be_co_partitioned() {
    let builder = StreamsBuilder::new();
    let limits: KTable<String, i64> = builder.table("limits");
    builder
        .stream::<String, i64>("payments")
        .join_table(&limits, |a, l| a + l)
        .to("out");
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.copartition_groups("app"),
        vec![vec![s("limits"), s("payments")]]
    );
    let partitions = HashMap::from([("limits", 4), ("payments", 4)]);
    assert!(
        topology
            .check_copartitioning("app", |t| partitions.get(t).copied())
            .is_ok()
    );
    let partitions = HashMap::from([("limits", 4), ("payments", 6)]);
    let error = topology
        .check_copartitioning("app", |t| partitions.get(t).copied())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("limits (4 partitions), payments (6 partitions)"),
        "{error}"
    );
}

// --- global tables -------------------------------------------------------------------------------

#[test]
fn a_global_table_join_uses_a_key_taken_from_the_record() {
    let builder = StreamsBuilder::new();
    let merchants = builder.global_table::<String, String>("merchant-countries");
    let payments = builder.stream::<String, String>("payments"); // card → merchant id
    payments
        .join_global(
            &merchants,
            |_card, merchant| merchant.clone(),
            |merchant, country| format!("{merchant} in {country}"),
        )
        .to("inner");
    payments
        .left_join_global(
            &merchants,
            |_card, merchant| merchant.clone(),
            |merchant, country| format!("{merchant} in {country:?}"),
        )
        .to("left");
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description.contains("for global store (will not generate tasks)"),
        "{description}"
    );
    assert!(
        description.contains("(stores: [merchant-countries-STATE-STORE-0000000001])"),
        "{description}"
    );
    assert!(
        topology.copartition_groups("app").is_empty(),
        "a global table needs no co-partitioning"
    );

    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("global")).unwrap();
    let countries = driver.input_topic::<String, Option<String>>("merchant-countries");
    let payments = driver.input_topic::<String, String>("payments");
    countries.pipe_input(s("m1"), Some(s("FR")));
    payments.pipe_input(s("card-1"), s("m1"));
    payments.pipe_input(s("card-2"), s("m2"));
    countries.pipe_input(s("m1"), None);
    payments.pipe_input(s("card-3"), s("m1"));
    assert_eq!(
        driver.output_topic::<String, String>("inner").read_key_values_to_list(),
        vec![(s("card-1"), s("m1 in FR"))]
    );
    assert_eq!(
        driver.output_topic::<String, String>("left").read_key_values_to_list(),
        vec![
            (s("card-1"), s("m1 in Some(\"FR\")")),
            (s("card-2"), s("m2 in None")),
            (s("card-3"), s("m1 in None"))
        ]
    );
}

#[test]
fn a_global_tables_topic_cannot_be_read_by_a_stream_and_a_bad_record_is_named() {
    let builder = StreamsBuilder::new();
    builder.global_table::<String, i64>("shared");
    builder.stream::<String, i64>("shared").to("out");
    let error = builder.build().unwrap_err().to_string();
    assert!(
        error.contains("topic shared is read by a global table already"),
        "{error}"
    );

    let builder = StreamsBuilder::new();
    builder.global_table::<String, i64>("numbers");
    builder.stream::<String, i64>("in").to("out");
    let driver = driver(builder);
    let raw = streams_core::runtime::RawRecord {
        key: Some(b"k".to_vec()),
        value: Some(b"x".to_vec()),
        timestamp: Some(1),
        headers: vec![],
    };
    let error = driver
        .input_topic::<String, i64>("numbers")
        .try_pipe_raw(raw)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("record numbers/0@0 failed: global table record"),
        "{error}"
    );
}

// --- table-table ---------------------------------------------------------------------------------

fn table_join(kind: &str) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let names: KTable<String, String> = builder.table("names");
    let cities: KTable<String, String> = builder.table("cities");
    let joined = match kind {
        "inner" => names.join(&cities, |n, c| format!("{n}+{c}")),
        "left" => names.left_join(&cities, |n, c| format!("{n}+{}", c.map_or("null", String::as_str))),
        _ => names.outer_join(&cities, |n, c| {
            format!(
                "{}+{}",
                n.map_or("null", String::as_str),
                c.map_or("null", String::as_str)
            )
        }),
    };
    joined.to_stream().to("joined");
    driver(builder)
}

#[test]
fn table_table_joins_re_emit_on_either_side_and_propagate_tombstones() {
    for kind in ["inner", "left", "outer"] {
        let driver = table_join(kind);
        let names = driver.input_topic::<String, Option<String>>("names");
        let cities = driver.input_topic::<String, Option<String>>("cities");
        let joined = driver.output_topic::<String, Option<String>>("joined");
        let mut out = Vec::new();
        let step = |out: &mut Vec<Vec<(Option<String>, i64)>>| {
            out.push(
                joined
                    .read_records_to_list()
                    .into_iter()
                    .map(|r| (r.value, r.timestamp))
                    .collect(),
            );
        };
        names.pipe_input_at(s("u"), Some(s("ada")), 10);
        step(&mut out);
        cities.pipe_input_at(s("u"), Some(s("rome")), 5);
        step(&mut out);
        cities.pipe_input_at(s("u"), Some(s("oslo")), 20);
        step(&mut out);
        names.pipe_input_at(s("u"), None, 30);
        step(&mut out);
        cities.pipe_input_at(s("u"), None, 40);
        step(&mut out);
        let some = |v: &str, t: i64| vec![(Some(s(v)), t)];
        let expected: Vec<Vec<(Option<String>, i64)>> = match kind {
            "inner" => vec![
                vec![],
                some("ada+rome", 10),
                some("ada+oslo", 20),
                vec![(None, 30)],
                vec![],
            ],
            "left" => vec![
                some("ada+null", 10),
                some("ada+rome", 10),
                some("ada+oslo", 20),
                vec![(None, 30)],
                vec![],
            ],
            _ => vec![
                some("ada+null", 10),
                some("ada+rome", 10),
                some("ada+oslo", 20),
                some("null+oslo", 30),
                vec![(None, 40)],
            ],
        };
        assert_eq!(
            out, expected,
            "{kind} join: an update on either side re-emits; timestamps are the larger of the two rows'"
        );
    }
}

// --- stream-stream -------------------------------------------------------------------------------

fn stream_join(kind: &str, windows: JoinWindows) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let views = builder.stream::<String, String>("views");
    let clicks = builder.stream::<String, String>("clicks");
    let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| s("null"));
    let joined = match kind {
        "inner" => views.join(&clicks, |v, c| format!("{v}+{c}"), windows),
        "left" => views.left_join(&clicks, move |v, c| format!("{v}+{}", show(c)), windows),
        _ => views.outer_join(&clicks, move |v, c| format!("{}+{}", show(v), show(c)), windows),
    };
    joined.to("joined");
    driver(builder)
}

fn joined(driver: &TopologyTestDriver) -> Vec<(String, i64)> {
    driver
        .output_topic::<String, String>("joined")
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect()
}

#[test]
fn records_join_when_their_timestamps_differ_by_at_most_the_window() {
    let driver = stream_join("inner", JoinWindows::of_time_difference_with_no_grace(millis(10)));
    let views = driver.input_topic::<String, String>("views");
    let clicks = driver.input_topic::<String, String>("clicks");
    views.pipe_input_at(s("ad"), s("v100"), 100);
    clicks.pipe_input_at(s("ad"), s("c90"), 90);
    clicks.pipe_input_at(s("ad"), s("c110"), 110);
    clicks.pipe_input_at(s("ad"), s("c111"), 111);
    assert_eq!(
        joined(&driver),
        vec![(s("v100+c90"), 100), (s("v100+c110"), 110)],
        "±10 joins, 11 does not; timestamp = the larger"
    );
    // A second view joins every click in its window: one result per pair.
    views.pipe_input_at(s("ad"), s("v105"), 105);
    assert_eq!(joined(&driver), vec![(s("v105+c110"), 110), (s("v105+c111"), 111)]);
}

#[test]
fn a_left_join_emits_a_non_match_only_once_the_window_has_closed() {
    let driver = stream_join("left", JoinWindows::of_time_difference_and_grace(millis(10), millis(5)));
    let views = driver.input_topic::<String, String>("views");
    let clicks = driver.input_topic::<String, String>("clicks");
    views.pipe_input_at(s("a"), s("va"), 100);
    views.pipe_input_at(s("b"), s("vb"), 100);
    clicks.pipe_input_at(s("b"), s("cb"), 108);
    assert_eq!(joined(&driver), vec![(s("vb+cb"), 108)], "no early null result for a");
    driver.advance_stream_time_to(115);
    assert!(joined(&driver).is_empty(), "the window of a closes after 100 + 10 + 5");
    driver.advance_stream_time_to(116);
    assert_eq!(
        joined(&driver),
        vec![(s("va+null"), 100)],
        "a, once; b matched in time and never comes out as a non-match"
    );
    driver.advance_stream_time_to(1_000);
    assert!(joined(&driver).is_empty());
}

#[test]
fn an_outer_join_emits_non_matches_of_both_sides() {
    let driver = stream_join("outer", JoinWindows::of_time_difference_with_no_grace(millis(10)));
    let views = driver.input_topic::<String, String>("views");
    let clicks = driver.input_topic::<String, String>("clicks");
    views.pipe_input_at(s("a"), s("va"), 100);
    clicks.pipe_input_at(s("b"), s("cb"), 102);
    views.pipe_input_at(s("c"), s("vc"), 103);
    clicks.pipe_input_at(s("c"), s("cc"), 104);
    assert_eq!(joined(&driver), vec![(s("vc+cc"), 104)]);
    driver.advance_stream_time_to(200);
    assert_eq!(
        joined(&driver),
        vec![(s("va+null"), 100), (s("null+cb"), 102)],
        "in time order"
    );
}

#[test]
fn a_stream_stream_join_repartitions_a_side_whose_key_changed() {
    let builder = StreamsBuilder::new();
    let views = builder
        .stream::<String, String>("views-by-user")
        .select_key(|_, ad| ad.clone()); // user → ad, re-keyed by ad
    let clicks = builder.stream::<String, String>("clicks-by-ad");
    views
        .join_with(
            &clicks,
            |ad, user| format!("{ad} clicked by {user}"),
            JoinWindows::of_time_difference_with_no_grace(millis(10)),
            StreamJoined::default().with_name("view-click"),
        )
        .to("joined");
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description.contains("(topic: view-click-left-repartition)"),
        "{description}"
    );
    assert!(
        !description.contains("view-click-right-repartition"),
        "the right side kept its key: {description}"
    );
    assert_eq!(
        topology.copartition_groups("app"),
        vec![vec![s("app-view-click-left-repartition"), s("clicks-by-ad")]]
    );
    let driver = TopologyTestDriver::new(topology, StreamsConfig::for_tests("app")).unwrap();
    driver
        .input_topic::<String, String>("views-by-user")
        .pipe_input_at(s("ann"), s("ad-1"), 5);
    driver
        .input_topic::<String, String>("clicks-by-ad")
        .pipe_input_at(s("ad-1"), s("ann"), 7);
    assert_eq!(joined(&driver), vec![(s("ad-1 clicked by ann"), 7)]);
    let stores = ["view-click-this-join-store", "view-click-other-join-store"];
    for store in stores {
        assert!(description.contains(store), "{store} in {description}");
    }
}
