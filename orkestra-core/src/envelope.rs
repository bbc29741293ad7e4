//! The task envelope: how a task in Lambda (or `invoke`) learns its execution, state, retry
//! count and map index.
//!
//! Exported ASL wraps every task's input as
//!
//! ```json
//! {"input": <the state input or map item>,
//!  "meta": {"execution_id": "..", "state_machine": "..", "state": "..",
//!           "retry_count": 0, "map_index": 3}}
//! ```
//!
//! (`map_index` only inside a map). A JSON value is an envelope when it is an object with exactly
//! the keys `input` and `meta`, and `meta` has a string `execution_id`; anything else is a bare
//! event, as when a task is invoked by hand. The task function only ever sees the input.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Context;

/// Where a task runs, as the envelope's `meta` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// `$$.Execution.Id`.
    pub execution_id: String,
    /// `$$.StateMachine.Name`.
    #[serde(default)]
    pub state_machine: String,
    /// `$$.State.Name`.
    #[serde(default)]
    pub state: String,
    /// `$$.State.RetryCount`.
    #[serde(default)]
    pub retry_count: u32,
    /// `$$.Map.Item.Index`, inside a map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_index: Option<usize>,
}

/// A task's event, with or without its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// What the task function receives.
    pub input: Value,
    /// Where it runs; `None` for a bare event.
    pub meta: Option<Meta>,
}

impl Envelope {
    /// Splits an incoming event into the task's input and its metadata.
    ///
    /// ```
    /// use orkestra::envelope::Envelope;
    /// use serde_json::json;
    ///
    /// let wrapped = json!({"input": 4, "meta": {"execution_id": "e-1", "state": "double", "retry_count": 1}});
    /// let envelope = Envelope::parse(wrapped);
    /// assert_eq!(envelope.input, json!(4));
    /// assert_eq!(envelope.meta.unwrap().retry_count, 1);
    ///
    /// assert_eq!(Envelope::parse(json!({"seed": 7})).meta, None);
    /// ```
    pub fn parse(event: Value) -> Envelope {
        match event {
            Value::Object(map) if is_envelope(&map) => {
                match Meta::deserialize(&map["meta"]) {
                    Ok(meta) => Envelope {
                        input: map.get("input").cloned().unwrap_or(Value::Null),
                        meta: Some(meta),
                    },
                    // Unreadable meta: keep the event whole rather than lose data.
                    Err(_) => Envelope {
                        input: Value::Object(map),
                        meta: None,
                    },
                }
            }
            other => Envelope {
                input: other,
                meta: None,
            },
        }
    }

    /// Wraps `input` with `meta` (what the exported ASL builds).
    pub fn wrap(input: Value, meta: Meta) -> Value {
        serde_json::json!({ "input": input, "meta": meta })
    }

    /// The task's [`Context`]: from the metadata, or a default naming the task for a bare event.
    pub fn context(&self, task: &str) -> Context {
        match &self.meta {
            Some(meta) => {
                let state = if meta.state.is_empty() {
                    task
                } else {
                    &meta.state
                };
                let ctx = Context::new(
                    meta.execution_id.as_str(),
                    meta.state_machine.as_str(),
                    state,
                )
                .with_retry_count(meta.retry_count);
                match meta.map_index {
                    Some(index) => ctx.with_map_index(index),
                    None => ctx,
                }
            }
            None => Context::new("invoke", "invoke", task),
        }
    }
}

fn is_envelope(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 2
        && map.contains_key("input")
        && map
            .get("meta")
            .and_then(|meta| meta.get("execution_id"))
            .is_some_and(Value::is_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_fills_the_context() {
        let event = Envelope::wrap(
            json!([1, 2]),
            Meta {
                execution_id: "arn:exec".into(),
                state_machine: "map_example".into(),
                state: "divide_by".into(),
                retry_count: 2,
                map_index: Some(5),
            },
        );
        let envelope = Envelope::parse(event);
        assert_eq!(envelope.input, json!([1, 2]));
        let ctx = envelope.context("divide_by");
        assert_eq!(ctx.execution_id(), "arn:exec");
        assert_eq!(ctx.workflow_name(), "map_example");
        assert_eq!(ctx.retry_count(), 2);
        assert_eq!(ctx.map_index(), Some(5));
    }

    #[test]
    fn objects_that_merely_look_alike_stay_bare_events() {
        let event = json!({"input": 1, "meta": {"note": "x"}});
        assert_eq!(Envelope::parse(event.clone()).input, event);
        let event = json!({"input": 1, "meta": {"execution_id": "e"}, "more": true});
        assert_eq!(Envelope::parse(event.clone()).input, event);
    }
}
