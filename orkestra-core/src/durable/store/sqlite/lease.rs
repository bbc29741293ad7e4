//! The `durable_leases` table: who owns each running execution (see
//! [`crate::durable::LeaseHolder`]). Every function runs inside the writer's transaction, which
//! holds the file's write lock, so a check and the writes after it see one state.

use crate::durable::owner::{is_abandoned, LeaseHolder, Ownership, LEASE_TTL};
use rusqlite::{params, OptionalExtension, Transaction};

/// The stored holder of `execution_id`'s lease, if any.
pub(super) fn holder(
    tx: &Transaction<'_>,
    execution_id: &str,
) -> rusqlite::Result<Option<LeaseHolder>> {
    tx.prepare_cached(
        "SELECT owner, pid, boot_id, process_start, acquired_ms, expires_ms
         FROM durable_leases WHERE execution_id = ?1",
    )?
    .query_row([execution_id], |r| {
        Ok(LeaseHolder {
            owner: r.get(0)?,
            pid: r.get(1)?,
            boot_id: r.get(2)?,
            process_start: r.get::<_, i64>(3)? as u64,
            acquired_ms: r.get::<_, i64>(4)? as u64,
            expires_ms: r.get::<_, i64>(5)? as u64,
        })
    })
    .optional()
}

/// Takes `execution_id`'s lease for `me` unless a live, unexpired holder has it.
pub(super) fn acquire(
    tx: &Transaction<'_>,
    execution_id: &str,
    me: &LeaseHolder,
    now_ms: u64,
) -> rusqlite::Result<Ownership> {
    if let Some(current) = holder(tx, execution_id)? {
        if current.owner != me.owner
            && !current.can_be_taken_over(now_ms)
            && !is_abandoned(&current.owner)
        {
            return Ok(Ownership::HeldBy(current));
        }
    }
    tx.prepare_cached(
        "INSERT INTO durable_leases
             (execution_id, owner, pid, boot_id, process_start, acquired_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (execution_id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid,
             boot_id = excluded.boot_id, process_start = excluded.process_start,
             acquired_ms = excluded.acquired_ms, expires_ms = excluded.expires_ms",
    )?
    .execute(params![
        execution_id,
        me.owner,
        me.pid,
        me.boot_id,
        me.process_start as i64,
        me.acquired_ms as i64,
        me.expires_ms as i64
    ])?;
    Ok(Ownership::Acquired)
}

/// Whether `owner` still holds `execution_id`'s lease (the write fence).
pub(super) fn holds(
    tx: &Transaction<'_>,
    execution_id: &str,
    owner: &str,
) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached("SELECT owner FROM durable_leases WHERE execution_id = ?1")?
        .query_row([execution_id], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|o| o == owner))
}

/// Extends `owner`'s lease of `execution_id` by [`LEASE_TTL`] from `now_ms`; `false` when it
/// no longer holds it.
pub(super) fn renew(
    tx: &Transaction<'_>,
    execution_id: &str,
    owner: &str,
    now_ms: u64,
) -> rusqlite::Result<bool> {
    let expires = now_ms + LEASE_TTL.as_millis() as u64;
    let changed = tx
        .prepare_cached(
            "UPDATE durable_leases SET expires_ms = ?3 WHERE execution_id = ?1 AND owner = ?2",
        )?
        .execute(params![execution_id, owner, expires as i64])?;
    Ok(changed == 1)
}

/// Gives `owner`'s lease of `execution_id` up (a lease another took over stays theirs).
pub(super) fn release(
    tx: &Transaction<'_>,
    execution_id: &str,
    owner: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM durable_leases WHERE execution_id = ?1 AND owner = ?2")?
        .execute(params![execution_id, owner])?;
    Ok(())
}
