//! [`SlidingWindows`]: windows defined by the records themselves.

use std::time::Duration;

use super::ms;

/// Windows of a fixed length `d` whose bounds come from record timestamps: `[t - d, t]` and
/// `[t + 1, t + d + 1]`-style windows created as records arrive, inclusive at both ends, so that
/// every distinct set of records within `d` of each other has exactly one window (Kafka Streams'
/// `SlidingWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    time_difference_ms: i64,
    grace_ms: i64,
}

impl SlidingWindows {
    /// Windows of length `time_difference`, accepting out-of-order records for `grace`.
    ///
    /// # Panics
    /// When `time_difference` is under 1 ms.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Self {
        let time_difference_ms = ms(time_difference);
        assert!(
            time_difference_ms > 0,
            "a sliding window's time difference must be at least 1 ms"
        );
        SlidingWindows {
            time_difference_ms,
            grace_ms: ms(grace),
        }
    }

    /// Windows of length `time_difference` with no grace.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Self {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// The window length in milliseconds.
    pub fn time_difference_ms(&self) -> i64 {
        self.time_difference_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }
}
