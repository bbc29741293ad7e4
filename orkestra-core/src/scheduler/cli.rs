//! `schedule submit|plan|work|status|audit`: the scheduler on the command line.
//!
//! `plan` prints one task payload per line (JSON lines); every other subcommand prints one
//! JSON object. Bars on stderr (only when it is a terminal) follow submission and draining.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use serde_json::{json, Value};

use super::chunk::{chunk_job, ChunkedJob};
use super::config::SchedulerConfig;
use super::dates::{parse_date, today_utc};
use super::dispatch::{DispatchOptions, Dispatcher, DrainProgress};
use super::sqlite::SqliteQueue;
use super::store::{QueueStore, StoreError};
use crate::cli::{ExitStatus, Outcome};
use crate::registry::{with_registration_hint, Registry};

/// The subcommands of `schedule`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Chunks a job and queues its tasks (again after a crash: only the missing ones).
    Submit {
        /// The job: a JSON file, or `-` for stdin.
        job: String,
        /// "Today" for the job's `period` (YYYY-MM-DD); the UTC date by default.
        #[arg(long)]
        today: Option<String>,
        /// The scheduler config (job schemas, labourer limits); `.orkestra/scheduler.json`
        /// (or `$ORKESTRA_SCHEDULER_CONFIG`) by default, if it exists.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the queue is.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The dry run: prints every task payload of a job (JSON lines), queueing nothing.
    Plan {
        /// The job: a JSON file, or `-` for stdin.
        job: String,
        /// "Today" for the job's `period` (YYYY-MM-DD); the UTC date by default.
        #[arg(long)]
        today: Option<String>,
        /// The scheduler config.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The orchestrator and scavenger: runs queued tasks until the queue is drained.
    Work {
        /// Keep running and take new tasks as they are queued.
        #[arg(long, conflicts_with = "once")]
        watch: bool,
        /// One dispatch pass (expire, requeue retries, claim, start) and exit: what the
        /// orchestrator does per scheduled event in Lambda.
        #[arg(long)]
        once: bool,
        /// Invoke the labourers' Lambda functions asynchronously (they report their own
        /// outcome) instead of running them in this process; needs `--dynamodb`.
        #[cfg(feature = "aws")]
        #[arg(long, requires = "dynamodb")]
        lambda: bool,
        /// The scheduler config.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the queue is.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Per labourer: queued, running, completed, retrying, dead; and the dead letters.
    Status {
        /// Where the queue is.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One task's audit trail.
    Audit {
        /// The task id.
        task_id: String,
        /// Where the queue is.
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn usage(message: impl Into<String>) -> Outcome {
    Outcome::error(message, ExitStatus::Usage)
}

fn store_fault(e: StoreError) -> Outcome {
    Outcome::error(e.to_string(), ExitStatus::StoreFault)
}

/// Where the queue is: the SQLite file (default), or DynamoDB tables (feature `aws`).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The SQLite file; `$ORKESTRA_DB` or `.orkestra/orkestra.db` by default.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Use the DynamoDB tables `<PREFIX>_tasks`, ... (region, credentials and endpoint from
    /// the environment) instead of the SQLite file.
    #[cfg(feature = "aws")]
    #[arg(long, value_name = "PREFIX", conflicts_with = "db")]
    pub dynamodb: Option<String>,
}

impl StoreArgs {
    fn describe(&self) -> String {
        #[cfg(feature = "aws")]
        if let Some(prefix) = &self.dynamodb {
            return format!("the DynamoDB tables {prefix}_*");
        }
        match &self.db {
            Some(path) => path.display().to_string(),
            None => crate::sqlite_file::default_path().display().to_string(),
        }
    }
}

async fn open(args: &StoreArgs) -> Result<Arc<dyn QueueStore>, Outcome> {
    #[cfg(feature = "aws")]
    if let Some(prefix) = &args.dynamodb {
        let config = crate::aws::AwsConfig::from_env().await;
        return Ok(Arc::new(super::dynamo::DynamoQueue::new(&config, prefix)));
    }
    let queue = match &args.db {
        Some(path) => SqliteQueue::open(path),
        None => SqliteQueue::open_default(),
    }
    .map_err(store_fault)?;
    Ok(Arc::new(queue))
}

fn chunk(
    job: &str,
    today: Option<String>,
    config: &SchedulerConfig,
) -> Result<ChunkedJob, Outcome> {
    let text = if job == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| usage(format!("cannot read the job from stdin: {e}")))?
    } else {
        std::fs::read_to_string(job)
            .map_err(|e| usage(format!("cannot read job file `{job}`: {e}")))?
    };
    let today = match today {
        Some(t) => parse_date(&t).map_err(|m| usage(format!("--today: {m}")))?,
        None => today_utc(),
    };
    chunk_job(&text, &config.job_schema_variants, today).map_err(|e| usage(e.to_string()))
}

/// Runs one `schedule` subcommand.
pub async fn execute(registry: &'static Registry, command: ScheduleCommand) -> Outcome {
    match run(registry, command).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn run(registry: &'static Registry, command: ScheduleCommand) -> Result<Outcome, Outcome> {
    match command {
        ScheduleCommand::Plan { job, today, config } => {
            let config = SchedulerConfig::load(config.as_deref()).map_err(usage)?;
            let chunked = chunk(&job, today, &config)?;
            let lines: Vec<String> = chunked.payloads.iter().map(Value::to_string).collect();
            Ok(Outcome {
                stdout: lines.join("\n"),
                code: ExitStatus::Succeeded,
            })
        }
        ScheduleCommand::Submit {
            job,
            today,
            config,
            store,
        } => {
            let config = SchedulerConfig::load(config.as_deref()).map_err(usage)?;
            let chunked = chunk(&job, today, &config)?;
            if registry.task(&chunked.labourer).is_none() && !chunked.labourer.starts_with("arn:") {
                return Err(usage(with_registration_hint(format!(
                    "job field `labourer`: no task named `{}` is registered in this binary",
                    chunked.labourer
                ))));
            }
            let queue = open(&store).await?;
            let bar = Bar::new("queueing", chunked.payloads.len() as u64);
            let mut done = 0u64;
            let report = super::submit(&*queue, &chunked, |r| {
                done = r.queued + r.already_queued + r.already_closed;
                bar.update(done, chunked.payloads.len() as u64);
            })
            .map_err(store_fault)?;
            bar.finish();
            let mut out = json!({"status": "QUEUED", "labourer": chunked.labourer, "tasks": chunked.payloads.len()});
            merge(&mut out, serde_json::to_value(report).expect("serialises"));
            Ok(Outcome {
                stdout: out.to_string(),
                code: ExitStatus::Succeeded,
            })
        }
        ScheduleCommand::Work {
            watch,
            once,
            #[cfg(feature = "aws")]
            lambda,
            config,
            store,
        } => {
            let config = SchedulerConfig::load(config.as_deref()).map_err(usage)?;
            let queue = open(&store).await?;
            let options = DispatchOptions {
                watch,
                ..DispatchOptions::default()
            };
            #[cfg(feature = "aws")]
            let invoker = if lambda {
                let aws = crate::aws::AwsConfig::from_env().await;
                super::dispatch::Invoker::Lambda(Arc::new(
                    super::lambda_invoke::LambdaInvoker::new(&aws, &config),
                ))
            } else {
                super::dispatch::Invoker::InProcess
            };
            #[cfg(not(feature = "aws"))]
            let invoker = super::dispatch::Invoker::InProcess;
            let dispatcher =
                Dispatcher::new(queue.clone(), registry, config, options).with_invoker(invoker);
            let (report, status) = if once {
                (dispatcher.pass().await.map_err(store_fault)?, "PASSED")
            } else {
                let bar = Bar::new("draining", 0);
                let report = dispatcher.run(Some(&bar)).await.map_err(store_fault)?;
                bar.finish();
                (report, "DRAINED")
            };
            let mut out = json!({"status": status});
            merge(&mut out, serde_json::to_value(report).expect("serialises"));
            out["labourers"] =
                serde_json::to_value(queue.counts().map_err(store_fault)?).expect("serialises");
            let code = if report.dead > 0 {
                ExitStatus::Failed
            } else {
                ExitStatus::Succeeded
            };
            Ok(Outcome {
                stdout: out.to_string(),
                code,
            })
        }
        ScheduleCommand::Status { store } => {
            let queue = open(&store).await?;
            let counts = queue.counts().map_err(store_fault)?;
            let dead = queue.dead_letters().map_err(store_fault)?;
            let out = json!({"labourers": counts, "dead_letters": dead});
            Ok(Outcome {
                stdout: out.to_string(),
                code: ExitStatus::Succeeded,
            })
        }
        ScheduleCommand::Audit { task_id: id, store } => {
            let queue = open(&store).await?;
            let events = queue.audit(&id).map_err(store_fault)?;
            if events.is_empty() {
                return Err(usage(format!("no task `{id}` in {}", store.describe())));
            }
            Ok(Outcome {
                stdout: json!({"task_id": id, "events": events}).to_string(),
                code: ExitStatus::Succeeded,
            })
        }
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(prefix: &'static str, len: u64) -> Bar {
        if !crate::progress::stderr_is_terminal() {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len),
            indicatif::ProgressDrawTarget::stderr_with_hz(10),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>10} [{bar:30}] {pos}/{len} ({percent}%) · {per_sec} · ETA {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix);
        Bar(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl DrainProgress for Bar {
    fn update(&self, archived: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(archived);
        }
    }
}
