//! The backend contract: rows keyed by table, partition key and numeric index.

use super::StateDataError;
use std::future::Future;
use std::pin::Pin;

/// The future every backend method returns (boxed, so the trait is object safe).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateDataError>> + Send + 'a>>;

/// One stored row: its index (the sort key) and the item's JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// The numeric sort key (a list element's position; `0` for a single item).
    pub index: u64,
    /// The item, as JSON text.
    pub data: Vec<u8>,
}

/// Where state data lives: the embedded SQLite file, or DynamoDB (+ S3 for large items).
///
/// Rows are addressed by `table`, `partition_key` (`<execution id>:<key>`) and a numeric
/// `index`; `expires_at` is a Unix time in seconds after which a row may be deleted.
/// Implementations retry throttling themselves, read consistently, and report anything else
/// as a [`StateDataError`] naming the table and key. They store bytes as given: serialising,
/// pointers and the "missing item" error belong to the client above them.
pub trait StateDataStore: Send + Sync + 'static {
    /// The table used when a caller names none.
    fn default_table(&self) -> &str;

    /// Stores (or replaces) one row.
    fn put<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        item: StoredItem,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;

    /// Stores (or replaces) many rows of one partition.
    fn put_many<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        items: Vec<StoredItem>,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;

    /// Reads one row; `None` when it does not exist (or has expired).
    fn get<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: u64,
    ) -> StoreFuture<'a, Option<StoredItem>>;

    /// Reads every row of a partition, ordered by index.
    fn get_all<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
    ) -> StoreFuture<'a, Vec<StoredItem>>;

    /// Deletes one row (`Some(index)`) or the whole partition (`None`); returns how many
    /// rows were removed.
    fn delete<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: Option<u64>,
    ) -> StoreFuture<'a, u64>;
}

/// Stops a running execution from inside one of its tasks (`ctx.stop_execution(..)`).
///
/// Locally the engine itself ends the execution; in AWS an implementation calls Step
/// Functions' `StopExecution` with the execution's ARN.
pub trait ExecutionStopper: Send + Sync + 'static {
    /// Asks the service to stop `execution_id` with `error` and `cause`.
    fn stop<'a>(
        &'a self,
        execution_id: &'a str,
        error: &'a str,
        cause: &'a str,
    ) -> StoreFuture<'a, ()>;
}
