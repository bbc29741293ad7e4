//! The command line every Orkestra binary has (`orkestra::main()`).
//!
//! Output contract: stdout carries JSON only, one object per command (except `diagram` and
//! `durable diagram`, which print the diagram itself); logs and human-oriented text go to stderr. Exit code 0 on success, 1 when the workflow or task failed, 2 on bad usage.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use crate::engine::{Engine, ExecutionStatus};
use crate::envelope::Envelope;
use crate::error::{names, TaskError};
use crate::registry::{Registry, WorkflowEntry};

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
        /// The input event: JSON, or `@FILE` to read it from a file.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Also print the execution history (to stderr): an indented tree of states when stderr
        /// is a terminal or with `--pretty`, one line per event otherwise.
        #[arg(long)]
        history: bool,
        /// Print `--history` as the indented tree even when stderr is not a terminal.
        #[arg(long, requires = "history")]
        pretty: bool,
    },
    /// Lists the registered tasks and workflows as JSON.
    List,
    /// Prints the CloudFormation template (JSON) of the given workflows (all by default).
    Synth {
        /// Workflows to include; all when none is named.
        workflows: Vec<String>,
        /// Writes the template to this file instead of stdout.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
        /// The functions' architecture: x86_64 (default) or arm64; package the binary to match.
        #[arg(long, default_value = "x86_64")]
        arch: crate::export::Architecture,
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
    /// Runs one task on one event and prints its JSON output, or Lambda's error JSON with exit code 1.
    Invoke {
        /// The task's registry key.
        task: String,
        /// The event: JSON, or `@FILE`.
        event: String,
    },
}

/// A command's outcome: what to print on stdout and the exit code.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The exact stdout text (one line of JSON).
    pub stdout: String,
    /// The exit code.
    pub code: u8,
}

impl Outcome {
    fn json(value: &Value, code: u8) -> Outcome {
        Outcome {
            stdout: value.to_string(),
            code,
        }
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
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(execute(cli.command));
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", outcome.stdout);
    let _ = stdout.flush();
    ExitCode::from(outcome.code)
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
        Err(error) => return usage_error(error.to_string()),
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
        Command::List => Outcome::json(&list(registry), 0),
        Command::Asl { workflow } => asl(registry, workflow),
        Command::Synth {
            workflows,
            output,
            arch,
        } => synth(registry, workflows, output, arch),
        Command::Invoke { task, event } => invoke(registry, &task, &event).await,
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
            format!(
                "no workflow named `{name}`; this binary has: {}",
                known.join(", ")
            )
        }),
        None => {
            let all: Vec<_> = registry.workflows().collect();
            match all.as_slice() {
                [only] => Ok(*only),
                [] => Err("this binary registers no workflow".into()),
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

fn synth(
    registry: &Registry,
    names: Vec<String>,
    output: Option<std::path::PathBuf>,
    arch: crate::export::Architecture,
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
    let template = entries
        .iter()
        .fold(crate::export::Template::new().architecture(arch), |t, e| {
            t.workflow(&(e.build)())
        });
    let json = match template.to_json() {
        Ok(json) => json,
        Err(error) => return usage_error(error.to_string()),
    };
    let text = serde_json::to_string_pretty(&json).expect("templates serialise");
    match output {
        None => Outcome {
            stdout: text,
            code: 0,
        },
        Some(path) => match std::fs::write(&path, text + "\n") {
            Ok(()) => Outcome::json(
                &json!({"template": path, "resources": json["Resources"].as_object().map_or(0, |r| r.len())}),
                0,
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
            code: 0,
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
    let execution = engine.run(&workflow, input).await;
    if history && (pretty || std::io::stderr().is_terminal()) {
        eprint!(
            "{}",
            crate::view::history_tree(&workflow, execution.history.events())
        );
    } else if history {
        for event in execution.history.events() {
            eprintln!(
                "{:>6} {:<24} {}{}",
                event.id,
                event.kind,
                event.state_name.as_deref().unwrap_or(""),
                event
                    .map_index
                    .map(|i| format!("[{i}]"))
                    .unwrap_or_default()
            );
        }
    }
    let code = match execution.status {
        ExecutionStatus::Succeeded => 0,
        ExecutionStatus::Failed => 1,
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

/// Runs one task on one event, outside any workflow.
///
/// On failure the stdout text is exactly what Lambda mode posts: `{"errorType":..,"errorMessage":..}`.
pub async fn invoke(registry: &Registry, task: &str, event: &str) -> Outcome {
    let result = match (registry.task(task), read_json_arg(event, "event")) {
        (None, _) => Err(TaskError::new(
            names::UNKNOWN_TASK,
            format!("no task named `{task}` is registered in this binary"),
        )),
        (_, Err(message)) => Err(TaskError::new(names::INVALID_INPUT, message)),
        (Some(spec), Ok(event)) => {
            let envelope = Envelope::parse(event);
            let ctx = envelope.context(spec.name);
            spec.call(envelope.input, ctx).await
        }
    };
    match result {
        Ok(output) => Outcome::json(&output, 0),
        Err(error) => Outcome {
            stdout: error.cause(),
            code: 1,
        },
    }
}

/// Prints `text` as it is (no trailing newline doubled), or writes it to `output` and prints
/// `{"written": path, "bytes": n}`.
fn text_or_file(text: String, output: Option<std::path::PathBuf>) -> Outcome {
    match output {
        None => Outcome {
            stdout: text.trim_end_matches('\n').to_string(),
            code: 0,
        },
        Some(path) => match std::fs::write(&path, &text) {
            Ok(()) => Outcome::json(&json!({"written": path, "bytes": text.len()}), 0),
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
    eprintln!("error: {message}");
    Outcome::json(&json!({ "status": "ERROR", "error": message }), 2)
}
