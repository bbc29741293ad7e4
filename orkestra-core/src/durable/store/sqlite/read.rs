//! Reading the store back: execution rows and the newest version of each operation.

use super::db_err;
use super::fnv::{self, Fnv};
use crate::durable::store::{
    ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord, OperationStatus,
    OperationType, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::hash_map::{Entry, HashMap};
use std::path::Path;

const EXECUTION_COLUMNS: &str = "id, handler, status, input, result, error, started_ms, ended_ms";
const OPERATION_COLUMNS: &str =
    "op_id, parent_id, op_type, sub_type, name, status, result, error, attempt";

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
    Option<i64>,
    Option<i64>,
);

fn exec_row(r: &Row<'_>) -> rusqlite::Result<ExecRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn execution_from_row(row: ExecRow) -> Result<ExecutionRecord, StoreError> {
    let (id, handler, status, input, result, error, started_ms, ended_ms) = row;
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
        started_ms: started_ms.map(|ms| ms as u64),
        ended_ms: ended_ms.map(|ms| ms as u64),
    })
}

/// One execution's record.
pub(super) fn execution(
    conn: &Connection,
    path: &Path,
    execution_id: &str,
) -> Result<Option<ExecutionRecord>, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {EXECUTION_COLUMNS} FROM durable_executions WHERE id = ?1"),
            [execution_id],
            exec_row,
        )
        .optional()
        .map_err(|e| db_err(path, e))?;
    row.map(execution_from_row).transpose()
}

/// Every execution, in the order they were first written.
pub(super) fn executions(
    conn: &Connection,
    path: &Path,
) -> Result<Vec<ExecutionRecord>, StoreError> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM durable_executions ORDER BY rowid"
        ))
        .map_err(|e| db_err(path, e))?;
    let rows: Vec<ExecRow> = stmt
        .query_map([], exec_row)
        .and_then(|rows| rows.collect())
        .map_err(|e| db_err(path, e))?;
    rows.into_iter().map(execution_from_row).collect()
}

fn exec_key(conn: &Connection, path: &Path, execution_id: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT key FROM durable_execution_keys WHERE id = ?1")
        .and_then(|mut s| s.query_row([execution_id], |r| r.get(0)).optional())
        .map_err(|e| db_err(path, e))
}

fn operation_from_row(path: &Path, r: &Row<'_>) -> Result<OperationRecord, StoreError> {
    let get =
        |i: usize| -> Result<Option<String>, StoreError> { r.get(i).map_err(|e| db_err(path, e)) };
    let id = get(0)?.unwrap_or_default();
    let corrupt = |what: &str| StoreError::Corrupt {
        table: "durable_operation_log",
        message: format!("operation {id}: {what}"),
    };
    // Type and status are parsed from the row's text in place (no copy).
    let text = |i: usize| -> Result<&str, StoreError> {
        r.get_ref(i)
            .and_then(|v| v.as_str().map_err(Into::into))
            .map_err(|e| db_err(path, e))
    };
    let op_type = text(2)?;
    let op_type = OperationType::parse(op_type)
        .ok_or_else(|| corrupt(&format!("unknown type {op_type:?}")))?;
    let status = text(5)?;
    let status = OperationStatus::parse(status)
        .ok_or_else(|| corrupt(&format!("unknown status {status:?}")))?;
    Ok(OperationRecord {
        parent_id: get(1)?,
        op_type,
        sub_type: get(3)?,
        name: get(4)?,
        status,
        result: get(6)?,
        error: parse_error("durable_operation_log", get(7)?)?,
        attempt: r.get(8).map_err(|e| db_err(path, e))?,
        id,
    })
}

/// An execution's operations: the newest version of each, in first-write order.
pub(super) fn operations(
    conn: &Connection,
    path: &Path,
    execution_id: &str,
) -> Result<Vec<OperationRecord>, StoreError> {
    let Some(key) = exec_key(conn, path, execution_id)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {OPERATION_COLUMNS} FROM durable_operation_log
             WHERE exec_key = ?1 ORDER BY seq"
        ))
        .map_err(|e| db_err(path, e))?;
    let mut rows = stmt.query([key]).map_err(|e| db_err(path, e))?;
    let mut out: Vec<OperationRecord> = Vec::new();
    // Hash of the id → position in `out`; ids whose hash is already taken by another id go
    // to `collided` (rare: string keys there, hashes everywhere else).
    let mut position: HashMap<u64, usize, Fnv> = HashMap::default();
    let mut collided: HashMap<String, usize> = HashMap::new();
    while let Some(r) = rows.next().map_err(|e| db_err(path, e))? {
        let record = operation_from_row(path, r)?;
        let next = out.len();
        let slot = match position.entry(fnv::hash(record.id.as_bytes())) {
            Entry::Vacant(v) => *v.insert(next),
            Entry::Occupied(o) if out[*o.get()].id == record.id => *o.get(),
            Entry::Occupied(_) => *collided.entry(record.id.clone()).or_insert(next),
        };
        if slot == next {
            out.push(record);
        } else {
            out[slot] = record;
        }
    }
    Ok(out)
}

/// The newest version of one operation. Callbacks (what is polled) are found through their
/// own index; any other operation by scanning its execution's log.
pub(super) fn operation(
    conn: &Connection,
    path: &Path,
    execution_id: &str,
    op_id: &str,
) -> Result<Option<OperationRecord>, StoreError> {
    let Some(key) = exec_key(conn, path, execution_id)? else {
        return Ok(None);
    };
    for filter in ["AND op_type = 'CALLBACK'", ""] {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {OPERATION_COLUMNS} FROM durable_operation_log
                 WHERE exec_key = ?1 AND op_id = ?2 {filter} ORDER BY seq DESC LIMIT 1"
            ))
            .map_err(|e| db_err(path, e))?;
        let mut rows = stmt
            .query(params![key, op_id])
            .map_err(|e| db_err(path, e))?;
        if let Some(r) = rows.next().map_err(|e| db_err(path, e))? {
            return operation_from_row(path, r).map(Some);
        }
    }
    Ok(None)
}
