//! The embedded queue: the scheduler's tables in the project's SQLite file
//! (`.orkestra/orkestra.db`, `ORKESTRA_DB`), migrated under the component `scheduler`.
//!
//! Tables follow sosw's: `sched_tasks` (`task_id`, `labourer_id`, `created_at`, `greenfield`,
//! `attempts`, `desired_launch_time`, `completed_at`, `closed_at`, `payload`, plus the lease:
//! `lease_owner`, `lease_until`, and the `errors` so far), `sched_retry_tasks`,
//! `sched_closed_tasks` (with `outcome`: completed or dead) and `sched_audit`. `greenfield` is
//! the queue order (a submission sequence; retried tasks keep theirs, so the oldest run first);
//! `sched_labourers` lists the labourers that ever had tasks;
//! a task is running while it holds a lease. Times are epoch milliseconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};

use super::store::{
    AuditEvent, Claim, DeadLetter, FailOutcome, LabourerCounts, NewTask, QueueStore, RetryPlan,
    StoreError, SubmitReport,
};
use crate::sqlite_file::{self, Synchronous};

/// The component name the scheduler's tables migrate under.
pub const COMPONENT: &str = "scheduler";

const MIGRATIONS: &[&str] = &["
CREATE TABLE sched_tasks (
    task_id TEXT PRIMARY KEY,
    labourer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    greenfield INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    desired_launch_time INTEGER,
    completed_at INTEGER,
    closed_at INTEGER,
    payload TEXT NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    errors TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX sched_tasks_greenfield ON sched_tasks (labourer_id, lease_owner, greenfield);
CREATE INDEX sched_tasks_lease ON sched_tasks (lease_until) WHERE lease_owner IS NOT NULL;
CREATE TABLE sched_retry_tasks (
    task_id TEXT PRIMARY KEY,
    labourer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    greenfield INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    desired_launch_time INTEGER NOT NULL,
    payload TEXT NOT NULL,
    errors TEXT NOT NULL
);
CREATE INDEX sched_retry_due ON sched_retry_tasks (desired_launch_time);
CREATE TABLE sched_closed_tasks (
    task_id TEXT PRIMARY KEY,
    labourer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    greenfield INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    completed_at INTEGER,
    closed_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    errors TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'dead'))
);
CREATE INDEX sched_closed_labourer ON sched_closed_tasks (labourer_id, outcome);
CREATE TABLE sched_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX sched_audit_task ON sched_audit (task_id, seq);
CREATE TABLE sched_labourers (labourer_id TEXT PRIMARY KEY);
CREATE TABLE sched_sequence (id INTEGER PRIMARY KEY CHECK (id = 0), next INTEGER NOT NULL);
INSERT INTO sched_sequence (id, next) VALUES (0, 1);
"];

