//! [`JoinWindows`]: how close in time two records must be to join.

use std::time::Duration;

use super::ms;

/// The window of a stream-stream join: a record at `t` on the left joins the right records with
/// timestamps in `[t - before, t + after]`, both ends inclusive (so `|t1 - t2| <= d` for symmetric
/// windows). Records are accepted out of order until stream time passes their window plus grace;
/// left/outer non-matches are emitted only then (Kafka Streams' `JoinWindows`, since 3.1).
///
/// ```
/// use streams_core::time::{JoinWindows, minutes, seconds};
///
/// let within_five_minutes = JoinWindows::of_time_difference_and_grace(minutes(5), seconds(30));
/// let right_up_to_a_minute_later = JoinWindows::of_time_difference_with_no_grace(minutes(1)).before(seconds(0));
/// assert_eq!(right_up_to_a_minute_later.before_ms(), 0);
/// assert_eq!(right_up_to_a_minute_later.after_ms(), 60_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before_ms: i64,
    after_ms: i64,
    grace_ms: i64,
}

impl JoinWindows {
    /// Records join when their timestamps differ by at most `time_difference`; out-of-order
    /// records are accepted for `grace` more.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Self {
        let d = ms(time_difference);
        JoinWindows {
            before_ms: d,
            after_ms: d,
            grace_ms: ms(grace),
        }
    }

    /// [`of_time_difference_and_grace`](Self::of_time_difference_and_grace) with no grace.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Self {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// How far before a left record a right record may be.
    pub fn before(mut self, before: Duration) -> Self {
        self.before_ms = ms(before);
        self
    }

    /// How far after a left record a right record may be.
    pub fn after(mut self, after: Duration) -> Self {
        self.after_ms = ms(after);
        self
    }

    /// Before, in milliseconds.
    pub fn before_ms(&self) -> i64 {
        self.before_ms
    }

    /// After, in milliseconds.
    pub fn after_ms(&self) -> i64 {
        self.after_ms
    }

    /// Grace, in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// The window's size, `before + after`.
    pub fn size_ms(&self) -> i64 {
        self.before_ms + self.after_ms
    }
}
