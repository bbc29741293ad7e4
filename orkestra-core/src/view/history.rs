//! The tree view of a local execution: the workflow's graph, each state filled in from the
//! history events (keyed by state name, so concurrent branches never get mixed up).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::{clip, duration, LISTED_ITEMS};
use crate::engine::{EventKind, HistoryEvent};
use crate::error::CapturedError;
use crate::graph::{Node, Workflow};

/// An indented tree of `workflow`'s states with what its history says about each: status,
/// duration, attempts, error and cause; a group's branches indented under it; a map with its
/// iterations counted by outcome, its slowest iterations (from the map event's details) and
/// its first failures listed. States never reached say `not run`.
pub fn history_tree(workflow: &Workflow, events: impl IntoIterator<Item = HistoryEvent>) -> String {
    let mut facts = Facts::default();
    for event in events {
        facts.event(event);
    }
    let mut out = facts.header(workflow.name());
    render(workflow.root(), 1, &facts, &mut out);
    out
}

#[derive(Default)]
struct MapItems {
    started: usize,
    succeeded: usize,
    captured: usize,
    failed: usize,
    aborted: usize,
    /// Items that failed an attempt and then succeeded on a retry.
    retried: usize,
    /// An item's latest failed attempt, until the item settles.
    pending: BTreeMap<usize, CapturedError>,
    /// Settled failures: (index, error, whether it failed the map rather than being captured).
    failures: Vec<(usize, CapturedError, bool)>,
    /// The slowest items, slowest first: (index, time taken).
    slowest: Vec<(u64, Duration)>,
}

#[derive(Default)]
struct StateFacts {
    entered: Option<SystemTime>,
    ended: Option<SystemTime>,
    succeeded: Option<bool>,
    attempts: u32,
    errors: Vec<CapturedError>,
    items: MapItems,
}

#[derive(Default)]
struct Facts {
    started: Option<SystemTime>,
    ended: Option<(SystemTime, bool, Option<CapturedError>)>,
    /// Stopped by a task (`ExecutionAborted`) rather than failed.
    aborted: bool,
    states: HashMap<String, StateFacts>,
}

impl Facts {
    fn event(&mut self, event: HistoryEvent) {
        use EventKind::*;
        let at = event.timestamp;
        let Some(name) = event.state_name.as_deref() else {
            match event.kind {
                ExecutionStarted => self.started = Some(at),
                ExecutionSucceeded => self.ended = Some((at, true, None)),
                ExecutionFailed => self.ended = Some((at, false, event.error)),
                ExecutionAborted => {
                    self.aborted = true;
                    self.ended = Some((at, false, event.error));
                }
                _ => {}
            }
            return;
        };
        let state = self.states.entry(name.to_string()).or_default();
        match (event.kind, event.map_index) {
            (TaskStateEntered | MapStateEntered | ParallelStateEntered, None) => {
                state.entered = Some(at)
            }
            (LambdaFunctionStarted, None) => state.attempts += 1,
            (LambdaFunctionFailed | LambdaFunctionTimedOut, None) => {
                state.ended = Some(at);
                state.succeeded = Some(false);
                state.errors.extend(event.error);
            }
            (LambdaFunctionSucceeded, None) => state.ended = Some(at),
            (TaskStateExited, None) => state.succeeded = Some(true),
            (MapStateSucceeded | ParallelStateSucceeded, None) => {
                state.ended = Some(at);
                state.succeeded = Some(true);
                state.items.slowest = slowest_items(event.details.as_deref());
            }
            (MapStateFailed | ParallelStateFailed, None) => {
                state.ended = Some(at);
                state.succeeded = Some(false);
                state.items.slowest = slowest_items(event.details.as_deref());
            }
            (MapIterationStarted, Some(_)) => state.items.started += 1,
            (LambdaFunctionFailed | LambdaFunctionTimedOut, Some(index)) => {
                if let Some(error) = event.error {
                    state.items.pending.insert(index, error);
                }
            }
            // An item that exits after a failed attempt succeeded on a retry.
            (TaskStateExited, Some(index)) if state.items.pending.remove(&index).is_some() => {
                state.items.retried += 1;
            }
            (MapIterationSucceeded, Some(index)) => match state.items.pending.remove(&index) {
                // No exit after a failed attempt: `capture_errors` made the error its value.
                Some(error) => {
                    state.items.captured += 1;
                    state.items.failures.push((index, error, false));
                }
                None => state.items.succeeded += 1,
            },
            (MapIterationFailed, Some(index)) => {
                state.items.failed += 1;
                let pending = state.items.pending.remove(&index);
                if let Some(error) = event.error.or(pending) {
                    state.items.failures.push((index, error, true));
                }
            }
            (MapIterationAborted, Some(_)) => state.items.aborted += 1,
            _ => {}
        }
    }

