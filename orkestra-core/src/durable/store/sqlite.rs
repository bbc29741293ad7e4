//! The embedded default store: one SQLite file (WAL), written by a writer thread that batches
//! writes into one transaction each (group commit).

use super::{
    CheckpointStore, Commit, ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord,
    OperationStatus, OperationType, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The schema version this module migrates to (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;
/// The most writes folded into one transaction.
const MAX_BATCH: usize = 8192;

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=NORMAL`: survives a killed process (WAL); the default.
    #[default]
    Normal,
    /// `synchronous=FULL`: also survives power loss.
    Full,
}

enum Msg {
    Op {
        execution_id: String,
        record: OperationRecord,
        done: Option<oneshot::Sender<Result<(), StoreError>>>,
    },
    Execution {
        record: ExecutionRecord,
        done: Option<oneshot::Sender<Result<(), StoreError>>>,
    },
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// A [`CheckpointStore`] on one SQLite file.
///
/// ```
/// use orkestra_core::durable::{CheckpointStore, SqliteStore};
/// let dir = std::env::temp_dir().join(format!("orkestra-doc-{}", std::process::id()));
/// let store = SqliteStore::open(dir.join("doc.db")).unwrap();
/// assert!(store.list_executions().unwrap().is_empty());
/// # let _ = std::fs::remove_dir_all(dir);
/// ```
pub struct SqliteStore {
    path: PathBuf,
    tx: Mutex<mpsc::Sender<Msg>>,
    reader: Mutex<Connection>,
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

fn db_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database {
        path: path.display().to_string(),
        message: e.to_string(),
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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| db_err(&path, e))?;
        }
        let writer = open_connection(&path, sync)?;
        migrate(&writer, &path)?;
        // A background thread runs passive checkpoints (their fsync stays out of commits); the
        // writer only checkpoints itself as a backstop once the WAL is large (10,000 pages),
        // which lets the WAL restart under sustained writes. The file is truncated to 64 MB.
        writer
            .execute_batch("PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864;")
            .map_err(|e| db_err(&path, e))?;
        let reader = open_connection(&path, sync)?;
        let checkpointer = open_connection(&path, sync)?;
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
        std::thread::Builder::new()
            .name("orkestra-checkpoint-writer".into())
            .spawn(move || writer_loop(writer, rx, writer_path))
            .map_err(|e| db_err(&path, e))?;
        Ok(SqliteStore {
            path,
            tx: Mutex::new(tx),
            reader: Mutex::new(reader),
            _checkpointer: stop,
        })
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, make: impl FnOnce(oneshot::Sender<Result<(), StoreError>>) -> Msg) -> Commit {
        let (done, rx) = oneshot::channel();
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match tx.send(make(done)) {
            Ok(()) => Commit::pending(rx),
            Err(_) => Commit::ready(Err(StoreError::Closed)),
        }
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn open_connection(path: &Path, sync: Synchronous) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
    let sync = match sync {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000;
         PRAGMA cache_size=-65536;"
    ))
    .map_err(|e| db_err(path, e))?;
    Ok(conn)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; later features append steps here.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| db_err(path, e))?;
    if version > SCHEMA_VERSION {
        return Err(db_err(
            path,
            format!("schema version {version} is newer than this build ({SCHEMA_VERSION})"),
        ));
    }
    if version < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS durable_executions (
                 id TEXT PRIMARY KEY, handler TEXT NOT NULL, status TEXT NOT NULL,
                 input TEXT NOT NULL, result TEXT, error TEXT);
             CREATE TABLE IF NOT EXISTS durable_operations (
                 execution_id TEXT NOT NULL, op_id TEXT NOT NULL, seq INTEGER NOT NULL,
                 parent_id TEXT, op_type TEXT NOT NULL, sub_type TEXT, name TEXT,
                 status TEXT NOT NULL, result TEXT, error TEXT, attempt INTEGER NOT NULL,
                 PRIMARY KEY (execution_id, op_id)) WITHOUT ROWID;
             PRAGMA user_version = 1;
             COMMIT;",
        )
        .map_err(|e| db_err(path, e))?;
    }
    Ok(())
}

/// How long a batch of writes nobody waits for may linger to collect more writes.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

