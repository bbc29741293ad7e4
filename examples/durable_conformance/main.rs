//! AWS's durable-execution conformance requirements, as Orkestra durable handlers served as
//! Lambda durable functions (`--features lambda,aws`).
//!
//! One binary plays every requirement: the offline bed (`../shared/durable-conformance/dexbed.py
//! --runtime-api-cmd target/debug/examples/durable_conformance step wait ...`) invokes the
//! function `req-<id>` (chained-invoke targets under their own names), and the handler is
//! picked by that name. `durable_conformance --function-configs` prints the chained-invoke
//! targets as the bed's `--function-configs` takes them.
//!
//! Each handler is the one its requirement's YAML describes (description, input, expected
//! history and result); the modules follow the suites.

use orkestra::durable::{handler_fn, DurableHandler};
use std::process::ExitCode;
use std::sync::Arc;

mod bench;
mod callback;
mod child;
mod invoke;
mod map;
mod parallel;
mod step;
mod wait;
mod wait_for_callback;
mod wait_for_condition;

/// The handler of function `name` (`req-<id>` or a chained-invoke target).
fn handler_for(name: &str) -> Option<Arc<dyn DurableHandler>> {
    let id = name.strip_prefix("req-").unwrap_or(name);
    step::handler(id)
        .or_else(|| wait::handler(id))
        .or_else(|| child::handler(id))
        .or_else(|| map::handler(id))
        .or_else(|| parallel::handler(id))
        .or_else(|| callback::handler(id))
        .or_else(|| wait_for_callback::handler(id))
        .or_else(|| wait_for_condition::handler(id))
        .or_else(|| invoke::handler(id))
        .or_else(|| bench::handler(id))
}

/// Wraps an `async fn(event, ctx)` as a shared handler.
fn boxed<F, Fut, E, T, Err>(f: F) -> Option<Arc<dyn DurableHandler>>
where
    F: Fn(E, orkestra::durable::DurableContext) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, Err>> + Send + 'static,
    E: serde::de::DeserializeOwned + Send + 'static,
    T: serde::Serialize + Send + 'static,
    Err: std::fmt::Display + Send + 'static,
{
    Some(Arc::new(handler_fn(f)))
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--function-configs") {
        println!("{}", invoke::function_configs());
        return ExitCode::SUCCESS;
    }
    orkestra::lambda::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let resolve = |name: &str| handler_for(name).map(|h| (name.to_string(), h));
    match runtime.block_on(orkestra::lambda::durable_function::serve(Box::new(resolve))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("the Lambda runtime stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
