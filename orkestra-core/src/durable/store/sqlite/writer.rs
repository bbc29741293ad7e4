//! The writer thread: takes writes from a channel and commits them in batches, one
//! transaction each (group commit), answering every write's [`Commit`](super::super::Commit)
//! once its batch is durable.

use super::busy::{is_busy, Backoff};
use super::db_err;
use super::fnv::Fnv;
use super::lease;
use super::packed::{Field, PackedOp};
use super::stops::Stops;
use crate::durable::owner::{abandon, LeaseHolder, Ownership, LEASE_RENEW_EVERY};
use crate::durable::store::{ErrorObject, ExecutionRecord, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// The most writes folded into one transaction.
pub(super) const MAX_BATCH: usize = 8192;
/// The most text (results, errors, ids) folded into one transaction.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// How long a batch of writes nobody waits for may linger to collect more writes.
const LINGER: Duration = Duration::from_millis(2);

/// Where a write's outcome is reported (`None`: nobody asked).
pub(super) type Done = Option<oneshot::Sender<Result<(), StoreError>>>;

/// One request to the writer.
pub(super) enum Msg {
    Op {
        op: PackedOp,
        /// A change to the execution's wake-up index committed in the same transaction (a
        /// completed callback and its execution becoming due).
        due: Option<Box<crate::durable::store::DueChange>>,
        done: Done,
    },
    Execution {
        record: ExecutionRecord,
        done: Done,
    },
    Flush(oneshot::Sender<Result<(), StoreError>>),
    /// Take an execution's lease for this process.
    Acquire {
        execution_id: String,
        done: oneshot::Sender<Result<Ownership, StoreError>>,
    },
    /// Give an execution's lease up.
    Release {
        execution_id: String,
        done: Done,
    },
    /// Change an execution's entry in the wake-up index (see `due.rs`).
    Due {
        execution_id: String,
        change: crate::durable::store::DueChange,
        done: Done,
    },
}

impl Msg {
    /// The execution a write belongs to (`None` for a flush).
    fn execution_id(&self) -> Option<&str> {
        match self {
            Msg::Op { op, .. } => Some(op.execution_id()),
            Msg::Execution { record, .. } => Some(&record.id),
            Msg::Acquire { execution_id, .. }
            | Msg::Release { execution_id, .. }
            | Msg::Due { execution_id, .. } => Some(execution_id),
            Msg::Flush(_) => None,
        }
    }

    /// How much text the message carries (its share of a batch's size).
    fn text_len(&self) -> usize {
        match self {
            Msg::Op { op, .. } => op.text_len(),
            Msg::Execution { record, .. } => {
                record.input.len() + record.result.as_ref().map_or(0, String::len)
            }
            _ => 0,
        }
    }

    /// Answers the message: `lease` for an acquisition, `result` for everything else.
    fn answer(self, result: Result<(), StoreError>, lease: Option<Ownership>) {
        match self {
            Msg::Op { done, .. }
            | Msg::Execution { done, .. }
            | Msg::Release { done, .. }
            | Msg::Due { done, .. } => {
                if let Some(done) = done {
                    let _ = done.send(result);
                }
            }
            Msg::Flush(done) => {
                let _ = done.send(result);
            }
            Msg::Acquire { done, .. } => {
                let _ = done.send(result.map(|()| lease.unwrap_or(Ownership::Acquired)));
            }
        }
    }
}

/// The writer's queue length: messages sent and not answered yet.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) len: AtomicUsize,
    /// Signalled when an answered batch left the queue shorter than [`Queue::LOW`].
    answered: Notify,
    /// Set once the writer has ended.
    closed: AtomicBool,
}

impl Queue {
    /// From this many queued messages on, writes nobody awaits hold their caller back.
    pub(super) const HIGH: usize = 4 * MAX_BATCH;
    /// Held-back callers go on once the queue is shorter than this (woken once, together,
    /// rather than after every batch).
    const LOW: usize = Self::HIGH / 2;

    /// Whether the queue is long enough to hold callers back.
    pub(super) fn is_long(&self) -> bool {
        self.len.load(Ordering::Relaxed) >= Self::HIGH
    }

