//! Retry strategies for steps: exponential backoff with jitter, and presets.

use std::time::Duration;

/// How a delay is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// No randomisation.
    None,
    /// Uniform in `[0, delay]`.
    #[default]
    Full,
    /// Uniform in `[delay/2, delay]`.
    Half,
}

/// Exponential backoff: attempt `n` (1-based) that failed waits
/// `min(initial_delay * backoff_rate^(n-1), max_delay)`, jittered, before attempt `n+1`, as
/// long as `n < max_attempts`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryStrategy {
    /// Total attempts including the first (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
    /// Growth factor per attempt (≥ 1).
    pub backoff_rate: f64,
    /// Randomisation.
    pub jitter: Jitter,
}

impl Default for RetryStrategy {
    /// The SDK's default preset: 6 attempts, 5 s initial, ×2, at most 60 s, full jitter.
    fn default() -> Self {
        RetryStrategy {
            max_attempts: 6,
            initial_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(60),
            backoff_rate: 2.0,
            jitter: Jitter::Full,
        }
    }
}

impl RetryStrategy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        RetryStrategy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Transient faults: 3 attempts, 1 s initial, ×2, half jitter.
    pub fn transient() -> Self {
        RetryStrategy {
            max_attempts: 3,
            initial_delay: Duration::from_secs(1),
            jitter: Jitter::Half,
            ..Self::default()
        }
    }

    /// Waiting for a resource: 5 attempts, 5 s initial, ×2, at most 300 s.
    pub fn resource_availability() -> Self {
        RetryStrategy {
            max_attempts: 5,
            max_delay: Duration::from_secs(300),
            ..Self::default()
        }
    }

    /// Critical work: 10 attempts, 1 s initial, ×1.5, at most 60 s, no jitter.
    pub fn critical() -> Self {
        RetryStrategy {
            max_attempts: 10,
            initial_delay: Duration::from_secs(1),
            backoff_rate: 1.5,
            jitter: Jitter::None,
            ..Self::default()
        }
    }

    /// `max_attempts` attempts with no delay between them (handy in tests).
    pub fn immediate(max_attempts: u32) -> Self {
        RetryStrategy {
            max_attempts,
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            backoff_rate: 1.0,
            jitter: Jitter::None,
        }
    }

    /// The un-jittered delay after failed attempt `attempt`, or `None` when no attempt is left.
    pub fn base_delay(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = self
            .backoff_rate
            .max(1.0)
            .powi(attempt.saturating_sub(1) as i32);
        let secs = (self.initial_delay.as_secs_f64() * factor).min(self.max_delay.as_secs_f64());
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    /// The jittered delay after failed attempt `attempt`, or `None` when no attempt is left.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        let base = self.base_delay(attempt)?;
        let r: f64 = rand::random();
        Some(match self.jitter {
            Jitter::None => base,
            Jitter::Full => base.mul_f64(r),
            Jitter::Half => base.mul_f64(0.5 + r / 2.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_capped_and_bounded_by_attempts() {
        let s = RetryStrategy::default();
        assert_eq!(s.base_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(s.base_delay(2), Some(Duration::from_secs(10)));
        assert_eq!(s.base_delay(5), Some(Duration::from_secs(60)));
        assert_eq!(s.base_delay(6), None);
        for _ in 0..100 {
            let d = RetryStrategy::transient().delay(1).unwrap();
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1));
        }
        assert_eq!(RetryStrategy::none().delay(1), None);
        assert_eq!(
            RetryStrategy::critical().delay(2),
            Some(Duration::from_secs_f64(1.5))
        );
    }
}
