//! Table-table join on equal keys: the joined table changes whenever either table changes (Kafka
//! Streams' `KTableKTableInnerJoin`, `…LeftJoin`, `…RightJoin` and `…OuterJoin`).
//!
//! ```text
//!   left table  ──▶ TableTableJoin::left  (reads the right table's store) ──┐
//!                                                                           ├──▶ merge ──▶ joined table
//!   right table ──▶ TableTableJoin::right (reads the left table's store)  ──┘
//! ```
//!
//! Each side is one [`TableTableJoin`]. It receives its table's changes `(new, old)` of a key,
//! reads the other table's current row of that key from the other table's timestamped key-value
//! store, and forwards the change of the joined row. The joiner is always called
//! `joiner(key, left, right)`, whichever side is updated.
//!
//! # Semantics (Kafka Streams', with old values sent)
//! Whether a pair of rows makes a joined row depends on the [`TableJoinKind`]: an inner join needs
//! both rows, a left join the left row, an outer join either row. For an update `(new, old)` of
//! this side at time `t`, with `other` the other table's current row (if any):
//! - new joined = `joiner(new, other)` if that pair makes a joined row, else `None`; old joined
//!   likewise from `old`. Forwarded as `Change { new: new joined, old: old joined }`, so deleting a
//!   row on one side forwards a tombstone (inner) or a row with `None` on that side (left, outer,
//!   as the kind allows).
//! - When the other row is absent and neither joined value exists, nothing is forwarded: an inner
//!   join while the other side is absent, an update of a left join's right table without a left
//!   row, a tombstone on both sides of an outer join.
//! - When the other row is present the change is always forwarded, even `Change(None, None)`: a
//!   tombstone for a key this table does not hold passes through (table sources forward such
//!   tombstones too), as Kafka Streams' join processors do.
//! - Timestamp: the larger of `t` and the other row's timestamp; `t` when the other row is absent.
//!
//! Out-of-order updates are joined like any other (no versioned-table semantics, KIP-914): the
//! other table's current row is what is read.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Change, Data, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::SharedSerde;
use crate::state::{TimestampedSerde, ValueAndTimestamp};

/// Which pairs of rows make a joined row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableJoinKind {
    /// Both rows present.
    Inner,
    /// The left row present; the right may be missing.
    Left,
    /// Either row present.
    Outer,
}

impl TableJoinKind {
    /// Whether a left row (present or not) and a right row (present or not) make a joined row.
    fn joins(self, left: bool, right: bool) -> bool {
        match self {
            TableJoinKind::Inner => left && right,
            TableJoinKind::Left => left,
            TableJoinKind::Outer => left || right,
        }
    }
}

/// Combines a left and a right row; `None` on a side only where the join kind allows it.
pub(crate) type TableJoiner<K, V1, V2, VR> = Arc<dyn Fn(&K, Option<&V1>, Option<&V2>) -> VR + Send + Sync>;

/// Puts this side's row and the other side's row in `(left, right)` order.
type Orient<VThis, VOther, V1, V2> =
    for<'a> fn(Option<&'a VThis>, Option<&'a VOther>) -> (Option<&'a V1>, Option<&'a V2>);

fn as_left<'a, V1, V2>(this: Option<&'a V1>, other: Option<&'a V2>) -> (Option<&'a V1>, Option<&'a V2>) {
    (this, other)
}

fn as_right<'a, V1, V2>(this: Option<&'a V2>, other: Option<&'a V1>) -> (Option<&'a V1>, Option<&'a V2>) {
    (other, this)
}