    /// Counts `n` messages answered and wakes the held-back callers once the queue is short.
    fn answered(&self, n: usize) {
        let before = self.len.fetch_sub(n, Ordering::AcqRel);
        if before - n < Self::LOW {
            self.answered.notify_waiters();
        }
    }

    /// Completes once the queue is not long (or the writer has ended).
    pub(super) async fn drained(&self) {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            // Registered before the check, so an answer between the two is not missed.
            answered.as_mut().enable();
            if !self.is_long() || self.closed.load(Ordering::Acquire) {
                return;
            }
            answered.await;
        }
    }
}

/// Marks the queue closed when dropped (the writer thread ended, or unwound).
pub(super) struct QueueOpen<'a>(pub(super) &'a Queue);

impl Drop for QueueOpen<'_> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.answered.notify_waiters();
    }
}

/// Runs until every sender is gone.
pub(super) fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Msg>,
    path: PathBuf,
    stops: Arc<Stops>,
    queue: &Queue,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut state = WriterState {
        last_renew: Instant::now(),
        ..WriterState::default()
    };
    loop {
        let renew_in = (!state.leases.is_empty())
            .then(|| LEASE_RENEW_EVERY.saturating_sub(state.last_renew.elapsed()));
        match next_message(&rx, renew_in) {
            Next::Closed => return,
            Next::Idle => {}
            Next::Msg(first) => {
                batch.push(first);
                collect_batch(&rx, &mut batch);
            }
        }
        let answered = batch.len();
        if let Some(fault) = stops.fault() {
            for msg in batch.drain(..) {
                msg.answer(Err(fault.clone()), None);
            }
            queue.answered(answered);
            continue;
        }
        let result = write_with_retries(&mut conn, &batch, &mut state, &stops, &path);
        let mut leases = state.granted.drain(..);
        for (i, msg) in batch.drain(..).enumerate() {
            let lost = msg
                .execution_id()
                .and_then(|id| stops.stopped(id))
                .filter(|_| !matches!(msg, Msg::Acquire { .. }));
            let lease = match &msg {
                Msg::Acquire { .. } => leases.find(|(at, _)| *at == i).map(|(_, o)| o),
                _ => None,
            };
            let result = match (&result, lost) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), Some(lost)) => Err(lost),
                (Ok(()), None) => Ok(()),
            };
            msg.answer(result, lease);
        }
        queue.answered(answered);
    }
}

/// Writes `batch`, retrying it while another connection holds the write lock (with backoff,
/// up to [`BUSY_GIVE_UP`](super::busy::BUSY_GIVE_UP)); any other error, or a lock held longer, is a store fault that
/// stops every later write.
fn write_with_retries(
    conn: &mut Connection,
    batch: &[Msg],
    state: &mut WriterState,
    stops: &Stops,
    path: &std::path::Path,
) -> Result<(), StoreError> {
    let mut backoff = Backoff::new();
    loop {
        match write_batch(conn, batch, state, stops) {
            Ok(()) => return Ok(()),
            Err(e) => {
                // The transaction rolled back: keys interned in it are gone too.
                state.exec_keys.clear();
                state.granted.clear();
                if is_busy(&e) {
                    tracing::warn!(error = %e, "checkpoint store busy; retrying");
                    if backoff.retry() {
                        continue;
                    }
                }
                let message = if is_busy(&e) {
                    format!(
                        "{e} (another connection held the write lock for over {} s)",
                        backoff.elapsed().as_secs()
                    )
                } else {
                    e.to_string()
                };
                let fault = super::explain_fault(path, db_err(path, message));
                tracing::error!(error = %fault, "checkpoint store fault; writes stop");
                stops.set_fault(fault.clone());
                for owner in state.leases.values() {
                    abandon(owner);
                }
                return Err(fault);
            }
        }
    }
}

/// What the writer waits for next.
enum Next {
    Msg(Msg),
    /// Nothing arrived before the held leases are due for renewal.
    Idle,
    Closed,
}

