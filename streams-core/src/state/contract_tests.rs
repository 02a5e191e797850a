//! The behavioural contracts of the byte-level store traits, written once and run by every
//! implementation: the in-memory stores of [`memory`](super::memory) and the RocksDB stores of
//! [`rocksdb`](super::rocksdb).
//!
//! Each trait has a module here ([`key_value`], [`window`], [`session`]) with:
//! - one function per case of its contract, generic over how a store is made (a factory closure);
//! - a macro ([`key_value_contract!`], [`window_contract!`], [`session_contract!`]) that expands,
//!   in the module that calls it, to one `#[test]` per case, so that each case passes or fails on
//!   its own under its own name;
//! - a naive store that keeps a plain list and writes the rules out plainly: the reference of the
//!   contract's property test;
//! - the operations of that property test, which [`rocksdb::equivalence_tests`] reuses to run a
//!   RocksDB store against an in-memory one.
//!
//! What does not depend on the trait lives in this file: the [`Step`]s of a property test
//! (operations, flushes and reopens) and the [`Differential`] runner that applies them to a
//! reference store and a store under test and compares every answer.
//!
//! [`rocksdb::equivalence_tests`]: super::rocksdb

pub(crate) mod key_value;
pub(crate) mod session;
pub(crate) mod window;

pub(crate) use key_value::key_value_contract;
pub(crate) use session::session_contract;
pub(crate) use window::window_contract;

use std::fmt;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseResult, TestRunner};

use super::StoreResult;
use super::traits::StateStore;

/// A changelog batch, as `restore_batch` takes it.
pub(crate) type Batch = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Expands to one `#[test]` per case of the contract module `$shape`, each calling the case with a
/// fresh factory `$make`, and one for its property test `$property`, run for `$cases` cases.
macro_rules! contract_cases {
    ($shape:ident, $make:expr, $cases:expr, [$($case:ident),+ $(,)?], $property:ident) => {
        $(
            #[test]
            fn $case() {
                $crate::state::contract_tests::$shape::$case(&mut $make);
            }
        )+

        #[test]
        fn $property() {
            $crate::state::contract_tests::$shape::$property(&mut $make, $cases);
        }
    };
}
pub(crate) use contract_cases;

/// Implements [`StateStore`] for a reference store (a `ListStore`): named `list`, with nothing to
/// flush, and never closed.
macro_rules! list_state_store {
    ($store:ty) => {
        impl $crate::state::traits::StateStore for $store {
            fn name(&self) -> &str {
                "list"
            }

            fn flush(&mut self) -> $crate::state::StoreResult<()> {
                Ok(())
            }

            fn close(&mut self) -> $crate::state::StoreResult<()> {
                Ok(())
            }

            fn as_any(&self) -> &dyn std::any::Any {
                self
            }

            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }
    };
}
use list_state_store;

/// Keys of 0 to 2 bytes from an alphabet small enough that keys collide often, and whose zeros and
/// `0xff` make encoded keys of different lengths interleave with timestamps.
pub(crate) fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0xff]), 0..3)
}

/// Values of 0 to 2 bytes.
pub(crate) fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..3)
}

/// Times from a small range, with a few jumps far ahead so that retention (and segments) bite.
pub(crate) fn time() -> impl Strategy<Value = i64> {
    prop_oneof![8 => -2..40i64, 1 => 40..200i64]
}

/// One step of a property test: an operation of the store's trait, or one every store has.
#[derive(Debug, Clone)]
pub(crate) enum Step<Op> {
    /// An operation of the store's trait, applied to both stores.
    Op(Op),
    /// Flushes both stores.
    Flush,
    /// Closes the store under test and opens it again (a persistent store must keep its data and
    /// observed stream time; the reference simply carries on).
    Reopen,
}

/// Up to 60 steps: mostly operations from `op`, some flushes and, when `reopens`, some reopens.
pub(crate) fn steps<Op: fmt::Debug + Clone + 'static>(
    op: impl Strategy<Value = Op> + 'static,
    reopens: bool,
) -> impl Strategy<Value = Vec<Step<Op>>> {
    let step = if reopens {
        prop_oneof![13 => op.prop_map(Step::Op), 1 => Just(Step::Flush), 1 => Just(Step::Reopen)].boxed()
    } else {
        prop_oneof![13 => op.prop_map(Step::Op), 1 => Just(Step::Flush)].boxed()
    };
    prop::collection::vec(step, 1..60)
}

