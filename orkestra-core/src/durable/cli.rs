//! `durable` subcommands of the Orkestra CLI: list, inspect, start, resume, worker, stop,
//! complete-callback and check executions on the default store (`.orkestra/orkestra.db` or
//! `$ORKESTRA_DB`).
//!
//! Each prints one JSON object on stdout; errors are `{"status":"ERROR","error":".."}` with the
//! exit codes of [`ExitStatus`] (2 usage, 3 stopped or timed out, 4 conflict, 5 store fault,
//! 6 suspended).

use super::callback::complete_callback;
use super::error::DurableError;
use super::execution::DurableExecutor;
use super::registry::{check_durable_handlers, registered_handler, registered_handlers};
use super::store::{
    CheckpointStore, ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord, SqliteStore,
};
use super::store::{DueChange, StoreError};
use super::worker::Worker;
use crate::cli::ExitStatus;
use clap::Subcommand;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// A `durable` subcommand.
#[derive(Debug, Subcommand)]
pub enum DurableCommand {
    /// Lists executions as `{"executions":[..]}`: each `{"id","handler","status","started",
    /// "ended"}` (RFC 3339 times, `null` when unknown), or the full records with `--full`.
    List {
        /// Print full records: also `input`, `result` and `error`.
        #[arg(long)]
        full: bool,
    },
    /// Prints an execution and its operation records as JSON, or as an indented tree when
    /// stdout is a terminal or with `--pretty`.
    Inspect {
        /// The execution id.
        id: String,
        /// Print the indented tree even when stdout is not a terminal.
        #[arg(long)]
        pretty: bool,
    },
    /// Starts an execution of a registered handler. An existing id with the same input
    /// returns that execution (resuming it if it is running); with another input or handler it
    /// is a conflict (exit code 4).
    Start {
        /// The handler's name (its function name).
        handler: String,
        /// The execution id.
        #[arg(long)]
        id: String,
        /// The input event as JSON (`-3` too).
        #[arg(long, default_value = "{}", allow_hyphen_values = true)]
        input: String,
        /// End the execution TIMED_OUT once it has run or waited this long since it started
        /// (e.g. `30s`, `2h`; a new execution only).
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        /// Serve waits up to this long in this process instead of suspending (e.g. `1s`,
        /// `1h`).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
        hold: Duration,
    },
    /// Completes a callback by id with a JSON result, or fails it with `--error`.
    CompleteCallback {
        /// The callback id (`EXECUTION_ID/OPERATION_ID` on the embedded store; with `--lambda`,
        /// the id the service minted).
        callback_id: String,
        /// The result as JSON (`-3` too).
        #[arg(long, conflicts_with = "error", allow_hyphen_values = true)]
        result: Option<String>,
        /// Fail the callback with this message.
        #[arg(long)]
        error: Option<String>,
        /// The execution runs on AWS Lambda durable functions: send
        /// `SendDurableExecutionCallbackSuccess` / `Failure` (AWS configuration from the
        /// environment, `AWS_ENDPOINT_URL_LAMBDA` included; needs the `aws` feature).
        #[arg(long)]
        lambda: bool,
    },
    /// Sends a heartbeat for a callback of an execution on AWS Lambda durable functions
    /// (`SendDurableExecutionCallbackHeartbeat`), restarting its heartbeat timeout; the
    /// embedded store has no heartbeat timeouts (needs the `aws` feature).
    HeartbeatCallback {
        /// The callback id the service minted.
        callback_id: String,
    },
    /// Draws an execution's operation tree with statuses (Mermaid, DOT or SVG).
    Diagram {
        /// The execution id.
        id: String,
        /// mermaid, dot or svg.
        #[arg(long, value_enum, default_value_t = crate::diagram::Format::Mermaid)]
        format: crate::diagram::Format,
        /// Writes the diagram to this file instead of stdout.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Resumes a running (interrupted or waiting) execution by id, replaying its checkpoints,
    /// until it ends or suspends again.
    Resume {
        /// The execution id.
        id: String,
        /// Serve waits up to this long in this process instead of suspending.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
        hold: Duration,
    },
    /// Runs suspended executions when they are due (timers, retries, completed callbacks),
    /// found through the store's wake-up index; any number of workers may share a store.
    /// Prints `{"runs","finished","suspended","skipped"}` when it ends.
    Worker {
        /// Run what is due now (and what becomes due meanwhile), then exit.
        #[arg(long)]
        once: bool,
        /// Executions run at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// How often the index is read when idle (e.g. `200ms`).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "200ms")]
        poll: Duration,
        /// Serve waits up to this long in process instead of suspending.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
        hold: Duration,
    },
    /// Stops a running execution: it and its open operations become STOPPED; a process
    /// running it stops at its next checkpoint (its `start`/`resume` exits 3).
    Stop {
        /// The execution id.
        id: String,
    },
    /// Runs SQLite's integrity check on the store and validates the durable records (values
    /// that parse, known statuses and types, parent links, allowed transitions); prints a JSON
    /// report and exits 0 when clean, 1 when it found problems.
    Check {
        /// Only this execution's records.
        id: Option<String>,
    },
}

/// A millisecond timestamp as RFC 3339 UTC, or `null`.
fn timestamp(ms: Option<u64>) -> Value {
    ms.map_or(Value::Null, |ms| {
        let at = UNIX_EPOCH + Duration::from_millis(ms);
        Value::from(humantime::format_rfc3339_millis(at).to_string())
    })
}

/// What `durable list` prints per execution.
fn summary(e: &ExecutionRecord) -> Value {
    json!({
        "id": e.id,
        "handler": e.handler,
        "status": e.status,
        "started": timestamp(e.started_ms),
        "ended": timestamp(e.ended_ms),
    })
}

/// The full record: `durable list --full`, `inspect`, `start` and `resume`.
fn full(e: &ExecutionRecord) -> Value {
    let mut out = summary(e);
    out["input"] = serde_json::from_str(&e.input).unwrap_or_else(|_| Value::from(e.input.clone()));
    out["result"] = e
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .unwrap_or(Value::Null);
    out["error"] = serde_json::to_value(&e.error).unwrap_or(Value::Null);
    out
}

/// A failed command: its message and exit code.
struct Failure(ExitStatus, String);

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure(ExitStatus::Usage, message.into())
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        let code = if error.is_lease_lost() {
            ExitStatus::Conflict
        } else {
            ExitStatus::StoreFault
        };
        let hint = if error.is_lease_lost() {
            ""
        } else {
            "; nothing recorded was lost: remove the fault, then `durable resume` the execution"
        };
        Failure(code, format!("{error}{hint}"))
    }
}

