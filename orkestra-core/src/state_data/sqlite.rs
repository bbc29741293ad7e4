//! The embedded backend: state data rows in the project's SQLite file.
//!
//! Tables are a column, so several "tables" share one SQLite table. The default table
//! ([`DEFAULT_TABLE`]) always exists; any other is created with
//! [`SqliteStateStore::create_table`], as a DynamoDB table is created by the deployment before
//! a task writes to it. Reading, writing or deleting in a table that was never created is
//! [`StateDataError::UnknownTable`], on both backends alike.
//!
//! Expired rows are invisible to reads, and deleted when the store opens and then at most
//! once a minute, by the next write. Every SQLite call runs on tokio's blocking pool, never on
//! an async worker thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::{StateDataError, StateDataStore, StoreFuture, StoredItem};
use crate::sqlite_file::{self, Synchronous};

/// The table a caller gets when it names none (`ORKESTRA_STATE_TABLE` in AWS).
pub const DEFAULT_TABLE: &str = "orkestra-state";

/// The component name under which the state data tables are versioned in the file.
pub const COMPONENT: &str = "state_data";

/// Seconds between two sweeps of expired rows.
const SWEEP_INTERVAL_SECS: i64 = 60;

const MIGRATIONS: &[&str] = &["CREATE TABLE state_data_tables (
         name TEXT PRIMARY KEY
     ) WITHOUT ROWID;
     CREATE TABLE state_data_items (
         table_name TEXT NOT NULL,
         partition_key TEXT NOT NULL,
         sort_key INTEGER NOT NULL,
         data BLOB NOT NULL,
         expires_at INTEGER NOT NULL,
         PRIMARY KEY (table_name, partition_key, sort_key)
     ) WITHOUT ROWID;
     CREATE INDEX state_data_items_expiry ON state_data_items (expires_at);"];

/// A [`StateDataStore`] on the project's SQLite file (`.orkestra/orkestra.db` or `$ORKESTRA_DB`).
///
/// ```
/// use orkestra::state_data::{SqliteStateStore, StateDataStore, StoredItem};
/// # let rt = tokio::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let dir = std::env::temp_dir().join(format!("orkestra-state-doc-{}", std::process::id()));
/// let store = SqliteStateStore::open(dir.join("doc.db")).unwrap();
/// let item = StoredItem { index: 0, data: br#"{"name":"jerry"}"#.to_vec() };
/// store.put("orkestra-state", "exec-1:characters", item.clone(), i64::MAX).await.unwrap();
/// let read = store.get("orkestra-state", "exec-1:characters", 0).await.unwrap();
/// assert_eq!(read, Some(item));
/// # let _ = std::fs::remove_dir_all(dir);
/// # });
/// ```
#[derive(Clone)]
pub struct SqliteStateStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Unix time of the last sweep of expired rows.
    last_sweep: AtomicI64,
}

impl std::fmt::Debug for SqliteStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStateStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// Now, as a Unix time in seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn backend(operation: &'static str, table: &str, e: impl std::fmt::Display) -> StateDataError {
    StateDataError::Backend {
        backend: "sqlite",
        operation,
        table: table.to_string(),
        message: e.to_string(),
    }
}

