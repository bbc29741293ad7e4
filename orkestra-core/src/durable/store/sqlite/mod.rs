//! The embedded default store: one SQLite file (WAL), written by a writer thread that batches
//! writes into one transaction each (group commit).

mod busy;
mod check;
mod due;
pub(crate) mod fnv;
mod lease;
mod packed;
mod read;
pub(crate) mod schema;
mod stops;
mod writer;

use super::{CheckpointStore, Commit, ExecutionRecord, OperationRecord, StoreError};
use crate::durable::owner::Ownership;
use crate::durable::step::BoxFuture;
pub use check::{CheckProblem, CheckReport};
use packed::PackedOp;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use stops::Stops;
use tokio::sync::oneshot;
use writer::Msg;

pub use crate::sqlite_file::Synchronous;

/// A [`CheckpointStore`] on one SQLite file.
///
/// ```
/// use orkestra::durable::{CheckpointStore, SqliteStore};
/// let dir = std::env::temp_dir().join(format!("orkestra-doc-{}", std::process::id()));
/// let store = SqliteStore::open(dir.join("doc.db")).unwrap();
/// assert!(store.list_executions().unwrap().is_empty());
/// # let _ = std::fs::remove_dir_all(dir);
/// ```
pub struct SqliteStore {
    path: PathBuf,
    /// The writer thread's queue (`Sender` is `Sync`: callers send without a lock).
    tx: mpsc::Sender<Msg>,
    reader: Mutex<Connection>,
    /// Why writes are refused (a store fault, lost leases), shared with the writer.
    stops: Arc<Stops>,
    /// How many messages the writer has not answered yet, and the writer's signal that it
    /// answered some (backpressure for writes nobody awaits).
    queue: Arc<writer::Queue>,
    /// Dropping it stops the WAL checkpointer thread.
    _checkpointer: mpsc::Sender<()>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// Adds why the file cannot be written, when that is the cause (SQLite says only "unable to
/// open database file" or "attempt to write a readonly database" on a read-only file system).
pub(super) fn explain_fault(path: &Path, error: StoreError) -> StoreError {
    let probe = if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
    } else {
        Ok(())
    };
    match (error, probe) {
        (StoreError::Database { path, message }, Err(why)) => StoreError::Database {
            path,
            message: format!("{message} (the file is not writable: {why})"),
        },
        (error, _) => error,
    }
}

