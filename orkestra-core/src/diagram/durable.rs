//! A recorded durable execution's diagram: the operation tree (by `parent_id`) with statuses.
//! Siblings are drawn in the order they were first checkpointed; a map or parallel context
//! draws its iterations / branches side by side, up to [`MAX_DRAWN_ITERATIONS`], and
//! summarises a larger map (counts by status, the first failures) in one note.

use std::collections::HashMap;

use super::{Diagram, Group, GroupKind, Ids, Item, ItemKind, Shape, Status};
use crate::durable::store::{
    ExecutionRecord, InvocationStatus, OperationRecord, OperationStatus, OperationType,
};

/// A map with more iterations than this is drawn as one summary note.
pub const MAX_DRAWN_ITERATIONS: usize = 8;

/// The records grouped by parent id ("" is the root: operation ids are never empty), each
/// context's children in the order the code started them (a map's items by index), whatever
/// order they finished and were checkpointed in.
pub(crate) fn children_in_call_order(
    operations: &[OperationRecord],
) -> HashMap<&str, Vec<&OperationRecord>> {
    let mut children: HashMap<&str, Vec<&OperationRecord>> = HashMap::new();
    for op in operations {
        children
            .entry(op.parent_id.as_deref().unwrap_or(""))
            .or_default()
            .push(op);
    }
    for (parent, kids) in children.iter_mut() {
        if parent.is_empty() || kids.len() < 2 {
            continue;
        }
        // A context's n-th operation has id `operation_id(parent, n)`.
        let order: HashMap<String, usize> = (1..=kids.len() as u64 * 2 + 8)
            .map(|n| (crate::durable::operation_id(parent, n), n as usize))
            .collect();
        kids.sort_by_key(|op| order.get(&op.id).copied().unwrap_or(usize::MAX));
    }
    children
}

pub(super) fn diagram(execution: &ExecutionRecord, operations: &[OperationRecord]) -> Diagram {
    let children = children_in_call_order(operations);
    let mut ids = Ids::default();
    let tree = Tree {
        children: &children,
    };
    let mut parts = vec![Shape::Item(Item {
        id: ids.make("execution_start"),
        title: format!("{} {}", execution.handler, execution.id),
        notes: vec!["input ".to_string() + &clip(&execution.input, 40)],
        kind: ItemKind::Terminal,
        status: None,
    })];
    parts.extend(tree.chain(None, &mut ids));
    let status = match execution.status {
        InvocationStatus::Succeeded => Status::Succeeded,
        InvocationStatus::Failed | InvocationStatus::TimedOut | InvocationStatus::Stopped => {
            Status::Failed
        }
        InvocationStatus::Running => Status::Running,
    };
    let mut notes = Vec::new();
    if let Some(error) = &execution.error {
        notes.push(clip(&error.to_string(), 60));
    }
    parts.push(Shape::Item(Item {
        id: ids.make("execution_end"),
        title: execution.status.as_str().to_string(),
        notes,
        kind: ItemKind::Terminal,
        status: Some(status),
    }));
    Diagram {
        title: format!("durable execution {} ({})", execution.id, execution.handler),
        root: Shape::Chain(parts),
    }
}

struct Tree<'a> {
    children: &'a HashMap<&'a str, Vec<&'a OperationRecord>>,
}

impl<'a> Tree<'a> {
    fn kids(&self, id: Option<&str>) -> &[&'a OperationRecord] {
        self.children
            .get(id.unwrap_or(""))
            .map_or(&[], Vec::as_slice)
    }

    fn chain(&self, parent: Option<&str>, ids: &mut Ids) -> Vec<Shape> {
        self.kids(parent)
            .iter()
            .map(|op| self.shape(op, ids))
            .collect()
    }

    fn shape(&self, op: &OperationRecord, ids: &mut Ids) -> Shape {
        let kids = self.kids(Some(&op.id));
        let sub = op.sub_type.as_deref().unwrap_or("");
        if op.op_type != OperationType::Context || kids.is_empty() {
            return Shape::Item(item(op, ids));
        }
        let side_by_side = matches!(sub, "Map" | "Parallel");
        let (branches, notes) = if side_by_side && kids.len() > MAX_DRAWN_ITERATIONS {
            (
                vec![Shape::Item(summary(op, kids, ids))],
                vec![status_note(op)],
            )
        } else if side_by_side {
            (
                kids.iter().map(|kid| self.shape(kid, ids)).collect(),
                vec![status_note(op)],
            )
        } else {
            (
                vec![Shape::Chain(self.chain(Some(&op.id), ids))],
                vec![status_note(op)],
            )
        };
        Shape::Group(Group {
            id: ids.make(&format!("op_{}", op.id)),
            title: format!("{} {}", kind_label(op), display_name(op)),
            notes,
            kind: GroupKind::Context,
            branches,
            status: Some(status(op.status)),
        })
    }
}

fn status(status: OperationStatus) -> Status {
    match status {
        OperationStatus::Succeeded => Status::Succeeded,
        s if s.is_failure() => Status::Failed,
        _ => Status::Running,
    }
}

fn kind_label(op: &OperationRecord) -> String {
    match op.sub_type.as_deref() {
        Some(sub) if !sub.is_empty() => sub.to_string(),
        _ => op.op_type.as_str().to_ascii_lowercase(),
    }
}

fn display_name(op: &OperationRecord) -> String {
    op.name.clone().unwrap_or_else(|| format!("#{}", op.id))
}

fn status_note(op: &OperationRecord) -> String {
    let mut note = op.status.as_str().to_string();
    if op.attempt > 1 {
        note.push_str(&format!(" · attempt {}", op.attempt));
    }
    if let Some(error) = &op.error {
        note.push_str(" · ");
        note.push_str(&clip(&error.to_string(), 50));
    }
    note
}

fn item(op: &OperationRecord, ids: &mut Ids) -> Item {
    Item {
        id: ids.make(&format!("op_{}", op.id)),
        title: display_name(op),
        notes: vec![format!("{} · {}", kind_label(op), status_note(op))],
        kind: ItemKind::Task,
        status: Some(status(op.status)),
    }
}

/// How many of `kids` are in each status, in order of first appearance: `"7 SUCCEEDED, 3 FAILED"`.
pub(crate) fn status_counts(kids: &[&OperationRecord]) -> String {
    let mut counts: Vec<(OperationStatus, usize)> = Vec::new();
    for kid in kids {
        match counts.iter_mut().find(|(s, _)| *s == kid.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((kid.status, 1)),
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    counts.join(", ")
}

/// One note for a large map: counts by status and the first failed iterations.
fn summary(op: &OperationRecord, kids: &[&OperationRecord], ids: &mut Ids) -> Item {
    let mut notes = vec![status_counts(kids)];
    notes.extend(
        kids.iter()
            .filter(|kid| kid.status == OperationStatus::Failed)
            .take(3)
            .map(|kid| {
                let error = kid
                    .error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                format!("failed {}: {}", display_name(kid), clip(&error, 40))
            }),
    );
    Item {
        id: ids.make(&format!("op_{}_items", op.id)),
        title: format!("{} iterations", kids.len()),
        notes,
        kind: ItemKind::Note,
        status: None,
    }
}

/// At most `max` characters, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).collect::<String>() + "…"
    }
}
