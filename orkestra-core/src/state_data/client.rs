//! The task-facing client, `ctx.state_data()`: typed puts and gets of items stored under the
//! execution's id, returning [`Pointer`]s to pass between tasks.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ItemsPointer, MapIteration, Pointer, StateDataError, StateDataStore, StoredItem};
use crate::context::Context;

/// How long stored items live unless the client says otherwise: 7 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// State data for one task: `ctx.state_data()`.
///
/// Local methods (`put_item`, `get_item`, ...) address items of the current execution by key:
/// the partition key is `<execution id>:<key>` in the store's default table, and an iteration
/// input or pointer of another execution is refused. Global methods take a full partition key
/// and table, to reach data another execution (or workflow) stored. Every value is JSON
/// (`serde`); a task must be declared `#[compose(state_data)]` to use any of them.
///
/// ```
/// use std::sync::Arc;
/// use orkestra::state_data::SqliteStateStore;
/// use orkestra::Context;
/// # let rt = tokio::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let dir = std::env::temp_dir().join(format!("orkestra-client-doc-{}", std::process::id()));
/// let store = Arc::new(SqliteStateStore::open(dir.join("doc.db")).unwrap());
/// let ctx = Context::for_tests().with_state_store(store);
/// let client = ctx.state_data();
/// let pointer = client.put_item("characters", &"jerry", None).await.unwrap();
/// assert_eq!(pointer.partition_key, "test-execution:characters");
/// let name: String = client.get_item("characters", None).await.unwrap();
/// assert_eq!(name, "jerry");
/// # let _ = std::fs::remove_dir_all(dir);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct StateData<'a> {
    ctx: &'a Context,
    ttl: Duration,
}

