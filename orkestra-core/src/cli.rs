//! The command line every Orkestra binary has (`orkestra::main()`).
//!
//! # Output contract
//!
//! Every command that answers once (`run`, `invoke`, `list`, `synth`, the `durable` and
//! `schedule` subcommands) prints exactly one JSON object on stdout (`schedule plan` prints
//! JSON lines, one task payload each); `asl` prints the ASL definition. Logs, `--history`
//! (JSON lines, see [`write_history_json_lines`]) and clap's error text go to stderr; `--help`
//! prints its text on stdout, exit code 0. An error is `{"status":"ERROR","error":".."}`,
//! except for `invoke`, which prints Lambda's error shape
//! `{"errorType":"..","errorMessage":".."}`. Usage errors found by the argument parser (an
//! unknown flag, a missing argument) follow the same contract.
//!
//! # Exit codes
//!
//! One table for every command, [`ExitStatus`]:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | succeeded |
//! | 1 | the execution or task failed |
//! | 2 | usage or input error |
//! | 3 | aborted, stopped or timed out |
//! | 4 | conflict: the execution exists with another input, or another process owns it |
//! | 5 | store fault: nothing lost, resumable |
//! | 6 | suspended: a durable execution is waiting (not an error) |
//!
//! `diagram` and `durable diagram` print the diagram itself (Mermaid, DOT or SVG text), or
//! `{"written":..,"bytes":..}` with `--output`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use crate::engine::{payload, Engine, ExecutionStatus, History};
use crate::envelope::Envelope;
use crate::error::{names, TaskError};
use crate::registry::{with_registration_hint, Registry, WorkflowEntry};