    fn header(&self, name: &str) -> String {
        let took = match (self.started, &self.ended) {
            (Some(start), Some((end, _, _))) => end.duration_since(start).unwrap_or_default(),
            _ => Duration::ZERO,
        };
        let mut out = match &self.ended {
            Some((_, true, _)) => format!("execution SUCCEEDED in {}  ({name})\n", duration(took)),
            Some((_, false, error)) => {
                let status = if self.aborted { "ABORTED" } else { "FAILED" };
                let mut text = format!("execution {status} in {}  ({name})\n", duration(took));
                if let Some(error) = error {
                    let _ = writeln!(text, "  error: {}", error.name());
                    let _ = writeln!(text, "  cause: {}", clip(&error.cause, 200));
                }
                text
            }
            None => format!("execution unfinished  ({name})\n"),
        };
        out.push_str("states:\n");
        out
    }
}

/// The `slowest` list of a map event's details (`{"slowest":[{"index":i,"micros":n},..]}`).
fn slowest_items(details: Option<&str>) -> Vec<(u64, Duration)> {
    let Some(details) = details.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
    else {
        return Vec::new();
    };
    details["slowest"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let index = item["index"].as_u64()?;
                    let micros = item["micros"].as_u64()?;
                    Some((index, Duration::from_micros(micros)))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

fn status_and_time(facts: Option<&StateFacts>) -> String {
    let Some(facts) = facts.filter(|f| f.entered.is_some()) else {
        return "not run".to_string();
    };
    let status = match facts.succeeded {
        Some(true) => "SUCCEEDED",
        Some(false) => "FAILED",
        None => "unfinished",
    };
    match (facts.entered, facts.ended) {
        (Some(start), Some(end)) => {
            format!(
                "{status}  {}",
                duration(end.duration_since(start).unwrap_or_default())
            )
        }
        _ => status.to_string(),
    }
}

fn render(node: &Node, depth: usize, facts: &Facts, out: &mut String) {
    let pad = indent(depth);
    match node {
        Node::Chain(nodes) => nodes.iter().for_each(|n| render(n, depth, facts, out)),
        Node::Task(task) => {
            let state = facts.states.get(&task.state_name);
            let _ = write!(out, "{pad}{}  {}", task.state_name, status_and_time(state));
            let Some(state) = state else {
                out.push('\n');
                return;
            };
            if task.task.options.map {
                out.push_str("  (map)\n");
                map_lines(&state.items, depth + 1, out);
            } else {
                if state.attempts > 1 {
                    let _ = write!(out, "  ({} attempts)", state.attempts);
                }
                out.push('\n');
                if state.succeeded == Some(false) {
                    if let Some(error) = state.errors.last() {
                        let _ = writeln!(out, "{pad}  error: {}", error.name());
                        let _ = writeln!(out, "{pad}  cause: {}", clip(&error.cause, 200));
                    }
                } else if !state.errors.is_empty() {
                    let retried: Vec<&str> = state.errors.iter().map(|e| e.name()).collect();
                    let _ = writeln!(out, "{pad}  retried after: {}", retried.join(", "));
                }
            }
        }
        Node::Parallel(group) => {
            let state = facts.states.get(&group.state_name);
            let kind = if group.swallow {
                "(..) swallows branch errors"
            } else {
                "[..] fail-fast"
            };
            let _ = writeln!(
                out,
                "{pad}{}  {}  {kind}",
                group.state_name,
                status_and_time(state)
            );
            for (i, branch) in group.branches.iter().enumerate() {
                let _ = writeln!(out, "{pad}  branch {}", i + 1);
                render(branch, depth + 2, facts, out);
            }
        }
    }
}

fn map_lines(items: &MapItems, depth: usize, out: &mut String) {
    let pad = indent(depth);
    let mut counts = vec![format!("{} succeeded", items.succeeded)];
    for (n, what) in [
        (items.captured, "captured errors"),
        (items.failed, "failed"),
        (items.aborted, "aborted"),
        (items.retried, "succeeded after a retry"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    }
    let _ = writeln!(
        out,
        "{pad}iterations: {}  ({})",
        items.started,
        counts.join(", ")
    );
    if !items.slowest.is_empty() {
        let slowest: Vec<String> = items
            .slowest
            .iter()
            .map(|(index, took)| format!("#{index} {}", duration(*took)))
            .collect();
        let _ = writeln!(out, "{pad}slowest: {}", slowest.join(", "));
    }
    let mut failures: Vec<&(usize, CapturedError, bool)> = items.failures.iter().collect();
    failures.sort_by_key(|(index, _, _)| *index);
    for (index, error, failed) in failures.iter().take(LISTED_ITEMS) {
        let how = if *failed { "failed" } else { "captured" };
        let _ = writeln!(
            out,
            "{pad}#{index} {how}: {}: {}",
            error.name(),
            clip(&error.message(), 120)
        );
    }
    if failures.len() > LISTED_ITEMS {
        let _ = writeln!(out, "{pad}… {} more", failures.len() - LISTED_ITEMS);
    }
}
