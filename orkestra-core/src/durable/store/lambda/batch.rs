//! Splitting queued updates into `CheckpointDurableExecution` calls by the service's batch
//! rules (PROTOCOL.md §4): an id appears once per call, except a STEP or CONTEXT START followed
//! by its close; at most [`MAX_UPDATES`] updates and about [`MAX_BYTES`] per call; an EXECUTION
//! update is alone and last. Order is kept, so a parent's START always goes before its
//! children's updates (the engine writes it first).

use super::wire::{Action, Update, UpdateType};
use crate::durable::store::OperationType;
use std::collections::HashMap;

/// Most updates in one call (the Python SDK's batch limit).
pub const MAX_UPDATES: usize = 250;
/// About the most bytes of updates in one call (the Python SDK's 750 KB).
pub const MAX_BYTES: usize = 750 * 1024;

/// Whether `next` may join a call that already holds `prev` for the same id.
fn pairs(prev: &[Action], next: &Update) -> bool {
    matches!(
        next.update_type,
        UpdateType::Op(OperationType::Step | OperationType::Context)
    ) && prev == [Action::Start]
        && next.action != Action::Start
}

/// Splits `updates` (in write order) into calls, in order.
pub fn plan(updates: Vec<Update>) -> Vec<Vec<Update>> {
    let mut calls: Vec<Vec<Update>> = Vec::new();
    let mut current: Vec<Update> = Vec::new();
    let mut ids: HashMap<String, Vec<Action>> = HashMap::new();
    let mut bytes = 0;
    for update in updates {
        let size = update.wire_size();
        let clash = ids
            .get(&update.id)
            .is_some_and(|prev| !pairs(prev, &update));
        let full =
            current.len() >= MAX_UPDATES || (bytes + size > MAX_BYTES && !current.is_empty());
        let execution = update.update_type == UpdateType::Execution;
        if (clash || full || execution) && !current.is_empty() {
            calls.push(std::mem::take(&mut current));
            ids.clear();
            bytes = 0;
        }
        ids.entry(update.id.clone())
            .or_default()
            .push(update.action);
        bytes += size;
        current.push(update);
        if execution {
            calls.push(std::mem::take(&mut current));
            ids.clear();
            bytes = 0;
        }
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}
