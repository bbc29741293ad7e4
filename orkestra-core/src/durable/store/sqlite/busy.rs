//! Another connection's lock (SQLITE_BUSY / SQLITE_LOCKED past the connection's busy timeout,
//! e.g. a long writer, or a killed process's WAL being recovered) is transient: writes and
//! reads retry it with one backoff, and only a lock held past [`BUSY_GIVE_UP`] is a fault.

use std::time::{Duration, Instant};

/// How long busy/locked errors are retried before they count as a store fault.
pub(super) const BUSY_GIVE_UP: Duration = Duration::from_secs(180);
/// The first pause between retries.
const BUSY_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The longest pause between retries.
const BUSY_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Whether SQLite reported another connection's lock (worth retrying).
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Retries of one busy operation: 50 ms doubling to 2 s, for up to [`BUSY_GIVE_UP`].
pub(super) struct Backoff {
    started: Instant,
    next: Duration,
}

impl Backoff {
    pub(super) fn new() -> Self {
        Backoff {
            started: Instant::now(),
            next: BUSY_BACKOFF_MIN,
        }
    }

    /// Sleeps before the next retry and returns `true`, or returns `false` once the lock has
    /// been held too long.
    pub(super) fn retry(&mut self) -> bool {
        if self.started.elapsed() >= BUSY_GIVE_UP {
            return false;
        }
        std::thread::sleep(self.next);
        self.next = (self.next * 2).min(BUSY_BACKOFF_MAX);
        true
    }

    /// How long the operation has been retried.
    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
