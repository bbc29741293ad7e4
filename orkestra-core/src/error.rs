//! Task errors, their stable names, and captured (`{"Error","Cause"}`) values.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Fixed error names that Orkestra itself raises. They are the same locally, in `invoke` and in
/// Lambda, so ASL `Retry`/`Catch` rules can name them.
pub mod names {
    /// A task ran past its `timeout_secs` (as Step Functions' `TimeoutSeconds`).
    pub const TIMEOUT: &str = "States.Timeout";
    /// A state's input or output is larger than the payload limit (256 KB by default).
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// The workflow itself is wrong at run time (e.g. a map state fed something that is not a list).
    pub const RUNTIME: &str = "States.Runtime";
    /// Matches every error in a retry rule.
    pub const ALL: &str = "States.ALL";
    /// Matches every error but `States.Timeout` in a retry rule.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// The task panicked; the panic message becomes the error message.
    pub const PANIC: &str = "Orkestra.Panic";
    /// The task's input event could not be decoded into its input type.
    pub const INVALID_INPUT: &str = "Orkestra.InvalidInput";
    /// The task's output could not be encoded as JSON.
    pub const INVALID_OUTPUT: &str = "Orkestra.InvalidOutput";
    /// A task stopped the whole execution (`ctx.stop_execution(..)`); no Retry or Catch
    /// handles it.
    pub const EXECUTION_STOPPED: &str = "Orkestra.ExecutionStopped";
    /// Offloading a large state output to state data, or loading it back, failed.
    pub const STATE_DATA: &str = "Orkestra.StateData";
    /// No task with the requested name is registered in this binary.
    pub const UNKNOWN_TASK: &str = "Orkestra.UnknownTask";
}

/// Gives an error type the short, stable name Step Functions reports as `Error`.
///
/// A task's error type (the `E` of a `#[compose]` function returning `Result<T, E>`) needs
/// this trait and `std::fmt::Display`, which gives the message; `#[compose]` reports a missing
/// one at the error type.
///
/// The default is the type's last path segment (`my_crate::DivideByZero` is `DivideByZero`);
/// override [`ErrorName::error_name`] to name it otherwise, for example one name per enum
/// variant, or derive it with `#[derive(ErrorName)]` from the `orkestra` crate.
///
/// ```
/// use orkestra::ErrorName;
///
/// #[derive(Debug)]
/// struct DivideByZero;
/// impl ErrorName for DivideByZero {}
///
/// assert_eq!(DivideByZero.error_name(), "DivideByZero");
/// ```
pub trait ErrorName {
    /// The error's name, as ASL `ErrorEquals` and the `{"Error": ...}` field carry it.
    fn error_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(short_type_name::<Self>())
    }
}

/// The last path segment of a type's name, without generic arguments.
///
/// ```
/// assert_eq!(orkestra::error::short_type_name::<std::io::Error>(), "Error");
/// assert_eq!(orkestra::error::short_type_name::<Vec<u8>>(), "Vec");
/// ```
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}

impl ErrorName for String {
    fn error_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("Error")
    }
}

impl ErrorName for &str {
    fn error_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("Error")
    }
}

impl ErrorName for Box<dyn std::error::Error + Send + Sync> {
    fn error_name(&self) -> Cow<'static, str> {
        Cow::Borrowed("Error")
    }
}

impl ErrorName for std::io::Error {}
impl ErrorName for serde_json::Error {}
impl ErrorName for std::num::ParseIntError {}
impl ErrorName for std::num::ParseFloatError {}

impl ErrorName for TaskError {
    fn error_name(&self) -> Cow<'static, str> {
        Cow::Owned(self.name.clone())
    }
}

/// A task's failure: a stable name and a message.
///
/// Its [`cause`](TaskError::cause) is the compact JSON that Lambda posts for a failed
/// invocation, `{"errorType":"..","errorMessage":".."}`, which Step Functions reports as `Cause`.
///
/// ```
/// use orkestra::TaskError;
///
/// let err = TaskError::new("DivideByZero", "division by zero");
/// assert_eq!(err.cause(), r#"{"errorType":"DivideByZero","errorMessage":"division by zero"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError {
    name: String,
    message: String,
}