impl From<DurableError> for Failure {
    fn from(error: DurableError) -> Failure {
        match error {
            DurableError::Store(error) => error.into(),
            owned @ DurableError::Owned { .. } => Failure(ExitStatus::Conflict, owned.to_string()),
            other => Failure(ExitStatus::Failed, other.to_string()),
        }
    }
}

/// The exit status of an execution record.
fn status_code(status: InvocationStatus) -> ExitStatus {
    match status {
        InvocationStatus::Succeeded => ExitStatus::Succeeded,
        InvocationStatus::Failed => ExitStatus::Failed,
        InvocationStatus::TimedOut | InvocationStatus::Stopped => ExitStatus::Aborted,
        InvocationStatus::Running => ExitStatus::Suspended,
    }
}

/// The outcome `--result` / `--error` give a callback.
fn callback_outcome(
    result: Option<String>,
    error: Option<String>,
) -> Result<Result<Value, ErrorObject>, Failure> {
    Ok(match (result, error) {
        (_, Some(message)) => Err(ErrorObject::new("CallbackFailed", message)),
        (Some(text), None) => Ok(serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("--result is not JSON: {e}")))?),
        (None, None) => Ok(Value::Null),
    })
}

type Outcome = Result<(Value, ExitStatus), Failure>;

/// The callback commands that go to the Lambda durable functions service (`--lambda`,
/// `heartbeat-callback`) as a future; every other command back, for the embedded store.
#[allow(clippy::result_large_err)]
fn remote_callback(
    command: DurableCommand,
) -> Result<futures_util::future::BoxFuture<'static, Outcome>, DurableCommand> {
    match command {
        DurableCommand::CompleteCallback {
            callback_id,
            result,
            error,
            lambda: true,
        } => Ok(Box::pin(async move {
            let outcome = callback_outcome(result, error)?;
            remote::complete(callback_id, outcome).await
        })),
        DurableCommand::HeartbeatCallback { callback_id } => {
            Ok(Box::pin(remote::heartbeat(callback_id)))
        }
        local => Err(local),
    }
}

