//! The wake-up index (`durable_due`) and the wake-up log (`durable_wakes`): which unfinished
//! executions are due when, changed inside the writer's transaction (so under the same lease
//! fence as the checkpoints), and read by workers through the reader connection.

use crate::durable::store::{DueChange, DueExecution, DueState, InvocationStatus};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Applies `change` to `execution_id`'s row.
pub(super) fn apply(
    tx: &Transaction<'_>,
    execution_id: &str,
    change: &DueChange,
) -> rusqlite::Result<()> {
    match change {
        DueChange::Claim {
            now_ms,
            deadline_ms,
        } => {
            // Runnable from now on: if its owner dies, a worker finds it due.
            tx.prepare_cached(
                "INSERT INTO durable_due (execution_id, due_ms, wakes, deadline_ms)
                 VALUES (?1, ?2, 0, ?3)
                 ON CONFLICT (execution_id) DO UPDATE SET
                     due_ms = min(coalesce(due_ms, excluded.due_ms), excluded.due_ms),
                     deadline_ms = coalesce(deadline_ms, excluded.deadline_ms)",
            )?
            .execute(params![
                execution_id,
                *now_ms as i64,
                deadline_ms.map(|d| d as i64)
            ])?;
        }
        DueChange::Suspend {
            due_ms,
            seen_wakes,
            woke_for,
            now_ms,
        } => {
            // A completion that arrived while the run went on makes it due again now (a new
            // due time: the wake-up the run served was for the one before).
            tx.prepare_cached(
                "UPDATE durable_due SET due_ms = CASE WHEN wakes = ?2 THEN ?3 ELSE ?4 END
                 WHERE execution_id = ?1",
            )?
            .execute(params![
                execution_id,
                *seen_wakes as i64,
                due_ms.map(|d| d as i64),
                *now_ms as i64
            ])?;
            log_wake(tx, execution_id, *woke_for, *now_ms, "SUSPENDED")?;
        }
        DueChange::Finish { woke_for, now_ms } => {
            tx.prepare_cached("DELETE FROM durable_due WHERE execution_id = ?1")?
                .execute([execution_id])?;
            log_wake(tx, execution_id, *woke_for, *now_ms, "FINISHED")?;
        }
        DueChange::Wake { now_ms } => {
            tx.prepare_cached(
                "UPDATE durable_due SET due_ms = min(coalesce(due_ms, ?2), ?2), wakes = wakes + 1
                 WHERE execution_id = ?1",
            )?
            .execute(params![execution_id, *now_ms as i64])?;
        }
        DueChange::End {
            status,
            error,
            now_ms,
        } => end(tx, execution_id, *status, error, *now_ms)?,
    }
    Ok(())
}

/// Records that a worker's run for due time `woke_for` ended (`None`: not a wake-up).
fn log_wake(
    tx: &Transaction<'_>,
    execution_id: &str,
    woke_for: Option<u64>,
    now_ms: u64,
    outcome: &str,
) -> rusqlite::Result<()> {
    if let Some(due) = woke_for {
        tx.prepare_cached(
            "INSERT INTO durable_wakes (execution_id, due_ms, at_ms, pid, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            execution_id,
            due as i64,
            now_ms as i64,
            std::process::id(),
            outcome
        ])?;
    }
    Ok(())
}

/// Ends a running execution from outside its run (stop, timeout): the execution gets
/// `status`, and its lease (so a running owner's next write is refused) and wake-up row go.
/// Its operations keep the status they had, as the AWS local runner leaves them (only the
/// EXECUTION operation changes there): a step that was running stays STARTED, a wait STARTED.
fn end(
    tx: &Transaction<'_>,
    execution_id: &str,
    status: InvocationStatus,
    error: &crate::durable::store::ErrorObject,
    now_ms: u64,
) -> rusqlite::Result<()> {
    let error = serde_json::to_string(error).expect("ErrorObject serializes");
    tx.prepare_cached(
        "UPDATE durable_executions SET status = ?2, error = ?3, result = NULL, ended_ms = ?4
             WHERE id = ?1 AND status = 'RUNNING'",
    )?
    .execute(params![execution_id, status.as_str(), error, now_ms as i64])?;
    tx.prepare_cached("DELETE FROM durable_leases WHERE execution_id = ?1")?
        .execute([execution_id])?;
    tx.prepare_cached("DELETE FROM durable_due WHERE execution_id = ?1")?
        .execute([execution_id])?;
    // A chained execution (`PARENT/OPERATION`) that ends wakes the execution that invoked it,
    // as the runner notifies the parent of any terminal child.
    if let Some((parent, _)) = execution_id.rsplit_once('/') {
        apply(tx, parent, &DueChange::Wake { now_ms })?;
    }
    Ok(())
}

/// Executions due at `now_ms` or earlier, earliest first.
pub(super) fn due(
    conn: &Connection,
    now_ms: u64,
    limit: usize,
) -> rusqlite::Result<Vec<DueExecution>> {
    let mut stmt = conn.prepare_cached(
        "SELECT execution_id, due_ms FROM durable_due
         WHERE due_ms IS NOT NULL AND due_ms <= ?1 ORDER BY due_ms LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms as i64, limit as i64], |r| {
        Ok(DueExecution {
            execution_id: r.get(0)?,
            due_ms: r.get::<_, i64>(1)? as u64,
        })
    })?;
    rows.collect()
}

/// `execution_id`'s row, if it has one.
pub(super) fn state(conn: &Connection, execution_id: &str) -> rusqlite::Result<Option<DueState>> {
    conn.prepare_cached(
        "SELECT due_ms, wakes, deadline_ms FROM durable_due WHERE execution_id = ?1",
    )?
    .query_row([execution_id], |r| {
        Ok(DueState {
            due_ms: r.get::<_, Option<i64>>(0)?.map(|d| d as u64),
            wakes: r.get::<_, i64>(1)? as u64,
            deadline_ms: r.get::<_, Option<i64>>(2)?.map(|d| d as u64),
        })
    })
    .optional()
}
