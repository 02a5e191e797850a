//! [`TimeWindows`]: tumbling and hopping windows.

use std::time::Duration;

use super::{Window, ms};

/// Fixed-size, epoch-aligned windows: `[k·advance, k·advance + size)` for every `k ≥ 0`.
/// Tumbling when `advance == size` (the default), hopping when `advance < size`.
///
/// ```
/// use streams_core::time::{TimeWindows, Window, seconds};
///
/// let hopping = TimeWindows::of_size_and_grace(seconds(10), seconds(2)).advance_by(seconds(5));
/// // A record at 12 s is in the windows starting at 5 s and at 10 s.
/// assert_eq!(hopping.windows_for(12_000), vec![Window::new(5_000, 15_000), Window::new(10_000, 20_000)]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size_ms: i64,
    advance_ms: i64,
    grace_ms: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` accepting out-of-order records for `grace` after they end.
    ///
    /// # Panics
    /// When `size` is under 1 ms.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Self {
        let size_ms = ms(size);
        assert!(size_ms > 0, "a window size must be at least 1 ms");
        TimeWindows {
            size_ms,
            advance_ms: size_ms,
            grace_ms: ms(grace),
        }
    }

    /// Tumbling windows of `size` with no grace: a record is dropped once stream time has reached
    /// its window's end.
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Hopping windows: a new window starts every `advance`.
    ///
    /// # Panics
    /// When `advance` is under 1 ms or longer than the size.
    pub fn advance_by(mut self, advance: Duration) -> Self {
        let advance_ms = ms(advance);
        assert!(
            advance_ms > 0 && advance_ms <= self.size_ms,
            "a window advance must be at least 1 ms and at most the window size ({} ms), got {advance_ms} ms",
            self.size_ms
        );
        self.advance_ms = advance_ms;
        self
    }

    /// The window size in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    /// The advance in milliseconds.
    pub fn advance_ms(&self) -> i64 {
        self.advance_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// Every window a record at `timestamp` (≥ 0) belongs to, by start.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        let mut start = ((timestamp - self.size_ms + self.advance_ms).max(0) / self.advance_ms) * self.advance_ms;
        let mut windows = Vec::with_capacity((self.size_ms / self.advance_ms) as usize);
        while start <= timestamp {
            windows.push(Window::new(start, start.saturating_add(self.size_ms)));
            start += self.advance_ms;
        }
        windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_record_at_a_window_start_is_in_it_and_at_its_end_is_not() {
        let tumbling = TimeWindows::of_size_with_no_grace(ms(10));
        assert_eq!(tumbling.windows_for(10), vec![Window::new(10, 20)]);
        assert_eq!(tumbling.windows_for(9), vec![Window::new(0, 10)]);
        assert_eq!(tumbling.windows_for(0), vec![Window::new(0, 10)]);
    }

    #[test]
    fn windows_are_aligned_to_the_epoch_not_to_the_first_record() {
        let tumbling = TimeWindows::of_size_with_no_grace(ms(5));
        assert_eq!(tumbling.windows_for(7), vec![Window::new(5, 10)]);
        let hopping = TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(3));
        assert_eq!(
            hopping.windows_for(7),
            vec![Window::new(0, 10), Window::new(3, 13), Window::new(6, 16)]
        );
        assert_eq!(
            hopping.windows_for(1),
            vec![Window::new(0, 10)],
            "no window starts before 0"
        );
    }

    #[test]
    #[should_panic(expected = "at most the window size")]
    fn an_advance_longer_than_the_size_is_refused() {
        let _ = TimeWindows::of_size_with_no_grace(ms(10)).advance_by(ms(11));
    }

    proptest! {
        /// Exactly the windows `[k·a, k·a + s)` that hold `t`, ascending, for every k ≥ 0.
        #[test]
        fn windows_for_is_every_aligned_window_holding_the_timestamp(
            size in 1i64..200, advance_part in 1i64..200, timestamp in 0i64..10_000,
        ) {
            let advance = 1 + advance_part % size;
            let windows = TimeWindows::of_size_with_no_grace(ms(size as u64)).advance_by(ms(advance as u64));
            let expected: Vec<Window> = (0..=timestamp / advance)
                .map(|k| Window::new(k * advance, k * advance + size))
                .filter(|w| w.start <= timestamp && timestamp < w.end)
                .collect();
            prop_assert_eq!(windows.windows_for(timestamp), expected);
        }
    }
}
