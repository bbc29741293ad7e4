//! The store's tables and their migrations, kept under component `durable` of the project
//! file's schema versions ([`crate::sqlite_file::migrate_component`]).
//!
//! Operation records live in an append-only log: every checkpoint appends a row at the end of
//! the table (the rowid is the write sequence), and the newest row of an operation wins when
//! an execution is loaded. Appending touches only the tail pages of the table and of the
//! `(exec_key, seq)` index, so a commit writes few WAL frames; an upsert keyed by the random
//! operation ids dirtied a different page for nearly every write.
//!
//! Before the shared policy the store versioned itself with `PRAGMA user_version` (versions
//! 1-3); such a file without a `durable` component row counts as being at that version.

use super::db_err;
use crate::durable::store::StoreError;
use crate::sqlite_file::{component_version, migrate_component};
use rusqlite::Connection;
use std::path::Path;

/// The component name of the durable tables in `orkestra_components`.
pub(crate) const COMPONENT: &str = "durable";

/// Step `i` leads from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    // 1: executions and operations.
    "CREATE TABLE IF NOT EXISTS durable_executions (
         id TEXT PRIMARY KEY, handler TEXT NOT NULL, status TEXT NOT NULL,
         input TEXT NOT NULL, result TEXT, error TEXT);
     CREATE TABLE IF NOT EXISTS durable_operations (
         execution_id TEXT NOT NULL, op_id TEXT NOT NULL, seq INTEGER NOT NULL,
         parent_id TEXT, op_type TEXT NOT NULL, sub_type TEXT, name TEXT,
         status TEXT NOT NULL, result TEXT, error TEXT, attempt INTEGER NOT NULL,
         PRIMARY KEY (execution_id, op_id)) WITHOUT ROWID;",
    // 2: execution ids interned to integer keys, operations in an append-only log (rows of
    // version 1 are carried over in their first-write order).
    "CREATE TABLE durable_execution_keys (
         key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
     CREATE TABLE durable_operation_log (
         seq INTEGER PRIMARY KEY, exec_key INTEGER NOT NULL, op_id TEXT NOT NULL,
         parent_id TEXT, op_type TEXT NOT NULL, sub_type TEXT, name TEXT,
         status TEXT NOT NULL, result TEXT, error TEXT, attempt INTEGER NOT NULL);
     CREATE INDEX durable_operation_log_by_execution
         ON durable_operation_log (exec_key, seq);
     CREATE INDEX durable_operation_log_callbacks
         ON durable_operation_log (exec_key, op_id) WHERE op_type = 'CALLBACK';
     INSERT INTO durable_execution_keys (id)
         SELECT DISTINCT execution_id FROM durable_operations;
     INSERT INTO durable_operation_log
         (exec_key, op_id, parent_id, op_type, sub_type, name, status, result, error, attempt)
         SELECT k.key, o.op_id, o.parent_id, o.op_type, o.sub_type, o.name, o.status,
                o.result, o.error, o.attempt
         FROM durable_operations o JOIN durable_execution_keys k ON k.id = o.execution_id
         ORDER BY o.seq;
     DROP TABLE durable_operations;",
    // 3: when an execution started and ended (milliseconds since the Unix epoch); executions
    // written before stay without them (`null`).
    "ALTER TABLE durable_executions ADD COLUMN started_ms INTEGER;
     ALTER TABLE durable_executions ADD COLUMN ended_ms INTEGER;",
    // 4: when each log row was committed (an operation's first row is its start, its finishing
    // row its end; older rows stay `null`); the protocol's type-specific fields (a wait's
    // wake-up time, a retry's next attempt, a callback id, replay-children); and the owner
    // lease of each running execution.
    "ALTER TABLE durable_operation_log ADD COLUMN at_ms INTEGER;
     ALTER TABLE durable_operation_log ADD COLUMN scheduled_end_ms INTEGER;
     ALTER TABLE durable_operation_log ADD COLUMN next_attempt_ms INTEGER;
     ALTER TABLE durable_operation_log ADD COLUMN callback_id TEXT;
     ALTER TABLE durable_operation_log ADD COLUMN replay_children INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE durable_leases (
         execution_id TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL,
         boot_id TEXT NOT NULL, process_start INTEGER NOT NULL,
         acquired_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);",
    // 5: the wake-up index: each unfinished execution that is due (or will be) at `due_ms`
    // (`null`: only a completion from outside wakes it), `wakes` counts such completions, and
    // `deadline_ms` is its execution timeout; the log of wake-ups workers finished.
    "CREATE TABLE durable_due (
         execution_id TEXT PRIMARY KEY, due_ms INTEGER, wakes INTEGER NOT NULL DEFAULT 0,
         deadline_ms INTEGER);
     CREATE INDEX durable_due_by_time ON durable_due (due_ms) WHERE due_ms IS NOT NULL;
     CREATE TABLE durable_wakes (
         seq INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, due_ms INTEGER NOT NULL,
         at_ms INTEGER NOT NULL, pid INTEGER NOT NULL, outcome TEXT NOT NULL);",
];

/// The schema version this build migrates to.
pub(crate) const SCHEMA_VERSION: i64 = STEPS.len() as i64;

/// Opens a connection with the project file's policy.
pub(super) fn open_connection(
    path: &Path,
    sync: crate::sqlite_file::Synchronous,
) -> Result<Connection, StoreError> {
    crate::sqlite_file::open_connection(path, sync).map_err(|e| db_err(path, e))
}

/// Brings the durable tables up to [`SCHEMA_VERSION`], adopting a legacy `user_version` file.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    adopt_legacy_version(conn).map_err(|e| db_err(path, e))?;
    migrate_component(conn, path, COMPONENT, STEPS).map_err(|e| db_err(path, e))?;
    // Builds from before the shared policy read `user_version` and refuse a file newer than
    // their version 3, so they cannot write to this file without the lease fence.
    let stamped: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| db_err(path, e))?;
    if stamped != SCHEMA_VERSION {
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(|e| db_err(path, e))?;
    }
    Ok(())
}

/// A file whose durable tables were versioned by `PRAGMA user_version` alone gets a component
/// row with that version (under the write lock, so concurrent openers agree).
fn adopt_legacy_version(conn: &mut Connection) -> rusqlite::Result<()> {
    if component_version(conn, COMPONENT)? > 0 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let legacy: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if legacy > 0 && component_version(&tx, COMPONENT)? == 0 {
        tx.execute(
            "INSERT INTO orkestra_components (name, version) VALUES (?1, ?2)",
            rusqlite::params![COMPONENT, legacy],
        )?;
    }
    tx.commit()
}