/// Callback commands against the service.
#[cfg(feature = "aws")]
mod remote {
    use super::{ExitStatus, Failure, Outcome};
    use crate::durable::{ErrorObject, LambdaCallbacks, RemoteCallbackError};
    use serde_json::{json, Value};

    /// Exit 5 when the service was not reached (nothing was sent, try again), else 2 (the
    /// service refused: unknown or already completed callback, bad input).
    fn failed(e: RemoteCallbackError) -> Failure {
        let code = match e.code.as_str() {
            "TransportError" | "ServiceException" | "TooManyRequestsException" => {
                ExitStatus::StoreFault
            }
            _ => ExitStatus::Usage,
        };
        Failure(code, e.to_string())
    }

    pub async fn complete(callback_id: String, outcome: Result<Value, ErrorObject>) -> Outcome {
        let callbacks = LambdaCallbacks::from_env().await;
        match outcome {
            Ok(result) => callbacks.succeed(&callback_id, &result).await,
            Err(error) => callbacks.fail(&callback_id, error).await,
        }
        .map_err(failed)?;
        Ok((json!({ "completed": callback_id }), ExitStatus::Succeeded))
    }

    pub async fn heartbeat(callback_id: String) -> Outcome {
        let callbacks = LambdaCallbacks::from_env().await;
        callbacks.heartbeat(&callback_id).await.map_err(failed)?;
        Ok((json!({ "heartbeat": callback_id }), ExitStatus::Succeeded))
    }
}

/// Without the `aws` feature the service cannot be reached: a usage error saying so.
#[cfg(not(feature = "aws"))]
mod remote {
    use super::{ErrorObject, Failure, Outcome};
    use serde_json::Value;

    fn unavailable() -> Failure {
        Failure::usage(
            "callbacks of executions on AWS Lambda need this binary built with the cargo \
             feature `aws`"
                .to_string(),
        )
    }

    pub async fn complete(_: String, _: Result<Value, ErrorObject>) -> Outcome {
        Err(unavailable())
    }

    pub async fn heartbeat(_: String) -> Outcome {
        Err(unavailable())
    }
}

/// Runs a `durable` subcommand; returns the JSON to print and the exit code.
pub async fn execute(command: DurableCommand) -> (Value, ExitStatus) {
    match run(command).await {
        Ok(out) => out,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            (json!({ "status": "ERROR", "error": message }), code)
        }
    }
}