/// The queue in a SQLite file.
///
/// ```
/// use orkestra::scheduler::sqlite::SqliteQueue;
/// use orkestra::scheduler::store::{NewTask, QueueStore};
/// let dir = std::env::temp_dir().join(format!("orkestra-queue-doc-{}", std::process::id()));
/// let queue = SqliteQueue::open(dir.join("q.db")).unwrap();
/// let task = NewTask::new("worker", serde_json::json!({"n": 1}));
/// assert_eq!(queue.submit(&[task.clone()], false, 0).unwrap().queued, 1);
/// assert_eq!(queue.submit(&[task], false, 0).unwrap().already_queued, 1);
/// # drop(queue); let _ = std::fs::remove_dir_all(dir);
/// ```
#[derive(Debug)]
pub struct SqliteQueue {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn sql(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

fn audit(
    tx: &Connection,
    task: &str,
    at: i64,
    event: &str,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sched_audit (task_id, at, event, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![task, at, event, detail])?;
    Ok(())
}

/// A task row being moved between tables.
struct Row {
    task_id: String,
    labourer_id: String,
    created_at: i64,
    greenfield: i64,
    attempts: u32,
    payload: String,
    errors: String,
}

impl SqliteQueue {
    /// Opens (creating and migrating) the queue in the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteQueue, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = sqlite_file::open_connection(&path, Synchronous::Normal)
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        sqlite_file::migrate_component(&mut conn, &path, COMPONENT, MIGRATIONS)
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(SqliteQueue {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// Opens the queue in the project's file ([`sqlite_file::default_path`]).
    pub fn open_default() -> Result<SqliteQueue, StoreError> {
        SqliteQueue::open(sqlite_file::default_path())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_tx<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let value = f(&tx).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(value)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(sql)
    }

    /// Removes the leased task row if `claim` still holds its lease.
    fn take_leased(tx: &Connection, claim: &Claim) -> rusqlite::Result<Option<Row>> {
        let row = tx
            .prepare_cached(
                "DELETE FROM sched_tasks WHERE task_id = ?1 AND lease_owner = ?2
                 RETURNING task_id, labourer_id, created_at, greenfield, attempts, payload, errors",
            )?
            .query_row(params![claim.task_id, claim.lease], row_from)
            .optional()?;
        Ok(row)
    }

    fn fail_row(
        tx: &Connection,
        row: Row,
        error: (&str, &str),
        plan: RetryPlan,
        now: i64,
        event: &str,
    ) -> rusqlite::Result<FailOutcome> {
        let mut errors: Vec<Value> = serde_json::from_str(&row.errors).unwrap_or_default();
        errors.push(json!({"attempt": row.attempts, "error": error.0, "message": error.1}));
        let errors = Value::from(errors).to_string();
        let detail = format!("attempt {}: {}: {}", row.attempts, error.0, error.1);
        audit(tx, &row.task_id, now, event, Some(&detail))?;
        if row.attempts >= plan.max_attempts {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO sched_closed_tasks (task_id, labourer_id, created_at,
                 greenfield, attempts, completed_at, closed_at, payload, errors, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8, 'dead')",
            )?
            .execute(params![
                row.task_id,
                row.labourer_id,
                row.created_at,
                row.greenfield,
                row.attempts,
                now,
                row.payload,
                errors
            ])?;
            audit(
                tx,
                &row.task_id,
                now,
                "dead",
                Some(&format!("after {} attempts", row.attempts)),
            )?;
            Ok(FailOutcome::Dead)
        } else {
            tx.prepare_cached(
                "INSERT INTO sched_retry_tasks (task_id, labourer_id, created_at, greenfield,
                 attempts, desired_launch_time, payload, errors)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                row.task_id,
                row.labourer_id,
                row.created_at,
                row.greenfield,
                row.attempts,
                plan.launch_at_ms,
                row.payload,
                errors
            ])?;
            audit(
                tx,
                &row.task_id,
                now,
                "retried",
                Some(&format!("launch at {}", plan.launch_at_ms)),
            )?;
            Ok(FailOutcome::Retrying)
        }
    }
}

fn row_from(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        task_id: r.get(0)?,
        labourer_id: r.get(1)?,
        created_at: r.get(2)?,
        greenfield: r.get(3)?,
        attempts: r.get(4)?,
        payload: r.get(5)?,
        errors: r.get(6)?,
    })
}

