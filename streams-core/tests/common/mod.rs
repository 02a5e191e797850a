//! Helpers shared by the broker tests.

use std::time::{Duration, Instant};

/// The larger of two numbers written as text: a reducer whose result replays cannot change
/// (at-least-once may process a record twice).
#[allow(
    clippy::ptr_arg,
    reason = "the shape of a reducer of `String` values: `Fn(V, &V) -> V`"
)]
#[allow(dead_code, reason = "not every test binary reduces")]
pub fn larger_number(a: String, b: &String) -> String {
    if b.parse::<i64>().unwrap() > a.parse::<i64>().unwrap() {
        b.clone()
    } else {
        a
    }
}

/// Waits until `done`, failing the test after `within`.
#[allow(dead_code, reason = "not every test binary waits")]
pub fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
