//! Lambda mode (cargo feature `lambda`): one binary serves every registered task in AWS Lambda.
//!
//! `orkestra::main()` calls [`main`] when `AWS_LAMBDA_RUNTIME_API` is set (see [`in_lambda`]) and
//! runs the command line otherwise. The Lambda function's `Handler` setting, which a custom
//! runtime receives as `_HANDLER`, is the registry key of the task to serve, so every function of
//! a workflow deploys the same `bootstrap`.
//!
//! Per invocation ([`handler::Handler::handle`]):
//! - the event is a task envelope (`{"input":..,"meta":{..}}`, see [`crate::envelope`]) or a bare
//!   event; the task sees only the input (inside a map, the item);
//! - the response is the task's JSON output;
//! - a failure is posted as `{"errorType":..,"errorMessage":..}`, byte for byte what
//!   [`TaskError::cause`](crate::TaskError::cause) gives and `invoke` prints; panics are caught
//!   and posted as `Orkestra.Panic`, and the runtime keeps serving.
//!
//! An event carrying the scheduler's coordinates (`{"input":..,"orkestra_scheduler":{..}}`, see
//! [`crate::scheduler::worker`]) runs the task on its input and then reports completion or
//! failure to the scheduler's queue (the worker assistant). With the `aws` feature, the
//! `Handler` `orkestra-scheduler` serves the scheduler's orchestrator instead of a task.
//!
//! Logs are JSON lines on stdout, Lambda's log stream (see [`logging`]).
//!
//! With the `aws` feature, a `_HANDLER` naming a `#[durable_execution]` handler serves it as a
//! Lambda durable function instead (see [`durable_function`]); a name that is both a task and a durable
//! handler is a start-up error.

// Not named `durable`: a second public module of that name would make rustc spell
// `orkestra::durable` paths in full in every compile error (tests/ui).
#[cfg(feature = "aws")]
pub mod durable_function;
pub mod handler;
pub mod logging;

use std::process::ExitCode;

pub use handler::{Handler, Invocation};

/// The variable Lambda sets to the Runtime API's `host:port`; its presence selects Lambda mode.
pub const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";

/// The variable a custom runtime reads its function's `Handler` setting from: the task's key.
pub const HANDLER_VAR: &str = "_HANDLER";

/// Whether this process runs inside Lambda (`AWS_LAMBDA_RUNTIME_API` is set).
pub fn in_lambda() -> bool {
    std::env::var_os(RUNTIME_API_VAR).is_some()
}

/// Gives `handler` the AWS backends the deployment configured: DynamoDB (+ S3) state data when
/// `ORKESTRA_STATE_TABLE` is set, and Step Functions' `StopExecution` for
/// `ctx.stop_execution(..)`.
#[cfg(feature = "aws")]
pub async fn with_cloud_backends(handler: Handler) -> Handler {
    use crate::aws::{AwsConfig, DynamoStateStore, SfnStopper, BUCKET_VAR, TABLE_VAR};
    use std::sync::Arc;

    let config = AwsConfig::from_env().await;
    let mut handler = handler.with_stopper(Arc::new(SfnStopper::new(&config)));
    // A labourer of the scheduler reports its outcome to the queue's tables.
    let prefix = std::env::var(crate::scheduler::worker::PREFIX_VAR).ok();
    if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
        let queue = crate::scheduler::dynamo::DynamoQueue::new(&config, &prefix);
        handler = handler.with_scheduler_queue(Arc::new(queue));
    }
    match std::env::var(TABLE_VAR).ok().filter(|t| !t.is_empty()) {
        Some(table) => {
            let bucket = std::env::var(BUCKET_VAR).ok().filter(|b| !b.is_empty());
            handler.with_state_store(Arc::new(DynamoStateStore::new(&config, table, bucket)))
        }
        None => handler,
    }
}

/// Without the `aws` feature there are no cloud backends: a deployment that configured a
/// state table gets a start-up error in its logs saying how to build the binary.
#[cfg(not(feature = "aws"))]
pub async fn with_cloud_backends(handler: Handler) -> Handler {
    if std::env::var_os(crate::export::state_data::TABLE_VAR).is_some() {
        tracing::error!(
            variable = crate::export::state_data::TABLE_VAR,
            "the function has a state data table but this binary was built without the `aws` \
             feature: build it with `--features aws` so `ctx.state_data()` reaches DynamoDB"
        );
    }
    handler
}

/// Serves the task named by `_HANDLER` until the Runtime API goes away; what `orkestra::main()`
/// runs inside Lambda.
///
/// Returns a failure exit code only when the runtime itself cannot run (for example the Runtime
/// API is unreachable); task failures are posted to Lambda and serving goes on.
pub fn main() -> ExitCode {
    logging::init();
    logging::install_panic_hook();
    // Lambda sends one invocation at a time: a single-threaded runtime starts fastest.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    // The scheduler's orchestrator: one dispatch pass per (scheduled) invocation.
    #[cfg(feature = "aws")]
    if std::env::var(HANDLER_VAR).as_deref() == Ok(crate::scheduler::orchestrator::HANDLER) {
        let served = crate::registry::Registry::global()
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
            .map(|registry| runtime.block_on(crate::scheduler::orchestrator::serve(registry)));
        return match served.and_then(|r| r) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %error, "the Lambda runtime stopped");
                ExitCode::FAILURE
            }
        };
    }
    #[cfg(feature = "aws")]
    match durable_function::from_env() {
        Ok(Some((name, handler))) => {
            // The invoked function's own handler when it names another registered one (several
            // functions served by one process, as a local checkpoint service does), else
            // `_HANDLER`'s, resolved once at start-up.
            let prefix = std::env::var(crate::durable::FUNCTION_PREFIX_VAR).ok();
            let resolve = move |function: &str| {
                let wanted = durable_function::served_name(function, prefix.as_deref());
                if wanted != name {
                    let tasks = crate::registry::Registry::global().ok();
                    if let Ok(Some(other)) = durable_function::resolve_registered(wanted, tasks) {
                        return Some(other);
                    }
                }
                Some((name.clone(), handler.clone()))
            };
            return match runtime.block_on(durable_function::serve(Box::new(resolve))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error = %error, "the Lambda runtime stopped");
                    ExitCode::FAILURE
                }
            };
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %error, "cannot serve the function's handler");
            return ExitCode::FAILURE;
        }
    }
    let handler = runtime.block_on(with_cloud_backends(Handler::from_env()));
    match runtime.block_on(handler.serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
