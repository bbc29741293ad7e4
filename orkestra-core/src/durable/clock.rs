//! [`Clock`]: the time durable operations read (wake-up times, retry and callback due times),
//! real or virtual (the test runner moves a virtual one to the next due time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where an execution reads the time: the system clock, or a virtual clock that only moves
/// when told (shared by clones).
///
/// ```
/// use orkestra::durable::Clock;
/// let clock = Clock::virtual_at(1_000);
/// clock.advance_to(86_401_000);
/// assert_eq!(clock.now_ms(), 86_401_000);
/// assert!(Clock::system().now_ms() > 1_600_000_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(None)
    }

    /// A virtual clock starting at `ms` (milliseconds since the Unix epoch).
    pub fn virtual_at(ms: u64) -> Self {
        Clock(Some(Arc::new(AtomicU64::new(ms))))
    }

    /// Whether this clock is virtual.
    pub fn is_virtual(&self) -> bool {
        self.0.is_some()
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => super::store::ExecutionRecord::now_ms(),
        }
    }

    /// Moves a virtual clock forward to `ms` (never back); the system clock ignores it.
    pub fn advance_to(&self, ms: u64) {
        if let Some(t) = &self.0 {
            t.fetch_max(ms, Ordering::SeqCst);
        }
    }
}