impl SqliteStateStore {
    /// Opens (creating if needed) the state data tables in the SQLite file at `path`, and
    /// deletes the rows that have expired.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateDataError> {
        let path = path.as_ref().to_path_buf();
        let file = path.display().to_string();
        let mut conn = sqlite_file::open_connection(&path, Synchronous::Normal)
            .map_err(|e| backend("open", &file, e))?;
        sqlite_file::migrate_component(&mut conn, &path, COMPONENT, MIGRATIONS)
            .map_err(|e| backend("open", &file, e))?;
        conn.execute(
            "INSERT OR IGNORE INTO state_data_tables (name) VALUES (?1)",
            [DEFAULT_TABLE],
        )
        .map_err(|e| backend("open", &file, e))?;
        let now = unix_now();
        sweep(&conn, now).map_err(|e| backend("open", &file, e))?;
        Ok(SqliteStateStore {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
                last_sweep: AtomicI64::new(now),
            }),
        })
    }

    /// Opens the project's default file: `$ORKESTRA_DB`, else `.orkestra/orkestra.db`.
    pub fn open_default() -> Result<Self, StateDataError> {
        Self::open(sqlite_file::default_path())
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Creates the state data table `name` in this file (nothing happens if it exists): the
    /// local counterpart of provisioning a DynamoDB table, for workflows that write global
    /// items to a table of their own.
    ///
    /// ```
    /// use orkestra::state_data::{SqliteStateStore, StateDataStore, StoredItem};
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let dir = std::env::temp_dir().join(format!("orkestra-create-doc-{}", std::process::id()));
    /// let store = SqliteStateStore::open(dir.join("doc.db")).unwrap();
    /// let item = StoredItem { index: 0, data: b"1".to_vec() };
    /// assert!(store.put("reports", "exec-1:total", item.clone(), i64::MAX).await.is_err());
    /// store.create_table("reports").await.unwrap();
    /// store.put("reports", "exec-1:total", item, i64::MAX).await.unwrap();
    /// # let _ = std::fs::remove_dir_all(dir);
    /// # });
    /// ```
    pub async fn create_table(&self, name: &str) -> Result<(), StateDataError> {
        let table = name.to_string();
        self.blocking("create_table", name, move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO state_data_tables (name) VALUES (?1)",
                [&table],
            )
            .map(drop)
            .map_err(|e| backend("create_table", &table, e))
        })
        .await
    }

    /// Deletes every expired row now; returns how many were deleted.
    pub async fn delete_expired(&self) -> Result<u64, StateDataError> {
        self.blocking("delete_expired", DEFAULT_TABLE, |conn| {
            let now = unix_now();
            sweep(conn, now)
        })
        .await
    }

    /// Runs `work` on the connection on tokio's blocking pool.
    fn blocking<'a, T: Send + 'static>(
        &'a self,
        operation: &'static str,
        table: &'a str,
        work: impl FnOnce(&mut Connection) -> Result<T, StateDataError> + Send + 'static,
    ) -> StoreFuture<'a, T> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
                work(&mut conn)
            })
            .await
            .map_err(|e| backend(operation, table, e))?
        })
    }

    /// Sweeps expired rows when the last sweep is more than a minute old.
    fn maybe_sweep(inner: &Inner, conn: &Connection) {
        let now = unix_now();
        let last = inner.last_sweep.load(Ordering::Relaxed);
        if now - last >= SWEEP_INTERVAL_SECS
            && inner
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            if let Err(e) = sweep(conn, now) {
                tracing::warn!(error = %e, "state data: deleting expired rows failed");
            }
        }
    }
}

fn sweep(conn: &Connection, now: i64) -> Result<u64, StateDataError> {
    conn.execute("DELETE FROM state_data_items WHERE expires_at <= ?1", [now])
        .map(|n| n as u64)
        .map_err(|e| backend("delete_expired", "*", e))
}

fn ensure_known(
    conn: &Connection,
    table: &str,
    operation: &'static str,
) -> Result<(), StateDataError> {
    let known = conn
        .query_row(
            "SELECT 1 FROM state_data_tables WHERE name = ?1",
            [table],
            |_| Ok(()),
        )
        .optional()
        .map_err(|e| backend(operation, table, e))?;
    match known {
        Some(()) => Ok(()),
        None => Err(StateDataError::UnknownTable {
            table: table.to_string(),
        }),
    }
}

