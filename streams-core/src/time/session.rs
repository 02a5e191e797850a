//! [`SessionWindows`]: activity sessions per key.

use std::time::Duration;

use super::ms;

/// Sessions of records of one key that come within `inactivity_gap` of each other: a session is
/// `[first timestamp, last timestamp]`, inclusive. A record within the gap of two sessions merges
/// them into one (Kafka Streams' `SessionWindows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap_ms: i64,
    grace_ms: i64,
}

impl SessionWindows {
    /// Sessions closed after `inactivity_gap` without records, accepting out-of-order records for
    /// `grace` after a session's end.
    ///
    /// # Panics
    /// When `inactivity_gap` is under 1 ms.
    pub fn of_inactivity_gap_and_grace(inactivity_gap: Duration, grace: Duration) -> Self {
        let gap_ms = ms(inactivity_gap);
        assert!(gap_ms > 0, "a session's inactivity gap must be at least 1 ms");
        SessionWindows {
            gap_ms,
            grace_ms: ms(grace),
        }
    }

    /// Sessions with no grace.
    pub fn of_inactivity_gap_with_no_grace(inactivity_gap: Duration) -> Self {
        Self::of_inactivity_gap_and_grace(inactivity_gap, Duration::ZERO)
    }

    /// The inactivity gap in milliseconds.
    pub fn inactivity_gap_ms(&self) -> i64 {
        self.gap_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }
}