impl QueueStore for SqliteQueue {
    fn submit(
        &self,
        tasks: &[NewTask],
        rerun: bool,
        now_ms: i64,
    ) -> Result<SubmitReport, StoreError> {
        self.with_tx(|tx| {
            let mut report = SubmitReport::default();
            let mut next: i64 = tx.query_row("SELECT next FROM sched_sequence WHERE id = 0", [], |r| r.get(0))?;
            for task in tasks {
                let queued: bool = tx
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM sched_tasks WHERE task_id = ?1)
                             OR EXISTS (SELECT 1 FROM sched_retry_tasks WHERE task_id = ?1)",
                    )?
                    .query_row([&task.task_id], |r| r.get(0))?;
                if queued {
                    report.already_queued += 1;
                    continue;
                }
                if !rerun {
                    let closed: bool = tx
                        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sched_closed_tasks WHERE task_id = ?1)")?
                        .query_row([&task.task_id], |r| r.get(0))?;
                    if closed {
                        report.already_closed += 1;
                        continue;
                    }
                }
                tx.prepare_cached(
                    "INSERT INTO sched_tasks (task_id, labourer_id, created_at, greenfield, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![task.task_id, task.labourer_id, now_ms, next, task.payload.to_string()])?;
                next += 1;
                tx.prepare_cached("INSERT OR IGNORE INTO sched_labourers (labourer_id) VALUES (?1)")?
                    .execute([&task.labourer_id])?;
                audit(tx, &task.task_id, now_ms, "created", None)?;
                report.queued += 1;
            }
            tx.execute("UPDATE sched_sequence SET next = ?1 WHERE id = 0", [next])?;
            Ok(report)
        })
    }

    fn claim(
        &self,
        labourer: &str,
        limit: u32,
        max: usize,
        lease_ms: i64,
        owner: &str,
        now_ms: i64,
    ) -> Result<Vec<Claim>, StoreError> {
        self.with_tx(|tx| {
            // Counted under the write lock, so dispatchers together stay within the limit.
            let running: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM sched_tasks WHERE labourer_id = ?1 AND lease_owner IS NOT NULL",
                )?
                .query_row([labourer], |r| r.get(0))?;
            let free = (limit as i64 - running).max(0).min(max as i64);
            if free == 0 {
                return Ok(Vec::new());
            }
            let rows: Vec<(String, String, u32)> = tx
                .prepare_cached(
                    "SELECT task_id, payload, attempts FROM sched_tasks
                     WHERE labourer_id = ?1 AND lease_owner IS NULL
                     ORDER BY greenfield LIMIT ?2",
                )?
                .query_map(params![labourer, free], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut claims = Vec::with_capacity(rows.len());
            for (task_id, payload, attempts) in rows {
                let attempts = attempts + 1;
                let lease = format!("{owner}#{attempts}");
                let changed = tx
                    .prepare_cached(
                        "UPDATE sched_tasks SET lease_owner = ?1, lease_until = ?2, attempts = ?3
                         WHERE task_id = ?4 AND lease_owner IS NULL",
                    )?
                    .execute(params![lease, now_ms + lease_ms, attempts, task_id])?;
                if changed == 1 {
                    audit(tx, &task_id, now_ms, "invoked", Some(&format!("attempt {attempts} by {owner}")))?;
                    claims.push(Claim {
                        task_id,
                        labourer_id: labourer.to_string(),
                        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                        attempts,
                        lease,
                    });
                }
            }
            Ok(claims)
        })
    }

    fn complete(&self, claim: &Claim, now_ms: i64) -> Result<bool, StoreError> {
        self.with_tx(|tx| {
            let Some(row) = Self::take_leased(tx, claim)? else {
                return Ok(false);
            };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO sched_closed_tasks (task_id, labourer_id, created_at,
                 greenfield, attempts, completed_at, closed_at, payload, errors, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, 'completed')",
            )?
            .execute(params![
                row.task_id,
                row.labourer_id,
                row.created_at,
                row.greenfield,
                row.attempts,
                now_ms,
                row.payload,
                row.errors
            ])?;
            audit(
                tx,
                &row.task_id,
                now_ms,
                "completed",
                Some(&format!("attempt {}", row.attempts)),
            )?;
            audit(tx, &row.task_id, now_ms, "archived", None)?;
            Ok(true)
        })
    }

    fn fail(
        &self,
        claim: &Claim,
        error: (&str, &str),
        plan: RetryPlan,
        now_ms: i64,
    ) -> Result<FailOutcome, StoreError> {
        self.with_tx(|tx| match Self::take_leased(tx, claim)? {
            None => Ok(FailOutcome::LeaseLost),
            Some(row) => Self::fail_row(tx, row, error, plan, now_ms, "failed"),
        })
    }

    fn expire(
        &self,
        now_ms: i64,
        grace_ms: i64,
        plan: &dyn Fn(&str, u32) -> RetryPlan,
    ) -> Result<Vec<(String, FailOutcome)>, StoreError> {
        // A read first: the write lock only when a lease has ended (rarely).
        let any: bool = self.read(|c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sched_tasks
                 WHERE lease_owner IS NOT NULL AND lease_until < ?1)",
            )?
            .query_row([now_ms - grace_ms], |r| r.get(0))
        })?;
        if !any {
            return Ok(Vec::new());
        }
        self.with_tx(|tx| {
            let rows: Vec<Row> = tx
                .prepare_cached(
                    "DELETE FROM sched_tasks WHERE lease_owner IS NOT NULL AND lease_until < ?1
                     RETURNING task_id, labourer_id, created_at, greenfield, attempts, payload, errors",
                )?
                .query_map([now_ms - grace_ms], row_from)?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let id = row.task_id.clone();
                let p = plan(&row.labourer_id, row.attempts);
                let message = "the invocation ran past its lease (hung or its dispatcher died)";
                let outcome = Self::fail_row(tx, row, ("Scheduler.Expired", message), p, now_ms, "expired")?;
                out.push((id, outcome));
            }
            Ok(out)
        })
    }

    fn requeue_due(&self, now_ms: i64) -> Result<u64, StoreError> {
        let any: bool = self.read(|c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sched_retry_tasks WHERE desired_launch_time <= ?1)",
            )?
            .query_row([now_ms], |r| r.get(0))
        })?;
        if !any {
            return Ok(0);
        }
        self.with_tx(|tx| {
            let moved = tx.execute(
                "INSERT INTO sched_tasks (task_id, labourer_id, created_at, greenfield, attempts,
                 desired_launch_time, payload, errors)
                 SELECT task_id, labourer_id, created_at, greenfield, attempts, desired_launch_time,
                 payload, errors FROM sched_retry_tasks WHERE desired_launch_time <= ?1",
                [now_ms],
            )?;
            tx.execute(
                "DELETE FROM sched_retry_tasks WHERE desired_launch_time <= ?1",
                [now_ms],
            )?;
            Ok(moved as u64)
        })
    }

    fn labourers_with_queued(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            // One index probe per known labourer, not a scan of the queue.
            c.prepare_cached(
                "SELECT labourer_id FROM sched_labourers AS l WHERE EXISTS (SELECT 1 FROM sched_tasks
                 WHERE labourer_id = l.labourer_id AND lease_owner IS NULL)",
            )?
            .query_map([], |r| r.get(0))?
            .collect()
        })
    }

    fn next_retry_at(&self) -> Result<Option<i64>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT MIN(desired_launch_time) FROM sched_retry_tasks",
                [],
                |r| r.get(0),
            )
        })
    }

    fn counts(&self) -> Result<BTreeMap<String, LabourerCounts>, StoreError> {
        self.read(|c| {
            let mut out: BTreeMap<String, LabourerCounts> = BTreeMap::new();
            let queries = [
                "SELECT labourer_id, SUM(lease_owner IS NULL), SUM(lease_owner IS NOT NULL) FROM sched_tasks GROUP BY labourer_id",
                "SELECT labourer_id, COUNT(*), 0 FROM sched_retry_tasks GROUP BY labourer_id",
                "SELECT labourer_id, SUM(outcome = 'completed'), SUM(outcome = 'dead') FROM sched_closed_tasks GROUP BY labourer_id",
            ];
            for (i, query) in queries.iter().enumerate() {
                let mut stmt = c.prepare_cached(query)?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
                for row in rows {
                    let (labourer, a, b) = row?;
                    let entry = out.entry(labourer).or_default();
                    match i {
                        0 => {
                            entry.queued = a as u64;
                            entry.running = b as u64;
                        }
                        1 => entry.retrying = a as u64,
                        _ => {
                            entry.completed = a as u64;
                            entry.dead = b as u64;
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT task_id, labourer_id, attempts, closed_at, payload, errors
                 FROM sched_closed_tasks WHERE outcome = 'dead' ORDER BY closed_at, task_id",
            )?
            .query_map([], |r| {
                let payload: String = r.get(4)?;
                let errors: String = r.get(5)?;
                Ok(DeadLetter {
                    task_id: r.get(0)?,
                    labourer_id: r.get(1)?,
                    attempts: r.get(2)?,
                    closed_at: r.get(3)?,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                    errors: serde_json::from_str(&errors).unwrap_or_default(),
                })
            })?
            .collect()
        })
    }

    fn audit(&self, task_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT task_id, at, event, detail FROM sched_audit WHERE task_id = ?1 ORDER BY seq")?
                .query_map([task_id], |r| {
                    Ok(AuditEvent {
                        task_id: r.get(0)?,
                        at: r.get(1)?,
                        event: r.get(2)?,
                        detail: r.get(3)?,
                    })
                })?
                .collect()
        })
    }
}