fn nobody_waits(batch: &[Msg]) -> bool {
    batch.iter().all(|m| match m {
        Msg::Op { done, .. } | Msg::Execution { done, .. } => {
            done.as_ref().is_none_or(|d| d.is_closed())
        }
        Msg::Flush(_) => false,
    })
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Msg>, path: PathBuf) {
    let mut next_seq: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM durable_operations",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut coalesce = Coalesce::default();
    loop {
        // Spin briefly before sleeping: a waiting step is usually about to send its next write.
        let mut first = None;
        for _ in 0..200 {
            match rx.try_recv() {
                Ok(m) => {
                    first = Some(m);
                    break;
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
                Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        let first = match first {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        batch.push(first);
        loop {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            // Group commit: writes nobody waits for (e.g. a step's START) wait a moment for
            // the write that must be durable, so both share one transaction.
            if batch.len() >= MAX_BATCH || !nobody_waits(&batch) {
                break;
            }
            match rx.recv_timeout(LINGER) {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let result = write_batch(&mut conn, &batch, &mut next_seq, &mut coalesce)
            .map_err(|e| db_err(&path, e));
        if let Err(e) = &result {
            tracing::error!(error = %e, "checkpoint batch failed");
        }
        for msg in batch.drain(..) {
            let done = match msg {
                Msg::Op { done, .. } | Msg::Execution { done, .. } => done,
                Msg::Flush(done) => Some(done),
            };
            if let Some(done) = done {
                let _ = done.send(result.clone());
            }
        }
    }
}

/// FNV-1a: keys are short ids, and SipHash dominated batch bookkeeping.
#[derive(Clone, Copy, Default)]
struct Fnv;

struct FnvHasher(u64);

impl BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn error_json(e: &Option<ErrorObject>) -> Option<String> {
    e.as_ref()
        .map(|e| serde_json::to_string(e).expect("ErrorObject serializes"))
}

/// Per-batch bookkeeping kept across batches (cleared, never freed: no allocation churn).
#[derive(Default)]
struct Coalesce {
    /// Hash of (execution, operation) → index of its last write in the batch.
    last: HashMap<u64, usize, Fnv>,
    /// Hash of (execution, operation) → index of the write that was stored for it.
    written: HashMap<u64, usize, Fnv>,
}

fn op_key(msg: &Msg) -> Option<(u64, &str, &str)> {
    match msg {
        Msg::Op {
            execution_id,
            record,
            ..
        } => {
            let mut h = Fnv.build_hasher();
            h.write(execution_id.as_bytes());
            h.write(&[0xff]);
            h.write(record.id.as_bytes());
            Some((h.finish(), execution_id.as_str(), record.id.as_str()))
        }
        _ => None,
    }
}

fn same_op(batch: &[Msg], index: usize, exec: &str, op: &str) -> bool {
    op_key(&batch[index]).is_some_and(|(_, e, o)| e == exec && o == op)
}

fn write_batch(
    conn: &mut Connection,
    batch: &[Msg],
    next_seq: &mut i64,
    co: &mut Coalesce,
) -> rusqlite::Result<()> {
    // Several writes of one operation in a batch: write the last one's content at the first
    // one's position (keeping first-write order) and skip the rest. Keys are hashes; a hash
    // collision between different operations is detected and both are written as they are.
    co.last.clear();
    co.written.clear();
    for (i, msg) in batch.iter().enumerate() {
        if let Some((k, _, _)) = op_key(msg) {
            co.last.insert(k, i);
        }
    }
    let tx = conn.transaction()?;
    {
        let mut op = tx.prepare(
            "INSERT INTO durable_operations
                 (execution_id, op_id, seq, parent_id, op_type, sub_type, name, status, result, error, attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(execution_id, op_id) DO UPDATE SET
                 status = excluded.status, result = excluded.result,
                 error = excluded.error, attempt = excluded.attempt",
        )?;
        let mut ex = tx.prepare(
            "INSERT OR REPLACE INTO durable_executions (id, handler, status, input, result, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (i, msg) in batch.iter().enumerate() {
            match msg {
                Msg::Op {
                    execution_id,
                    record,
                    ..
                } => {
                    let (k, e, o) = op_key(msg).expect("an Op message has a key");
                    let source = match co.written.get(&k) {
                        Some(&w) if same_op(batch, w, e, o) => continue,
                        Some(_) => i,
                        None => match co.last.get(&k) {
                            Some(&l) if same_op(batch, l, e, o) => {
                                co.written.insert(k, i);
                                l
                            }
                            _ => i,
                        },
                    };
                    let _ = record;
                    let Msg::Op { record: r, .. } = &batch[source] else {
                        unreachable!("indexed Op messages only")
                    };
                    *next_seq += 1;
                    op.execute(params![
                        execution_id,
                        r.id,
                        *next_seq,
                        r.parent_id,
                        r.op_type.as_str(),
                        r.sub_type,
                        r.name,
                        r.status.as_str(),
                        r.result,
                        error_json(&r.error),
                        r.attempt
                    ])?;
                }
                Msg::Execution { record: r, .. } => {
                    ex.execute(params![
                        r.id,
                        r.handler,
                        r.status.as_str(),
                        r.input,
                        r.result,
                        error_json(&r.error)
                    ])?;
                }
                Msg::Flush(_) => {}
            }
        }
    }
    tx.commit()
}

fn parse_error(
    table: &'static str,
    text: Option<String>,
) -> Result<Option<ErrorObject>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
            table,
            message: format!("error column {t:?}: {e}"),
        })
    })
    .transpose()
}

type ExecRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn execution_from_row(row: ExecRow) -> Result<ExecutionRecord, StoreError> {
    let (id, handler, status, input, result, error) = row;
    let status = InvocationStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
        table: "durable_executions",
        message: format!("execution {id}: unknown status {status:?}"),
    })?;
    Ok(ExecutionRecord {
        id,
        handler,
        status,
        input,
        result,
        error: parse_error("durable_executions", error)?,
    })
}