/// The body Lambda posts for a failed invocation; field order is the wire order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LambdaErrorPayload<'a> {
    error_type: Cow<'a, str>,
    error_message: Cow<'a, str>,
}

impl TaskError {
    /// An error named `name` with message `message`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        TaskError {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Converts a task function's error, using its [`ErrorName`] and `Display`.
    pub fn from_error<E: ErrorName + fmt::Display + ?Sized>(error: &E) -> Self {
        TaskError::new(error.error_name(), error.to_string())
    }

    /// The error's name (`Error` in Step Functions, `errorType` in Lambda).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The error's message (`errorMessage` in Lambda).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The exact bytes Lambda mode posts and `invoke` prints: `{"errorType":..,"errorMessage":..}`.
    pub fn cause(&self) -> String {
        let payload = LambdaErrorPayload {
            error_type: Cow::Borrowed(&self.name),
            error_message: Cow::Borrowed(&self.message),
        };
        serde_json::to_string(&payload).expect("strings always serialise")
    }

    /// Rebuilds an error from a Step Functions `Error` and `Cause` pair.
    ///
    /// When `cause` is Lambda's error JSON its message is taken from it; otherwise the cause
    /// text itself is the message.
    pub fn from_error_and_cause(error: &str, cause: &str) -> Self {
        match serde_json::from_str::<LambdaErrorPayload>(cause) {
            Ok(payload) => TaskError::new(error, payload.error_message),
            Err(_) => TaskError::new(error, cause),
        }
    }

    /// This error as a captured value, `{"Error": name, "Cause": cause}`.
    pub fn to_captured(&self) -> CapturedError {
        CapturedError {
            error: self.name.clone(),
            cause: self.cause(),
        }
    }

    /// Whether a retry or catch rule naming `pattern` matches this error (ASL rules:
    /// `States.ALL` matches everything, `States.TaskFailed` everything but a timeout).
    pub fn matches(&self, pattern: &str) -> bool {
        match pattern {
            names::ALL => !self.is_terminal(),
            names::TASK_FAILED => !self.is_terminal() && self.name != names::TIMEOUT,
            other => self.name == other,
        }
    }

    /// Whether this is one of Step Functions' terminal errors (`States.DataLimitExceeded`,
    /// `States.Runtime`), or a stopped execution (`Orkestra.ExecutionStopped`), which
    /// `States.ALL` does not match and no capture swallows.
    pub fn is_terminal(&self) -> bool {
        self.name == names::DATA_LIMIT_EXCEEDED
            || self.name == names::RUNTIME
            || self.name == names::EXECUTION_STOPPED
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for TaskError {}

/// A failure turned into a value, exactly as Step Functions' `Catch` writes it:
/// `{"Error": "...", "Cause": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedError {
    /// The error's name.
    #[serde(rename = "Error")]
    pub error: String,
    /// The error's cause: for a task error, Lambda's `{"errorType":..,"errorMessage":..}` JSON.
    #[serde(rename = "Cause")]
    pub cause: String,
}

impl CapturedError {
    /// The error's name.
    pub fn name(&self) -> &str {
        &self.error
    }

    /// The error's message, read from the cause JSON (the whole cause when it is not JSON).
    pub fn message(&self) -> String {
        TaskError::from_error_and_cause(&self.error, &self.cause)
            .message
            .clone()
    }

