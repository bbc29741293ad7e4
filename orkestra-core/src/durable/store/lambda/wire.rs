//! The wire shapes of the Lambda durable checkpoint API (PROTOCOL.md §2, §4, §6): an engine
//! [`OperationRecord`] becomes an [`Update`] (`OperationUpdate`), and an `Operation` of the
//! invocation event or of a checkpoint response becomes an [`OperationRecord`] again.
//!
//! Records the service owns are not sent: a step's READY (the service flips a due retry), a
//! wait's SUCCEEDED (the service fires the timer), a callback's completion or timeout (they
//! come from outside), a chained invoke's end (the target execution ends it).

use crate::durable::store::{
    ErrorObject, OperationDetails, OperationRecord, OperationStatus, OperationType,
};
use serde_json::{json, Map, Value};

/// Longest operation id (and parent id) the service accepts.
pub const MAX_ID_LEN: usize = 64;
/// Longest operation name the service accepts.
pub const MAX_NAME_LEN: usize = 256;
/// Longest `WaitSeconds` / `NextAttemptDelaySeconds` (one year and a day).
pub const MAX_DELAY_SECONDS: u64 = 31_622_400;

/// An `OperationUpdate`'s `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// START.
    Start,
    /// SUCCEED.
    Succeed,
    /// FAIL.
    Fail,
    /// RETRY.
    Retry,
    /// CANCEL.
    Cancel,
}

impl Action {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "START",
            Action::Succeed => "SUCCEED",
            Action::Fail => "FAIL",
            Action::Retry => "RETRY",
            Action::Cancel => "CANCEL",
        }
    }
}

/// The type an update names: an operation type, or the execution itself (a result over the
/// response limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateType {
    /// An operation of the engine.
    Op(OperationType),
    /// EXECUTION.
    Execution,
}

impl UpdateType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateType::Op(t) => t.as_str(),
            UpdateType::Execution => "EXECUTION",
        }
    }
}

/// Type-specific options of an update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `ContextOptions.ReplayChildren`.
    pub replay_children: Option<bool>,
    /// `StepOptions.NextAttemptDelaySeconds`.
    pub next_attempt_delay_seconds: Option<u64>,
    /// `WaitOptions.WaitSeconds`.
    pub wait_seconds: Option<u64>,
    /// `CallbackOptions.TimeoutSeconds` (0 = none).
    pub callback_timeout_seconds: Option<u64>,
    /// `CallbackOptions.HeartbeatTimeoutSeconds` (0 = none).
    pub callback_heartbeat_seconds: Option<u64>,
    /// `ChainedInvokeOptions.FunctionName`.
    pub function_name: Option<String>,
}