/// How long the writer polls for the next write before it sleeps: a step that waited for its
/// commit usually sends its next write within microseconds, and waking a sleeping thread costs
/// more than that.
const SPIN: Duration = Duration::from_micros(SPIN_MICROS);
const SPIN_MICROS: u64 = 100;

/// The next message, polling for [`SPIN`] before sleeping; [`Next::Idle`] once `renew_in`
/// passes without one.
fn next_message(rx: &mpsc::Receiver<Msg>, renew_in: Option<Duration>) -> Next {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            match rx.try_recv() {
                Ok(m) => return Next::Msg(m),
                Err(mpsc::TryRecvError::Disconnected) => return Next::Closed,
                Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        if start.elapsed() >= SPIN {
            return match renew_in {
                None => rx.recv().map_or(Next::Closed, Next::Msg),
                Some(wait) => match rx.recv_timeout(wait) {
                    Ok(m) => Next::Msg(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => Next::Idle,
                    Err(mpsc::RecvTimeoutError::Disconnected) => Next::Closed,
                },
            };
        }
    }
}

/// Adds whatever is queued to `batch`; a batch nobody waits for lingers a moment (at most
/// [`LINGER`] from its start) for the write that must be durable (e.g. a step's START for its
/// SUCCEED), so both share one transaction. A steady stream of unawaited writes thus commits
/// every [`LINGER`] (or every [`MAX_BATCH`] writes, or [`MAX_BATCH_BYTES`] of text), keeping
/// what is done durable as it goes.
fn collect_batch(rx: &mpsc::Receiver<Msg>, batch: &mut Vec<Msg>) {
    let deadline = Instant::now() + LINGER;
    let mut someone_waits = batch.iter().any(is_awaited);
    let mut bytes: usize = batch.iter().map(Msg::text_len).sum();
    let full = |len: usize, bytes: usize| len >= MAX_BATCH || bytes >= MAX_BATCH_BYTES;
    loop {
        while !full(batch.len(), bytes) {
            match rx.try_recv() {
                Ok(m) => {
                    someone_waits |= is_awaited(&m);
                    bytes += m.text_len();
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        if full(batch.len(), bytes) || someone_waits {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match rx.recv_timeout(left) {
            Ok(m) => {
                someone_waits |= is_awaited(&m);
                bytes += m.text_len();
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
        Msg::Op { done, .. }
        | Msg::Execution { done, .. }
        | Msg::Release { done, .. }
        | Msg::Due { done, .. } => done.as_ref().is_some_and(|d| !d.is_closed()),
        Msg::Flush(_) | Msg::Acquire { .. } => true,
    }
}

/// Bookkeeping kept across batches (cleared, never freed: no allocation churn).
struct WriterState {
    /// Execution id → its interned key (valid while no transaction has rolled back).
    exec_keys: HashMap<String, i64>,
    /// Hash of (execution, operation) → index of its last write in the batch.
    last: HashMap<u64, usize, Fnv>,
    /// Hash of (execution, operation) → index of the write that was stored for it.
    written: HashMap<u64, usize, Fnv>,
    /// Each batch message's (execution, operation) hash (0 for other messages).
    hashes: Vec<u64>,
    /// Leases this store holds: execution id → owner id.
    leases: HashMap<String, String>,
    /// When the held leases were last renewed.
    last_renew: Instant,
    /// The batch's lease acquisitions: (message index, outcome), valid once it commits.
    granted: Vec<(usize, Ownership)>,
    /// Executions of the batch already checked against their lease, and the verdict.
    fenced: Vec<(String, bool)>,
    /// Leases found lost in the batch (applied once it commits).
    lost: Vec<String>,
    /// Leases taken (execution, owner) and given up in the batch, applied once it commits.
    taken: Vec<(String, String)>,
    released: Vec<String>,
}

impl Default for WriterState {
    fn default() -> Self {
        WriterState {
            exec_keys: HashMap::new(),
            last: HashMap::default(),
            written: HashMap::default(),
            hashes: Vec::new(),
            leases: HashMap::new(),
            last_renew: Instant::now(),
            granted: Vec::new(),
            fenced: Vec::new(),
            lost: Vec::new(),
            taken: Vec::new(),
            released: Vec::new(),
        }
    }
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

/// Whether the batch's writes of `execution_id` may go in: it is not leased by this store,
/// or this store still holds its lease (checked once per execution per batch).
fn fence(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    stops: &Stops,
    execution_id: &str,
) -> rusqlite::Result<bool> {
    if let Some((_, ok)) = state.fenced.iter().find(|(id, _)| id == execution_id) {
        return Ok(*ok);
    }
    let ok =
        if stops.stopped(execution_id).is_some() || state.lost.iter().any(|l| l == execution_id) {
            false
        } else if let Some(owner) = state.leases.get(execution_id) {
            let held = lease::holds(tx, execution_id, owner)?;
            if !held {
                state.lost.push(execution_id.to_string());
            }
            held
        } else {
            true
        };
    state.fenced.push((execution_id.to_string(), ok));
    Ok(ok)
}

fn write_batch(
    conn: &mut Connection,
    batch: &[Msg],
    state: &mut WriterState,
    stops: &Stops,
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
    state.fenced.clear();
    state.lost.clear();
    state.taken.clear();
    state.released.clear();
    state.granted.clear();
    let now_ms = ExecutionRecord::now_ms();
    // IMMEDIATE: the write lock is held from the fence checks to the commit.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let renew = !state.leases.is_empty() && state.last_renew.elapsed() >= LEASE_RENEW_EVERY;
    if renew {
        for (execution_id, owner) in &state.leases {
            if !lease::renew(&tx, execution_id, owner, now_ms)? {
                state.lost.push(execution_id.clone());
            }
        }
    }
    {
        let mut op = tx.prepare_cached(
            "INSERT INTO durable_operation_log
                 (exec_key, op_id, parent_id, op_type, sub_type, name, status, result, error,
                  attempt, at_ms, scheduled_end_ms, next_attempt_ms, callback_id, replay_children)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
            if let (Some(execution_id), false) =
                (msg.execution_id(), matches!(msg, Msg::Acquire { .. }))
            {
                if !fence(&tx, state, stops, execution_id)? {
                    continue;
                }
            }
            match msg {
                Msg::Op { op: this, due, .. } => {
                    if let Some(change) = due {
                        // In this transaction: the record and the wake-up commit together.
                        super::due::apply(&tx, this.execution_id(), change)?;
                    }
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
                        r.attempt,
                        now_ms as i64,
                        r.scheduled_end_ms.map(|ms| ms as i64),
                        r.next_attempt_ms.map(|ms| ms as i64),
                        r.get(Field::CallbackId),
                        r.replay_children
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
                Msg::Acquire { execution_id, .. } => {
                    let me = LeaseHolder::this_process(now_ms);
                    let outcome = lease::acquire(&tx, execution_id, &me, now_ms)?;
                    if outcome == Ownership::Acquired {
                        state.lost.retain(|l| l != execution_id);
                        state.taken.push((execution_id.clone(), me.owner));
                    }
                    state.granted.push((i, outcome));
                }
                Msg::Due {
                    execution_id,
                    change,
                    ..
                } => super::due::apply(&tx, execution_id, change)?,
                Msg::Release { execution_id, .. } => {
                    if let Some(owner) = state.leases.get(execution_id) {
                        lease::release(&tx, execution_id, owner)?;
                        state.released.push(execution_id.clone());
                    }
                }
            }
        }
    }
    tx.commit()?;
    if renew {
        state.last_renew = Instant::now();
    }
    for execution_id in state.lost.drain(..) {
        if let Some(owner) = state.leases.remove(&execution_id) {
            abandon(&owner);
        }
        stops.lose(&execution_id);
    }
    for (execution_id, owner) in state.taken.drain(..) {
        stops.regain(&execution_id);
        state.leases.insert(execution_id, owner);
    }
    for execution_id in state.released.drain(..) {
        state.leases.remove(&execution_id);
    }
    Ok(())
}
