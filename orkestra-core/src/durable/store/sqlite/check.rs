//! `durable check`: SQLite's own integrity check, then every record of the durable tables
//! validated as the engine would read it (values that parse, known statuses and types, parent
//! links, allowed status transitions), each problem named by execution and operation.

use super::db_err;
use crate::durable::store::{
    result_is_json, ErrorObject, InvocationStatus, OperationStatus, OperationType, StoreError,
};
use crate::durable::transition;
use rusqlite::{Connection, Row};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// One problem found by [`SqliteStore::check`](super::SqliteStore::check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckProblem {
    /// The execution the record belongs to.
    pub execution: String,
    /// The operation, for an operation record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// What is wrong.
    pub problem: String,
}

/// What [`SqliteStore::check`](super::SqliteStore::check) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The file checked.
    pub database: String,
    /// `PRAGMA integrity_check`'s lines (`["ok"]` when SQLite finds nothing).
    pub integrity_check: Vec<String>,
    /// Execution records checked.
    pub executions: usize,
    /// Operation log rows checked.
    pub operation_rows: usize,
    /// Problems in the records.
    pub problems: Vec<CheckProblem>,
}

impl CheckReport {
    /// Whether SQLite and the record checks found nothing.
    pub fn is_clean(&self) -> bool {
        self.integrity_check == ["ok"] && self.problems.is_empty()
    }
}

fn json_problem(column: &str, text: Option<&str>) -> Option<String> {
    let text = text?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .err()
        .map(|e| format!("stored {column} is not JSON: {e}"))
}

fn error_problem(text: Option<&str>) -> Option<String> {
    let text = text?;
    serde_json::from_str::<ErrorObject>(text)
        .err()
        .map(|e| format!("stored error does not parse: {e}"))
}

/// The first operation row seen of an operation, and its latest status.
struct Seen {
    op_type: String,
    name: Option<String>,
    parent: Option<String>,
    status: Option<OperationStatus>,
}

/// Checks the file behind `conn` (`execution`: only that execution's records).
pub(super) fn check(
    conn: &Connection,
    path: &Path,
    execution: Option<&str>,
) -> Result<CheckReport, StoreError> {
    let err = |e: rusqlite::Error| db_err(path, e);
    let mut integrity = Vec::new();
    {
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            integrity.push(r.get::<_, String>(0).map_err(err)?);
        }
    }
    let mut problems = Vec::new();
    let mut problem = |execution: &str, operation: Option<&str>, what: String| {
        problems.push(CheckProblem {
            execution: execution.to_string(),
            operation: operation.map(str::to_string),
            problem: what,
        })
    };

    let filter = if execution.is_some() {
        "WHERE id = ?1"
    } else {
        "WHERE ?1 IS NULL"
    };
    let mut executions = 0;
    let mut known = std::collections::HashSet::new();
    {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT id, status, input, result, error FROM durable_executions {filter}"
            ))
            .map_err(err)?;
        let mut rows = stmt.query([execution]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            executions += 1;
            let text = |i: usize| -> Result<Option<String>, StoreError> { r.get(i).map_err(err) };
            let id = text(0)?.unwrap_or_default();
            let status = text(1)?.unwrap_or_default();
            let (input, result, error) = (text(2)?, text(3)?, text(4)?);
            match InvocationStatus::parse(&status) {
                None => problem(&id, None, format!("unknown execution status {status:?}")),
                Some(InvocationStatus::Succeeded) if result.is_none() => {
                    problem(&id, None, "SUCCEEDED without a stored result".into())
                }
                Some(InvocationStatus::Failed) if error.is_none() => {
                    problem(&id, None, "FAILED without a stored error".into())
                }
                Some(_) => {}
            }
            for found in [
                json_problem("input", input.as_deref()),
                json_problem("result", result.as_deref()),
                error_problem(error.as_deref()),
            ]
            .into_iter()
            .flatten()
            {
                problem(&id, None, found);
            }
            known.insert(id);
        }
    }

    let mut operation_rows = 0;
    let mut seen: HashMap<(String, String), Seen> = HashMap::new();
    {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT k.id, l.exec_key, l.op_id, l.parent_id, l.op_type, l.name, l.status,
                        l.result, l.error, l.sub_type
                 FROM durable_operation_log l LEFT JOIN durable_execution_keys k
                     ON k.key = l.exec_key
                 {} ORDER BY l.seq",
                if execution.is_some() {
                    "WHERE k.id = ?1"
                } else {
                    "WHERE ?1 IS NULL"
                }
            ))
            .map_err(err)?;
        let mut rows = stmt.query([execution]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            operation_rows += 1;
            check_row(r, &known, &mut seen, &mut problem).map_err(err)?;
        }
    }
    // Parent links: a parent is a CONTEXT operation of the same execution.
    for ((exec, op), s) in &seen {
        if let Some(parent) = &s.parent {
            match seen.get(&(exec.clone(), parent.clone())) {
                None => problem(exec, Some(op), format!("parent {parent} has no record")),
                Some(p) if p.op_type != "CONTEXT" => problem(
                    exec,
                    Some(op),
                    format!("parent {parent} is a {}, not a CONTEXT", p.op_type),
                ),
                Some(_) => {}
            }
        }
    }
    problems.sort_by(|a, b| (&a.execution, &a.operation).cmp(&(&b.execution, &b.operation)));
    Ok(CheckReport {
        database: path.display().to_string(),
        integrity_check: integrity,
        executions,
        operation_rows,
        problems,
    })
}