async fn run(command: DurableCommand) -> Result<(Value, ExitStatus), Failure> {
    check_durable_handlers().map_err(|e| Failure::usage(e.to_string()))?;
    let command = match remote_callback(command) {
        Ok(remote) => return remote.await,
        Err(local) => local,
    };
    let path = SqliteStore::default_path();
    let store = Arc::new(SqliteStore::open(&path)?);
    let missing = |id: &str| Failure::usage(format!("no execution {id:?} in {}", path.display()));
    match command {
        DurableCommand::List { full: all } => {
            let records = store.list_executions()?;
            let show = if all { full } else { summary };
            let executions: Vec<Value> = records.iter().map(show).collect();
            Ok((json!({ "executions": executions }), ExitStatus::Succeeded))
        }
        DurableCommand::Inspect { id, .. } => {
            let exec = store.get_execution(&id)?.ok_or_else(|| missing(&id))?;
            let ops = store.load_operations(&id)?;
            let mut out = full(&exec);
            out["operations"] = serde_json::to_value(ops)
                .map_err(|e| Failure(ExitStatus::StoreFault, e.to_string()))?;
            Ok((out, ExitStatus::Succeeded))
        }
        DurableCommand::Start {
            handler,
            id,
            input,
            timeout,
            hold,
        } => {
            let event: Value = serde_json::from_str(&input)
                .map_err(|e| Failure::usage(format!("--input is not JSON: {e}")))?;
            if let Some(existing) = store.get_execution(&id)? {
                check_same_start(&existing, &handler, &event)?;
            }
            let mut executor = DurableExecutor::new(store).hold(hold);
            if let Some(timeout) = timeout {
                executor = executor.timeout(timeout);
            }
            start(executor, &handler, &id, event).await
        }
        DurableCommand::Worker {
            once,
            concurrency,
            poll,
            hold,
        } => {
            let worker = Worker::new(store)
                .concurrency(concurrency)
                .poll_interval(poll)
                .hold(hold)
                .with_terminal_progress();
            let report = if once {
                worker.run_once().await?
            } else {
                // Until killed: an interrupted run is resumed by the next worker.
                worker.run_until(std::future::pending()).await?
            };
            let out = serde_json::to_value(report)
                .map_err(|e| Failure(ExitStatus::Failed, e.to_string()))?;
            Ok((out, ExitStatus::Succeeded))
        }
        DurableCommand::Stop { id } => {
            let exec = store.get_execution(&id)?.ok_or_else(|| missing(&id))?;
            if exec.status != InvocationStatus::Running {
                return Err(Failure(
                    ExitStatus::Conflict,
                    format!(
                        "execution {id:?} has already ended ({}); only a running execution stops",
                        exec.status.as_str()
                    ),
                ));
            }
            let end = DueChange::End {
                status: InvocationStatus::Stopped,
                error: ErrorObject::new(
                    "ExecutionStopped",
                    format!("execution {id:?} was stopped by `durable stop`"),
                ),
                now_ms: ExecutionRecord::now_ms(),
            };
            store.change_due(&id, end).await?;
            let exec = store.get_execution(&id)?.ok_or_else(|| missing(&id))?;
            Ok((full(&exec), ExitStatus::Succeeded))
        }
        DurableCommand::CompleteCallback {
            callback_id,
            result,
            error,
            ..
        } => {
            let outcome = callback_outcome(result, error)?;
            complete_callback(store.as_ref(), &callback_id, outcome)
                .await
                .map_err(|e| match e {
                    DurableError::Store(error) => error.into(),
                    other => Failure::usage(other.to_string()),
                })?;
            Ok((json!({ "completed": callback_id }), ExitStatus::Succeeded))
        }
        DurableCommand::HeartbeatCallback { .. } => {
            unreachable!("remote_callback sends heartbeats to the service")
        }
        DurableCommand::Diagram { id, format, .. } => {
            let text = diagram(&id, format).map_err(Failure::usage)?;
            Ok((json!({ "id": id, "diagram": text }), ExitStatus::Succeeded))
        }
        DurableCommand::Check { id } => {
            let report = store.check(id.as_deref())?;
            if let Some(id) = &id {
                // Neither an execution row nor any operation row: no such execution.
                if report.executions == 0 && report.operation_rows == 0 {
                    return Err(missing(id));
                }
            }
            let code = if report.is_clean() {
                ExitStatus::Succeeded
            } else {
                ExitStatus::Failed
            };
            let mut out = serde_json::to_value(&report)
                .map_err(|e| Failure(ExitStatus::StoreFault, e.to_string()))?;
            out["clean"] = Value::from(report.is_clean());
            Ok((out, code))
        }
        DurableCommand::Resume { id, hold } => {
            let exec = store.get_execution(&id)?.ok_or_else(|| missing(&id))?;
            let handler = exec.handler.clone();
            let executor = DurableExecutor::new(store).hold(hold);
            start(executor, &handler, &id, Value::Null).await
        }
    }
}