/// One `OperationUpdate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// `Id`.
    pub id: String,
    /// `ParentId`.
    pub parent_id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Type`.
    pub update_type: UpdateType,
    /// `SubType`.
    pub sub_type: Option<String>,
    /// `Action`.
    pub action: Action,
    /// `Payload` (JSON text).
    pub payload: Option<String>,
    /// `Error`.
    pub error: Option<ErrorObject>,
    /// The type's options.
    pub options: Options,
}

impl Update {
    /// Roughly how many bytes the update takes in a request (for the batch size limit).
    pub fn wire_size(&self) -> usize {
        let error = self
            .error
            .as_ref()
            .map_or(0, |e| e.error_type.len() + e.error_message.len() + 40);
        120 + self.id.len()
            + self.parent_id.as_ref().map_or(0, String::len)
            + self.name.as_ref().map_or(0, String::len)
            + self.sub_type.as_ref().map_or(0, String::len)
            + self.payload.as_ref().map_or(0, |p| p.len() * 2)
            + error
    }

    /// The update as the request's JSON (`OperationUpdate`), e.g. for logs and tests.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Id".into(), json!(self.id));
        if let Some(p) = &self.parent_id {
            m.insert("ParentId".into(), json!(p));
        }
        if let Some(n) = &self.name {
            m.insert("Name".into(), json!(n));
        }
        m.insert("Type".into(), json!(self.update_type.as_str()));
        if let Some(s) = &self.sub_type {
            m.insert("SubType".into(), json!(s));
        }
        m.insert("Action".into(), json!(self.action.as_str()));
        if let Some(p) = &self.payload {
            m.insert("Payload".into(), json!(p));
        }
        if let Some(e) = &self.error {
            m.insert(
                "Error".into(),
                json!({"ErrorType": e.error_type, "ErrorMessage": e.error_message}),
            );
        }
        let o = &self.options;
        if let Some(r) = o.replay_children {
            m.insert("ContextOptions".into(), json!({"ReplayChildren": r}));
        }
        if let Some(d) = o.next_attempt_delay_seconds {
            m.insert("StepOptions".into(), json!({"NextAttemptDelaySeconds": d}));
        }
        if let Some(w) = o.wait_seconds {
            m.insert("WaitOptions".into(), json!({"WaitSeconds": w}));
        }
        if o.callback_timeout_seconds.is_some() || o.callback_heartbeat_seconds.is_some() {
            m.insert(
                "CallbackOptions".into(),
                json!({
                    "TimeoutSeconds": o.callback_timeout_seconds.unwrap_or(0),
                    "HeartbeatTimeoutSeconds": o.callback_heartbeat_seconds.unwrap_or(0),
                }),
            );
        }
        if let Some(f) = &o.function_name {
            m.insert("ChainedInvokeOptions".into(), json!({"FunctionName": f}));
        }
        Value::Object(m)
    }
}

/// Why a record cannot be sent to the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// An id or parent id is empty, longer than 64 characters, or not `[a-zA-Z0-9-_]`.
    #[error("operation {field} {value:?} is not valid for the Lambda checkpoint API: {why}")]
    Id {
        /// `Id` or `ParentId`.
        field: &'static str,
        /// The id.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// A name is empty, longer than 256 characters, or not printable ASCII.
    #[error("operation name {name:?} (operation {id}) is not valid for the Lambda checkpoint API: {why}")]
    Name {
        /// The operation's id.
        id: String,
        /// The name.
        name: String,
        /// What is wrong.
        why: String,
    },
}

fn check_id(field: &'static str, value: &str) -> Result<(), WireError> {
    let why = if value.is_empty() {
        "it is empty".to_string()
    } else if value.chars().count() > MAX_ID_LEN {
        format!(
            "it has {} characters, at most {MAX_ID_LEN} are allowed",
            value.chars().count()
        )
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        format!("character {c:?} is not one of [a-zA-Z0-9-_]")
    } else {
        return Ok(());
    };
    Err(WireError::Id {
        field,
        value: value.to_string(),
        why,
    })
}

fn check_name(id: &str, name: &str) -> Result<(), WireError> {
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.len() > MAX_NAME_LEN {
        format!(
            "it has {} characters, at most {MAX_NAME_LEN} are allowed",
            name.len()
        )
    } else if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
        format!("character {c:?} is not printable ASCII")
    } else {
        return Ok(());
    };
    Err(WireError::Name {
        id: id.to_string(),
        name: name.to_string(),
        why,
    })
}

/// Whole seconds from `now_ms` until `due_ms`, rounded up, within the API's 1..=one year.
pub fn seconds_until(due_ms: u64, now_ms: u64) -> u64 {
    due_ms
        .saturating_sub(now_ms)
        .div_ceil(1000)
        .clamp(1, MAX_DELAY_SECONDS)
}

/// The update that records `rec` at `now_ms`, or `None` when the service owns that
/// transition (see the module docs). Checks ids and names against the API's limits.
pub fn encode(rec: &OperationRecord, now_ms: u64) -> Result<Option<Update>, WireError> {
    use OperationStatus as S;
    use OperationType as T;
    check_id("Id", &rec.id)?;
    if let Some(p) = &rec.parent_id {
        check_id("ParentId", p)?;
    }
    if let Some(n) = &rec.name {
        check_name(&rec.id, n)?;
    }
    let mut options = Options::default();
    let (action, payload, error) = match (rec.op_type, rec.status) {
        // A wait_for_condition's next poll starts from the state its RETRY stored: the START
        // carries it on, or the service (which sets `Result` from each update's payload)
        // would forget it and a crash before the next poll's end would lose it.
        (T::Step, S::Started) => (Action::Start, rec.result.clone(), None),
        (T::Context, S::Started) => (Action::Start, None, None),
        (T::Step | T::Context, S::Succeeded) => {
            if rec.op_type == T::Context && rec.details.replay_children {
                options.replay_children = Some(true);
            }
            (Action::Succeed, rec.result.clone(), None)
        }
        (T::Step | T::Context, S::Failed) => (Action::Fail, None, rec.error.clone()),
        (T::Step, S::Pending) => {
            let due = rec.details.next_attempt_ms.unwrap_or(now_ms);
            options.next_attempt_delay_seconds = Some(seconds_until(due, now_ms));
            // A RETRY carries an error (a failed attempt) or, without one, the polled state
            // of a wait_for_condition (the service rejects both at once).
            match &rec.error {
                Some(error) => (Action::Retry, None, Some(error.clone())),
                None => (Action::Retry, rec.result.clone(), None),
            }
        }
        (T::Wait, S::Started) => {
            let due = rec.details.scheduled_end_ms.unwrap_or(now_ms);
            options.wait_seconds = Some(seconds_until(due, now_ms));
            (Action::Start, None, None)
        }
        (T::Wait, S::Cancelled) => (Action::Cancel, None, None),
        (T::Callback, S::Started) => {
            // The engine keeps a callback's deadline (epoch ms) as its START's result.
            let deadline = rec.result.as_deref().and_then(|r| r.parse::<u64>().ok());
            options.callback_timeout_seconds =
                Some(deadline.map_or(0, |d| seconds_until(d, now_ms)));
            options.callback_heartbeat_seconds = Some(
                rec.details
                    .heartbeat_timeout_ms
                    .map_or(0, |h| h.div_ceil(1000).max(1)),
            );
            (Action::Start, None, None)
        }
        (T::ChainedInvoke, S::Started) => {
            options.function_name = rec
                .details
                .function_name
                .clone()
                .or_else(|| rec.name.clone());
            (Action::Start, rec.result.clone(), None)
        }
        _ => return Ok(None),
    };
    Ok(Some(Update {
        id: rec.id.clone(),
        parent_id: rec.parent_id.clone(),
        name: rec.name.clone(),
        update_type: UpdateType::Op(rec.op_type),
        sub_type: rec.sub_type.clone(),
        action,
        payload,
        error,
        options,
    }))
}

/// Whether `update` is a START of an operation the service already has (status `known`): a
/// replay that runs a started operation again (a step or context interrupted by a crash, a
/// context whose children are still waiting). The service refuses a second START, except a
/// step's next attempt once its retry is due.
pub fn repeated_start(update: &Update, known: Option<OperationStatus>) -> bool {
    match (update.action, known) {
        (Action::Start, Some(status)) => {
            update.update_type != UpdateType::Op(OperationType::Step)
                || !matches!(status, OperationStatus::Ready | OperationStatus::Pending)
        }
        _ => false,
    }
}

/// An `Operation` as the invocation event and the API's JSON carry it, made an engine record;
/// `None` for the EXECUTION operation (its input is the handler's event, see
/// [`execution_input`]) and for types the engine does not know.
pub fn decode(op: &Value) -> Option<OperationRecord> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let op_type = OperationType::parse(op.get("Type")?.as_str()?)?;
    let status = OperationStatus::parse(op.get("Status")?.as_str()?)?;
    let details_key = match op_type {
        OperationType::Step => "StepDetails",
        OperationType::Context => "ContextDetails",
        OperationType::Wait => "WaitDetails",
        OperationType::Callback => "CallbackDetails",
        OperationType::ChainedInvoke => "ChainedInvokeDetails",
    };
    let empty = Value::Null;
    let d = op.get(details_key).unwrap_or(&empty);
    let error = d.get("Error").filter(|e| e.is_object()).map(|e| {
        ErrorObject::new(
            text(e, "ErrorType").unwrap_or_default(),
            text(e, "ErrorMessage").unwrap_or_default(),
        )
    });
    let mut attempt = d.get("Attempt").and_then(Value::as_u64).unwrap_or(0) as u32;
    if op_type == OperationType::Step
        && !matches!(status, OperationStatus::Pending | OperationStatus::Ready)
    {
        // The service counts failed attempts; a started or finished record is the next one.
        attempt += 1;
    }
    Some(OperationRecord {
        id: text(op, "Id")?,
        parent_id: text(op, "ParentId"),
        op_type,
        sub_type: text(op, "SubType"),
        name: text(op, "Name"),
        status,
        result: text(d, "Result"),
        error,
        attempt,
        started_ms: millis(op.get("StartTimestamp")),
        ended_ms: millis(op.get("EndTimestamp")),
        details: OperationDetails {
            scheduled_end_ms: millis(d.get("ScheduledEndTimestamp")),
            next_attempt_ms: millis(d.get("NextAttemptTimestamp")),
            callback_id: text(d, "CallbackId"),
            replay_children: d
                .get("ReplayChildren")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            heartbeat_timeout_ms: None,
            function_name: None,
        },
    })
}

/// The user input of the invocation: the EXECUTION operation's `InputPayload` (JSON text; an
/// absent or empty payload is `{}`), if the operation is among `ops`.
pub fn execution_input(ops: &[Value]) -> Option<Result<Value, serde_json::Error>> {
    let exec = ops
        .iter()
        .find(|op| op.get("Type").and_then(Value::as_str) == Some("EXECUTION"))?;
    let payload = exec
        .pointer("/ExecutionDetails/InputPayload")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(if payload.trim().is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_str(payload)
    })
}

/// A timestamp as epoch milliseconds: the event carries integers (ms), API responses floats
/// (seconds, converted to ms by the SDK glue before they get here).
fn millis(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
}
