//! [`BatchResult`]: what a map (or parallel) returns: every item's status, result or error,
//! in input order, and why the batch completed.

use super::error::DurableError;
use super::store::ErrorObject;
use serde::{Deserialize, Serialize};

/// An item's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchItemStatus {
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Was running when the batch completed early.
    Started,
}

/// Why a batch completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompletionReason {
    /// Every item finished.
    AllCompleted,
    /// `min_successful` items succeeded.
    MinSuccessfulReached,
    /// More items failed than tolerated.
    FailureToleranceExceeded,
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchItem<T> {
    /// The item's index in the input.
    pub index: usize,
    /// Its status.
    pub status: BatchItemStatus,
    /// Its result, when succeeded.
    pub result: Option<T>,
    /// Its error, when failed.
    pub error: Option<ErrorObject>,
}

impl<T> BatchItem<T> {
    /// Item `index` as its run left it: succeeded, failed, or (`None`) started and not finished.
    pub(crate) fn from_outcome(
        index: usize,
        outcome: Option<Result<T, ErrorObject>>,
    ) -> BatchItem<T> {
        let (status, result, error) = match outcome {
            Some(Ok(v)) => (BatchItemStatus::Succeeded, Some(v), None),
            Some(Err(e)) => (BatchItemStatus::Failed, None, Some(e)),
            None => (BatchItemStatus::Started, None, None),
        };
        BatchItem {
            index,
            status,
            result,
            error,
        }
    }
}

/// The result of a map or parallel. Its JSON form is the SDK's `to_dict()`:
/// `{"all": [{"index", "status", "result", "error"}], "completionReason": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult<T> {
    /// Every started item, in input order (items never started are absent).
    pub all: Vec<BatchItem<T>>,
    /// Why the batch completed.
    #[serde(rename = "completionReason")]
    pub completion_reason: CompletionReason,
}

impl<T> BatchResult<T> {
    /// The items (the seed's `results`), in input order.
    pub fn results(&self) -> &[BatchItem<T>] {
        &self.all
    }

    /// The results of the succeeded items, in input order.
    pub fn get_results(&self) -> Vec<&T> {
        self.all.iter().filter_map(|i| i.result.as_ref()).collect()
    }

    /// The errors of the failed items, in input order.
    pub fn get_errors(&self) -> Vec<&ErrorObject> {
        self.all.iter().filter_map(|i| i.error.as_ref()).collect()
    }

    fn count(&self, status: BatchItemStatus) -> usize {
        self.all.iter().filter(|i| i.status == status).count()
    }

    /// How many items succeeded.
    pub fn success_count(&self) -> usize {
        self.count(BatchItemStatus::Succeeded)
    }

    /// How many items failed.
    pub fn failure_count(&self) -> usize {
        self.count(BatchItemStatus::Failed)
    }

    /// How many items were still running when the batch completed.
    pub fn started_count(&self) -> usize {
        self.count(BatchItemStatus::Started)
    }

    /// How many items are reported.
    pub fn total_count(&self) -> usize {
        self.all.len()
    }

    /// Whether any item failed.
    pub fn has_failure(&self) -> bool {
        self.failure_count() > 0
    }

    /// `Err` with the first item error when the batch failed (tolerance exceeded, or any item
    /// failed); `Ok` otherwise.
    pub fn throw_if_error(&self) -> Result<(), DurableError> {
        let failed = self.completion_reason == CompletionReason::FailureToleranceExceeded
            || self.has_failure();
        match self.all.iter().find(|i| i.error.is_some()) {
            Some(item) if failed => Err(DurableError::OperationFailed {
                name: format!("batch item {}", item.index),
                error: item.error.clone().expect("found with an error"),
            }),
            _ => Ok(()),
        }
    }

    /// The succeeded results in input order, or the first error (see
    /// [`BatchResult::throw_if_error`]).
    pub fn into_result(self) -> Result<Vec<T>, DurableError> {
        self.throw_if_error()?;
        Ok(self.all.into_iter().filter_map(|i| i.result).collect())
    }
}

impl<T: Serialize> BatchResult<T> {
    /// The SDK's `to_dict()` shape as JSON.
    pub fn to_dict(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a BatchResult of serializable items serializes")
    }
}