    /// The captured error as a [`TaskError`] again.
    pub fn to_task_error(&self) -> TaskError {
        TaskError::from_error_and_cause(&self.error, &self.cause)
    }
}

/// The result of a task whose errors are captured (`#[compose(map, capture_errors)]`, or a branch
/// of a swallowing group): its output, or the error value Step Functions' `Catch` would give.
///
/// Serialises as the plain output, or as `{"Error": "...", "Cause": "..."}`.
///
/// ```
/// use orkestra::{Captured, TaskError};
///
/// let ok: Captured<f64> = serde_json::from_str("0.5").unwrap();
/// assert_eq!(ok, Captured::Ok(0.5));
/// let err: Captured<f64> = TaskError::new("DivideByZero", "division by zero").into();
/// assert_eq!(err.error().unwrap().message(), "division by zero");
/// assert_eq!(
///     serde_json::to_string(&err).unwrap(),
///     r#"{"Error":"DivideByZero","Cause":"{\"errorType\":\"DivideByZero\",\"errorMessage\":\"division by zero\"}"}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Captured<T> {
    /// The task succeeded with this output.
    Ok(T),
    /// The task failed; this is the captured error.
    Err(CapturedError),
}

impl<T> Captured<T> {
    /// Whether the task succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Captured::Ok(_))
    }

    /// The output, if the task succeeded.
    pub fn ok(self) -> Option<T> {
        match self {
            Captured::Ok(value) => Some(value),
            Captured::Err(_) => None,
        }
    }

    /// The captured error, if the task failed.
    pub fn error(&self) -> Option<&CapturedError> {
        match self {
            Captured::Ok(_) => None,
            Captured::Err(error) => Some(error),
        }
    }

    /// As a `Result`.
    pub fn into_result(self) -> Result<T, CapturedError> {
        match self {
            Captured::Ok(value) => Ok(value),
            Captured::Err(error) => Err(error),
        }
    }
}

impl<T> From<TaskError> for Captured<T> {
    fn from(error: TaskError) -> Self {
        Captured::Err(error.to_captured())
    }
}

impl<T> From<Result<T, TaskError>> for Captured<T> {
    fn from(result: Result<T, TaskError>) -> Self {
        match result {
            Ok(value) => Captured::Ok(value),
            Err(error) => error.into(),
        }
    }
}

impl<T: Serialize> Serialize for Captured<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Captured::Ok(value) => value.serialize(serializer),
            Captured::Err(error) => error.serialize(serializer),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Captured<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if is_captured_error(&value) {
            let error = CapturedError::deserialize(value).map_err(serde::de::Error::custom)?;
            return Ok(Captured::Err(error));
        }
        T::deserialize(value)
            .map(Captured::Ok)
            .map_err(serde::de::Error::custom)
    }
}

/// Whether a JSON value has exactly the shape of a captured error.
pub fn is_captured_error(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.len() == 2
                && map.get("Error").is_some_and(Value::is_string)
                && map.get("Cause").is_some_and(Value::is_string)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_round_trips_through_captured_error() {
        let err = TaskError::new("Boom", "it \"broke\"\n");
        let captured = err.to_captured();
        assert_eq!(captured.name(), "Boom");
        assert_eq!(captured.message(), "it \"broke\"\n");
        assert_eq!(captured.to_task_error(), err);
    }

    #[test]
    fn a_non_json_cause_is_its_own_message() {
        let captured = CapturedError {
            error: "States.Timeout".into(),
            cause: "took too long".into(),
        };
        assert_eq!(captured.message(), "took too long");
    }

    #[test]
    fn matching_follows_asl_rules() {
        let timeout = TaskError::new(names::TIMEOUT, "");
        let boom = TaskError::new("Boom", "");
        assert!(timeout.matches(names::ALL));
        assert!(!timeout.matches(names::TASK_FAILED));
        assert!(boom.matches(names::TASK_FAILED));
        assert!(boom.matches("Boom"));
        assert!(!boom.matches("Other"));
    }

    #[test]
    fn a_value_with_extra_keys_is_not_an_error() {
        let v: Captured<Value> =
            serde_json::from_str(r#"{"Error":"x","Cause":"y","z":1}"#).unwrap();
        assert!(v.is_ok());
    }
}
