//! Automatic offload: a state output over the payload limit is stored as state data and
//! replaced by a small marker, `{"orkestra_offloaded": <pointer>, "bytes": N}`, which the next
//! state (or the end of the execution) loads back.

use serde_json::{json, Value};

use crate::error::{names, TaskError};
use crate::state_data::services::Services;
use crate::state_data::{Pointer, StateDataError, StoredItem, DEFAULT_TTL};

/// The marker's pointer field.
pub const MARKER: &str = "orkestra_offloaded";

fn store_error(what: &str, error: StateDataError) -> TaskError {
    TaskError::new(
        names::STATE_DATA,
        format!("offloading {what} failed: {error}"),
    )
}

/// Stores `output` of `state` under the key `orkestra.offload.<state>.<slot>`; returns the
/// marker and the output's size in bytes.
pub(crate) async fn store(
    services: &Services,
    execution_id: &str,
    state: &str,
    slot: &str,
    output: &Value,
) -> Result<(Value, usize), TaskError> {
    let what = format!("the output of state `{state}`");
    let data = serde_json::to_vec(output).expect("JSON values serialise");
    let bytes = data.len();
    let store = services
        .store
        .get()
        .await
        .map_err(|e| store_error(&what, e))?;
    let key = format!("orkestra.offload.{state}.{slot}");
    let partition_key = format!("{execution_id}:{key}");
    let table = store.default_table().to_string();
    let expires_at = crate::state_data::sqlite::unix_now() + DEFAULT_TTL.as_secs() as i64;
    store
        .put(
            &table,
            &partition_key,
            StoredItem { index: 0, data },
            expires_at,
        )
        .await
        .map_err(|e| store_error(&what, e))?;
    let pointer = Pointer {
        key,
        partition_key,
        table_name: table,
        index: None,
    };
    Ok((json!({ MARKER: pointer, "bytes": bytes }), bytes))
}

/// The pointer of an offload marker (`{"orkestra_offloaded": <pointer>, "bytes": N}`).
pub(crate) fn marker(value: &Value) -> Option<Pointer> {
    let object = value.as_object()?;
    if object.len() != 2 || !object.contains_key("bytes") {
        return None;
    }
    serde_json::from_value(object.get(MARKER)?.clone()).ok()
}

/// `input` with offloaded values loaded: the input itself, or elements of an array input
/// (a parallel group's branch outputs).
pub(crate) async fn resolve(
    services: &Services,
    input: Value,
    what: &str,
) -> Result<Value, TaskError> {
    // A group's offloaded output may itself hold its branches' markers.
    let input = match marker(&input) {
        Some(pointer) => load(services, &pointer, what).await?,
        None => input,
    };
    match input {
        Value::Array(items) if items.iter().any(|item| marker(item).is_some()) => {
            let mut loaded = Vec::with_capacity(items.len());
            for item in items {
                loaded.push(match marker(&item) {
                    Some(pointer) => load(services, &pointer, what).await?,
                    None => item,
                });
            }
            Ok(Value::Array(loaded))
        }
        other => Ok(other),
    }
}

async fn load(services: &Services, pointer: &Pointer, what: &str) -> Result<Value, TaskError> {
    let fail = |message: String| {
        TaskError::new(
            names::STATE_DATA,
            format!("loading the offloaded input of {what} failed: {message}"),
        )
    };
    let store = services
        .store
        .get()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let row = store
        .get(&pointer.table_name, &pointer.partition_key, 0)
        .await
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| {
            fail(
                StateDataError::NoItemFound {
                    key: pointer.key.clone(),
                    partition_key: pointer.partition_key.clone(),
                    table: pointer.table_name.clone(),
                    index: None,
                }
                .to_string(),
            )
        })?;
    serde_json::from_slice(&row.data).map_err(|e| {
        fail(
            StateDataError::Corrupt {
                partition_key: pointer.partition_key.clone(),
                table: pointer.table_name.clone(),
                index: 0,
                message: e.to_string(),
            }
            .to_string(),
        )
    })
}
