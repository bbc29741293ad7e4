//! A workflow's diagram, walked from the graph the ASL export uses.

use super::{Diagram, Group, GroupKind, Ids, Item, ItemKind, Shape};
use crate::engine::EngineConfig;
use crate::graph::{Node, Workflow};
use crate::task::{RetryPolicy, TaskSpec};

pub(super) fn diagram(workflow: &Workflow) -> Diagram {
    let mut ids = Ids::default();
    let start = terminal(&mut ids, "Start");
    let body = shape(workflow.root(), &mut ids);
    let end = terminal(&mut ids, "End");
    let mut parts = vec![start];
    match body {
        Shape::Chain(inner) => parts.extend(inner),
        other => parts.push(other),
    }
    parts.push(end);
    Diagram {
        title: workflow.name().to_string(),
        root: Shape::Chain(parts),
    }
}

fn terminal(ids: &mut Ids, label: &str) -> Shape {
    Shape::Item(Item {
        id: ids.make(&format!("wf_{}", label.to_ascii_lowercase())),
        title: label.to_string(),
        notes: Vec::new(),
        kind: ItemKind::Terminal,
        status: None,
    })
}

fn shape(node: &Node, ids: &mut Ids) -> Shape {
    match node {
        Node::Task(task) => Shape::Item(Item {
            id: ids.make(&task.state_name),
            title: task.state_name.clone(),
            notes: task_notes(task.task),
            kind: if task.task.options.map {
                ItemKind::Map
            } else {
                ItemKind::Task
            },
            status: None,
        }),
        Node::Chain(nodes) => Shape::Chain(nodes.iter().map(|n| shape(n, ids)).collect()),
        Node::Parallel(group) => {
            let (kind, title) = if group.swallow {
                (
                    GroupKind::Swallow,
                    format!("{} · (..) swallows branch errors", group.state_name),
                )
            } else {
                (
                    GroupKind::FailFast,
                    format!("{} · [..] fail-fast", group.state_name),
                )
            };
            Shape::Group(Group {
                id: ids.make(&group.state_name),
                title,
                notes: Vec::new(),
                kind,
                branches: group.branches.iter().map(|b| shape(b, ids)).collect(),
                status: None,
            })
        }
    }
}

/// The annotations of a task: map settings, timeout, retry rules.
fn task_notes(spec: &TaskSpec) -> Vec<String> {
    let options = &spec.options;
    let mut notes = Vec::new();
    if options.map {
        let concurrency = match options.max_concurrency {
            Some(n) if n > 0 => format!("max concurrency {n}"),
            _ => format!(
                "max concurrency {} (default)",
                EngineConfig::default().default_max_concurrency
            ),
        };
        let errors = if options.capture_errors {
            "captures item errors"
        } else {
            "an item error fails the map"
        };
        if options.items_pointer {
            // Exported as a Distributed Map: one child execution per stored item.
            notes.push(format!("distributed map over stored items · {concurrency}"));
        } else {
            notes.push(format!("map · {concurrency}"));
        }
        notes.push(errors.to_string());
    }
    if let Some(secs) = options.timeout_secs {
        notes.push(format!("timeout {secs} s"));
    }
    notes.extend(options.retry.iter().map(retry_note));
    notes
}

fn retry_note(rule: &RetryPolicy) -> String {
    let mut note = format!(
        "retry {} ×{} every {} s, backoff ×{}",
        rule.errors.join("|"),
        rule.max_attempts,
        rule.interval_secs,
        rule.backoff_rate
    );
    if let Some(max) = rule.max_delay_secs {
        note.push_str(&format!(", max {max} s"));
    }
    note
}
