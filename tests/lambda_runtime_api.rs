//! The `lambda_tasks` example, built with `--features lambda`, run as a real process against a
//! Lambda Runtime API served on 127.0.0.1 by `support/runtime_api.rs`.
#![cfg(feature = "lambda")]

#[path = "support/runtime_api.rs"]
mod runtime_api;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime_api::{Kind, RuntimeApi};
use serde_json::{json, Value};

/// The example binary, brought up to date once per test run (`cargo test --test ..` alone does
/// not rebuild examples).
fn example_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let test_exe = std::env::current_exe().unwrap();
            let profile_dir = test_exe.parent().unwrap().parent().unwrap();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args(["build", "--features", "lambda", "--example", "lambda_tasks"]);
            if profile_dir
                .file_name()
                .is_some_and(|name| name == "release")
            {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(
                status.success(),
                "cargo build --example lambda_tasks failed"
            );
            profile_dir.join("examples").join("lambda_tasks")
        })
        .clone()
}

/// One `bootstrap` process serving `handler`, with its stdout (the log stream) collected.
struct Function {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Function {
    fn start(api: &RuntimeApi, handler: &str) -> Function {
        let mut child = Command::new(example_binary())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("_HANDLER", handler)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("orkestra-{handler}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env_remove("ORKESTRA_LOG")
            .env_remove("AWS_LAMBDA_LOG_LEVEL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the example");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Function { child, logs }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The JSON log lines carrying `request_id`, waiting for them briefly.
    fn log_lines_for(&self, request_id: &str) -> Vec<Value> {
        for _ in 0..100 {
            let lines: Vec<Value> = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .map(|line| {
                    serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"))
                })
                .filter(|line: &Value| line["request_id"] == request_id)
                .collect();
            if !lines.is_empty() {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no log line for {request_id}; logs: {:?}",
            self.logs.lock().unwrap()
        );
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn success_posts_the_task_output() {
    let api = RuntimeApi::start();
    let _function = Function::start(&api, "greet");
    let posted = api.invoke(br#"{"name":"Ada","times":2}"#);
    assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
    assert_eq!(posted.json(), json!("hello Ada, hello Ada"));
}

#[test]
fn a_task_error_is_posted_as_the_exact_bytes_invoke_prints() {
    let api = RuntimeApi::start();
    let _function = Function::start(&api, "divide");
    let posted = api.invoke(br#"{"a":1,"b":0}"#);
    assert_eq!(posted.kind, Kind::Error);
    assert_eq!(
        posted.text(),
        r#"{"errorType":"DivideByZero","errorMessage":"division by zero"}"#
    );
    assert_eq!(posted.error_type_header.as_deref(), Some("unhandled"));

    let invoke = Command::new(example_binary())
        .args(["invoke", "divide", r#"{"a":1,"b":0}"#])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert_eq!(invoke.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(invoke.stdout).unwrap().trim_end(),
        posted.text()
    );

    let ok = api.invoke(br#"{"a":1,"b":4}"#);
    assert_eq!((ok.kind, ok.json()), (Kind::Response, json!(0.25)));
}

#[test]
fn a_panic_is_reported_and_the_runtime_keeps_serving() {
    let api = RuntimeApi::start();
    let mut function = Function::start(&api, "maybe_panic");
    let panicked = api.invoke(b"-3");
    assert_eq!(panicked.kind, Kind::Error);
    assert_eq!(
        panicked.json(),
        json!({"errorType": "Orkestra.Panic", "errorMessage": "negative input: -3"})
    );
    assert!(function.is_running(), "the process died after a panic");
    let lines = function.log_lines_for(&panicked.request_id.clone().unwrap());
    let report = lines
        .iter()
        .find(|line| line["message"] == "task panicked")
        .unwrap_or_else(|| panic!("no panic log line: {lines:?}"));
    assert_eq!(report["level"], "ERROR");
    assert_eq!(report["panic"], "negative input: -3");
    assert!(
        report["location"]
            .as_str()
            .unwrap()
            .starts_with("examples/lambda_tasks.rs:"),
        "{report}"
    );
    let ok = api.invoke(b"5");
    assert_eq!((ok.kind, ok.json()), (Kind::Response, json!(5)));
    let again = api.invoke(b"-1");
    assert_eq!(again.json()["errorType"], "Orkestra.Panic");
    assert!(function.is_running());
}

#[test]
fn a_map_item_gets_its_index_from_the_envelope_and_logs_carry_it() {
    let api = RuntimeApi::start();
    let function = Function::start(&api, "square");
    let event = json!({
        "input": 7,
        "meta": {"execution_id": "arn:aws:states:exec-42", "state_machine": "squares",
                 "state": "square", "retry_count": 1, "map_index": 3}
    });
    let request_id = api.push(event.to_string().as_bytes());
    let posted = api.next_posted(Duration::from_secs(10)).expect("an answer");
    assert_eq!(posted.request_id.as_deref(), Some(request_id.as_str()));
    assert_eq!(posted.kind, Kind::Response);
    assert_eq!(
        posted.json(),
        json!({"index": 3, "state": "square", "square": 49})
    );

    let lines = function.log_lines_for(&request_id);
    let finished = lines
        .iter()
        .find(|line| line["message"] == "invocation finished")
        .unwrap_or_else(|| panic!("no `invocation finished` line: {lines:?}"));
    // The span's fields are top-level keys, as CloudWatch filters address them.
    assert_eq!(finished["execution_id"], "arn:aws:states:exec-42");
    assert_eq!(finished["state"], "square");
    assert_eq!(finished["map_index"], 3);
    assert_eq!(finished["retry_count"], 1);
    assert_eq!(finished["function"], "orkestra-square");
    assert_eq!(
        finished["requestId"],
        request_id.as_str(),
        "the runtime's own span"
    );
    assert_eq!(finished["level"], "INFO");
    assert_eq!(finished["outcome"], "ok");
}

#[test]
fn the_context_comes_from_the_lambda_invocation_and_the_envelope() {
    let api = RuntimeApi::start();
    let _function = Function::start(&api, "whoami");
    let event = json!({"input": {}, "meta": {"execution_id": "exec-1", "state_machine": "wf", "state": "Who"}});
    let request_id = api.push_with_deadline(event.to_string().as_bytes(), Duration::from_secs(30));
    let posted = api.next_posted(Duration::from_secs(10)).unwrap();
    let out = posted.json();
    assert_eq!(out["request_id"], request_id.as_str());
    assert_eq!(out["function_name"], "orkestra-whoami");
    assert_eq!(out["execution_id"], "exec-1");
    assert_eq!(out["workflow"], "wf");
    assert_eq!(out["state"], "Who");
    assert_eq!(out["map_index"], Value::Null);
    let remaining = out["remaining_ms"].as_u64().expect("a deadline");
    assert!(
        (20_000..=30_000).contains(&remaining),
        "remaining {remaining} ms"
    );
}

#[test]
fn undecodable_events_name_the_task_and_the_field() {
    let api = RuntimeApi::start();
    let mut function = Function::start(&api, "greet");
    let posted = api.invoke(br#"{"name":"Ada","times":"twice"}"#);
    assert_eq!(posted.kind, Kind::Error);
    let error = posted.json();
    assert_eq!(error["errorType"], "Orkestra.InvalidInput");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("task `greet` could not decode its input at `times`: "),
        "{message}"
    );

    // The same inside an envelope: the path is within the task's input.
    let wrapped = json!({"input": {"name": 5, "times": 1}, "meta": {"execution_id": "e"}});
    let posted = api.invoke(wrapped.to_string().as_bytes());
    let message = posted.json()["errorMessage"].as_str().unwrap().to_string();
    assert!(message.contains("at `name`"), "{message}");

    // A body that is not JSON at all (which Lambda itself never delivers) is refused by
    // lambda_runtime before Orkestra sees it, under lambda_runtime's own type name; serving
    // goes on.
    let posted = api.invoke(b"{not json");
    assert_eq!(posted.kind, Kind::Error);
    let refused = posted.json();
    assert_eq!(
        refused["errorType"],
        "&lambda_runtime::deserializer::DeserializeError"
    );
    assert!(
        refused["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("failed to deserialize the incoming data"),
        "{refused}"
    );
    assert!(function.is_running());
    let ok = api.invoke(br#"{"name":"Bo","times":1}"#);
    assert_eq!((ok.kind, ok.json()), (Kind::Response, json!("hello Bo")));
}

#[test]
fn an_unknown_handler_fails_each_invocation_naming_the_task() {
    let api = RuntimeApi::start();
    let mut function = Function::start(&api, "no_such_task");
    let posted = api.invoke(b"{}");
    assert_eq!(posted.kind, Kind::Error);
    let error = posted.json();
    assert_eq!(error["errorType"], "Orkestra.UnknownTask");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("`no_such_task`"), "{message}");
    assert!(
        message.contains("divide, greet, maybe_panic, square, whoami"),
        "{message}"
    );
    assert!(function.is_running());
}

#[test]
fn without_the_runtime_api_the_same_binary_is_the_cli() {
    let output = Command::new(example_binary())
        .arg("list")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(output.status.success());
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["divide", "greet", "maybe_panic", "square", "whoami"]
    );
}