/// Runs the property `test` on `cases` values of `strategy`, and panics with the minimal failing
/// value when it fails.
pub(crate) fn check_property<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> TestCaseResult) {
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if let Err(error) = TestRunner::new(config).run(&strategy, test) {
        panic!("{error}");
    }
}

/// What the [`Differential`] runner needs to know of one byte-level store trait.
pub(crate) trait Shape {
    /// The trait, as an object: `dyn KeyValueBytesStore`, ...
    type Store: ?Sized + StateStore;
    /// The trait's operations.
    type Op: fmt::Debug;
    /// What [`all`](Self::all) returns one of.
    type Entry: fmt::Debug + PartialEq;

    /// Applies `op` to both stores, and fails when their answers differ.
    fn apply(op: Self::Op, reference: &mut Self::Store, subject: &mut Self::Store) -> TestCaseResult;

    /// How many puts the store has dropped as expired (0 for a key-value store).
    fn expired_puts(store: &Self::Store) -> u64;

    /// Every entry of the store.
    fn all(store: &Self::Store) -> StoreResult<Vec<Self::Entry>>;
}

/// Fails unless `reference` and `subject` give the same answer (both `Ok`) to the same call.
pub(crate) fn same<T: fmt::Debug + PartialEq>(subject: StoreResult<T>, reference: StoreResult<T>) -> TestCaseResult {
    prop_assert_eq!(subject.unwrap(), reference.unwrap());
    Ok(())
}

/// Applies the same steps to a reference store and a store under test (the *subject*), and fails
/// as soon as they answer differently, their counts of expired puts differ, or, at the end, their
/// contents differ.
pub(crate) struct Differential<'a, S: Shape> {
    /// The store whose answers are right.
    pub(crate) reference: Box<S::Store>,
    /// The store under test.
    pub(crate) subject: Box<S::Store>,
    /// Opens the subject again, for [`Step::Reopen`].
    reopen: Option<Box<dyn FnMut() -> Box<S::Store> + 'a>>,
    /// The expired puts of the subject before its last reopen: `expired_puts` is a metric of the
    /// open store, and starts again at 0 when it is reopened.
    expired_before_reopen: u64,
}

impl<'a, S: Shape> Differential<'a, S> {
    /// A runner of `subject` against `reference`, for steps without reopens.
    pub(crate) fn new(reference: Box<S::Store>, subject: Box<S::Store>) -> Self {
        Differential {
            reference,
            subject,
            reopen: None,
            expired_before_reopen: 0,
        }
    }

    /// A runner against `reference` of the store that `open` opens, and opens again on each
    /// [`Step::Reopen`].
    pub(crate) fn reopening(reference: Box<S::Store>, mut open: impl FnMut() -> Box<S::Store> + 'a) -> Self {
        let subject = open();
        Differential {
            reopen: Some(Box::new(open)),
            ..Self::new(reference, subject)
        }
    }

    /// Runs `steps`, then compares the stores' contents.
    pub(crate) fn run(&mut self, steps: Vec<Step<S::Op>>) -> TestCaseResult {
        self.run_checking(steps, |_, _| Ok(()))
    }

    /// [`run`](Self::run), calling `check(reference, subject)` after every step.
    pub(crate) fn run_checking(
        &mut self,
        steps: Vec<Step<S::Op>>,
        mut check: impl FnMut(&S::Store, &S::Store) -> TestCaseResult,
    ) -> TestCaseResult {
        for step in steps {
            match step {
                Step::Op(op) => S::apply(op, &mut *self.reference, &mut *self.subject)?,
                Step::Flush => {
                    self.reference.flush().unwrap();
                    self.subject.flush().unwrap();
                }
                Step::Reopen => {
                    let reopen = self
                        .reopen
                        .as_mut()
                        .expect("a reopen step for a store that cannot reopen");
                    self.expired_before_reopen += S::expired_puts(&*self.subject);
                    self.subject.close().unwrap();
                    self.subject = reopen();
                }
            }
            prop_assert_eq!(
                self.expired_before_reopen + S::expired_puts(&*self.subject),
                S::expired_puts(&*self.reference)
            );
            check(&*self.reference, &*self.subject)?;
        }
        same(S::all(&*self.subject), S::all(&*self.reference))
    }
}
