//! Write caches seen from a task: with caching, an aggregate forwards each key's latest change when
//! the cache lets go of the key (commit or eviction); without, every update.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::StreamsConfig;
use crate::dsl::{Materialized, StreamsBuilder};
use crate::state::StoreEnv;
use crate::state::caching::CacheBudget;
use crate::state::rocksdb::RocksDbMemory;

#[derive(Clone, Default)]
struct Outputs(Rc<RefCell<Vec<(String, RawRecord)>>>);

impl RecordCollector for Outputs {
    fn send(&mut self, topic: &str, record: RawRecord) -> Result<()> {
        self.0.borrow_mut().push((topic.to_string(), record));
        Ok(())
    }
}

impl Outputs {
    /// (key, count) of every output so far, and forgets them.
    fn take(&self) -> Vec<(String, i64)> {
        self.0
            .borrow_mut()
            .drain(..)
            .map(|(_, r)| {
                let key = String::from_utf8(r.key.unwrap()).unwrap();
                let value = i64::from_be_bytes(r.value.unwrap().try_into().unwrap());
                (key, value)
            })
            .collect()
    }
}

/// A counting task whose stores get a write cache of `cache_bytes` (0: no cache).
fn counting_task(cache_bytes: usize) -> (Task, Outputs) {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in")
        .group_by_key()
        .count_with(Materialized::named("counts"))
        .to_stream()
        .to("out");
    let topology = builder.build().unwrap();
    let sub = topology.sub_topologies().remove(0);
    let outputs = Outputs::default();
    let (rocksdb, budget) = (RocksDbMemory::new(8 << 20), CacheBudget::new(cache_bytes));
    let task = Task::new(
        &topology,
        &sub,
        0,
        StreamsConfig::for_tests("app").application_id(),
        Box::new(outputs.clone()),
        0,
        &[],
        &mut |spec, _clock| {
            Ok(spec.build_stack(StoreEnv {
                dir: None,
                rocksdb: &rocksdb,
                cache: &budget,
                changelog: None,
            })?)
        },
    )
    .unwrap();
    (task, outputs)
}

fn pipe(task: &mut Task, keys: &[&str]) {
    for (offset, key) in keys.iter().enumerate() {
        let record = RawRecord {
            key: Some(key.as_bytes().to_vec()),
            value: Some(b"v".to_vec()),
            timestamp: Some(offset as i64),
            headers: Vec::new(),
        };
        task.process("in", 0, offset as i64, record).unwrap();
    }
}

fn changes(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn without_a_cache_every_update_is_forwarded() {
    let (mut task, outputs) = counting_task(0);
    pipe(&mut task, &["a", "a", "b", "a", "b"]);
    assert_eq!(
        outputs.take(),
        changes(&[("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2)])
    );
    task.flush().unwrap();
    assert!(outputs.take().is_empty());
}

#[test]
fn with_a_cache_only_the_latest_update_of_a_key_is_forwarded_at_flush() {
    let (mut task, outputs) = counting_task(1 << 20);
    pipe(&mut task, &["a", "a", "b", "a", "b"]);
    assert!(outputs.take().is_empty(), "nothing forwarded before the cache flushes");
    task.flush().unwrap();
    // In the order the keys were last written.
    assert_eq!(outputs.take(), changes(&[("a", 3), ("b", 2)]));
    pipe(&mut task, &["b"]);
    task.flush().unwrap();
    assert_eq!(outputs.take(), changes(&[("b", 3)]));
}

#[test]
fn a_full_cache_forwards_what_it_evicts_and_keeps_counting_right() {
    // Room for about one entry: writing a second key evicts the first.
    let (mut task, outputs) = counting_task(crate::state::caching::entry_size(2, 17));
    pipe(&mut task, &["a", "a", "b"]);
    assert_eq!(outputs.take(), changes(&[("a", 2)]), "a was evicted when b came");
    pipe(&mut task, &["b", "a"]);
    task.flush().unwrap();
    let mut rest = outputs.take();
    rest.sort();
    assert_eq!(rest, changes(&[("a", 3), ("b", 2)]));
}
