//! An in-memory [`CheckpointService`] for tests: records every call, chains tokens, answers
//! each checkpoint with the operations it carried (a CALLBACK START gets a minted id), and can
//! revoke the token or serve extra state pages.

use super::service::{CheckpointResponse, CheckpointService, ServiceError, StatePage};
use super::wire::{Action, Update, UpdateType};
use crate::durable::step::BoxFuture;
use crate::durable::store::OperationType;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Default)]
pub(crate) struct FakeService {
    /// Every checkpoint call: the token it carried and its updates.
    pub(crate) calls: Mutex<Vec<(String, Vec<Update>)>>,
    /// Every state page asked for: (token, marker).
    pub(crate) pages_asked: Mutex<Vec<(String, String)>>,
    /// Pages served, in order.
    pub(crate) pages: Mutex<VecDeque<StatePage>>,
    /// The checkpoint call (0-based) that gets no token back.
    pub(crate) revoke_at: Option<usize>,
}

/// The operation a (non-EXECUTION) update leaves on the service, in the event's JSON shape.
fn operation(u: &Update) -> Value {
    let status = match u.action {
        Action::Start => "STARTED",
        Action::Succeed => "SUCCEEDED",
        Action::Fail => "FAILED",
        Action::Retry => "PENDING",
        Action::Cancel => "CANCELLED",
    };
    let mut op = json!({
        "Id": u.id, "Type": u.update_type.as_str(), "Status": status,
        "StartTimestamp": 1_700_000_000_000u64,
    });
    if let Some(p) = &u.parent_id {
        op["ParentId"] = json!(p);
    }
    if let Some(n) = &u.name {
        op["Name"] = json!(n);
    }
    if let Some(s) = &u.sub_type {
        op["SubType"] = json!(s);
    }
    if u.update_type == UpdateType::Op(OperationType::Callback) {
        op["CallbackDetails"] = json!({"CallbackId": format!("minted-{}", u.id)});
    }
    let error = u
        .error
        .as_ref()
        .map(|e| json!({"ErrorType": e.error_type, "ErrorMessage": e.error_message}));
    if u.update_type == UpdateType::Op(OperationType::Step) {
        op["StepDetails"] = json!({"Attempt": 0, "Result": u.payload, "Error": error});
    }
    if u.update_type == UpdateType::Op(OperationType::Context) {
        op["ContextDetails"] = json!({
            "Result": u.payload, "Error": error,
            "ReplayChildren": u.options.replay_children.unwrap_or(false),
        });
    }
    op
}

impl FakeService {
    /// The operations every call so far left on the service (the last update of each id
    /// wins), in the order they were first written: the state a next invocation gets.
    pub(crate) fn operations(&self) -> Vec<Value> {
        let mut order: Vec<String> = Vec::new();
        let mut latest: std::collections::HashMap<String, Value> = Default::default();
        for (_, updates) in self.calls.lock().unwrap().iter() {
            for u in updates
                .iter()
                .filter(|u| u.update_type != UpdateType::Execution)
            {
                if !latest.contains_key(&u.id) {
                    order.push(u.id.clone());
                }
                latest.insert(u.id.clone(), operation(u));
            }
        }
        order
            .into_iter()
            .map(|id| latest.remove(&id).unwrap())
            .collect()
    }
}

impl CheckpointService for FakeService {
    fn checkpoint(
        &self,
        _arn: &str,
        token: &str,
        updates: Vec<Update>,
    ) -> BoxFuture<'static, Result<CheckpointResponse, ServiceError>> {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.len();
        let operations = updates
            .iter()
            .filter(|u| u.update_type != UpdateType::Execution)
            .map(operation)
            .collect();
        calls.push((token.to_string(), updates));
        let response = CheckpointResponse {
            token: (self.revoke_at != Some(n)).then(|| format!("token-{}", n + 1)),
            operations,
            next_marker: None,
        };
        Box::pin(async move { Ok(response) })
    }

    fn get_state(
        &self,
        _arn: &str,
        token: &str,
        marker: &str,
    ) -> BoxFuture<'static, Result<StatePage, ServiceError>> {
        self.pages_asked
            .lock()
            .unwrap()
            .push((token.to_string(), marker.to_string()));
        let page = self.pages.lock().unwrap().pop_front().unwrap_or_default();
        Box::pin(async move { Ok(page) })
    }
}

/// An invocation event of execution `arn` with input `input` and `ops` besides the EXECUTION
/// operation.
pub(crate) fn event(input: &Value, ops: Vec<Value>, marker: Option<&str>) -> Value {
    let mut all = vec![json!({
        "Id": "exec", "Type": "EXECUTION", "Status": "STARTED",
        "StartTimestamp": 1_700_000_000_000u64,
        "ExecutionDetails": {"InputPayload": input.to_string()},
    })];
    all.extend(ops);
    json!({
        "DurableExecutionArn": "arn:aws:lambda:us-west-2:1:function:f:$LATEST/durable-execution/e/1",
        "CheckpointToken": "token-0",
        "InitialExecutionState": {"Operations": all, "NextMarker": marker.unwrap_or("")},
    })
}