fn write_rows(
    conn: &mut Connection,
    table: &str,
    partition_key: &str,
    items: &[StoredItem],
    expires_at: i64,
    operation: &'static str,
) -> Result<(), StateDataError> {
    let err = |e: rusqlite::Error| backend(operation, table, e);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    ensure_known(&tx, table, operation)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO state_data_items (table_name, partition_key, sort_key, data, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (table_name, partition_key, sort_key)
                 DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            )
            .map_err(err)?;
        for item in items {
            let index = i64::try_from(item.index).map_err(|_| {
                backend(
                    operation,
                    table,
                    format!("index {} is too large", item.index),
                )
            })?;
            insert
                .execute(params![table, partition_key, index, item.data, expires_at])
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

impl StateDataStore for SqliteStateStore {
    fn default_table(&self) -> &str {
        DEFAULT_TABLE
    }

    fn put<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        item: StoredItem,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        self.put_many(table, partition_key, vec![item], expires_at)
    }

    fn put_many<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        items: Vec<StoredItem>,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        let (t, pk, inner) = (
            table.to_string(),
            partition_key.to_string(),
            self.inner.clone(),
        );
        self.blocking("put", table, move |conn| {
            write_rows(conn, &t, &pk, &items, expires_at, "put")?;
            SqliteStateStore::maybe_sweep(&inner, conn);
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: u64,
    ) -> StoreFuture<'a, Option<StoredItem>> {
        let (t, pk) = (table.to_string(), partition_key.to_string());
        self.blocking("get", table, move |conn| {
            ensure_known(conn, &t, "get")?;
            let Ok(sort_key) = i64::try_from(index) else {
                return Ok(None);
            };
            conn.prepare_cached(
                "SELECT data FROM state_data_items
                 WHERE table_name = ?1 AND partition_key = ?2 AND sort_key = ?3 AND expires_at > ?4",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![t, pk, sort_key, unix_now()], |r| r.get(0))
                    .optional()
            })
            .map(|data| data.map(|data| StoredItem { index, data }))
            .map_err(|e| backend("get", &t, e))
        })
    }

    fn get_all<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
    ) -> StoreFuture<'a, Vec<StoredItem>> {
        let (t, pk) = (table.to_string(), partition_key.to_string());
        self.blocking("get_all", table, move |conn| {
            ensure_known(conn, &t, "get_all")?;
            let err = |e: rusqlite::Error| backend("get_all", &t, e);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT sort_key, data FROM state_data_items
                     WHERE table_name = ?1 AND partition_key = ?2 AND expires_at > ?3
                     ORDER BY sort_key",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map(params![t, pk, unix_now()], |r| {
                    Ok(StoredItem {
                        index: r.get::<_, i64>(0)? as u64,
                        data: r.get(1)?,
                    })
                })
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
    }

    fn delete<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: Option<u64>,
    ) -> StoreFuture<'a, u64> {
        let (t, pk) = (table.to_string(), partition_key.to_string());
        self.blocking("delete", table, move |conn| {
            ensure_known(conn, &t, "delete")?;
            let err = |e: rusqlite::Error| backend("delete", &t, e);
            let removed = match index {
                Some(index) => conn.execute(
                    "DELETE FROM state_data_items
                     WHERE table_name = ?1 AND partition_key = ?2 AND sort_key = ?3",
                    params![t, pk, i64::try_from(index).unwrap_or(i64::MAX)],
                ),
                None => conn.execute(
                    "DELETE FROM state_data_items WHERE table_name = ?1 AND partition_key = ?2",
                    params![t, pk],
                ),
            }
            .map_err(err)?;
            Ok(removed as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store(name: &str) -> (SqliteStateStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "orkestra-state-sqlite-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("t.db");
        (SqliteStateStore::open(&path).unwrap(), path)
    }

    fn item(index: u64, text: &str) -> StoredItem {
        StoredItem {
            index,
            data: text.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn expired_rows_are_invisible_and_deleted_on_open() {
        let (store, path) = temp_store("expiry");
        let past = unix_now() - 1;
        store
            .put_many(DEFAULT_TABLE, "e:k", vec![item(0, "1"), item(1, "2")], past)
            .await
            .unwrap();
        store
            .put(DEFAULT_TABLE, "e:k", item(2, "3"), i64::MAX)
            .await
            .unwrap();
        assert_eq!(store.get(DEFAULT_TABLE, "e:k", 0).await.unwrap(), None);
        let all = store.get_all(DEFAULT_TABLE, "e:k").await.unwrap();
        assert_eq!(all, vec![item(2, "3")]);
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM state_data_items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3, "expired rows stay until a sweep");
        let reopened = SqliteStateStore::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM state_data_items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "opening deletes expired rows");
        drop(reopened);
    }

    #[tokio::test]
    async fn tables_exist_once_created_and_are_versioned_as_a_component() {
        let (store, path) = temp_store("tables");
        let err = store.get("other", "e:k", 0).await.unwrap_err();
        assert!(
            matches!(&err, StateDataError::UnknownTable { table } if table == "other"),
            "{err}"
        );
        let err = store
            .put("other", "e:k", item(0, "1"), i64::MAX)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StateDataError::UnknownTable { table } if table == "other"),
            "a write does not create a table: {err}"
        );
        store.create_table("other").await.unwrap();
        store
            .put("other", "e:k", item(0, "1"), i64::MAX)
            .await
            .unwrap();
        assert_eq!(
            store.get("other", "e:k", 0).await.unwrap(),
            Some(item(0, "1"))
        );
        // The same partition in the default table is a different row.
        assert_eq!(store.get(DEFAULT_TABLE, "e:k", 0).await.unwrap(), None);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            sqlite_file::component_version(&conn, COMPONENT).unwrap(),
            MIGRATIONS.len() as i64
        );
    }

    #[tokio::test]
    async fn delete_removes_one_row_or_the_partition() {
        let (store, _) = temp_store("delete");
        let rows = (0..4).map(|i| item(i, "x")).collect();
        store
            .put_many(DEFAULT_TABLE, "e:k", rows, i64::MAX)
            .await
            .unwrap();
        assert_eq!(
            store.delete(DEFAULT_TABLE, "e:k", Some(1)).await.unwrap(),
            1
        );
        assert_eq!(store.get_all(DEFAULT_TABLE, "e:k").await.unwrap().len(), 3);
        assert_eq!(store.delete(DEFAULT_TABLE, "e:k", None).await.unwrap(), 3);
        assert!(store
            .get_all(DEFAULT_TABLE, "e:k")
            .await
            .unwrap()
            .is_empty());
    }
}
