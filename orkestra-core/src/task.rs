//! What `#[compose]` registers: a task's spec (name, options, types) and its type-erased body.

use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::error::{names, ErrorName, TaskError};

/// A boxed, sendable future, as async task bodies return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A task body working on JSON, as the engine, `invoke` and Lambda mode call it.
///
/// Sync bodies run inline (no tokio task or thread per call) unless they have a timeout.
#[derive(Clone, Copy)]
pub enum ErasedBody {
    /// A plain function.
    Sync(fn(Value, &Context) -> Result<Value, TaskError>),
    /// An `async fn`; the future owns its context.
    Async(fn(Value, Context) -> BoxFuture<Result<Value, TaskError>>),
}

impl std::fmt::Debug for ErasedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErasedBody::Sync(_) => "Sync",
            ErasedBody::Async(_) => "Async",
        })
    }
}

/// One ASL `Retry` rule, from `#[compose(retry(..))]`. Defaults are ASL's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Error names this rule matches (`ErrorEquals`); `States.ALL` by default.
    pub errors: &'static [&'static str],
    /// Retries after the first attempt (`MaxAttempts`, default 3; 0 never retries).
    pub max_attempts: u32,
    /// Seconds before the first retry (`IntervalSeconds`, default 1).
    pub interval_secs: u32,
    /// Multiplier of the interval after each retry (`BackoffRate`, default 2.0, at least 1).
    pub backoff_rate: f64,
    /// Upper bound of one interval (`MaxDelaySeconds`).
    pub max_delay_secs: Option<u32>,
}

impl RetryPolicy {
    /// ASL's defaults: every error, 3 retries, 1 s, rate 2.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        errors: &[names::ALL],
        max_attempts: 3,
        interval_secs: 1,
        backoff_rate: 2.0,
        max_delay_secs: None,
    };

    /// Whether this rule applies to `error`.
    pub fn matches(&self, error: &TaskError) -> bool {
        self.errors.iter().any(|pattern| error.matches(pattern))
    }

    /// The wait before retry number `retry` (1-based), as Step Functions computes it.
    pub fn delay(&self, retry: u32) -> std::time::Duration {
        let secs =
            self.interval_secs as f64 * self.backoff_rate.powi(retry.saturating_sub(1) as i32);
        let capped = match self.max_delay_secs {
            Some(max) => secs.min(max as f64),
            None => secs,
        };
        std::time::Duration::from_secs_f64(capped.max(0.0))
    }
}

/// Per-task settings from `#[compose(..)]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskOptions {
    /// Runs once per item of a list (Orkestra's `is_map_job`).
    pub map: bool,
    /// Turns item failures into `{"Error","Cause"}` values (Orkestra's `capture_map_errors`).
    pub capture_errors: bool,
    /// Uses state data (`ctx.state_data()`): the export passes this task's function the state
    /// table and bucket, and grants it access to them (and no other function).
    pub state_data: bool,
    /// (With `map`) the item type is `MapIteration<T>`: the task takes an `ItemsPointer<T>`
    /// (from `put_items`) and runs once per stored element; exported as a Distributed Map.
    pub items_pointer: bool,
    /// Map items running at once; `None` is the engine's default.
    pub max_concurrency: Option<u32>,
    /// Seconds before the task is timed out with `States.Timeout`.
    pub timeout_secs: Option<u32>,
    /// The Lambda function's memory.
    pub memory_mb: Option<u32>,
    /// The scheduler runs at most this many invocations of the task at once (it is a
    /// labourer); `None` is the scheduler's default. A labourers config may override it.
    pub max_simultaneous_invocations: Option<u32>,
    /// The scheduler's attempts per task before it is dead-lettered; `None` is the
    /// scheduler's default. A labourers config may override it.
    pub max_attempts: Option<u32>,
    /// Retry rules, tried in order.
    pub retry: &'static [RetryPolicy],
}

impl TaskOptions {
    /// A plain task with no settings.
    pub const DEFAULT: TaskOptions = TaskOptions {
        map: false,
        capture_errors: false,
        state_data: false,
        items_pointer: false,
        max_concurrency: None,
        timeout_secs: None,
        memory_mb: None,
        max_simultaneous_invocations: None,
        max_attempts: None,
        retry: &[],
    };
}

/// Everything known about a registered task.
#[derive(Debug)]
pub struct TaskSpec {
    /// The registry key: the function's name unless `name = ".."` overrides it.
    pub name: &'static str,
    /// The Rust function's name.
    pub rust_name: &'static str,
    /// The module that defines it.
    pub module_path: &'static str,
    /// The file that defines it.
    pub file: &'static str,
    /// The line of the definition.
    pub line: u32,
    /// Its settings.
    pub options: TaskOptions,
    /// The event's (for a map, the item's) Rust type, as written.
    pub input_type: &'static str,
    /// The output's Rust type, as written.
    pub output_type: &'static str,
    /// The body, over JSON.
    pub body: ErasedBody,
}

impl TaskSpec {
    /// Where the task is defined, for error messages: `module::fn (file:line)`.
    pub fn location(&self) -> String {
        format!(
            "{}::{} ({}:{})",
            self.module_path, self.rust_name, self.file, self.line
        )
    }

    /// Runs the body once on `input`, catching panics. Timeouts and retries are the engine's.
    pub async fn call(&self, input: Value, ctx: Context) -> Result<Value, TaskError> {
        match self.body {
            ErasedBody::Sync(body) => call_sync(body, input, &ctx),
            ErasedBody::Async(body) => {
                use futures_util::FutureExt;
                std::panic::AssertUnwindSafe(body(input, ctx))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|payload| Err(panic_error(payload)))
            }
        }
    }
}

