//! Where a run's times come from: the process start (taken first thing in `main`), the monotonic
//! clock for durations and the wall clock for the moments the harness lines up across processes.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::json::{JsonLine, decimal};

/// Milliseconds since the Unix epoch, now.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// The process start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// Now, as the process start.
    pub fn start() -> Self {
        Clock { start: Instant::now() }
    }

    /// Whole milliseconds from the process start to `at`.
    pub fn ms_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Whole milliseconds from the process start to now.
    pub fn total_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The expected count was reached (restore: every store restored).
    Done,
    /// SIGTERM or SIGINT.
    Signal,
    /// `--timeout-s` passed first.
    Timeout,
    /// A failure; the JSON line's `error` says which.
    Error,
}

impl Stop {
    /// The name the JSON line gives it.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Done => "done",
            Stop::Signal => "signal",
            Stop::Timeout => "timeout",
            Stop::Error => "error",
        }
    }

    /// The exit status: 0 for a run stopped as asked (done, signal), 1 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            Stop::Done | Stop::Signal => 0,
            Stop::Timeout | Stop::Error => 1,
        }
    }
}

/// The input count over a run: when it was first seen above zero, and where the clock stopped.
///
/// The count is read by polling (every millisecond), so the first reading may already be more than
/// one record: the rate is (count at the end − count at the first reading) / the time between.
#[derive(Debug, Default)]
pub struct Progress {
    first: Option<(Instant, u64)>,
    first_epoch_ms: Option<u64>,
    end: Option<(Instant, u64)>,
}

impl Progress {
    /// Notes the count now (the first non-zero reading starts the clock).
    pub fn observe(&mut self, count: u64) {
        if self.first.is_none() && count > 0 {
            self.first = Some((Instant::now(), count));
            self.first_epoch_ms = Some(epoch_ms());
        }
    }

    /// Stops the clock now at `count` (the first call counts).
    pub fn end(&mut self, count: u64) {
        self.observe(count);
        if self.end.is_none() {
            self.end = Some((Instant::now(), count));
        }
    }

    /// Seconds from the first record seen to the end, if both are known.
    pub fn seconds(&self) -> Option<f64> {
        let ((first, _), (end, _)) = (self.first?, self.end?);
        Some(end.saturating_duration_since(first).as_secs_f64())
    }

    /// Records per second over [`seconds`](Self::seconds).
    pub fn rate(&self) -> Option<f64> {
        let ((_, from), (_, to)) = (self.first?, self.end?);
        let seconds = self.seconds()?;
        (to > from && seconds > 0.0).then(|| (to - from) as f64 / seconds)
    }

    /// The timing fields of the JSON line: `seconds`, `records_per_s`.
    pub fn put_rate(&self, json: &mut JsonLine) {
        json.put("seconds", decimal(self.seconds()))
            .put("records_per_s", decimal(self.rate()));
    }

    /// The first-record fields: `first_record_ms` (from the process start), `first_record_epoch_ms`.
    pub fn put_first(&self, json: &mut JsonLine, clock: &Clock) {
        json.put(
            "first_record_ms",
            self.first.map_or(Value::Null, |(at, _)| clock.ms_at(at).into()),
        )
        .put("first_record_epoch_ms", self.first_epoch_ms);
    }
}

/// Milliseconds of `duration` with three decimals, for the JSON line.
pub fn millis(duration: Duration) -> Value {
    decimal(Some(duration.as_secs_f64() * 1000.0))
}
