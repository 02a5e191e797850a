//! Time: windows, grace periods and suppression.
//!
//! # Stream time
//! Every task keeps a **stream time**: the largest timestamp among the records it has processed. It
//! never goes back; an out-of-order record does not move it. Windows close, and suppressed results
//! are emitted, by stream time, never by the wall clock: an idle input stops time.
//!
//! # Windows
//! - [`TimeWindows`]: fixed-size windows, epoch-aligned. A hopping window of size `S` advancing by
//!   `A` covers `[k·A, k·A + S)` for every integer `k ≥ 0`; a tumbling window is `A = S`. The end is
//!   exclusive. A record at `t` belongs to every window whose range holds `t`.
//! - [`SlidingWindows`]: windows `[t - d, t]`, inclusive at both ends, defined by the records
//!   themselves.
//! - [`SessionWindows`]: per-key sessions `[first, last]` (inclusive) of records closer than the
//!   inactivity gap; a record that bridges two sessions merges them.
//!
//! # Grace
//! A window accepts out-of-order records until stream time reaches `window end + grace`. A record
//! arriving after that is **dropped** and counted in the task's dropped-records metric. Grace is
//! always stated: `of_size_and_grace(..)` or `of_size_with_no_grace(..)`.
//!
//! ```text
//!  stream time ──────────────────────────────────────────────────────────▶
//!  window [0, 10) │■■■■■■■■■■│ grace 5 │░░░░░│  closed: late records dropped
//!                 0          10        15
//!  record t=8 arriving at stream time 12: counted (12 < 10 + 5)
//!  record t=8 arriving at stream time 15: dropped (15 ≥ 10 + 5)
//! ```
//!
//! # Suppression
//! [`Suppressed::until_window_closes`] holds a windowed table's updates and emits one final result
//! per window once stream time reaches `window end + grace`; [`Suppressed::until_time_limit`] emits a
//! key's latest value a fixed stream-time span after its first buffered update.

mod join_windows;
mod session;
mod sliding;
mod suppress;
mod window;
mod windows;

pub use join_windows::JoinWindows;
pub use session::SessionWindows;
pub use sliding::SlidingWindows;
pub(crate) use suppress::SuppressKind;
pub use suppress::{BufferConfig, BufferFull, Suppressed};
pub use window::{SessionWindowedSerde, TimeWindowedSerde, Window, Windowed};
pub use windows::TimeWindows;

use std::time::Duration;

/// `n` milliseconds.
pub fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds.
pub fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` minutes.
pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// `n` hours.
pub fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// A duration of `ms` milliseconds (0 for a negative count).
pub(crate) fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Milliseconds in a duration, saturating at `i64::MAX`.
pub(crate) fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