/// Calls a sync body, turning a panic into an [`names::PANIC`] error.
pub fn call_sync(
    body: fn(Value, &Context) -> Result<Value, TaskError>,
    input: Value,
    ctx: &Context,
) -> Result<Value, TaskError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(input, ctx)))
        .unwrap_or_else(|payload| Err(panic_error(payload)))
}

/// The error reported for a caught panic.
pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> TaskError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the task panicked".to_string());
    TaskError::new(names::PANIC, message)
}

/// A `#[compose]` task's companion type: ties the function's types to its registration.
///
/// The macro implements it on a same-named empty struct, so `divide_by::spec()` and
/// compositions like `divide_by {} >> sum_up {}` name the task while `divide_by(..)` stays
/// the plain function.
pub trait TaskDef: Copy + Send + Sync + 'static {
    /// The event (for a map task, the item) type.
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The output (for a map task, per item) type.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The task's registration.
    fn spec() -> &'static TaskSpec;
}

/// A fallible task function's return type, `Result<T, E>` (or an alias of it), split into its
/// parts. No bound on `E` here, so a missing one is reported once, by [`into_task_result`].
pub trait IntoTaskResult {
    /// The success type.
    type Ok;
    /// The error type.
    type Err;
    /// The value as a plain `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> IntoTaskResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// What a task's error type needs: `Display` (the message) and [`ErrorName`] (the name Step
/// Functions reports). Implemented for every such type; `#[compose]` checks it at the error
/// type the task's signature names.
#[diagnostic::on_unimplemented(
    message = "the task error type `{Self}` needs `Display` and `ErrorName`",
    label = "a task's error type must implement `std::fmt::Display` and `orkestra::ErrorName`",
    note = "add `#[derive(orkestra::ErrorName)]` (or `impl orkestra::ErrorName for {Self} {{}}`) and implement `std::fmt::Display` (by hand or with thiserror's `#[derive(Error)]`)"
)]
pub trait TaskErrorType: ErrorName + std::fmt::Display {}

// Not recommended, so a type missing either trait gets one error (this trait's message)
// rather than one per missing trait.
#[diagnostic::do_not_recommend]
impl<E: ErrorName + std::fmt::Display> TaskErrorType for E {}

/// Converts a task function's `Result` to a task result, naming the error with [`ErrorName`].
pub fn into_task_result<R>(result: R) -> Result<R::Ok, TaskError>
where
    R: IntoTaskResult,
    R::Err: TaskErrorType,
{
    result
        .into_result()
        .map_err(|error| TaskError::from_error(&error))
}

/// Decodes a task's JSON input, naming the task and the path of the bad field on failure.
///
/// ```
/// let err = orkestra::__private::decode_input::<Vec<(String, u8)>>(
///     "pairs",
///     serde_json::json!([["a", 1], ["b", "x"]]),
/// )
/// .unwrap_err();
/// assert!(err.message().starts_with("task `pairs` could not decode its input at `[1][1]`"), "{err}");
/// ```
pub fn decode_input<T: DeserializeOwned>(task: &str, input: Value) -> Result<T, TaskError> {
    serde_path_to_error::deserialize(input).map_err(|error| {
        let path = error.path().to_string();
        let error = error.into_inner();
        let message = if path == "." {
            format!("task `{task}` could not decode its input: {error}")
        } else {
            format!("task `{task}` could not decode its input at `{path}`: {error}")
        };
        TaskError::new(names::INVALID_INPUT, message)
    })
}

/// Encodes a task's output as JSON.
pub fn encode_output<T: Serialize>(task: &str, output: T) -> Result<Value, TaskError> {
    serde_json::to_value(output).map_err(|error| {
        TaskError::new(
            names::INVALID_OUTPUT,
            format!("task `{task}` could not encode its output: {error}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_delay_grows_by_backoff_rate_and_is_capped() {
        let policy = RetryPolicy {
            max_delay_secs: Some(5),
            ..RetryPolicy::DEFAULT
        };
        assert_eq!(policy.delay(1), Duration::from_secs(1));
        assert_eq!(policy.delay(2), Duration::from_secs(2));
        assert_eq!(policy.delay(3), Duration::from_secs(4));
        assert_eq!(policy.delay(4), Duration::from_secs(5));
    }

    #[test]
    fn a_panic_becomes_a_named_error() {
        fn body(_: Value, _: &Context) -> Result<Value, TaskError> {
            panic!("kaboom")
        }
        let err = call_sync(body, Value::Null, &Context::for_tests()).unwrap_err();
        assert_eq!(err.name(), names::PANIC);
        assert_eq!(err.message(), "kaboom");
    }

    #[test]
    fn decode_errors_name_the_task() {
        let err = decode_input::<u8>("divide_by", serde_json::json!("x")).unwrap_err();
        assert_eq!(err.name(), names::INVALID_INPUT);
        assert!(err.message().contains("divide_by"), "{}", err.message());
    }

    #[test]
    fn decode_errors_name_the_path_of_the_bad_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Item {
            name: String,
            sizes: Vec<u32>,
        }
        let input = serde_json::json!({"name": "a", "sizes": [1, -2]});
        let err = decode_input::<Item>("measure", input).unwrap_err();
        assert!(
            err.message()
                .starts_with("task `measure` could not decode its input at `sizes[1]`: "),
            "{}",
            err.message()
        );
    }
}
