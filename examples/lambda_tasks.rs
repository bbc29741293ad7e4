//! Tasks served from AWS Lambda by one binary (build with `--features lambda`).
//!
//! Every Lambda function of the workflow runs this same `bootstrap`; its `Handler` setting
//! (`_HANDLER`) names the task it serves: `greet`, `divide`, `maybe_panic`, `square` (a map task,
//! called once per item) or `whoami`.
//!
//! Locally the same binary is the CLI:
//! `cargo run --features lambda --example lambda_tasks -- invoke divide '{"a":1,"b":0}'`.
//! In Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves invocations; see `scripts/package-lambda.sh`.

use orkestra::{compose, Context, ErrorName};
use serde::{Deserialize, Serialize};

/// `greet`'s event.
#[derive(Debug, Serialize, Deserialize)]
pub struct Greeting {
    /// Who to greet.
    pub name: String,
    /// How many times.
    pub times: u32,
}

/// Says hello `times` times.
#[compose]
pub fn greet(event: Greeting, _ctx: &Context) -> String {
    vec![format!("hello {}", event.name); event.times as usize].join(", ")
}

/// `divide`'s event.
#[derive(Debug, Serialize, Deserialize)]
pub struct Division {
    /// The dividend.
    pub a: f64,
    /// The divisor.
    pub b: f64,
}

/// Dividing by zero.
#[derive(Debug, ErrorName)]
pub struct DivideByZero;

impl std::fmt::Display for DivideByZero {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("division by zero")
    }
}

/// `a / b`; fails with `DivideByZero`.
#[compose]
pub fn divide(event: Division, _ctx: &Context) -> Result<f64, DivideByZero> {
    if event.b == 0.0 {
        Err(DivideByZero)
    } else {
        Ok(event.a / event.b)
    }
}

/// Returns `n`, and panics when it is negative.
#[compose]
pub fn maybe_panic(n: i64, _ctx: &Context) -> i64 {
    if n < 0 {
        panic!("negative input: {n}");
    }
    n
}

/// One squared item, with where it ran.
#[derive(Debug, Serialize, Deserialize)]
pub struct Squared {
    /// The item's index in the map, from the envelope.
    pub index: Option<usize>,
    /// The state the item ran as.
    pub state: String,
    /// The square.
    pub square: i64,
}

/// Squares one item of a list (a map task: Lambda gets one item per invocation).
#[compose(map)]
pub fn square(n: i64, ctx: &Context) -> Squared {
    Squared {
        index: ctx.map_index(),
        state: ctx.state_name().to_string(),
        square: n * n,
    }
}

/// What the task's [`Context`] says, as JSON (an async task).
#[compose]
pub async fn whoami(_event: serde_json::Value, ctx: &Context) -> serde_json::Value {
    serde_json::json!({
        "execution_id": ctx.execution_id(),
        "workflow": ctx.workflow_name(),
        "state": ctx.state_name(),
        "retry_count": ctx.retry_count(),
        "map_index": ctx.map_index(),
        "request_id": ctx.request_id(),
        "function_name": ctx.function_name(),
        "remaining_ms": ctx.remaining_time().map(|left| left.as_millis() as u64),
    })
}

fn main() -> std::process::ExitCode {
    orkestra::main()
}
