//! The store's tables and their migrations (`PRAGMA user_version`).
//!
//! Operation records live in an append-only log: every checkpoint appends a row at the end of
//! the table (the rowid is the write sequence), and the newest row of an operation wins when
//! an execution is loaded. Appending touches only the tail pages of the table and of the
//! `(exec_key, seq)` index, so a commit writes few WAL frames; an upsert keyed by the random
//! operation ids dirtied a different page for nearly every write.

use super::{db_err, Synchronous};
use crate::durable::store::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// The schema version this module migrates to.
pub(super) const SCHEMA_VERSION: i64 = 3;

/// Opens a connection in WAL mode with the given durability.
pub(super) fn open_connection(path: &Path, sync: Synchronous) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
    let sync = sync.as_str();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000;
         PRAGMA cache_size=-65536;"
    ))
    .map_err(|e| db_err(path, e))?;
    Ok(conn)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; later features append steps here.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
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
    if version < 2 {
        // Version 2: execution ids interned to integer keys, operations in an append-only log
        // (rows of version 1 are carried over in their first-write order).
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE durable_execution_keys (
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
             DROP TABLE durable_operations;
             PRAGMA user_version = 2;
             COMMIT;",
        )
        .map_err(|e| db_err(path, e))?;
    }
    if version < 3 {
        // Version 3: when an execution started and ended (milliseconds since the Unix epoch);
        // executions written before stay without them (`null`).
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE durable_executions ADD COLUMN started_ms INTEGER;
             ALTER TABLE durable_executions ADD COLUMN ended_ms INTEGER;
             PRAGMA user_version = 3;
             COMMIT;",
        )
        .map_err(|e| db_err(path, e))?;
    }
    Ok(())
}
