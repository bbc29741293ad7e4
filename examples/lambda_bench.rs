//! Lambda-mode benchmark: cold start and warm per-invocation overhead of the real binary.
//!
//! ```sh
//! cargo run --release --features lambda --example lambda_bench -- [STARTS] [WARM_INVOCATIONS] [BOOTSTRAP]
//! ```
//!
//! `BOOTSTRAP` measures another binary serving `lambda_tasks`' `square` task instead of this one,
//! e.g. the packaged one: `unzip target/lambda/lambda_tasks/bootstrap.zip -d /tmp/b` then pass
//! `/tmp/b/bootstrap`.
//!
//! This binary is also the function under test: it contains `lambda_tasks`' tasks, and when
//! started with `AWS_LAMBDA_RUNTIME_API` set it serves them exactly as a deployed `bootstrap`
//! does (same `orkestra::main()`, JSON logging to stdout included). The driver (started without
//! that variable) serves the Runtime API on 127.0.0.1 (`tests/support/runtime_api.rs`) and
//! re-executes itself:
//!
//! - **cold start**: from just before `spawn` to the moment the server has read the first
//!   posted response, with the event already queued; median over `STARTS` (default 30) fresh
//!   processes, each with its own server;
//! - **warm round trip**: one process; per invocation, from queuing the event to having read
//!   the posted response (a trivial task, so this is the runtime's own overhead: `GET next`,
//!   envelope, context, span, JSON log line, `POST response`), over `WARM_INVOCATIONS`
//!   (default 2000);
//! - **in-process dispatch**: `Handler::handle` alone (envelope, context, span, task call), no
//!   HTTP and no log output.

#[allow(dead_code)]
#[path = "lambda_tasks.rs"]
mod tasks;

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use runtime_api::{Kind, RuntimeApi};

const EVENT: &[u8] = br#"{"input":7,"meta":{"execution_id":"arn:aws:states:bench","state_machine":"bench","state":"square","retry_count":0,"map_index":3}}"#;

fn main() -> ExitCode {
    if orkestra::lambda::in_lambda() {
        return orkestra::main();
    }
    let mut args = std::env::args().skip(1);
    let starts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let warm: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let binary = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().unwrap());
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful figures");
    }

    let mut cold = Vec::with_capacity(starts);
    let mut init = Vec::with_capacity(starts);
    for _ in 0..starts {
        let api = RuntimeApi::start();
        api.push(EVENT);
        let started = Instant::now();
        let mut child = spawn(&binary, &api, "square");
        let posted = api
            .next_posted(Duration::from_secs(10))
            .expect("a first response within 10 s");
        assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
        assert_eq!(posted.json()["square"], 49);
        cold.push(posted.at - started);
        init.push(api.first_poll_at().expect("a poll") - started);
        let _ = child.kill();
        let _ = child.wait();
    }

    let api = RuntimeApi::start();
    let mut child = spawn(&binary, &api, "square");
    let mut round_trips = Vec::with_capacity(warm);
    for i in 0..warm + 50 {
        let queued = Instant::now();
        api.push(EVENT);
        let posted = api
            .next_posted(Duration::from_secs(10))
            .expect("a response");
        assert_eq!(posted.kind, Kind::Response);
        if i >= 50 {
            round_trips.push(posted.at - queued);
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let dispatch = in_process_dispatch(100_000);

    println!("lambda_bench: binary {}", binary.display());
    println!(
        "cold start (spawn -> first response posted), {starts} starts: median {}, p90 {}, min {}, max {}",
        ms(percentile(&mut cold, 50)),
        ms(percentile(&mut cold, 90)),
        ms(percentile(&mut cold, 0)),
        ms(percentile(&mut cold, 100)),
    );
    println!(
        "  of which spawn -> first GET /invocation/next: median {}",
        ms(percentile(&mut init, 50))
    );
    println!(
        "warm round trip (event queued -> response posted), {warm} invocations: median {}, p90 {}, p99 {}, mean {}",
        us(percentile(&mut round_trips, 50)),
        us(percentile(&mut round_trips, 90)),
        us(percentile(&mut round_trips, 99)),
        us(round_trips.iter().sum::<Duration>() / warm.max(1) as u32),
    );
    println!(
        "in-process dispatch (Handler::handle, no HTTP, no log output): {dispatch:.2} µs per event"
    );
    ExitCode::SUCCESS
}

fn spawn(binary: &std::path::Path, api: &RuntimeApi, handler: &str) -> std::process::Child {
    Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("_HANDLER", handler)
        .env("AWS_LAMBDA_FUNCTION_NAME", "orkestra-bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env_remove("ORKESTRA_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the function")
}

fn in_process_dispatch(iterations: u32) -> f64 {
    let registry = orkestra::Registry::global().expect("registry");
    let handler = orkestra::lambda::Handler::resolve(Ok(registry), Some("square"));
    let invocation = orkestra::lambda::Invocation {
        request_id: "bench".into(),
        deadline: None,
        function_name: "orkestra-bench".into(),
    };
    let event: serde_json::Value = serde_json::from_slice(EVENT).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..iterations {
            let out = handler.handle(event.clone(), &invocation).await.unwrap();
            std::hint::black_box(out);
        }
        started.elapsed().as_secs_f64() * 1e6 / iterations as f64
    })
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    let index = (samples.len().saturating_sub(1) * p) / 100;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}