impl CheckpointStore for SqliteStore {
    fn put_execution(&self, record: ExecutionRecord) -> Commit {
        self.send(|done| Msg::Execution {
            record,
            done: Some(done),
        })
    }

    fn checkpoint(&self, execution_id: &str, record: OperationRecord) -> Commit {
        let execution_id = execution_id.to_string();
        self.send(|done| Msg::Op {
            execution_id,
            record,
            done: Some(done),
        })
    }

    fn flush(&self) -> Commit {
        self.send(Msg::Flush)
    }

    fn get_execution(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let conn = self.reader();
        let row: Option<ExecRow> = conn
            .query_row(
                "SELECT id, handler, status, input, result, error FROM durable_executions WHERE id = ?1",
                [execution_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()
            .map_err(|e| db_err(&self.path, e))?;
        row.map(execution_from_row).transpose()
    }

    fn list_executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare("SELECT id, handler, status, input, result, error FROM durable_executions ORDER BY rowid")
            .map_err(|e| db_err(&self.path, e))?;
        let rows: Vec<ExecRow> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| db_err(&self.path, e))?;
        rows.into_iter().map(execution_from_row).collect()
    }

    fn load_operation(
        &self,
        execution_id: &str,
        op_id: &str,
    ) -> Result<Option<OperationRecord>, StoreError> {
        Ok(self
            .query_operations(execution_id, Some(op_id))?
            .into_iter()
            .next())
    }

    fn load_operations(&self, execution_id: &str) -> Result<Vec<OperationRecord>, StoreError> {
        self.query_operations(execution_id, None)
    }
}

impl SqliteStore {
    fn query_operations(
        &self,
        execution_id: &str,
        op_id: Option<&str>,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare(
                "SELECT op_id, parent_id, op_type, sub_type, name, status, result, error, attempt, seq
                 FROM durable_operations WHERE execution_id = ?1 AND (?2 IS NULL OR op_id = ?2)",
            )
            .map_err(|e| db_err(&self.path, e))?;
        let mut rows = stmt
            .query(params![execution_id, op_id])
            .map_err(|e| db_err(&self.path, e))?;
        let mut out: Vec<(i64, OperationRecord)> = Vec::new();
        while let Some(r) = rows.next().map_err(|e| db_err(&self.path, e))? {
            let get = |i: usize| -> Result<Option<String>, StoreError> {
                r.get(i).map_err(|e| db_err(&self.path, e))
            };
            let id = get(0)?.unwrap_or_default();
            let corrupt = |what: &str| StoreError::Corrupt {
                table: "durable_operations",
                message: format!("operation {id}: {what}"),
            };
            let op_type = get(2)?.unwrap_or_default();
            let status = get(5)?.unwrap_or_default();
            let seq: i64 = r.get(9).map_err(|e| db_err(&self.path, e))?;
            out.push((
                seq,
                OperationRecord {
                    parent_id: get(1)?,
                    op_type: OperationType::parse(&op_type)
                        .ok_or_else(|| corrupt(&format!("unknown type {op_type:?}")))?,
                    sub_type: get(3)?,
                    name: get(4)?,
                    status: OperationStatus::parse(&status)
                        .ok_or_else(|| corrupt(&format!("unknown status {status:?}")))?,
                    result: get(6)?,
                    error: parse_error("durable_operations", get(7)?)?,
                    attempt: r.get(8).map_err(|e| db_err(&self.path, e))?,
                    id,
                },
            ));
        }
        // First-write order (sorting here is cheaper than SQLite's sorter on wide rows).
        out.sort_unstable_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }
}
