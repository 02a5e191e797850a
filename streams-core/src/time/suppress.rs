//! [`Suppressed`]: holding back a table's updates.

use std::time::Duration;

use super::ms;

/// What a suppression buffer does when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferFull {
    /// Emit the oldest buffered records early, before their time. Only for
    /// [`Suppressed::until_time_limit`]: final results must never be emitted early.
    EmitEarly,
    /// Stop the task with an error.
    ShutDown,
}

/// The size of a suppression buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    pub(crate) max_records: Option<usize>,
    pub(crate) when_full: BufferFull,
}

impl BufferConfig {
    /// No bound: the buffer holds every key until its time.
    pub fn unbounded() -> Self {
        BufferConfig {
            max_records: None,
            when_full: BufferFull::ShutDown,
        }
    }

    /// At most `records` keys; [`shut_down_when_full`](Self::shut_down_when_full) unless told otherwise.
    pub fn max_records(records: usize) -> Self {
        BufferConfig {
            max_records: Some(records),
            when_full: BufferFull::ShutDown,
        }
    }

    /// When full, emit the oldest keys early.
    pub fn emit_early_when_full(mut self) -> Self {
        self.when_full = BufferFull::EmitEarly;
        self
    }

    /// When full, stop with an error.
    pub fn shut_down_when_full(mut self) -> Self {
        self.when_full = BufferFull::ShutDown;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SuppressKind {
    /// Emit a window's final result when stream time reaches its end plus grace.
    UntilWindowCloses,
    /// Emit a key's latest value this long (stream time) after its first buffered update.
    UntilTimeLimit(i64),
}

/// How a table's updates are held back before they are forwarded.
///
/// ```
/// use streams_core::time::{BufferConfig, Suppressed, minutes};
///
/// let finals = Suppressed::until_window_closes();
/// let rate_limited = Suppressed::until_time_limit(minutes(1), BufferConfig::max_records(10_000).emit_early_when_full());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub(crate) kind: SuppressKind,
    pub(crate) buffer: BufferConfig,
    pub(crate) name: Option<String>,
}

impl Suppressed {
    /// One final result per window of a windowed table, emitted when stream time reaches the window's
    /// end plus its grace period; nothing before. Buffers without bound.
    pub fn until_window_closes() -> Self {
        Suppressed {
            kind: SuppressKind::UntilWindowCloses,
            buffer: BufferConfig::unbounded(),
            name: None,
        }
    }

    /// [`until_window_closes`](Self::until_window_closes) with a bounded buffer that shuts the task
    /// down when full (emitting early would break the "final" promise).
    ///
    /// # Panics
    /// When `buffer` emits early when full.
    pub fn until_window_closes_with(buffer: BufferConfig) -> Self {
        assert_eq!(
            buffer.when_full,
            BufferFull::ShutDown,
            "final results cannot be emitted early: use shut_down_when_full"
        );
        Suppressed {
            kind: SuppressKind::UntilWindowCloses,
            buffer,
            name: None,
        }
    }

    /// Each key's latest value, emitted once stream time reaches its first buffered update plus
    /// `time_limit` (a rate limit per key).
    pub fn until_time_limit(time_limit: Duration, buffer: BufferConfig) -> Self {
        Suppressed {
            kind: SuppressKind::UntilTimeLimit(ms(time_limit)),
            buffer,
            name: None,
        }
    }

    /// Names the suppression node.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
