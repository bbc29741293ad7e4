//! Reading the store back: execution rows and the newest version of each operation.

use super::fnv::{self, Fnv};
use super::read_err;
use crate::durable::store::{
    result_is_json, ErrorObject, ExecutionRecord, InvocationStatus, OperationDetails,
    OperationRecord, OperationStatus, OperationType, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::hash_map::{Entry, HashMap};
use std::path::Path;

const EXECUTION_COLUMNS: &str = "id, handler, status, input, result, error, started_ms, ended_ms";
const OPERATION_COLUMNS: &str = "op_id, parent_id, op_type, sub_type, name, status, result, \
     error, attempt, at_ms, scheduled_end_ms, next_attempt_ms, callback_id, replay_children";

/// A millisecond timestamp column.
fn millis(r: &Row<'_>, i: usize, path: &Path) -> Result<Option<u64>, StoreError> {
    let ms: Option<i64> = r.get(i).map_err(|e| read_err(path, e))?;
    Ok(ms.map(|ms| ms as u64))
}

/// Where a stored value sits, for error messages: `execution "e"` or `execution "e"
/// operation "id" ("name")`.
fn place(execution_id: &str, op: Option<(&str, Option<&str>)>) -> String {
    match op {
        None => format!("execution {execution_id:?}"),
        Some((id, Some(name))) => format!("execution {execution_id:?} operation {id} ({name:?})"),
        Some((id, None)) => format!("execution {execution_id:?} operation {id}"),
    }
}

fn parse_error(
    table: &'static str,
    at: impl Fn() -> String,
    text: Option<String>,
) -> Result<Option<ErrorObject>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
            table,
            message: format!("{}: stored error {t:?} does not parse: {e}", at()),
        })
    })
    .transpose()
}

/// Checks that a stored JSON value (`column`: result or input) still parses.
pub(super) fn check_json(
    table: &'static str,
    at: impl Fn() -> String,
    column: &str,
    text: Option<&str>,
) -> Result<(), StoreError> {
    let Some(text) = text else { return Ok(()) };
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(|e| {
            let shown: String = text.chars().take(80).collect();
            StoreError::Corrupt {
                table,
                message: format!("{}: stored {column} {shown:?} is not JSON: {e}", at()),
            }
        })
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
    const TABLE: &str = "durable_executions";
    let at = || place(&id, None);
    let status = InvocationStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
        table: TABLE,
        message: format!("{}: unknown status {status:?}", at()),
    })?;
    check_json(TABLE, at, "input", Some(&input))?;
    check_json(TABLE, at, "result", result.as_deref())?;
    if status == InvocationStatus::Succeeded && result.is_none() {
        return Err(StoreError::Corrupt {
            table: TABLE,
            message: format!("{}: SUCCEEDED without a stored result", at()),
        });
    }
    let error = parse_error(TABLE, at, error)?;
    Ok(ExecutionRecord {
        id,
        handler,
        status,
        input,
        result,
        error,
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
        .map_err(|e| read_err(path, e))?;
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
        .map_err(|e| read_err(path, e))?;
    let rows: Vec<ExecRow> = stmt
        .query_map([], exec_row)
        .and_then(|rows| rows.collect())
        .map_err(|e| read_err(path, e))?;
    rows.into_iter().map(execution_from_row).collect()
}

fn exec_key(conn: &Connection, path: &Path, execution_id: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT key FROM durable_execution_keys WHERE id = ?1")
        .and_then(|mut s| s.query_row([execution_id], |r| r.get(0)).optional())
        .map_err(|e| read_err(path, e))
}

fn operation_from_row(
    path: &Path,
    execution_id: &str,
    r: &Row<'_>,
) -> Result<OperationRecord, StoreError> {
    const TABLE: &str = "durable_operation_log";
    let get = |i: usize| -> Result<Option<String>, StoreError> {
        r.get(i).map_err(|e| read_err(path, e))
    };
    let id = get(0)?.unwrap_or_default();
    let name = get(4)?;
    let at = || place(execution_id, Some((&id, name.as_deref())));
    let corrupt = |what: &str| StoreError::Corrupt {
        table: TABLE,
        message: format!("{}: {what}", at()),
    };
    // Type and status are parsed from the row's text in place (no copy).
    let text = |i: usize| -> Result<&str, StoreError> {
        r.get_ref(i)
            .and_then(|v| v.as_str().map_err(Into::into))
            .map_err(|e| read_err(path, e))
    };
    let op_type = text(2)?;
    let op_type = OperationType::parse(op_type)
        .ok_or_else(|| corrupt(&format!("unknown type {op_type:?}")))?;
    let status = text(5)?;
    let status = OperationStatus::parse(status)
        .ok_or_else(|| corrupt(&format!("unknown status {status:?}")))?;
    let result = get(6)?;
    let sub_type = get(3)?;
    if result_is_json(op_type, sub_type.as_deref()) {
        check_json(TABLE, at, "result", result.as_deref())?;
    }
    let error = parse_error(TABLE, at, get(7)?)?;
    let at_ms: Option<i64> = r.get(9).map_err(|e| read_err(path, e))?;
    let at_ms = at_ms.map(|ms| ms as u64);
    Ok(OperationRecord {
        parent_id: get(1)?,
        op_type,
        sub_type,
        name,
        status,
        result,
        error,
        attempt: r.get(8).map_err(|e| read_err(path, e))?,
        started_ms: at_ms,
        ended_ms: at_ms.filter(|_| status.is_finished()),
        details: OperationDetails {
            scheduled_end_ms: millis(r, 10, path)?,
            next_attempt_ms: millis(r, 11, path)?,
            callback_id: r.get(12).map_err(|e| read_err(path, e))?,
            replay_children: r.get::<_, i64>(13).map_err(|e| read_err(path, e))? != 0,
            heartbeat_timeout_ms: None,
            function_name: None,
        },
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
        .map_err(|e| read_err(path, e))?;
    let mut rows = stmt.query([key]).map_err(|e| read_err(path, e))?;
    let mut out: Vec<OperationRecord> = Vec::new();
    // Hash of the id → position in `out`; ids whose hash is already taken by another id go
    // to `collided` (rare: string keys there, hashes everywhere else).
    let mut position: HashMap<u64, usize, Fnv> = HashMap::default();
    let mut collided: HashMap<String, usize> = HashMap::new();
    while let Some(r) = rows.next().map_err(|e| read_err(path, e))? {
        let mut record = operation_from_row(path, execution_id, r)?;
        let next = out.len();
        let slot = match position.entry(fnv::hash(record.id.as_bytes())) {
            Entry::Vacant(v) => *v.insert(next),
            Entry::Occupied(o) if out[*o.get()].id == record.id => *o.get(),
            Entry::Occupied(_) => *collided.entry(record.id.clone()).or_insert(next),
        };
        if slot == next {
            out.push(record);
        } else {
            // The first row's commit time is the operation's start.
            record.started_ms = out[slot].started_ms.or(record.started_ms);
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
            .map_err(|e| read_err(path, e))?;
        let mut rows = stmt
            .query(params![key, op_id])
            .map_err(|e| read_err(path, e))?;
        if let Some(r) = rows.next().map_err(|e| read_err(path, e))? {
            // One row tells no start time (that is the operation's first row).
            return operation_from_row(path, execution_id, r).map(|record| {
                Some(OperationRecord {
                    started_ms: None,
                    ..record
                })
            });
        }
    }
    Ok(None)
}