/// The exit code of every command, one table for all (see the module docs).
///
/// ```
/// use orkestra_core::cli::ExitStatus;
/// assert_eq!(ExitStatus::Conflict.code(), 4);
/// assert_eq!(ExitStatus::from_code(6), Some(ExitStatus::Suspended));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitStatus {
    /// 0: the command succeeded.
    Succeeded = 0,
    /// 1: the execution or task failed (its error is in the output).
    Failed = 1,
    /// 2: usage or input error: an unknown flag or name, input that is not JSON or does not fit.
    Usage = 2,
    /// 3: aborted, stopped or timed out (e.g. a task past its `timeout_secs`).
    Aborted = 3,
    /// 4: conflict: the execution exists with another input, or another process owns it.
    Conflict = 4,
    /// 5: the checkpoint store failed; nothing was lost, the execution can be resumed.
    StoreFault = 5,
    /// 6: a durable execution is suspended, waiting; not an error.
    Suspended = 6,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status of an exit code, `None` for a code outside the table.
    pub fn from_code(code: u8) -> Option<ExitStatus> {
        use ExitStatus::*;
        [
            Succeeded, Failed, Usage, Aborted, Conflict, StoreFault, Suspended,
        ]
        .into_iter()
        .find(|status| status.code() == code)
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// The commands of an Orkestra binary.
#[derive(Debug, Parser)]
#[command(about = "An Orkestra workflow binary", long_about = None)]
pub struct Cli {
    /// What to do; with none, runs the binary's only workflow on `{}`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// One command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a workflow locally and prints `{"status":..,"output":..}`.
    Run {
        /// The workflow; may be left out when the binary has exactly one.
        workflow: Option<String>,
        /// The input event: JSON (`-3` too), or `@FILE` to read it from a file.
        #[arg(long, default_value = "{}", allow_hyphen_values = true)]
        input: String,
        /// Also print the execution history to stderr: an indented tree of states when stderr
        /// is a terminal or with `--pretty`, one JSON object per event otherwise.
        #[arg(long)]
        history: bool,
        /// Print `--history` as the indented tree even when stderr is not a terminal.
        #[arg(long, requires = "history")]
        pretty: bool,
    },
    /// Lists the registered tasks and workflows as JSON.
    List,
    /// Prints the CloudFormation template (JSON) of the given workflows (all by default) and
    /// of every durable handler (as a Lambda durable function).
    Synth {
        /// Workflows to include; all when none is named.
        workflows: Vec<String>,
        /// Writes the template to this file instead of stdout.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// The functions' architecture: x86_64 (default) or arm64; package the binary to match.
        #[arg(long, default_value = "x86_64")]
        arch: crate::export::Architecture,
        /// A task to export as a scheduler labourer (repeatable), besides the tasks with
        /// scheduler options (`max_simultaneous_invocations`, `max_attempts`), which always are.
        #[arg(long = "labourer", value_name = "TASK")]
        labourers: Vec<String>,
        /// How often the scheduler's orchestrator runs (an EventBridge schedule expression).
        #[arg(long, value_name = "EXPRESSION", default_value = crate::export::scheduler::DEFAULT_RATE)]
        schedule_rate: String,
    },
    /// Prints a workflow's Amazon States Language definition.
    Asl {
        /// The workflow; may be left out when the binary has exactly one.
        workflow: Option<String>,
    },
    /// Draws a workflow: Mermaid text (default), Graphviz DOT, or an SVG image.
    Diagram {
        /// The workflow; may be left out when the binary has exactly one.
        workflow: Option<String>,
        /// mermaid, dot or svg.
        #[arg(long, value_enum, default_value_t = crate::diagram::Format::Mermaid)]
        format: crate::diagram::Format,
        /// Writes the diagram to this file instead of stdout.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Durable executions: list, inspect, start, resume, diagram.
    Durable {
        /// The durable subcommand.
        #[command(subcommand)]
        command: crate::durable::cli::DurableCommand,
    },
    /// The scheduler: chunk a job into labourer tasks, queue them, drain the queue.
    Schedule {
        /// The schedule subcommand.
        #[command(subcommand)]
        command: crate::scheduler::cli::ScheduleCommand,
    },
    /// Runs one task on one event, as Lambda would (its `timeout_secs`, the 256 KiB payload
    /// limit), and prints its JSON output, or Lambda's error JSON.
    #[command(allow_negative_numbers = true)]
    Invoke {
        /// The task's registry key.
        task: String,
        /// The event: JSON (`-3` too), or `@FILE`.
        event: String,
    },
}

/// A command's outcome: what to print on stdout and the exit code.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The exact stdout text (one line of JSON).
    pub stdout: String,
    /// The exit code.
    pub code: ExitStatus,
}

impl Outcome {
    fn json(value: &Value, code: ExitStatus) -> Outcome {
        Outcome {
            stdout: value.to_string(),
            code,
        }
    }

    /// An error outcome: `{"status":"ERROR","error":message}`, the message also on stderr.
    pub fn error(message: impl Into<String>, code: ExitStatus) -> Outcome {
        let message = message.into();
        eprintln!("error: {message}");
        Outcome::json(&json!({ "status": "ERROR", "error": message }), code)
    }
}

/// Parses the process arguments, runs the command and exits; what `orkestra::main()` calls.
///
/// With the `lambda` feature, inside AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves the task
/// named by `_HANDLER` instead (see the `lambda` module, feature `lambda`).
pub fn main() -> ExitCode {
    #[cfg(feature = "lambda")]
    if crate::lambda::in_lambda() {
        return crate::lambda::main();
    }
    init_logging();
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` / `--version` text on stdout, clap's errors on stderr.
            let _ = error.print();
            return print(parse_error(&error));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(execute(cli.command));
    // A timed-out sync task's thread is abandoned, as Lambda abandons the invocation: do not
    // wait for it on the way out.
    runtime.shutdown_background();
    print(outcome)
}

fn print(outcome: Outcome) -> ExitCode {
    if !outcome.stdout.is_empty() {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", outcome.stdout);
        let _ = stdout.flush();
    }
    outcome.code.into()
}

/// What a clap error prints on stdout: nothing more for `--help` / `--version` (exit 0; clap
/// prints their text on stdout), otherwise the usage-error JSON with exit code 2 (clap's text
/// goes to stderr).
pub fn parse_error(error: &clap::Error) -> Outcome {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Outcome {
            stdout: String::new(),
            code: ExitStatus::Succeeded,
        },
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Outcome::json(
            &json!({ "status": "ERROR", "error": "a subcommand is missing (see --help)" }),
            ExitStatus::Usage,
        ),
        _ => {
            // The first paragraph of clap's text, without the usage and tips after it.
            let text = error.render().to_string();
            let paragraph: Vec<&str> = text
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = paragraph.join(" ");
            let message = first.strip_prefix("error: ").unwrap_or(&first).to_string();
            Outcome::json(
                &json!({ "status": "ERROR", "error": message }),
                ExitStatus::Usage,
            )
        }
    }
}

/// Reports a panic as one `ERROR` log line (message and location); the backtrace goes to the
/// `DEBUG` level, whatever `RUST_BACKTRACE` says. The task's error JSON is printed as usual.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        crate::panic_log::log_panic(info);
        if tracing::enabled!(tracing::Level::DEBUG) {
            let backtrace = std::backtrace::Backtrace::force_capture();
            tracing::debug!(backtrace = %backtrace, "panic backtrace");
        }
    }));
}

/// Logs go to stderr as JSON lines (the same shape as Lambda mode's, see `lambda::logging` with
/// the `lambda` feature); `ORKESTRA_LOG` (an `EnvFilter` directive) sets the level, `warn` by
/// default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORKESTRA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs one command and returns what to print.
pub async fn execute(command: Option<Command>) -> Outcome {
    let registry = match Registry::global() {
        Ok(registry) => registry,
        Err(error) => return Outcome::error(error.to_string(), ExitStatus::Usage),
    };
    let command = command.unwrap_or(Command::Run {
        workflow: None,
        input: "{}".into(),
        history: false,
        pretty: false,
    });
    match command {
        Command::Run {
            workflow,
            input,
            history,
            pretty,
        } => run(registry, workflow, &input, history, pretty).await,
        Command::List
            if registry.is_empty() && crate::durable::registered_handlers().is_empty() =>
        {
            usage_error(with_registration_hint(
                "this binary registers no task, workflow or durable handler",
            ))
        }
        Command::List => Outcome::json(&list(registry), ExitStatus::Succeeded),
        Command::Asl { workflow } => asl(registry, workflow),
        Command::Synth {
            workflows,
            output,
            arch,
            labourers,
            schedule_rate,
        } => match scheduler_export(registry, labourers, schedule_rate) {
            Ok(scheduler) => synth(registry, workflows, output, arch, scheduler),
            Err(message) => usage_error(message),
        },
        Command::Invoke { task, event } => invoke(registry, &task, &event).await,
        Command::Schedule { command } => crate::scheduler::cli::execute(registry, command).await,
        Command::Diagram {
            workflow,
            format,
            output,
        } => match find_workflow(registry, workflow) {
            Ok(entry) => {
                let text = crate::diagram::Diagram::of_workflow(&(entry.build)()).render(format);
                text_or_file(text, output)
            }
            Err(message) => usage_error(message),
        },
        Command::Durable {
            command: crate::durable::cli::DurableCommand::Diagram { id, format, output },
        } => match crate::durable::cli::diagram(&id, format) {
            Ok(text) => text_or_file(text, output),
            Err(message) => usage_error(message),
        },
        Command::Durable {
            command: crate::durable::cli::DurableCommand::Inspect { id, pretty },
        } if pretty || std::io::stdout().is_terminal() => {
            match crate::durable::cli::inspect_tree(&id) {
                Ok(text) => text_or_file(text, None),
                Err(message) => usage_error(message),
            }
        }
        Command::Durable { command } => {
            let (value, code) = crate::durable::cli::execute(command).await;
            Outcome::json(&value, code)
        }
    }
}

/// The workflow named `name`, or the binary's only one.
fn find_workflow(
    registry: &Registry,
    name: Option<String>,
) -> Result<&'static WorkflowEntry, String> {
    match name {
        Some(name) => registry.workflow(&name).ok_or_else(|| {
            let known: Vec<&str> = registry.workflows().map(|w| w.name).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            with_registration_hint(format!(
                "no workflow named `{name}`; this binary has: {known}"
            ))
        }),
        None => {
            let all: Vec<_> = registry.workflows().collect();
            match all.as_slice() {
                [only] => Ok(*only),
                [] => Err(with_registration_hint("this binary registers no workflow")),
                many => {
                    let names: Vec<&str> = many.iter().map(|w| w.name).collect();
                    Err(format!(
                        "this binary has several workflows; name one of: {}",
                        names.join(", ")
                    ))
                }
            }
        }
    }
}

/// The scheduler's part of `synth`: the tasks with scheduler options and the named ones;
/// `None` when there are none.
fn scheduler_export(
    registry: &Registry,
    named: Vec<String>,
    rate: String,
) -> Result<Option<crate::export::SchedulerExport>, String> {
    let mut labourers: Vec<&'static crate::TaskSpec> = registry
        .tasks()
        .filter(|t| {
            t.options.max_simultaneous_invocations.is_some() || t.options.max_attempts.is_some()
        })
        .collect();
    for name in named {
        match registry.task(&name) {
            Some(spec) => labourers.push(spec),
            None => {
                return Err(with_registration_hint(format!(
                    "--labourer: no task named `{name}` is registered in this binary"
                )))
            }
        }
    }
    if !(rate.starts_with("rate(") || rate.starts_with("cron(")) || !rate.ends_with(')') {
        return Err(format!(
            "--schedule-rate: `{rate}` is not a schedule expression; use e.g. `rate(1 minute)` or `cron(0/5 * * * ? *)`"
        ));
    }
    Ok((!labourers.is_empty()).then(|| crate::export::SchedulerExport::new(labourers).rate(rate)))
}

fn synth(
    registry: &Registry,
    names: Vec<String>,
    output: Option<std::path::PathBuf>,
    arch: crate::export::Architecture,
    scheduler: Option<crate::export::SchedulerExport>,
) -> Outcome {
    let entries = if names.is_empty() {
        registry.workflows().collect::<Vec<_>>()
    } else {
        let found: Result<Vec<_>, String> = names
            .into_iter()
            .map(|name| find_workflow(registry, Some(name)))
            .collect();
        match found {
            Ok(entries) => entries,
            Err(message) => return usage_error(message),
        }
    };
    if let Err(duplicate) = crate::durable::check_durable_handlers() {
        return usage_error(duplicate.to_string());
    }
    // Every registered durable handler becomes a durable function beside the workflows.
    let mut template = entries.iter().fold(
        crate::export::Template::new()
            .architecture(arch)
            .durable_handlers(),
        |t, e| t.workflow(&(e.build)()),
    );
    if let Some(scheduler) = scheduler {
        template = template.scheduler(scheduler);
    }
    let json = match template.to_json() {
        Ok(json) => json,
        Err(error) => return usage_error(error.to_string()),
    };
    let text = serde_json::to_string_pretty(&json).expect("templates serialise");
    match output {
        None => Outcome {
            stdout: text,
            code: ExitStatus::Succeeded,
        },
        Some(path) => match std::fs::write(&path, text + "\n") {
            Ok(()) => Outcome::json(
                &json!({"template": path, "resources": json["Resources"].as_object().map_or(0, |r| r.len())}),
                ExitStatus::Succeeded,
            ),
            Err(error) => usage_error(format!("cannot write `{}`: {error}", path.display())),
        },
    }
}

fn asl(registry: &Registry, name: Option<String>) -> Outcome {
    let entry = match find_workflow(registry, name) {
        Ok(entry) => entry,
        Err(message) => return usage_error(message),
    };
    match crate::export::asl(&(entry.build)()) {
        Ok(machine) => Outcome {
            stdout: serde_json::to_string_pretty(&machine).expect("ASL serialises"),
            code: ExitStatus::Succeeded,
        },
        Err(problems) => {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            usage_error(format!(
                "workflow `{}` does not give valid ASL: {}",
                entry.name,
                problems.join("; ")
            ))
        }
    }
}

/// `run` keeps state data in the project's SQLite file, unless the binary has the `aws` feature
/// and `ORKESTRA_STATE_TABLE` names a DynamoDB table (as in Lambda): then the local run reads
/// and writes the same table (and `ORKESTRA_STATE_BUCKET`) the deployed workflow uses.
#[cfg(feature = "aws")]
async fn with_configured_state_store(engine: Engine) -> Engine {
    if std::env::var_os(crate::aws::TABLE_VAR).is_none() {
        return engine;
    }
    match crate::aws::DynamoStateStore::from_env().await {
        Ok(store) => {
            tracing::info!(table = %crate::state_data::StateDataStore::default_table(&store),
                "state data on DynamoDB");
            engine.with_state_store(std::sync::Arc::new(store))
        }
        Err(error) => {
            tracing::warn!(%error, "state data stays in the project's SQLite file");
            engine
        }
    }
}

#[cfg(not(feature = "aws"))]
async fn with_configured_state_store(engine: Engine) -> Engine {
    engine
}

async fn run(
    registry: &Registry,
    workflow: Option<String>,
    input: &str,
    history: bool,
    pretty: bool,
) -> Outcome {
    let entry = match find_workflow(registry, workflow) {
        Ok(entry) => entry,
        Err(message) => return usage_error(message),
    };
    let input = match read_json_arg(input, "--input") {
        Ok(value) => value,
        Err(message) => return usage_error(message),
    };
    let workflow = (entry.build)();
    tracing::info!(workflow = workflow.name(), "starting local execution");
    let engine = match crate::progress::TerminalProgress::if_terminal() {
        Some(bars) => Engine::default().with_progress(std::sync::Arc::new(bars)),
        None => Engine::default(),
    };
    let engine = with_configured_state_store(engine).await;
    let execution = engine.run(&workflow, input).await;
    if history && (pretty || std::io::stderr().is_terminal()) {
        eprint!(
            "{}",
            crate::view::history_tree(&workflow, execution.history.events())
        );
    } else if history {
        let _ = write_history_json_lines(&execution.history, &mut std::io::stderr().lock());
    }
    let code = match (&execution.status, &execution.error) {
        (ExecutionStatus::Succeeded, _) => ExitStatus::Succeeded,
        (ExecutionStatus::Failed, Some(error)) if error.name() == names::TIMEOUT => {
            ExitStatus::Aborted
        }
        (ExecutionStatus::Failed, _) => ExitStatus::Failed,
        (ExecutionStatus::Aborted, _) => ExitStatus::Aborted,
    };
    Outcome {
        stdout: execution.to_json_string(),
        code,
    }
}

fn list(registry: &Registry) -> Value {
    let tasks: Vec<Value> = registry
        .tasks()
        .map(|task| {
            json!({
                "name": task.name,
                "function": format!("{}::{}", task.module_path, task.rust_name),
                "input": task.input_type,
                "output": task.output_type,
                "map": task.options.map,
                "capture_errors": task.options.capture_errors,
            })
        })
        .collect();
    let workflows: Vec<Value> = registry
        .workflows()
        .map(|entry| {
            let workflow = (entry.build)();
            let states: Vec<&str> = workflow
                .root()
                .tasks()
                .iter()
                .map(|task| task.state_name.as_str())
                .collect();
            json!({ "name": entry.name, "tasks": states })
        })
        .collect();
    json!({ "tasks": tasks, "workflows": workflows })
}

/// Writes `history` as JSON lines, one object per event (the `--history` format):
/// `{"id","timestamp","type","state","map_index","error","cause"}`, the last four only when the
/// event has them; `timestamp` is RFC 3339 UTC with milliseconds, `cause` Lambda's error JSON.
pub fn write_history_json_lines(history: &History, out: &mut impl Write) -> std::io::Result<()> {
    for event in history.events() {
        let line = HistoryLine {
            id: event.id,
            timestamp: humantime::format_rfc3339_millis(event.timestamp).to_string(),
            kind: event.kind.to_string(),
            state: event.state_name.as_deref(),
            map_index: event.map_index,
            error: event.error.as_ref().map(|e| e.error.as_str()),
            cause: event.error.as_ref().map(|e| e.cause.as_str()),
            details: event
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// One `--history` line, in its field order.
#[derive(serde::Serialize)]
struct HistoryLine<'a> {
    id: u64,
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
}

/// Runs one task on one event, outside any workflow, as Lambda would: the task's
/// `timeout_secs` stops it with `States.Timeout` (exit code 3), and an event larger than the
/// 256 KiB payload limit fails with `States.DataLimitExceeded` (exit code 2; an output larger
/// than it fails the task, exit code 1).
///
/// On failure the stdout text is exactly what Lambda mode posts: `{"errorType":..,"errorMessage":..}`.
pub async fn invoke(registry: &Registry, task: &str, event: &str) -> Outcome {
    match invoke_task(registry, task, event).await {
        Ok(output) => Outcome::json(&output, ExitStatus::Succeeded),
        Err((error, code)) => Outcome {
            stdout: error.cause(),
            code,
        },
    }
}

/// `invoke`'s result, or its error with the exit status it gives.
async fn invoke_task(
    registry: &Registry,
    task: &str,
    event: &str,
) -> Result<Value, (TaskError, ExitStatus)> {
    let usage = |error| (error, ExitStatus::Usage);
    let spec = registry.task(task).ok_or_else(|| {
        usage(TaskError::new(
            names::UNKNOWN_TASK,
            with_registration_hint(format!(
                "no task named `{task}` is registered in this binary"
            )),
        ))
    })?;
    let event = read_json_arg(event, "event")
        .map_err(|message| usage(TaskError::new(names::INVALID_INPUT, message)))?;
    let limit = Some(payload::DEFAULT_PAYLOAD_LIMIT);
    payload::check(&event, limit, || {
        format!("the event of task `{}`", spec.name)
    })
    .map_err(usage)?;
    let envelope = Envelope::parse(event);
    let ctx = envelope.context(spec.name).with_task(spec);
    let output = crate::engine::attempt(spec, envelope.input, ctx)
        .await
        .map_err(|error| {
            let code = match error.name() {
                names::TIMEOUT | names::EXECUTION_STOPPED => ExitStatus::Aborted,
                names::INVALID_INPUT => ExitStatus::Usage,
                _ => ExitStatus::Failed,
            };
            (error, code)
        })?;
    // As a state's output: over the limit, the task failed.
    payload::check(&output, limit, || {
        format!("the output of task `{}`", spec.name)
    })
    .map_err(|error| (error, ExitStatus::Failed))?;
    Ok(output)
}

/// Prints `text` as it is (no trailing newline doubled), or writes it to `output` and prints
/// `{"written": path, "bytes": n}`.
fn text_or_file(text: String, output: Option<std::path::PathBuf>) -> Outcome {
    match output {
        None => Outcome {
            stdout: text.trim_end_matches('\n').to_string(),
            code: ExitStatus::Succeeded,
        },
        Some(path) => match std::fs::write(&path, &text) {
            Ok(()) => Outcome::json(
                &json!({"written": path, "bytes": text.len()}),
                ExitStatus::Succeeded,
            ),
            Err(error) => usage_error(format!("cannot write `{}`: {error}", path.display())),
        },
    }
}

fn read_json_arg(arg: &str, what: &str) -> Result<Value, String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {what} file `{path}`: {error}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str(&text).map_err(|error| format!("{what} is not valid JSON: {error}"))
}

fn usage_error(message: String) -> Outcome {
    Outcome::error(message, ExitStatus::Usage)
}
