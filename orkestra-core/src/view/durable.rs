//! The tree view of a durable execution's records (children in call order, see
//! `diagram::children_in_call_order`).

use std::collections::HashMap;
use std::fmt::Write;

use super::{clip, LISTED_ITEMS};
use crate::durable::store::{ExecutionRecord, OperationRecord, OperationStatus};

/// An indented tree of a durable execution's operations (by `parent_id`, in the order they were
/// first checkpointed): each with its kind, name, status, attempt, duration and error. A map or
/// parallel with more than [`LISTED_ITEMS`] iterations shows them summarised: counts by status,
/// the slowest iterations and the first failures.
///
/// Durations come from the commit times the store keeps per operation (its first and its
/// finishing row, schema version 4): an operation runs from the earliest start among itself and
/// its descendants (an iteration writes no START of its own) to its end. Writes that share one
/// group commit share its time, so operations faster than a commit show `0 ms`; records
/// written before version 4 show none.
///
/// ```
/// use orkestra::durable::store::{ExecutionRecord, InvocationStatus};
/// let execution = ExecutionRecord {
///     id: "run-1".into(), handler: "h".into(), status: InvocationStatus::Succeeded,
///     input: "3".into(), result: Some("9".into()), error: None, started_ms: None, ended_ms: None,
/// };
/// let text = orkestra::view::durable_tree(&execution, &[]);
/// assert!(text.starts_with("execution run-1 (h) SUCCEEDED"));
/// ```
pub fn durable_tree(execution: &ExecutionRecord, operations: &[OperationRecord]) -> String {
    let children = crate::diagram::children_in_call_order(operations);
    let mut out = format!(
        "execution {} ({}) {}\n  input: {}\n",
        execution.id,
        execution.handler,
        execution.status.as_str(),
        clip(&execution.input, 200)
    );
    if let Some(result) = &execution.result {
        let _ = writeln!(out, "  result: {}", clip(result, 200));
    }
    if let Some(error) = &execution.error {
        let _ = writeln!(out, "  error: {}", error.error_type);
        let _ = writeln!(out, "  cause: {}", clip(&error.error_message, 200));
    }
    let _ = writeln!(out, "operations: {}", operations.len());
    render_children("", 1, &children, &mut out);
    out
}

type Children<'a> = HashMap<&'a str, Vec<&'a OperationRecord>>;

/// How long `op` ran, in milliseconds: from the earliest commit time among it and its
/// descendants to its own end; `None` while unfinished or without times.
fn duration_ms(op: &OperationRecord, children: &Children<'_>) -> Option<u64> {
    fn earliest(op: &OperationRecord, children: &Children<'_>) -> Option<u64> {
        let below = children
            .get(op.id.as_str())
            .into_iter()
            .flatten()
            .filter_map(|kid| earliest(kid, children));
        below.chain(op.started_ms).min()
    }
    let end = op.ended_ms?;
    Some(end.saturating_sub(earliest(op, children).unwrap_or(end)))
}

/// A duration for people: `840 ms`, `12.3 s`, `4.5 min`.
fn human(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1e3),
        _ => format!("{:.1} min", ms as f64 / 60e3),
    }
}

fn label(op: &OperationRecord, children: &Children<'_>) -> String {
    let kind = match op.sub_type.as_deref() {
        Some(sub) if !sub.is_empty() => sub.to_string(),
        _ => op.op_type.as_str().to_string(),
    };
    let name = op.name.clone().unwrap_or_else(|| format!("#{}", op.id));
    let mut text = format!("{kind} {name}  {}", op.status.as_str());
    if op.attempt > 1 {
        let _ = write!(text, "  (attempt {})", op.attempt);
    }
    if let Some(ms) = duration_ms(op, children) {
        let _ = write!(text, "  {}", human(ms));
    }
    text
}

fn render_children(
    parent: &str,
    depth: usize,
    children: &HashMap<&str, Vec<&OperationRecord>>,
    out: &mut String,
) {
    let pad = "  ".repeat(depth);
    let kids = children.get(parent).map_or(&[][..], Vec::as_slice);
    let side_by_side = kids.iter().all(|k| {
        matches!(
            k.sub_type.as_deref(),
            Some("MapIteration" | "ParallelBranch")
        )
    });
    if side_by_side && kids.len() > LISTED_ITEMS {
        summarise(kids, depth, children, out);
        return;
    }
    for op in kids {
        let _ = writeln!(out, "{pad}{}", label(op, children));
        if let Some(error) = &op.error {
            let _ = writeln!(out, "{pad}  error: {}", error.error_type);
            let _ = writeln!(out, "{pad}  cause: {}", clip(&error.error_message, 200));
        }
        render_children(&op.id, depth + 1, children, out);
    }
}

fn summarise(kids: &[&OperationRecord], depth: usize, children: &Children<'_>, out: &mut String) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}iterations: {}  ({})",
        kids.len(),
        crate::diagram::status_counts(kids)
    );
    let retried = kids.iter().filter(|k| k.attempt > 1).count();
    if retried > 0 {
        let _ = writeln!(out, "{pad}retried: {retried}");
    }
    let mut timed: Vec<(u64, &OperationRecord)> = kids
        .iter()
        .filter_map(|k| duration_ms(k, children).map(|ms| (ms, *k)))
        .collect();
    if !timed.is_empty() {
        // Slowest first; ties in first-write order.
        timed.sort_by_key(|(ms, _)| std::cmp::Reverse(*ms));
        let slowest: Vec<String> = timed
            .iter()
            .take(LISTED_ITEMS)
            .map(|(ms, k)| {
                let name = k.name.clone().unwrap_or_else(|| format!("#{}", k.id));
                format!("{name} {}", human(*ms))
            })
            .collect();
        let _ = writeln!(out, "{pad}slowest: {}", slowest.join(", "));
    }
    let failures: Vec<&&OperationRecord> = kids
        .iter()
        .filter(|k| k.status == OperationStatus::Failed)
        .collect();
    for kid in failures.iter().take(LISTED_ITEMS) {
        let name = kid.name.clone().unwrap_or_else(|| format!("#{}", kid.id));
        let error = kid
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.error_type, clip(&e.error_message, 120)))
            .unwrap_or_default();
        let _ = writeln!(out, "{pad}failed {name}: {error}");
    }
    if failures.len() > LISTED_ITEMS {
        let _ = writeln!(out, "{pad}… {} more failed", failures.len() - LISTED_ITEMS);
    }
}