/// One side of a table-table join of a left table `<K, V1>` and a right table `<K, V2>` into
/// `<K, VR>`: this side's table has values `VThis`, the other `VOther` (`V1`/`V2` for the left
/// side, `V2`/`V1` for the right side). Built with [`left`](TableTableJoin::left) or
/// [`right`](TableTableJoin::right); see the module docs for what it forwards.
pub(crate) struct TableTableJoin<K, VThis, VOther, V1, V2, VR> {
    /// Which pairs of rows make a joined row.
    pub(crate) kind: TableJoinKind,
    /// The other table's materialized key-value store (timestamped values).
    pub(crate) other_store: String,
    /// The key serde of the other table's store.
    pub(crate) key_serde: SharedSerde<K>,
    /// The value serde of the other table's store (inside the timestamped layout).
    pub(crate) other_value_serde: SharedSerde<VOther>,
    /// `joiner(key, left, right)`.
    pub(crate) joiner: TableJoiner<K, V1, V2, VR>,
    /// The other table's store, set in `init`.
    pub(crate) handle: Option<KeyValueStoreHandle<K, ValueAndTimestamp<VOther>>>,
    /// Which side this is: puts (this row, other row) in (left, right) order. Set by the
    /// constructor, so that it matches the value types.
    orient: Orient<VThis, VOther, V1, V2>,
}

impl<K, V1, V2, VR> TableTableJoin<K, V1, V2, V1, V2, VR> {
    /// The left side: joins updates of the left table with the rows of the right table's store.
    pub(crate) fn left(
        kind: TableJoinKind,
        right_store: impl Into<String>,
        key_serde: SharedSerde<K>,
        right_value_serde: SharedSerde<V2>,
        joiner: TableJoiner<K, V1, V2, VR>,
    ) -> Self {
        TableTableJoin {
            kind,
            other_store: right_store.into(),
            key_serde,
            other_value_serde: right_value_serde,
            joiner,
            handle: None,
            orient: as_left::<V1, V2>,
        }
    }
}

impl<K, V1, V2, VR> TableTableJoin<K, V2, V1, V1, V2, VR> {
    /// The right side: joins updates of the right table with the rows of the left table's store.
    pub(crate) fn right(
        kind: TableJoinKind,
        left_store: impl Into<String>,
        key_serde: SharedSerde<K>,
        left_value_serde: SharedSerde<V1>,
        joiner: TableJoiner<K, V1, V2, VR>,
    ) -> Self {
        TableTableJoin {
            kind,
            other_store: left_store.into(),
            key_serde,
            other_value_serde: left_value_serde,
            joiner,
            handle: None,
            orient: as_right::<V1, V2>,
        }
    }
}

impl<K, VThis, VOther, V1, V2, VR> Processor<K, Change<VThis>, K, Change<VR>>
    for TableTableJoin<K, VThis, VOther, V1, V2, VR>