/// An existing execution may be started again only with its handler and input (idempotent
/// start); anything else is a conflict naming the id.
fn check_same_start(
    existing: &ExecutionRecord,
    handler: &str,
    event: &Value,
) -> Result<(), Failure> {
    let conflict = |what: String| {
        Failure(
            ExitStatus::Conflict,
            format!(
                "execution {:?} already exists with {what}; start it with the same input to get \
                 it back, or choose another --id",
                existing.id
            ),
        )
    };
    if existing.handler != handler {
        return Err(conflict(format!(
            "handler {:?}, not {handler:?}",
            existing.handler
        )));
    }
    let stored: Value = serde_json::from_str(&existing.input).map_err(|e| {
        Failure(
            ExitStatus::StoreFault,
            format!(
                "stored input of execution {:?} is not JSON: {e}",
                existing.id
            ),
        )
    })?;
    if &stored != event {
        return Err(conflict(format!("another input ({stored}, not {event})")));
    }
    Ok(())
}

/// Execution `id` and its operation records, from the default store.
fn records(id: &str) -> Result<(ExecutionRecord, Vec<OperationRecord>), String> {
    let path = SqliteStore::default_path();
    let store = SqliteStore::open(&path).map_err(|e| e.to_string())?;
    let exec = store
        .get_execution(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no execution {id:?} in {}", path.display()))?;
    let ops = store.load_operations(id).map_err(|e| e.to_string())?;
    Ok((exec, ops))
}

/// The diagram of execution `id` on the default store, in `format`.
pub fn diagram(id: &str, format: crate::diagram::Format) -> Result<String, String> {
    let (exec, ops) = records(id)?;
    Ok(crate::diagram::Diagram::of_durable(&exec, &ops).render(format))
}

/// The indented tree view of execution `id` on the default store (`inspect --pretty`).
pub fn inspect_tree(id: &str) -> Result<String, String> {
    let (exec, ops) = records(id)?;
    Ok(crate::view::durable_tree(&exec, &ops))
}

/// Runs execution `id` until it ends or suspends (exit 6, `"suspended": true` and the due
/// time); the executor holds its lease, so a second `start` or `resume` of an execution
/// another process runs is a conflict (exit 4) naming the owner, not a second run.
async fn start(
    executor: DurableExecutor,
    name: &str,
    id: &str,
    event: Value,
) -> Result<(Value, ExitStatus), Failure> {
    let handler = registered_handler(name)
        .map_err(|e| Failure::usage(e.to_string()))?
        .ok_or_else(|| {
            Failure::usage(crate::registry::with_registration_hint(format!(
                "no durable handler {name:?} in this binary (registered: {:?})",
                registered_handlers()
            )))
        })?;
    let mut executor = executor;
    if let Some(bars) = crate::progress::TerminalProgress::if_terminal() {
        executor = executor.with_progress(Arc::new(bars));
    }
    let rec = executor.run(id, name, handler.as_ref(), event).await?;
    let mut out = full(&rec);
    if rec.status == InvocationStatus::Running {
        let due = executor.store().due_state(id)?.and_then(|d| d.due_ms);
        out["suspended"] = Value::from(true);
        out["due"] = timestamp(due);
    }
    Ok((out, status_code(rec.status)))
}
