//! BatchWriteItem with its unprocessed items sent again, with exponential backoff and full
//! jitter (what AWS recommends when a batch is throttled partially; the SDK's own retries only
//! cover a request that fails as a whole).

use std::future::Future;
use std::time::Duration;

use crate::state_data::StateDataError;

/// Most items in one BatchWriteItem request.
pub(crate) const BATCH_SIZE: usize = 25;
/// Attempts at a batch (the first included) before its unprocessed items are reported.
pub(crate) const ATTEMPTS: u32 = 10;
const BASE_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// The delay before retry `attempt` (1-based): a random time up to `50 ms * 2^(attempt-1)`,
/// capped at 5 s.
pub(crate) fn delay(attempt: u32) -> Duration {
    let ceiling = BASE_DELAY
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_DELAY);
    ceiling.mul_f64(rand::random::<f64>())
}

/// Sends `requests` with `send` (which returns what the service left unprocessed) until none
/// are left; after [`ATTEMPTS`] tries, `exhausted(left)` is the error.
pub(crate) async fn write_all<T, F, Fut>(
    mut requests: Vec<T>,
    mut send: F,
    exhausted: impl FnOnce(usize) -> StateDataError,
) -> Result<(), StateDataError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StateDataError>>,
{
    let mut attempt = 1;
    loop {
        let unprocessed = send(requests).await?;
        if unprocessed.is_empty() {
            return Ok(());
        }
        if attempt >= ATTEMPTS {
            return Err(exhausted(unprocessed.len()));
        }
        tokio::time::sleep(delay(attempt)).await;
        attempt += 1;
        requests = unprocessed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn exhausted(left: usize) -> StateDataError {
        StateDataError::Backend {
            backend: "dynamodb",
            operation: "BatchWriteItem",
            table: "t".into(),
            message: format!("{left} left"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_items_are_sent_again_until_done() {
        let calls = Mutex::new(Vec::new());
        // The "service" processes one item per call, as a throttled table may.
        let result = write_all(
            vec![1, 2, 3],
            |batch: Vec<i32>| {
                calls.lock().unwrap().push(batch.clone());
                async move { Ok(batch[1..].to_vec()) }
            },
            exhausted,
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(
            *calls.lock().unwrap(),
            vec![vec![1, 2, 3], vec![2, 3], vec![3]]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_never_drains_is_an_error_naming_what_is_left() {
        let mut calls = 0;
        let error = write_all(
            vec![1, 2],
            |batch: Vec<i32>| {
                calls += 1;
                async move { Ok(batch) }
            },
            exhausted,
        )
        .await
        .unwrap_err();
        assert_eq!(calls, ATTEMPTS);
        assert!(error.to_string().contains("2 left"), "{error}");
    }

    #[test]
    fn delays_grow_and_are_capped() {
        for attempt in 1..30 {
            let ceiling = BASE_DELAY
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_DELAY);
            assert!(delay(attempt) <= ceiling);
        }
        assert!(delay(30) <= MAX_DELAY);
    }
}