impl<'a> StateData<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        StateData {
            ctx,
            ttl: DEFAULT_TTL,
        }
    }

    /// The same client, writing items that expire after `ttl` instead of [`DEFAULT_TTL`].
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The partition key of `key` in the current execution: `<execution id>:<key>`.
    pub fn partition_key(&self, key: &str) -> String {
        format!("{}:{key}", self.ctx.execution_id())
    }

    async fn store(&self) -> Result<Arc<dyn StateDataStore>, StateDataError> {
        if let Some((task, false)) = self.ctx.task_access() {
            return Err(StateDataError::NotDeclared {
                task: task.to_string(),
            });
        }
        self.ctx.state_store().await
    }

    fn expires_at(&self) -> i64 {
        super::sqlite::unix_now().saturating_add(self.ttl.as_secs().min(i64::MAX as u64) as i64)
    }

    /// Refuses a partition that is not the current execution's (local variants only).
    fn own_partition(&self, partition_key: &str) -> Result<(), StateDataError> {
        let own = partition_key
            .strip_prefix(self.ctx.execution_id())
            .is_some_and(|rest| rest.starts_with(':'));
        if own {
            Ok(())
        } else {
            Err(StateDataError::OtherExecution {
                partition_key: partition_key.to_string(),
                execution_id: self.ctx.execution_id().to_string(),
            })
        }
    }

    /// Stores `data` under `key` (at `index`, default 0) in the current execution.
    pub async fn put_item<T: Serialize + ?Sized>(
        &self,
        key: &str,
        data: &T,
        index: Option<u64>,
    ) -> Result<Pointer, StateDataError> {
        let store = self.store().await?;
        let table = store.default_table().to_string();
        let partition_key = self.partition_key(key);
        self.put_at(&*store, &table, &partition_key, key, data, index)
            .await
    }

    async fn put_at<T: Serialize + ?Sized>(
        &self,
        store: &dyn StateDataStore,
        table: &str,
        partition_key: &str,
        key: &str,
        data: &T,
        index: Option<u64>,
    ) -> Result<Pointer, StateDataError> {
        let item = StoredItem {
            index: index.unwrap_or(0),
            data: encode(key, data)?,
        };
        store
            .put(table, partition_key, item, self.expires_at())
            .await?;
        Ok(Pointer {
            key: key.to_string(),
            partition_key: partition_key.to_string(),
            table_name: table.to_string(),
            index,
        })
    }

    /// Stores each element of `items` under `key`, at its index; a map task whose item is
    /// [`MapIteration<T>`] fans out over the returned pointer.
    pub async fn put_items<T: Serialize>(
        &self,
        key: &str,
        items: &[T],
    ) -> Result<ItemsPointer<T>, StateDataError> {
        let store = self.store().await?;
        let table = store.default_table().to_string();
        let partition_key = self.partition_key(key);
        let rows = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                Ok(StoredItem {
                    index: index as u64,
                    data: encode(key, item)?,
                })
            })
            .collect::<Result<Vec<_>, StateDataError>>()?;
        store
            .put_many(&table, &partition_key, rows, self.expires_at())
            .await?;
        Ok(ItemsPointer::new(
            key.to_string(),
            partition_key,
            table,
            items.len() as u64,
        ))
    }

    /// Loads the item stored under `key` (at `index`, default 0) in the current execution.
    pub async fn get_item<T: DeserializeOwned>(
        &self,
        key: &str,
        index: Option<u64>,
    ) -> Result<T, StateDataError> {
        let store = self.store().await?;
        let table = store.default_table().to_string();
        get_at(&*store, &table, &self.partition_key(key), key, index).await
    }

    /// Loads every element stored under `key` by `put_items`, in index order.
    pub async fn get_items<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Vec<T>, StateDataError> {
        let store = self.store().await?;
        let table = store.default_table().to_string();
        let partition_key = self.partition_key(key);
        let rows = store.get_all(&table, &partition_key).await?;
        if rows.is_empty() {
            return Err(StateDataError::NoItemFound {
                key: key.to_string(),
                partition_key,
                table,
                index: None,
            });
        }
        rows.iter()
            .map(|row| decode(&row.data, &partition_key, &table, row.index))
            .collect()
    }

    /// Loads this map iteration's element (inside a map over an [`ItemsPointer`]); the list
    /// must belong to the current execution.
    pub async fn get_item_for_map_iteration<T: DeserializeOwned>(
        &self,
        event: &MapIteration<T>,
    ) -> Result<T, StateDataError> {
        self.own_partition(&event.items_result_partition_key)?;
        self.get_global_item_for_map_iteration(event).await
    }

    /// Replaces this map iteration's element with `item` (its own slot of the list).
    pub async fn put_item_for_map_iteration<T: Serialize, U>(
        &self,
        event: &MapIteration<U>,
        item: &T,
    ) -> Result<Pointer, StateDataError> {
        self.own_partition(&event.items_result_partition_key)?;
        let store = self.store().await?;
        self.put_at(
            &*store,
            &event.items_result_table_name,
            &event.items_result_partition_key,
            &event.items_result_key,
            item,
            Some(event.index()),
        )
        .await
    }

    /// Stores `data` under a fully specified `partition_key` in `table` (any execution's).
    pub async fn put_global_item<T: Serialize + ?Sized>(
        &self,
        table: &str,
        partition_key: &str,
        data: &T,
        index: Option<u64>,
    ) -> Result<Pointer, StateDataError> {
        let store = self.store().await?;
        let key = key_of(partition_key);
        self.put_at(&*store, table, partition_key, key, data, index)
            .await
    }

    /// Loads the item under a fully specified `partition_key` in `table` (any execution's).
    pub async fn get_global_item<T: DeserializeOwned>(
        &self,
        table: &str,
        partition_key: &str,
        index: Option<u64>,
    ) -> Result<T, StateDataError> {
        let store = self.store().await?;
        get_at(&*store, table, partition_key, key_of(partition_key), index).await
    }

    /// Loads the item a [`Pointer`] names, wherever it was stored.
    pub async fn get_pointer<T: DeserializeOwned>(
        &self,
        pointer: &Pointer,
    ) -> Result<T, StateDataError> {
        let store = self.store().await?;
        get_at(
            &*store,
            &pointer.table_name,
            &pointer.partition_key,
            &pointer.key,
            pointer.index,
        )
        .await
    }

    /// Loads this map iteration's element when the list may come from another execution.
    pub async fn get_global_item_for_map_iteration<T: DeserializeOwned>(
        &self,
        event: &MapIteration<T>,
    ) -> Result<T, StateDataError> {
        let store = self.store().await?;
        get_at(
            &*store,
            &event.items_result_table_name,
            &event.items_result_partition_key,
            &event.items_result_key,
            Some(event.index()),
        )
        .await
    }

    /// Deletes the item under `key` at `index`, or every element under `key` (`None`), in the
    /// current execution; returns how many were deleted.
    pub async fn delete(&self, key: &str, index: Option<u64>) -> Result<u64, StateDataError> {
        let store = self.store().await?;
        let table = store.default_table().to_string();
        store.delete(&table, &self.partition_key(key), index).await
    }
}

/// The key part of `<execution id>:<key>` (execution ids, such as ARNs, contain `:` too).
fn key_of(partition_key: &str) -> &str {
    partition_key
        .rsplit_once(':')
        .map_or(partition_key, |(_, key)| key)
}

fn encode<T: Serialize + ?Sized>(key: &str, data: &T) -> Result<Vec<u8>, StateDataError> {
    serde_json::to_vec(data).map_err(|e| StateDataError::Serialize {
        key: key.to_string(),
        message: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(
    data: &[u8],
    partition_key: &str,
    table: &str,
    index: u64,
) -> Result<T, StateDataError> {
    let corrupt = |message: String| StateDataError::Corrupt {
        partition_key: partition_key.to_string(),
        table: table.to_string(),
        index,
        message,
    };
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        corrupt(if path == "." {
            inner.to_string()
        } else {
            format!("at `{path}`: {inner}")
        })
    })?;
    de.end().map_err(|e| corrupt(e.to_string()))?;
    Ok(value)
}

async fn get_at<T: DeserializeOwned>(
    store: &dyn StateDataStore,
    table: &str,
    partition_key: &str,
    key: &str,
    index: Option<u64>,
) -> Result<T, StateDataError> {
    let row = store
        .get(table, partition_key, index.unwrap_or(0))
        .await?
        .ok_or_else(|| StateDataError::NoItemFound {
            key: key.to_string(),
            partition_key: partition_key.to_string(),
            table: table.to_string(),
            index,
        })?;
    decode(&row.data, partition_key, table, row.index)
}
