//! `durable` subcommands of the Orkestra CLI: list, inspect, start and resume executions on
//! the default store (`.orkestra/orkestra.db` or `$ORKESTRA_DB`).

use super::callback::complete_callback;
use super::execution::DurableExecutor;
use super::registry::{check_durable_handlers, registered_handler, registered_handlers};
use super::store::{
    CheckpointStore, ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord, SqliteStore,
};
use clap::Subcommand;
use serde_json::{json, Value};
use std::sync::Arc;

/// A `durable` subcommand.
#[derive(Debug, Subcommand)]
pub enum DurableCommand {
    /// Lists executions (id, handler, status) as JSON.
    List,
    /// Prints an execution and its operation records as JSON, or as an indented tree when
    /// stdout is a terminal or with `--pretty`.
    Inspect {
        /// The execution id.
        id: String,
        /// Print the indented tree even when stdout is not a terminal.
        #[arg(long)]
        pretty: bool,
    },
    /// Starts (or, if it exists and is running, resumes) an execution of a registered handler.
    Start {
        /// The handler's name (its function name).
        handler: String,
        /// The execution id.
        #[arg(long)]
        id: String,
        /// The input event as JSON.
        #[arg(long, default_value = "{}")]
        input: String,
    },
    /// Completes a callback by id with a JSON result, or fails it with `--error`.
    CompleteCallback {
        /// The callback id (`EXECUTION_ID/OPERATION_ID`).
        callback_id: String,
        /// The result as JSON.
        #[arg(long, conflicts_with = "error")]
        result: Option<String>,
        /// Fail the callback with this message.
        #[arg(long)]
        error: Option<String>,
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
    /// Resumes a running (interrupted or waiting) execution by id, replaying its checkpoints.
    Resume {
        /// The execution id.
        id: String,
    },
}

fn summary(e: &ExecutionRecord) -> Value {
    json!({
        "id": e.id,
        "handler": e.handler,
        "status": e.status,
        "result": e.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
        "error": e.error,
    })
}

/// Runs a `durable` subcommand; returns the JSON to print and the exit code.
pub async fn execute(command: DurableCommand) -> (Value, u8) {
    match run(command).await {
        Ok(out) => out,
        Err(message) => (json!({ "error": message }), 2),
    }
}

async fn run(command: DurableCommand) -> Result<(Value, u8), String> {
    check_durable_handlers().map_err(|e| e.to_string())?;
    let path = SqliteStore::default_path();
    let store = Arc::new(SqliteStore::open(&path).map_err(|e| e.to_string())?);
    match command {
        DurableCommand::List => {
            let all = store.list_executions().map_err(|e| e.to_string())?;
            Ok((Value::Array(all.iter().map(summary).collect()), 0))
        }
        DurableCommand::Inspect { id, .. } => {
            let exec = store
                .get_execution(&id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no execution {id:?} in {}", path.display()))?;
            let ops = store.load_operations(&id).map_err(|e| e.to_string())?;
            let mut out = summary(&exec);
            out["operations"] = serde_json::to_value(ops).map_err(|e| e.to_string())?;
            Ok((out, 0))
        }
        DurableCommand::Start { handler, id, input } => {
            let event: Value =
                serde_json::from_str(&input).map_err(|e| format!("--input is not JSON: {e}"))?;
            start(store, &handler, &id, event).await
        }
        DurableCommand::CompleteCallback {
            callback_id,
            result,
            error,
        } => {
            let outcome = match (result, error) {
                (_, Some(message)) => Err(ErrorObject::new("CallbackFailed", message)),
                (Some(text), None) => Ok(serde_json::from_str(&text)
                    .map_err(|e| format!("--result is not JSON: {e}"))?),
                (None, None) => Ok(Value::Null),
            };
            complete_callback(store.as_ref(), &callback_id, outcome)
                .await
                .map_err(|e| e.to_string())?;
            Ok((json!({ "completed": callback_id }), 0))
        }
        DurableCommand::Diagram { id, format, .. } => {
            let text = diagram(&id, format)?;
            Ok((json!({ "id": id, "diagram": text }), 0))
        }
        DurableCommand::Resume { id } => {
            let exec = store
                .get_execution(&id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no execution {id:?} in {}", path.display()))?;
            let handler = exec.handler.clone();
            start(store, &handler, &id, Value::Null).await
        }
    }
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

async fn start(
    store: Arc<SqliteStore>,
    name: &str,
    id: &str,
    event: Value,
) -> Result<(Value, u8), String> {
    let handler = registered_handler(name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no durable handler {name:?} in this binary (registered: {:?})",
                registered_handlers()
            )
        })?;
    let mut executor = DurableExecutor::new(store);
    if let Some(bars) = crate::progress::TerminalProgress::if_terminal() {
        executor = executor.with_progress(Arc::new(bars));
    }
    let rec = executor
        .run(id, name, handler.as_ref(), event)
        .await
        .map_err(|e| e.to_string())?;
    let code = u8::from(rec.status != InvocationStatus::Succeeded);
    Ok((summary(&rec), code))
}
