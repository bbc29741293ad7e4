//! Durable-mode cold start: how long a binary serving a `#[durable_execution]` handler as a
//! Lambda durable function takes from process spawn to its first answer.
//!
//! ```sh
//! cargo run --release --features lambda,aws --example durable_lambda_bench -- [STARTS] [WARM]
//! ```
//!
//! This binary is also the function under test: started with `AWS_LAMBDA_RUNTIME_API` set it
//! is `orkestra::main()` serving the durable handler `_HANDLER` names (`bench_echo`), exactly as
//! a deployed `bootstrap`: the AWS configuration is loaded before the first poll. The driver
//! serves the Runtime API on 127.0.0.1 (`tests/support/runtime_api.rs`) with a durable
//! invocation event queued, re-executes itself, and times spawn to the posted
//! `{"Status":"SUCCEEDED",..}` (the handler records no operation, so no checkpoint call is
//! made), median over `STARTS` (default 30) fresh processes; then the warm round trip (event
//! queued to answer posted) over `WARM` (default 1000) invocations of one process.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use orkestra::durable::{DurableContext, DurableError};
use orkestra::durable_execution;
use runtime_api::{Kind, RuntimeApi};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The handler served: returns its input.
#[durable_execution]
async fn bench_echo(n: i64, _ctx: DurableContext) -> Result<i64, DurableError> {
    Ok(n)
}

const EVENT: &[u8] = br#"{"DurableExecutionArn":"arn:aws:lambda:us-west-2:123456789012:function:bench:$LATEST/durable-execution/bench/1","CheckpointToken":"token-0","InitialExecutionState":{"Operations":[{"Id":"exec","Type":"EXECUTION","Status":"STARTED","StartTimestamp":1796223493760,"ExecutionDetails":{"InputPayload":"7"}}],"NextMarker":""}}"#;

fn main() -> ExitCode {
    if orkestra::lambda::in_lambda() {
        return orkestra::main();
    }
    let mut args = std::env::args().skip(1);
    let starts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let warm: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let binary = std::env::current_exe().unwrap();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful figures");
    }
    let mut cold = Vec::with_capacity(starts);
    for _ in 0..starts {
        let api = RuntimeApi::start();
        api.push(EVENT);
        let started = Instant::now();
        let mut child = spawn(&binary, &api);
        let posted = api
            .next_posted(Duration::from_secs(10))
            .expect("a first answer within 10 s");
        assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
        assert_eq!(posted.json()["Status"], "SUCCEEDED", "{}", posted.text());
        assert_eq!(posted.json()["Result"], "7", "{}", posted.text());
        cold.push(posted.at - started);
        let _ = child.kill();
        let _ = child.wait();
    }
    let api = RuntimeApi::start();
    let mut child = spawn(&binary, &api);
    let mut round_trips = Vec::with_capacity(warm);
    for i in 0..warm + 20 {
        let queued = Instant::now();
        api.push(EVENT);
        let posted = api.next_posted(Duration::from_secs(10)).expect("an answer");
        assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
        if i >= 20 {
            round_trips.push(posted.at - queued);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "durable cold start (spawn -> first answer posted), {starts} starts: median {}, p90 {}, min {}, max {}",
        ms(percentile(&mut cold, 50)),
        ms(percentile(&mut cold, 90)),
        ms(percentile(&mut cold, 0)),
        ms(percentile(&mut cold, 100)),
    );
    println!(
        "durable warm round trip (event queued -> answer posted), {warm} invocations: median {}, p90 {}",
        ms(percentile(&mut round_trips, 50)),
        ms(percentile(&mut round_trips, 90)),
    );
    ExitCode::SUCCESS
}

fn spawn(binary: &std::path::Path, api: &RuntimeApi) -> std::process::Child {
    Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("_HANDLER", "bench_echo")
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-west-2")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
        .env_remove("ORKESTRA_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the function")
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    samples[(samples.len().saturating_sub(1) * p) / 100]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