/// Checks one operation log row against the rows of its operation before it.
fn check_row(
    r: &Row<'_>,
    known: &std::collections::HashSet<String>,
    seen: &mut HashMap<(String, String), Seen>,
    problem: &mut impl FnMut(&str, Option<&str>, String),
) -> rusqlite::Result<()> {
    let exec: Option<String> = r.get(0)?;
    let exec = match exec {
        Some(id) => id,
        None => {
            let key: i64 = r.get(1)?;
            format!("#{key}")
        }
    };
    let op: String = r.get(2)?;
    let (parent, op_type, name): (Option<String>, String, Option<String>) =
        (r.get(3)?, r.get(4)?, r.get(5)?);
    let (status, result, error): (String, Option<String>, Option<String>) =
        (r.get(6)?, r.get(7)?, r.get(8)?);
    let sub_type: Option<String> = r.get(9)?;
    let mut report = |what: String| problem(&exec, Some(&op), what);
    if exec.starts_with('#') {
        report("operation row of an execution key with no id".into());
    } else if !known.contains(&exec) {
        report("operation of an execution that has no execution record".into());
    }
    if OperationType::parse(&op_type).is_none() {
        report(format!("unknown operation type {op_type:?}"));
    }
    let parsed = OperationStatus::parse(&status);
    if parsed.is_none() {
        report(format!("unknown operation status {status:?}"));
    }
    if parsed == Some(OperationStatus::Succeeded) && error.is_some() {
        report("SUCCEEDED with an error".into());
    }
    if parsed == Some(OperationStatus::Failed) && result.is_some() {
        report("FAILED with a result".into());
    }
    // A map's or parallel's results may be in a custom encoding: only JSON ones are checked.
    let json_result =
        OperationType::parse(&op_type).is_some_and(|t| result_is_json(t, sub_type.as_deref()));
    for found in [
        json_problem("result", result.as_deref().filter(|_| json_result)),
        error_problem(error.as_deref()),
    ]
    .into_iter()
    .flatten()
    {
        report(found);
    }
    // Each row's status against the one before it (none for the first row).
    let transition_problem = |op_type: &str, from: Option<OperationStatus>| {
        let (t, to) = (OperationType::parse(op_type)?, parsed?);
        let why = transition::allowed(t, from, to).err()?;
        (!transition::written_by_older_versions(t, from, to)).then(|| {
            format!(
                "status {} after {} ({why})",
                to.as_str(),
                from.map_or("no record", OperationStatus::as_str),
            )
        })
    };
    match seen.get_mut(&(exec.clone(), op.clone())) {
        None => {
            if let Some(found) = transition_problem(&op_type, None) {
                report(found);
            }
            seen.insert(
                (exec, op),
                Seen {
                    op_type,
                    name,
                    parent,
                    status: parsed,
                },
            );
        }
        Some(first) => {
            if (&first.op_type, &first.name, &first.parent) != (&op_type, &name, &parent) {
                report(format!(
                    "inconsistent operation: recorded as {} {:?} under {:?}, rewritten as {} \
                     {:?} under {:?}",
                    first.op_type, first.name, first.parent, op_type, name, parent
                ));
            }
            if let Some(found) = first
                .status
                .and_then(|from| transition_problem(&op_type, Some(from)))
            {
                report(found);
            }
            first.status = parsed.or(first.status);
        }
    }
    Ok(())
}
