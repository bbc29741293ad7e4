//! The writer thread: takes writes from a channel and commits them in batches, one
//! transaction each (group commit), answering every write's [`Commit`](super::super::Commit)
//! once its batch is durable.

use super::db_err;
use super::fnv::Fnv;
use super::packed::{Field, PackedOp};
use crate::durable::store::{ErrorObject, ExecutionRecord, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The most writes folded into one transaction.
const MAX_BATCH: usize = 8192;
/// How long a batch of writes nobody waits for may linger to collect more writes.
const LINGER: Duration = Duration::from_millis(2);

/// Where a write's outcome is reported (`None`: nobody asked).
pub(super) type Done = Option<oneshot::Sender<Result<(), StoreError>>>;

/// One request to the writer.
pub(super) enum Msg {
    Op { op: PackedOp, done: Done },
    Execution { record: ExecutionRecord, done: Done },
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// Runs until every sender is gone.
pub(super) fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Msg>, path: PathBuf) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut state = WriterState::default();
    while let Some(first) = next_message(&rx) {
        batch.push(first);
        collect_batch(&rx, &mut batch);
        let result = write_batch(&mut conn, &batch, &mut state).map_err(|e| db_err(&path, e));
        if let Err(e) = &result {
            // The transaction rolled back: keys interned in it are gone too.
            state.exec_keys.clear();
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

/// How long the writer polls for the next write before it sleeps: a step that waited for its
/// commit usually sends its next write within microseconds, and waking a sleeping thread costs
/// more than that.
const SPIN: Duration = Duration::from_micros(SPIN_MICROS);
const SPIN_MICROS: u64 = 100;

/// The next message, polling for [`SPIN`] before sleeping. `None` once every sender is gone.
fn next_message(rx: &mpsc::Receiver<Msg>) -> Option<Msg> {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            match rx.try_recv() {
                Ok(m) => return Some(m),
                Err(mpsc::TryRecvError::Disconnected) => return None,
                Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        if start.elapsed() >= SPIN {
            return rx.recv().ok();
        }
    }
}

/// Adds whatever is queued to `batch`; a batch nobody waits for lingers a moment for the write
/// that must be durable (e.g. a step's START for its SUCCEED), so both share one transaction.
fn collect_batch(rx: &mpsc::Receiver<Msg>, batch: &mut Vec<Msg>) {
    let mut someone_waits = batch.iter().any(is_awaited);
    loop {
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => {
                    someone_waits |= is_awaited(&m);
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        if batch.len() >= MAX_BATCH || someone_waits {
            return;
        }
        match rx.recv_timeout(LINGER) {
            Ok(m) => {
                someone_waits |= is_awaited(&m);
                batch.push(m);
            }
            Err(_) => return,
        }
    }
}

/// Whether someone waits for this write to be durable (its [`Commit`](super::super::Commit)
/// is still held, or it is a flush).
fn is_awaited(msg: &Msg) -> bool {
    match msg {
        Msg::Op { done, .. } | Msg::Execution { done, .. } => {
            done.as_ref().is_some_and(|d| !d.is_closed())
        }
        Msg::Flush(_) => true,
    }
}

/// Bookkeeping kept across batches (cleared, never freed: no allocation churn).
#[derive(Default)]
struct WriterState {
    /// Execution id → its interned key (valid while no transaction has rolled back).
    exec_keys: HashMap<String, i64>,
    /// Hash of (execution, operation) → index of its last write in the batch.
    last: HashMap<u64, usize, Fnv>,
    /// Hash of (execution, operation) → index of the write that was stored for it.
    written: HashMap<u64, usize, Fnv>,
    /// Each batch message's (execution, operation) hash (0 for other messages).
    hashes: Vec<u64>,
}

fn error_json(e: &Option<ErrorObject>) -> Option<String> {
    e.as_ref()
        .map(|e| serde_json::to_string(e).expect("ErrorObject serializes"))
}

/// The (execution, operation) ids an operation write is keyed by.
fn op_ids(msg: &Msg) -> Option<(&str, &str)> {
    match msg {
        Msg::Op { op, .. } => Some((op.execution_id(), op.op_id())),
        _ => None,
    }
}

fn hash_ids((exec, op): (&str, &str)) -> u64 {
    let mut h = Fnv.build_hasher();
    h.write(exec.as_bytes());
    h.write(&[0xff]);
    h.write(op.as_bytes());
    h.finish()
}

/// The integer key of `execution_id`, interning it on first use.
fn exec_key(
    tx: &Transaction<'_>,
    keys: &mut HashMap<String, i64>,
    execution_id: &str,
) -> rusqlite::Result<i64> {
    if let Some(&k) = keys.get(execution_id) {
        return Ok(k);
    }
    let found: Option<i64> = tx
        .prepare_cached("SELECT key FROM durable_execution_keys WHERE id = ?1")?
        .query_row([execution_id], |r| r.get(0))
        .optional()?;
    let key = match found {
        Some(k) => k,
        None => {
            tx.prepare_cached("INSERT INTO durable_execution_keys (id) VALUES (?1)")?
                .execute([execution_id])?;
            tx.last_insert_rowid()
        }
    };
    keys.insert(execution_id.to_string(), key);
    Ok(key)
}

fn write_batch(
    conn: &mut Connection,
    batch: &[Msg],
    state: &mut WriterState,
) -> rusqlite::Result<()> {
    // Several writes of one operation in a batch: append the last one's content at the first
    // one's position (keeping first-write order) and skip the rest. Keys are hashes; a hash
    // collision between different operations is detected and both are written as they are.
    state.last.clear();
    state.written.clear();
    state.hashes.clear();
    for (i, msg) in batch.iter().enumerate() {
        let hash = op_ids(msg).map(hash_ids);
        if let Some(h) = hash {
            state.last.insert(h, i);
        }
        state.hashes.push(hash.unwrap_or(0));
    }
    let tx = conn.transaction()?;
    {
        let mut op = tx.prepare_cached(
            "INSERT INTO durable_operation_log
                 (exec_key, op_id, parent_id, op_type, sub_type, name, status, result, error, attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut ex = tx.prepare_cached(
            "INSERT INTO durable_executions
                 (id, handler, status, input, result, error, started_ms, ended_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET handler = excluded.handler,
                 status = excluded.status, input = excluded.input,
                 result = excluded.result, error = excluded.error,
                 started_ms = excluded.started_ms, ended_ms = excluded.ended_ms",
        )?;
        for (i, msg) in batch.iter().enumerate() {
            match msg {
                Msg::Op { op: this, .. } => {
                    let (k, ids) = (state.hashes[i], op_ids(msg));
                    let same_op = |j: usize| op_ids(&batch[j]) == ids;
                    let source = match state.written.get(&k) {
                        Some(&w) if same_op(w) => continue,
                        Some(_) => i,
                        None => match state.last.get(&k) {
                            Some(&l) if same_op(l) => {
                                state.written.insert(k, i);
                                l
                            }
                            _ => i,
                        },
                    };
                    let Msg::Op { op: r, .. } = &batch[source] else {
                        unreachable!("indexed Op messages only")
                    };
                    let key = exec_key(&tx, &mut state.exec_keys, this.execution_id())?;
                    op.execute(params![
                        key,
                        r.op_id(),
                        r.get(Field::ParentId),
                        r.op_type.as_str(),
                        r.get(Field::SubType),
                        r.get(Field::Name),
                        r.status.as_str(),
                        r.get(Field::Result),
                        r.get(Field::Error),
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
                        error_json(&r.error),
                        r.started_ms.map(|ms| ms as i64),
                        r.ended_ms.map(|ms| ms as i64)
                    ])?;
                }
                Msg::Flush(_) => {}
            }
        }
    }
    tx.commit()
}
