//! When a map (or parallel) is done: [`CompletionConfig`] and its presets.

use super::batch::CompletionReason;
use super::error::DurableError;

/// Completion criteria of a batch.
///
/// The default (no criteria) follows the seed documentation: every item runs and failures
/// are reported in the `BatchResult` (AWS's Python SDK 3.0.0 changed its empty default to
/// fail fast; use [`CompletionConfig::all_successful`] for that).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletionConfig {
    /// Complete (MIN_SUCCESSFUL_REACHED) as soon as this many items succeeded.
    pub min_successful: Option<usize>,
    /// Stop (FAILURE_TOLERANCE_EXCEEDED) when more than this many items failed.
    pub tolerated_failure_count: Option<usize>,
    /// Stop (FAILURE_TOLERANCE_EXCEEDED) when more than this percentage of all items failed.
    pub tolerated_failure_percentage: Option<f64>,
}

impl CompletionConfig {
    /// Every item must succeed: stops at the first failure.
    pub fn all_successful() -> Self {
        CompletionConfig {
            tolerated_failure_count: Some(0),
            ..Self::default()
        }
    }

    /// Every item runs, whatever fails (the default).
    pub fn all_completed() -> Self {
        Self::default()
    }

    /// Completes as soon as one item succeeds.
    pub fn first_successful() -> Self {
        CompletionConfig {
            min_successful: Some(1),
            ..Self::default()
        }
    }

    /// Checks the criteria against a batch of `total` items, before anything runs.
    pub fn validate(&self, total: usize) -> Result<(), DurableError> {
        let invalid = |message: String| DurableError::InvalidConfig {
            what: "CompletionConfig",
            message,
        };
        if let Some(m) = self.min_successful {
            if m > total {
                return Err(invalid(format!(
                    "min_successful = {m} is more than the {total} items of the batch"
                )));
            }
        }
        if let Some(p) = self.tolerated_failure_percentage {
            if !(0.0..=100.0).contains(&p) {
                return Err(invalid(format!(
                    "tolerated_failure_percentage = {p} is not within 0..=100"
                )));
            }
        }
        Ok(())
    }

    /// Whether `failed` failures out of `total` items exceed the tolerance.
    pub fn tolerance_exceeded(&self, failed: usize, total: usize) -> bool {
        if self.tolerated_failure_count.is_some_and(|n| failed > n) {
            return true;
        }
        match self.tolerated_failure_percentage {
            Some(p) if total > 0 => (failed as f64) * 100.0 / (total as f64) > p,
            _ => false,
        }
    }

    /// The reason the batch is complete, or `None` while it must go on.
    pub fn check(&self, succeeded: usize, failed: usize, total: usize) -> Option<CompletionReason> {
        if self.tolerance_exceeded(failed, total) {
            Some(CompletionReason::FailureToleranceExceeded)
        } else if succeeded + failed >= total {
            Some(CompletionReason::AllCompleted)
        } else if self.min_successful.is_some_and(|m| succeeded >= m) {
            Some(CompletionReason::MinSuccessfulReached)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompletionReason::*;

    #[test]
    fn presets_and_thresholds() {
        let all = CompletionConfig::all_successful();
        assert_eq!(all.check(3, 0, 5), None);
        assert_eq!(all.check(3, 1, 5), Some(FailureToleranceExceeded));
        assert_eq!(all.check(5, 0, 5), Some(AllCompleted));
        let any = CompletionConfig::default();
        assert_eq!(any.check(1, 3, 5), None);
        assert_eq!(any.check(1, 4, 5), Some(AllCompleted));
        assert_eq!(
            CompletionConfig::first_successful().check(1, 2, 5),
            Some(MinSuccessfulReached)
        );
        let count = CompletionConfig {
            tolerated_failure_count: Some(2),
            ..Default::default()
        };
        assert_eq!(count.check(0, 2, 5), None);
        assert_eq!(count.check(0, 3, 5), Some(FailureToleranceExceeded));
        let pct = CompletionConfig {
            tolerated_failure_percentage: Some(20.0),
            ..Default::default()
        };
        assert_eq!(pct.check(0, 2, 10), None);
        assert_eq!(pct.check(0, 3, 10), Some(FailureToleranceExceeded));
    }

    #[test]
    fn validation_names_the_field() {
        let e = CompletionConfig {
            min_successful: Some(6),
            ..Default::default()
        }
        .validate(5)
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("min_successful = 6") && e.contains("5 items"),
            "{e}"
        );
        assert!(CompletionConfig {
            tolerated_failure_percentage: Some(101.0),
            ..Default::default()
        }
        .validate(5)
        .is_err());
    }
}