fn db_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A failed read: [`StoreError::Busy`] when another connection's lock is in the way (the
/// read is retried), [`StoreError::Database`] otherwise.
fn read_err(path: &Path, e: rusqlite::Error) -> StoreError {
    if busy::is_busy(&e) {
        StoreError::Busy {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    } else {
        db_err(path, e)
    }
}

impl SqliteStore {
    /// The default location: `$ORKESTRA_DB`, else `.orkestra/orkestra.db` under the working
    /// directory.
    pub fn default_path() -> PathBuf {
        match std::env::var_os("ORKESTRA_DB") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(".orkestra").join("orkestra.db"),
        }
    }

    /// Opens (creating if needed) the store at [`SqliteStore::default_path`].
    pub fn open_default() -> Result<Self, StoreError> {
        Self::open(Self::default_path())
    }

    /// Opens (creating if needed, migrating if older) the store at `path`, `synchronous=NORMAL`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Synchronous::Normal)
    }

    /// Opens the store at `path` with the given durability.
    pub fn open_with(path: impl AsRef<Path>, sync: Synchronous) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = schema::open_connection(&path, sync)
            .and_then(|mut writer| schema::migrate(&mut writer, &path).map(|()| writer))
            .map_err(|e| explain_fault(&path, e))?;
        // A background thread runs passive checkpoints (their fsync stays out of commits); the
        // writer only checkpoints itself as a backstop once the WAL is large (10,000 pages),
        // which lets the WAL restart under sustained writes. The file is truncated to 64 MB.
        writer
            .execute_batch("PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864;")
            .map_err(|e| db_err(&path, e))?;
        let reader = schema::open_connection(&path, sync)?;
        let checkpointer = schema::open_connection(&path, sync)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("orkestra-wal-checkpointer".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(std::time::Duration::from_millis(500))
                {
                    let _ = checkpointer.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                }
            })
            .map_err(|e| db_err(&path, e))?;
        let (tx, rx) = mpsc::channel();
        let writer_path = path.clone();
        let stops = Arc::new(Stops::default());
        let writer_stops = stops.clone();
        let queue = Arc::new(writer::Queue::default());
        let writer_queue = queue.clone();
        std::thread::Builder::new()
            .name("orkestra-checkpoint-writer".into())
            .spawn(move || {
                // However the writer ends, callers held back by the queue go on (their next
                // awaited write reports the closed writer).
                let _open = writer::QueueOpen(&writer_queue);
                writer::writer_loop(writer, rx, writer_path, writer_stops, &writer_queue)
            })
            .map_err(|e| db_err(&path, e))?;
        Ok(SqliteStore {
            path,
            tx,
            reader: Mutex::new(reader),
            stops,
            queue,
            _checkpointer: stop,
        })
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite's `PRAGMA integrity_check` on the file and validates the durable records
    /// (of `execution` only, if given): values that parse, known statuses and types, parent
    /// links, allowed status transitions. What `durable check` prints.
    ///
    /// ```
    /// use orkestra::durable::SqliteStore;
    /// let dir = std::env::temp_dir().join(format!("orkestra-check-doc-{}", std::process::id()));
    /// let store = SqliteStore::open(dir.join("doc.db")).unwrap();
    /// let report = store.check(None).unwrap();
    /// assert!(report.is_clean(), "{report:?}");
    /// # let _ = std::fs::remove_dir_all(dir);
    /// ```
    pub fn check(&self, execution: Option<&str>) -> Result<CheckReport, StoreError> {
        check::check(&self.reader(), &self.path, execution)
    }

    fn send(&self, make: impl FnOnce(oneshot::Sender<Result<(), StoreError>>) -> Msg) -> Commit {
        let (done, rx) = oneshot::channel();
        match self.post(make(done)) {
            Ok(()) => Commit::pending(rx),
            Err(_) => Commit::ready(Err(StoreError::Closed)),
        }
    }

    /// Queues `msg` for the writer, counting it until the writer answers it.
    fn post(&self, msg: Msg) -> Result<(), StoreError> {
        self.queue.len.fetch_add(1, Ordering::Relaxed);
        self.tx.send(msg).map_err(|_| {
            self.queue.len.fetch_sub(1, Ordering::Relaxed);
            StoreError::Closed
        })
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `read` on the reader connection. A busy read (another connection's lock past the
    /// busy timeout: a long writer, a killed process's WAL being recovered) is retried with the
    /// writes' backoff and faults nothing; a read that fails for good (any other error, or a
    /// lock held past the retries) stops later writes too, since what the engine would write
    /// next may depend on what it could not read.
    fn read<T>(
        &self,
        read: impl Fn(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // The connection is not held while waiting to retry.
        read_retrying(&self.stops, || read(&self.reader()))
    }
}

/// Runs `read`, retrying it while it is busy (see [`SqliteStore::read`]); a read that fails
/// for good is set as the store's fault in `stops`.
fn read_retrying<T>(
    stops: &Stops,
    mut read: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut backoff = busy::Backoff::new();
    loop {
        match read() {
            Err(StoreError::Busy { .. }) if backoff.retry() => {
                tracing::warn!("checkpoint store busy on a read; retrying");
            }
            Err(e) => {
                stops.set_fault(e.clone());
                return Err(e);
            }
            Ok(value) => return Ok(value),
        }
    }
}

impl CheckpointStore for SqliteStore {
    fn put_execution(&self, record: ExecutionRecord) -> Commit {
        self.send(|done| Msg::Execution {
            record,
            done: Some(done),
        })
    }

    fn checkpoint(&self, execution_id: &str, record: &OperationRecord) -> Commit {
        let op = PackedOp::pack(execution_id, record);
        self.send(|done| Msg::Op {
            op,
            due: None,
            done: Some(done),
        })
    }

    fn checkpoint_with_due(
        &self,
        execution_id: &str,
        record: &OperationRecord,
        change: super::DueChange,
    ) -> Commit {
        let op = PackedOp::pack(execution_id, record);
        self.send(|done| Msg::Op {
            op,
            due: Some(Box::new(change)),
            done: Some(done),
        })
    }

    fn checkpoint_nowait(&self, execution_id: &str, record: &OperationRecord) {
        let op = PackedOp::pack(execution_id, record);
        // A closed writer surfaces on the next awaited write.
        let _ = self.post(Msg::Op {
            op,
            due: None,
            done: None,
        });
    }

    fn checkpoint_ordered(&self, execution_id: &str, record: &OperationRecord) -> Commit {
        self.checkpoint_nowait(execution_id, record);
        if !self.queue.is_long() {
            return Commit::ready(Ok(()));
        }
        // The writer falls behind: the caller waits until the queue is short again, which
        // bounds it by the callers' concurrency (cheaper than awaiting each write's commit).
        let queue = self.queue.clone();
        Commit::later(async move {
            queue.drained().await;
            Ok(())
        })
    }

    fn flush(&self) -> Commit {
        self.send(Msg::Flush)
    }

    fn get_execution(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.read(|conn| read::execution(conn, &self.path, execution_id))
    }

    fn list_executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.read(|conn| read::executions(conn, &self.path))
    }

    fn load_operation(
        &self,
        execution_id: &str,
        op_id: &str,
    ) -> Result<Option<OperationRecord>, StoreError> {
        self.read(|conn| read::operation(conn, &self.path, execution_id, op_id))
    }

    fn load_operations(&self, execution_id: &str) -> Result<Vec<OperationRecord>, StoreError> {
        self.read(|conn| read::operations(conn, &self.path, execution_id))
    }

    fn acquire_lease(
        &self,
        execution_id: &str,
    ) -> BoxFuture<'static, Result<Ownership, StoreError>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let sent = self.post(Msg::Acquire {
            execution_id: execution_id.to_string(),
            done,
        });
        Box::pin(async move {
            sent?;
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn release_lease(&self, execution_id: &str) -> Commit {
        let execution_id = execution_id.to_string();
        self.send(|done| Msg::Release {
            execution_id,
            done: Some(done),
        })
    }

    fn stopped(&self, execution_id: &str) -> Option<StoreError> {
        self.stops.stopped(execution_id)
    }

    fn change_due(&self, execution_id: &str, change: super::DueChange) -> Commit {
        let execution_id = execution_id.to_string();
        self.send(|done| Msg::Due {
            execution_id,
            change,
            done: Some(done),
        })
    }

    fn due_state(&self, execution_id: &str) -> Result<Option<super::DueState>, StoreError> {
        self.read(|conn| due::state(conn, execution_id).map_err(|e| read_err(&self.path, e)))
    }

    fn due_executions(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<super::DueExecution>, StoreError> {
        self.read(|conn| due::due(conn, now_ms, limit).map_err(|e| read_err(&self.path, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_read_meeting_another_connections_lock_is_retried_and_faults_nothing() {
        let dir = std::env::temp_dir().join(format!("orkestra-busy-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("r.db");
        let mut setup = schema::open_connection(&path, Synchronous::Normal).unwrap();
        schema::migrate(&mut setup, &path).unwrap();
        drop(setup);
        // Another connection takes the file for itself (exclusive locking in WAL mode keeps
        // every other connection out, readers too, as while a killed process's WAL is
        // recovered) and lets go after 600 ms.
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch(
                "PRAGMA locking_mode=EXCLUSIVE; SELECT count(*) FROM durable_executions;",
            )
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        reader.busy_timeout(Duration::from_millis(20)).unwrap();
        let blocked = read::executions(&reader, &path);
        assert!(
            matches!(blocked, Err(StoreError::Busy { .. })),
            "the other connection's lock blocks reads: {blocked:?}"
        );
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            drop(other);
        });
        let stops = Stops::default();
        let t = Instant::now();
        let listed = read_retrying(&stops, || read::executions(&reader, &path));
        holder.join().unwrap();
        assert!(listed.unwrap().is_empty());
        assert!(
            t.elapsed() >= Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        assert!(stops.fault().is_none(), "a busy read faults nothing");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_read_that_fails_for_good_stops_later_writes() {
        let dir = std::env::temp_dir().join(format!("orkestra-bad-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("r.db");
        let store = SqliteStore::open(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "INSERT INTO durable_executions (id, handler, status, input)
                 VALUES ('x', 'h', 'RUNNING', 'not json')",
            )
            .unwrap();
        let e = store.get_execution("x").unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
        assert!(store.stopped("x").is_some());
        let _ = std::fs::remove_dir_all(dir);
    }
}