where
    K: Data,
    VThis: Data,
    VOther: Data,
    V1: 'static,
    V2: 'static,
    VR: Data,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        let values = Arc::new(TimestampedSerde(self.other_value_serde.clone()));
        self.handle = Some(ctx.key_value_store_handle_with(&self.other_store, self.key_serde.clone(), values)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<VThis>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        let handle = self.handle.as_ref().expect("init ran");
        let other = ctx.key_value_store(handle).get(&record.key)?;
        let other_row = other.as_ref().map(|o| &o.value);
        let join = |this: Option<&VThis>| {
            let (left, right) = (self.orient)(this, other_row);
            self.kind
                .joins(left.is_some(), right.is_some())
                .then(|| (self.joiner)(&record.key, left, right))
        };
        let change = Change::new(join(record.value.new.as_ref()), join(record.value.old.as_ref()));
        if other.is_none() && change.new.is_none() && change.old.is_none() {
            return Ok(());
        }
        // Kafka's left-join processor takes max(t, -1) when the right row is absent; the same for
        // every valid (non-negative) timestamp.
        let timestamp = other.map_or(record.timestamp, |o| record.timestamp.max(o.timestamp));
        ctx.forward(Record {
            key: record.key,
            value: change,
            timestamp,
            headers: record.headers,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Through the real [`TopologyTestDriver`]: two source tables (as `StreamsBuilder::table`
    //! builds them), the two join sides each connected to the other table's store, a merge node,
    //! then each change split into its new value (topic `output`, as `to_stream` writes it) and its
    //! old value (topic `old-values`). Expected outputs marked "Kafka" are transcribed from Kafka
    //! Streams' `KTableKTableInnerJoinTest`, `…LeftJoinTest` and `…OuterJoinTest`
    //! (`testSendingOldValue(s)`, whose new values are also those of `testJoin`), with
    //! `MockValueJoiner.TOSTRING_JOINER`, which [`kafka_joiner`] reproduces.

    use super::*;
    use crate::StreamsConfig;
    use crate::processor::ops::pass_through::PassThrough;
    use crate::processor::ops::table_source::TableSource;
    use crate::processor::ops::table_to_stream::TableToStream;
    use crate::serde::{DefaultSerde, OptionSerde};
    use crate::state::StoreBuilder;
    use crate::testing::{TestInputTopic, TestOutputTopic, TopologyTestDriver};
    use crate::topology::{TopicName, Topology};

    /// Forwards each change's old value, as [`TableToStream`] forwards its new value.
    struct OldValues;

    impl<K: Data, V: Data> Processor<K, Change<V>, K, Option<V>> for OldValues {
        fn process(
            &mut self,
            record: Record<K, Change<V>>,
            ctx: &mut ProcessorContext<'_, K, Option<V>>,
        ) -> Result<()> {
            let old = record.value.old.clone();
            ctx.forward(record.with_value(old))
        }
    }

    /// Kafka's `MockValueJoiner.TOSTRING_JOINER`: `"<left>+<right>"`, a missing row written `null`.
    fn kafka_joiner() -> TableJoiner<i32, String, String, String> {
        Arc::new(|_, left, right| {
            format!(
                "{}+{}",
                left.map_or("null", String::as_str),
                right.map_or("null", String::as_str)
            )
        })
    }

    /// Adds the table of topic `topic` (store `<topic>-store`), as `StreamsBuilder::table` does;
    /// returns its table node.
    fn add_table<V: Data + DefaultSerde>(topology: &mut Topology, topic: &str) -> usize {
        let values: SharedSerde<Option<V>> = Arc::new(OptionSerde::new(V::default_serde()));
        let source = topology
            .add_source_node(
                &format!("{topic}-source"),
                vec![TopicName::user(topic)],
                i32::default_serde(),
                values,
            )
            .unwrap();
        let store = format!("{topic}-store");
        topology
            .add_store(StoreBuilder::key_value(&store).timestamped())
            .unwrap();
        topology
            .add_processor_node(&format!("{topic}-table"), &[source], vec![store.clone()], move || {
                TableSource {
                    store: store.clone(),
                    key_serde: i32::default_serde(),
                    value_serde: V::default_serde(),
                    handle: None,
                }
            })
            .unwrap()
    }

    /// Tables `left` and `right` joined; new values to `output`, old values to `old-values`.
    fn topology<V1, V2>(kind: TableJoinKind, joiner: TableJoiner<i32, V1, V2, String>) -> Topology
    where
        V1: Data + DefaultSerde,
        V2: Data + DefaultSerde,
    {
        let mut topology = Topology::new();
        let left = add_table::<V1>(&mut topology, "left");
        let right = add_table::<V2>(&mut topology, "right");
        let left_joiner = joiner.clone();
        let left_join = topology
            .add_processor_node("left-join", &[left], vec!["right-store".into()], move || {
                TableTableJoin::left(
                    kind,
                    "right-store",
                    i32::default_serde(),
                    V2::default_serde(),
                    left_joiner.clone(),
                )
            })
            .unwrap();
        let right_join = topology
            .add_processor_node("right-join", &[right], vec!["left-store".into()], move || {
                TableTableJoin::right(
                    kind,
                    "left-store",
                    i32::default_serde(),
                    V1::default_serde(),
                    joiner.clone(),
                )
            })
            .unwrap();
        let merge = topology
            .add_processor_node::<i32, Change<String>, i32, Change<String>, _>(
                "merge",
                &[left_join, right_join],
                vec![],
                || PassThrough,
            )
            .unwrap();
        topology
            .add_processor_node::<i32, Change<String>, i32, Option<String>, _>("new", &[merge], vec![], || {
                TableToStream
            })
            .unwrap();
        topology
            .add_processor_node::<i32, Change<String>, i32, Option<String>, _>("old", &[merge], vec![], || OldValues)
            .unwrap();
        topology
            .add_sink::<i32, Option<String>>("output-sink", "output", &["new"])
            .unwrap()
            .add_sink::<i32, Option<String>>("old-values-sink", "old-values", &["old"])
            .unwrap();
        topology
    }

    /// One forwarded change: key, new value, old value, timestamp.
    type Out = (i32, Option<String>, Option<String>, i64);

    fn out(key: i32, new: Option<&str>, old: Option<&str>, timestamp: i64) -> Out {
        (key, new.map(String::from), old.map(String::from), timestamp)
    }

    struct Harness {
        _driver: TopologyTestDriver,
        left: TestInputTopic<i32, Option<String>>,
        right: TestInputTopic<i32, Option<String>>,
        new_values: TestOutputTopic<i32, Option<String>>,
        old_values: TestOutputTopic<i32, Option<String>>,
    }

    impl Harness {
        fn new(kind: TableJoinKind) -> Self {
            let driver = TopologyTestDriver::new(
                topology(kind, kafka_joiner()),
                StreamsConfig::for_tests("table-table-join"),
            )
            .unwrap();
            Harness {
                left: driver.input_topic("left"),
                right: driver.input_topic("right"),
                new_values: driver.output_topic("output"),
                old_values: driver.output_topic("old-values"),
                _driver: driver,
            }
        }

        /// Everything forwarded since the last read.
        fn read(&self) -> Vec<Out> {
            let new = self.new_values.read_records_to_list();
            let old = self.old_values.read_values_to_list();
            assert_eq!(new.len(), old.len(), "one old value per change");
            new.into_iter()
                .zip(old)
                .map(|(record, old)| (record.key, record.value, old, record.timestamp))
                .collect()
        }
    }

    fn row(value: &str) -> Option<String> {
        Some(value.to_string())
    }

    /// The eight steps of Kafka's tests.
    fn kafka_step(h: &Harness, step: usize) {
        let keys = 0..4;
        match step {
            0 => {
                h.left.pipe_input_at(0, row("X0"), 5);
                h.left.pipe_input_at(1, row("X1"), 6);
            }
            1 => {
                h.right.pipe_input_at(0, row("Y0"), 0);
                h.right.pipe_input_at(1, row("Y1"), 10);
            }
            2 => keys.for_each(|k| h.left.pipe_input_at(k, row(&format!("XX{k}")), 7)),
            3 => keys.for_each(|k| h.right.pipe_input_at(k, row(&format!("YY{k}")), i64::from(k) * 5)),
            4 => keys.for_each(|k| h.left.pipe_input_at(k, row(&format!("XXX{k}")), 6)),
            5 => {
                h.right.pipe_input_at(0, None, 5);
                h.right.pipe_input_at(1, None, 7);
            }
            6 => keys.for_each(|k| h.left.pipe_input_at(k, row(&format!("XXXX{k}")), 13)),
            7 => {
                h.left.pipe_input_at(0, None, 0);
                h.left.pipe_input_at(1, None, 42);
                h.left.pipe_input_at(2, None, 5);
                h.left.pipe_input_at(3, None, 20);
            }
            _ => unreachable!(),
        }
    }

    fn check_kafka_steps(kind: TableJoinKind, expected: [Vec<Out>; 8]) {
        let h = Harness::new(kind);
        for (step, expected) in expected.into_iter().enumerate() {
            kafka_step(&h, step);
            assert_eq!(h.read(), expected, "{kind:?} join, step {}", step + 1);
        }
    }

    #[test]
    fn inner_join_matches_kafka() {
        check_kafka_steps(
            TableJoinKind::Inner,
            [
                // Right table empty: nothing.
                vec![],
                vec![out(0, Some("X0+Y0"), None, 5), out(1, Some("X1+Y1"), None, 10)],
                // Keys 2 and 3 have no right row.
                vec![
                    out(0, Some("XX0+Y0"), Some("X0+Y0"), 7),
                    out(1, Some("XX1+Y1"), Some("X1+Y1"), 10),
                ],
                vec![
                    out(0, Some("XX0+YY0"), Some("XX0+Y0"), 7),
                    out(1, Some("XX1+YY1"), Some("XX1+Y1"), 7),
                    out(2, Some("XX2+YY2"), None, 10),
                    out(3, Some("XX3+YY3"), None, 15),
                ],
                // An earlier timestamp than the rows': each output has the larger.
                vec![
                    out(0, Some("XXX0+YY0"), Some("XX0+YY0"), 6),
                    out(1, Some("XXX1+YY1"), Some("XX1+YY1"), 6),
                    out(2, Some("XXX2+YY2"), Some("XX2+YY2"), 10),
                    out(3, Some("XXX3+YY3"), Some("XX3+YY3"), 15),
                ],
                // Right tombstones: joined tombstones.
                vec![out(0, None, Some("XXX0+YY0"), 6), out(1, None, Some("XXX1+YY1"), 7)],
                vec![
                    out(2, Some("XXXX2+YY2"), Some("XXX2+YY2"), 13),
                    out(3, Some("XXXX3+YY3"), Some("XXX3+YY3"), 15),
                ],
                // Left tombstones: only keys 2 and 3 had a joined row.
                vec![out(2, None, Some("XXXX2+YY2"), 10), out(3, None, Some("XXXX3+YY3"), 20)],
            ],
        );
    }

    #[test]
    fn left_join_matches_kafka() {
        check_kafka_steps(
            TableJoinKind::Left,
            [
                vec![out(0, Some("X0+null"), None, 5), out(1, Some("X1+null"), None, 6)],
                vec![
                    out(0, Some("X0+Y0"), Some("X0+null"), 5),
                    out(1, Some("X1+Y1"), Some("X1+null"), 10),
                ],
                vec![
                    out(0, Some("XX0+Y0"), Some("X0+Y0"), 7),
                    out(1, Some("XX1+Y1"), Some("X1+Y1"), 10),
                    out(2, Some("XX2+null"), None, 7),
                    out(3, Some("XX3+null"), None, 7),
                ],
                vec![
                    out(0, Some("XX0+YY0"), Some("XX0+Y0"), 7),
                    out(1, Some("XX1+YY1"), Some("XX1+Y1"), 7),
                    out(2, Some("XX2+YY2"), Some("XX2+null"), 10),
                    out(3, Some("XX3+YY3"), Some("XX3+null"), 15),
                ],
                vec![
                    out(0, Some("XXX0+YY0"), Some("XX0+YY0"), 6),
                    out(1, Some("XXX1+YY1"), Some("XX1+YY1"), 6),
                    out(2, Some("XXX2+YY2"), Some("XX2+YY2"), 10),
                    out(3, Some("XXX3+YY3"), Some("XX3+YY3"), 15),
                ],
                // Right tombstones: half rows.
                vec![
                    out(0, Some("XXX0+null"), Some("XXX0+YY0"), 6),
                    out(1, Some("XXX1+null"), Some("XXX1+YY1"), 7),
                ],
                vec![
                    out(0, Some("XXXX0+null"), Some("XXX0+null"), 13),
                    out(1, Some("XXXX1+null"), Some("XXX1+null"), 13),
                    out(2, Some("XXXX2+YY2"), Some("XXX2+YY2"), 13),
                    out(3, Some("XXXX3+YY3"), Some("XXX3+YY3"), 15),
                ],
                // Left tombstones: joined tombstones for every key.
                vec![
                    out(0, None, Some("XXXX0+null"), 0),
                    out(1, None, Some("XXXX1+null"), 42),
                    out(2, None, Some("XXXX2+YY2"), 10),
                    out(3, None, Some("XXXX3+YY3"), 20),
                ],
            ],
        );
    }

    #[test]
    fn outer_join_matches_kafka() {
        check_kafka_steps(
            TableJoinKind::Outer,
            [
                vec![out(0, Some("X0+null"), None, 5), out(1, Some("X1+null"), None, 6)],
                vec![
                    out(0, Some("X0+Y0"), Some("X0+null"), 5),
                    out(1, Some("X1+Y1"), Some("X1+null"), 10),
                ],
                vec![
                    out(0, Some("XX0+Y0"), Some("X0+Y0"), 7),
                    out(1, Some("XX1+Y1"), Some("X1+Y1"), 10),
                    out(2, Some("XX2+null"), None, 7),
                    out(3, Some("XX3+null"), None, 7),
                ],
                vec![
                    out(0, Some("XX0+YY0"), Some("XX0+Y0"), 7),
                    out(1, Some("XX1+YY1"), Some("XX1+Y1"), 7),
                    out(2, Some("XX2+YY2"), Some("XX2+null"), 10),
                    out(3, Some("XX3+YY3"), Some("XX3+null"), 15),
                ],
                vec![
                    out(0, Some("XXX0+YY0"), Some("XX0+YY0"), 6),
                    out(1, Some("XXX1+YY1"), Some("XX1+YY1"), 6),
                    out(2, Some("XXX2+YY2"), Some("XX2+YY2"), 10),
                    out(3, Some("XXX3+YY3"), Some("XX3+YY3"), 15),
                ],
                vec![
                    out(0, Some("XXX0+null"), Some("XXX0+YY0"), 6),
                    out(1, Some("XXX1+null"), Some("XXX1+YY1"), 7),
                ],
                vec![
                    out(0, Some("XXXX0+null"), Some("XXX0+null"), 13),
                    out(1, Some("XXXX1+null"), Some("XXX1+null"), 13),
                    out(2, Some("XXXX2+YY2"), Some("XXX2+YY2"), 13),
                    out(3, Some("XXXX3+YY3"), Some("XXX3+YY3"), 15),
                ],
                // Left tombstones: keys 2 and 3 keep their right rows.
                vec![
                    out(0, None, Some("XXXX0+null"), 0),
                    out(1, None, Some("XXXX1+null"), 42),
                    out(2, Some("null+YY2"), Some("XXXX2+YY2"), 10),
                    out(3, Some("null+YY3"), Some("XXXX3+YY3"), 20),
                ],
            ],
        );
    }

    #[test]
    fn inner_join_emits_nothing_while_a_side_is_absent() {
        let h = Harness::new(TableJoinKind::Inner);
        h.right.pipe_input_at(5, row("R"), 1);
        h.right.pipe_input_at(5, row("R2"), 2);
        h.right.pipe_input_at(5, None, 3);
        h.left.pipe_input_at(5, row("L"), 4);
        h.left.pipe_input_at(6, None, 5);
        assert!(h.read().is_empty());
        h.right.pipe_input_at(5, row("R3"), 2);
        assert_eq!(h.read(), vec![out(5, Some("L+R3"), None, 4)]);
    }

    #[test]
    fn left_join_ignores_right_rows_without_a_left_row() {
        let h = Harness::new(TableJoinKind::Left);
        h.right.pipe_input_at(5, row("R"), 1);
        h.right.pipe_input_at(5, None, 2);
        h.right.pipe_input_at(5, row("R2"), 3);
        assert!(h.read().is_empty());
        h.left.pipe_input_at(5, row("L"), 0);
        h.right.pipe_input_at(5, None, 4);
        h.left.pipe_input_at(5, None, 5);
        assert_eq!(
            h.read(),
            vec![
                out(5, Some("L+R2"), None, 3),
                out(5, Some("L+null"), Some("L+R2"), 4),
                out(5, None, Some("L+null"), 5),
            ]
        );
    }

    #[test]
    fn outer_join_keeps_rows_of_either_side() {
        let h = Harness::new(TableJoinKind::Outer);
        h.right.pipe_input_at(5, row("R"), 3);
        h.left.pipe_input_at(5, row("L"), 1);
        h.left.pipe_input_at(5, None, 2);
        h.right.pipe_input_at(5, None, 4);
        // Tombstones with nothing on either side.
        h.left.pipe_input_at(5, None, 5);
        h.right.pipe_input_at(5, None, 6);
        assert_eq!(
            h.read(),
            vec![
                out(5, Some("null+R"), None, 3),
                out(5, Some("L+R"), Some("null+R"), 3),
                out(5, Some("null+R"), Some("L+R"), 3),
                out(5, None, Some("null+R"), 4),
            ]
        );
    }

    /// Kafka forwards a tombstone for a key this side does not hold whenever the other row exists
    /// (its join processors return early only when the other row is absent).
    #[test]
    fn a_tombstone_of_an_absent_row_passes_through_when_the_other_row_exists() {
        let inner = Harness::new(TableJoinKind::Inner);
        inner.right.pipe_input_at(5, row("R"), 10);
        inner.left.pipe_input_at(5, None, 3);
        assert_eq!(inner.read(), vec![out(5, None, None, 10)]);

        let left = Harness::new(TableJoinKind::Left);
        left.right.pipe_input_at(5, row("R"), 10);
        left.left.pipe_input_at(5, None, 3);
        left.left.pipe_input_at(6, row("L"), 1);
        left.right.pipe_input_at(6, None, 4);
        left.right.pipe_input_at(6, None, 0);
        assert_eq!(
            left.read(),
            vec![
                out(5, None, None, 10),
                out(6, Some("L+null"), None, 1),
                out(6, Some("L+null"), Some("L+null"), 4),
                out(6, Some("L+null"), Some("L+null"), 1),
            ]
        );

        let outer = Harness::new(TableJoinKind::Outer);
        outer.right.pipe_input_at(5, row("R"), 10);
        outer.left.pipe_input_at(5, None, 30);
        assert_eq!(
            outer.read(),
            vec![
                out(5, Some("null+R"), None, 10),
                out(5, Some("null+R"), Some("null+R"), 30)
            ]
        );
    }

    /// Each side keeps its value type, and the joiner gets `(left, right)` from both sides.
    #[test]
    fn sides_of_different_types_join_in_left_right_order() {
        let joiner: TableJoiner<i32, String, i64, String> =
            Arc::new(|key, left, right| format!("{key}:{left:?}:{right:?}"));
        let driver = TopologyTestDriver::new(
            topology(TableJoinKind::Outer, joiner),
            StreamsConfig::for_tests("table-table-join"),
        )
        .unwrap();
        let left = driver.input_topic::<i32, Option<String>>("left");
        let right = driver.input_topic::<i32, Option<i64>>("right");
        let output = driver.output_topic::<i32, Option<String>>("output");
        right.pipe_input_at(1, Some(7), 1);
        left.pipe_input_at(1, row("a"), 2);
        right.pipe_input_at(1, Some(8), 3);
        assert_eq!(
            output.read_values_to_list(),
            vec![
                row("1:None:Some(7)"),
                row("1:Some(\"a\"):Some(7)"),
                row("1:Some(\"a\"):Some(8)"),
            ]
        );
    }

    #[test]
    fn init_fails_when_the_other_store_is_not_connected() {
        let mut topology = Topology::new();
        let left = add_table::<String>(&mut topology, "left");
        add_table::<String>(&mut topology, "right");
        topology
            .add_processor_node("left-join", &[left], vec![], || {
                TableTableJoin::left(
                    TableJoinKind::Inner,
                    "right-store",
                    i32::default_serde(),
                    String::default_serde(),
                    kafka_joiner(),
                )
            })
            .unwrap();
        let error = TopologyTestDriver::new(topology, StreamsConfig::for_tests("table-table-join")).unwrap_err();
        assert!(error.to_string().contains("right-store"), "{error}");
    }
}
