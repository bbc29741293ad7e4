//! Per-operation codecs: how a checkpointed value becomes the record's text and back. JSON
//! ([`JsonSerdes`]) unless an operation's config names another [`Serdes`] (map results, map
//! items, child contexts).

use super::error::DurableError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// A custom codec for checkpointed values, in place of JSON. The text need not be JSON: it is
/// stored as it is (the embedded store's result column, the Lambda update's `Payload`), and
/// only this codec reads it back.
///
/// ```
/// use orkestra::durable::Serdes;
///
/// /// Checkpoints a string upper-cased, as plain text.
/// struct Upper;
///
/// impl Serdes<String> for Upper {
///     fn serialize(&self, value: &String) -> Result<String, String> {
///         Ok(value.to_uppercase())
///     }
///     fn deserialize(&self, text: &str) -> Result<String, String> {
///         Ok(text.to_string())
///     }
/// }
///
/// assert_eq!(Upper.serialize(&"hi".to_string()).unwrap(), "HI");
/// ```
pub trait Serdes<V>: Send + Sync {
    /// Encodes a value as checkpoint text.
    fn serialize(&self, value: &V) -> Result<String, String>;
    /// Decodes checkpoint text.
    fn deserialize(&self, text: &str) -> Result<V, String>;
}

/// The default codec: JSON via serde.
///
/// ```
/// use orkestra::durable::{JsonSerdes, Serdes};
///
/// let text = Serdes::<Vec<u8>>::serialize(&JsonSerdes, &vec![1, 2]).unwrap();
/// assert_eq!(text, "[1,2]");
/// let back: Vec<u8> = JsonSerdes.deserialize(&text).unwrap();
/// assert_eq!(back, [1, 2]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSerdes;

impl<V: Serialize + DeserializeOwned> Serdes<V> for JsonSerdes {
    fn serialize(&self, value: &V) -> Result<String, String> {
        serde_json::to_string(value).map_err(|e| e.to_string())
    }
    fn deserialize(&self, text: &str) -> Result<V, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// Encodes `value` with `codec` (JSON when `None`); `what` names the value in the error.
pub(crate) fn encode<V: Serialize>(
    codec: Option<&Arc<dyn Serdes<V>>>,
    value: &V,
    what: impl FnOnce() -> String,
) -> Result<String, DurableError> {
    match codec {
        Some(codec) => codec.serialize(value),
        None => serde_json::to_string(value).map_err(|e| e.to_string()),
    }
    .map_err(|message| DurableError::Serde {
        what: what(),
        message,
    })
}

/// Decodes `text` with `codec` (JSON when `None`); `what` names the value in the error.
pub(crate) fn decode<V: DeserializeOwned>(
    codec: Option<&Arc<dyn Serdes<V>>>,
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<V, DurableError> {
    match codec {
        Some(codec) => codec.deserialize(text),
        None => serde_json::from_str(text).map_err(|e| e.to_string()),
    }
    .map_err(|message| DurableError::Serde {
        what: what(),
        message,
    })
}
