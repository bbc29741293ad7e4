//! The same durable handlers (`examples/durable_parity.rs`), from the same binary, on the
//! embedded SQLite store and on Lambda durable functions (AWS's local checkpoint service on the
//! offline conformance bed): same result, same errors, same operations (ids, parents, types,
//! sub types, names, statuses, results, errors, step attempts), a chained invoke included.
//!
//! Each case runs first on the embedded store through the binary's `durable` CLI. Its outcome
//! becomes the `ExpectedResult` of a requirement written for the bed, so AWS's own matcher
//! judges the service's result; the test then compares the operations of the service's history
//! with the embedded records. The callback case is completed from outside with
//! `durable complete-callback` on both: on the service through
//! `SendDurableExecutionCallbackSuccess` (`--lambda`), after a `heartbeat-callback`.

#[path = "support/dexbed.rs"]
mod dexbed;
#[path = "support/examples.rs"]
mod examples;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One operation as an engine recorded it, in the terms both share.
#[derive(Debug, Clone, PartialEq)]
struct Op {
    parent: Option<String>,
    op_type: String,
    sub_type: Option<String>,
    name: Option<String>,
    status: String,
    result: Option<Value>,
    error: Option<Value>,
    /// Steps only: the attempt that ended it.
    attempt: Option<u64>,
}

/// An execution's end and its operations by id.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    status: String,
    result: Option<Value>,
    error: Option<Value>,
    ops: BTreeMap<String, Op>,
}

fn text_json(text: Option<&str>) -> Option<Value> {
    text.map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())))
}

/// A run from `durable inspect` of the embedded store.
fn embedded_run(inspect: &Value) -> Run {
    let ops = inspect["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| {
            let op_type = op["op_type"].as_str().unwrap().to_string();
            let attempt = (op_type == "STEP").then(|| op["attempt"].as_u64().unwrap());
            let record = Op {
                parent: op["parent_id"].as_str().map(str::to_string),
                sub_type: op["sub_type"].as_str().map(str::to_string),
                name: op["name"].as_str().map(str::to_string),
                status: op["status"].as_str().unwrap().to_string(),
                result: text_json(op["result"].as_str()),
                error: (!op["error"].is_null()).then(|| op["error"].clone()),
                attempt,
                op_type,
            };
            (op["id"].as_str().unwrap().to_string(), record)
        })
        .collect();
    Run {
        status: inspect["status"].as_str().unwrap().to_string(),
        result: (!inspect["result"].is_null()).then(|| inspect["result"].clone()),
        error: (!inspect["error"].is_null()).then(|| inspect["error"].clone()),
        ops,
    }
}

/// The operation type and status an event of the service's history speaks of, e.g.
/// `StepFailed` → (`STEP`, `FAILED`); `None` for execution and invocation events.
fn event_kind(event_type: &str) -> Option<(&'static str, &'static str)> {
    const TYPES: [(&str, &str); 5] = [
        ("ChainedInvoke", "CHAINED_INVOKE"),
        ("Callback", "CALLBACK"),
        ("Context", "CONTEXT"),
        ("Step", "STEP"),
        ("Wait", "WAIT"),
    ];
    const STATUSES: [(&str, &str); 5] = [
        ("Started", "STARTED"),
        ("Succeeded", "SUCCEEDED"),
        ("Failed", "FAILED"),
        ("TimedOut", "TIMED_OUT"),
        ("Stopped", "STOPPED"),
    ];
    let (prefix, op_type) = TYPES.iter().find(|(p, _)| event_type.starts_with(p))?;
    let rest = &event_type[prefix.len()..];
    let status = STATUSES.iter().find(|(s, _)| *s == rest)?.1;
    Some((op_type, status))
}

/// The details object of an event (`StepSucceededDetails` of a `StepSucceeded`, ...).
fn details(event: &Value) -> &Value {
    let key = format!("{}Details", event["EventType"].as_str().unwrap_or_default());
    &event[key.as_str()]
}

/// A run from the service's history (`GetDurableExecutionHistory`): each operation as its
/// last event leaves it.
fn service_run(history: &Value) -> Run {
    let events = history["Events"].as_array().expect("Events");
    let mut ops: BTreeMap<String, Op> = BTreeMap::new();
    let mut end = None;
    for event in events {
        let event_type = event["EventType"].as_str().unwrap_or_default();
        if let Some(status) = event_type.strip_prefix("Execution") {
            if status != "Started" {
                end = Some((status.to_string(), details(event).clone()));
            }
            continue;
        }
        let Some((op_type, status)) = event_kind(event_type) else {
            continue;
        };
        let d = details(event);
        let attempt = d["RetryDetails"]["CurrentAttempt"].as_u64();
        let op = ops
            .entry(event["Id"].as_str().unwrap().to_string())
            .or_insert_with(|| Op {
                parent: event["ParentId"].as_str().map(str::to_string),
                op_type: op_type.to_string(),
                sub_type: event["SubType"].as_str().map(str::to_string),
                name: event["Name"].as_str().map(str::to_string),
                status: String::new(),
                result: None,
                error: None,
                attempt: None,
            });
        op.status = status.to_string();
        op.result = text_json(d["Result"]["Payload"].as_str());
        op.error = d["Error"]["Payload"].as_object().map(|e| json!(e));
        if op_type == "STEP" {
            op.attempt = attempt.or(op.attempt);
        }
    }
    let (status, end) = end.expect("the history ends the execution");
    Run {
        status: match status.as_str() {
            "Succeeded" => "SUCCEEDED",
            "Failed" => "FAILED",
            "TimedOut" => "TIMED_OUT",
            "Stopped" => "STOPPED",
            other => panic!("execution event Execution{other}"),
        }
        .to_string(),
        result: text_json(end["Result"]["Payload"].as_str()),
        error: end["Error"]["Payload"].as_object().map(|e| json!(e)),
        ops,
    }
}

fn assert_same(case: &str, embedded: &Run, service: &Run) {
    assert_eq!(embedded.status, service.status, "{case}: execution status");
    assert_eq!(embedded.result, service.result, "{case}: execution result");
    assert_eq!(embedded.error, service.error, "{case}: execution error");
    let ids = |run: &Run| run.ops.keys().cloned().collect::<Vec<_>>();
    assert_eq!(ids(embedded), ids(service), "{case}: operation ids");
    for (id, op) in &embedded.ops {
        assert_eq!(
            op, &service.ops[id],
            "{case}: operation {id} ({:?})",
            op.name
        );
    }
}

/// The example binary's `durable` CLI on the embedded store `db`.
fn cli(db: &Path, args: &[&str]) -> Output {
    Command::new(examples::example_binary("durable_parity"))
        .arg("durable")
        .args(args)
        .env("ORKESTRA_DB", db)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("run durable_parity")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "{e}: {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn inspect(db: &Path, id: &str) -> Run {
    embedded_run(&stdout_json(&cli(db, &["inspect", id])))
}

/// Waits for a file to appear and returns its text.
fn wait_for_file(path: &Path, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {within:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes requirement `rid` for the bed: the input, the embedded run's end as the expected
/// result, and optional expected logs (JSON is YAML).
fn write_requirement(dir: &Path, rid: &str, input: &Value, expected: &Run, logs: Value) {
    let mut result = json!({ "ExecutionStatus": expected.status });
    if let Some(value) = &expected.result {
        result["Result"] = value.clone();
    }
    let mut requirement = json!({
        "description": format!("Orkestra parity case {rid}"),
        "Input": input,
        "ExpectedResult": result,
        // The matcher checks listed events only; the test compares the operations itself.
        "ExpectedExecutionHistory": [{ "EventType": "ExecutionStarted", "EventId": 1 }],
    });
    if !logs.is_null() {
        requirement["ExpectedLogs"] = logs;
    }
    let suite = dir.join("orkestra");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(
        suite.join(format!("{rid}.yaml")),
        serde_json::to_string_pretty(&requirement).unwrap(),
    )
    .unwrap();
}

/// A bed run serving the example's handler `handler` (`_HANDLER`, as a deployed function).
fn start_bed(
    bed: &(PathBuf, PathBuf),
    dir: &Path,
    handler: &str,
    runner_port: Option<u16>,
    rids: &[&str],
) -> Child {
    let (script, python) = bed;
    let binary = examples::example_binary("durable_parity");
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg("--requirements-dir")
        .arg(dir)
        .arg("--runtime-api-cmd")
        .arg(format!("_HANDLER={handler} exec {}", binary.display()))
        .arg("--out")
        .arg(dir.join("out"))
        .args(rids)
        .current_dir(script.parent().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if handler == "fulfil_order" {
        // The chained function, served by the same process under its own name.
        command
            .arg("--function-configs")
            .arg(r#"{"send_receipt": {"DurableConfig": {}}}"#);
    }
    if let Some(port) = runner_port {
        command.arg("--runner-port").arg(port.to_string());
    }
    command.spawn().expect("start dexbed.py")
}

/// Waits for the bed; asserts every requirement passed; returns the service's runs and the
/// bed's verdict lines.
fn finish_bed(child: Child, dir: &Path, rids: &[&str]) -> (BTreeMap<String, Run>, String) {
    let out = child.wait_with_output().expect("dexbed.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.join("out/handler.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the bed failed:\n{stdout}\n{}\nhandler.log:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = rids
        .iter()
        .map(|rid| {
            let path = dir.join("out").join(format!("{rid}.json"));
            let history: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (rid.to_string(), service_run(&history))
        })
        .collect();
    (runs, stdout.into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn event_kinds_map_to_operation_types_and_statuses() {
    assert_eq!(event_kind("StepFailed"), Some(("STEP", "FAILED")));
    assert_eq!(
        event_kind("ChainedInvokeTimedOut"),
        Some(("CHAINED_INVOKE", "TIMED_OUT"))
    );
    assert_eq!(event_kind("ContextStarted"), Some(("CONTEXT", "STARTED")));
    assert_eq!(event_kind("InvocationCompleted"), None);
    assert_eq!(event_kind("StepSomethingElse"), None);
}

#[test]
fn a_history_folds_into_operations_as_their_last_event_leaves_them() {
    let history = json!({"Events": [
        {"EventType": "ExecutionStarted", "EventId": 1, "Id": "exec"},
        {"EventType": "StepStarted", "SubType": "Step", "Id": "a", "Name": "reserve",
         "StepStartedDetails": {}},
        {"EventType": "StepFailed", "SubType": "Step", "Id": "a", "Name": "reserve",
         "StepFailedDetails": {"Error": {"Payload": {"ErrorType": "Busy", "ErrorMessage": "x"}},
                               "RetryDetails": {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 1}}},
        {"EventType": "InvocationCompleted", "EventId": 4},
        {"EventType": "StepSucceeded", "SubType": "Step", "Id": "a", "Name": "reserve",
         "StepSucceededDetails": {"Result": {"Payload": "\"ok\""}, "RetryDetails": {"CurrentAttempt": 2}}},
        {"EventType": "ExecutionSucceeded", "Id": "exec",
         "ExecutionSucceededDetails": {"Result": {"Payload": "{\"n\":1}"}}},
    ]});
    let run = service_run(&history);
    assert_eq!(run.status, "SUCCEEDED");
    assert_eq!(run.result, Some(json!({"n": 1})));
    let op = &run.ops["a"];
    assert_eq!(op.status, "SUCCEEDED");
    assert_eq!(op.result, Some(json!("ok")));
    assert_eq!(op.error, None, "a later success clears the retried error");
    assert_eq!(op.attempt, Some(2));
}

#[test]
#[should_panic(expected = "operation a")]
fn runs_differing_in_one_operation_are_told_apart() {
    let op = |status: &str| Op {
        parent: None,
        op_type: "STEP".into(),
        sub_type: Some("Step".into()),
        name: Some("reserve".into()),
        status: status.into(),
        result: None,
        error: None,
        attempt: Some(1),
    };
    let run = |status: &str| Run {
        status: "SUCCEEDED".into(),
        result: None,
        error: None,
        ops: BTreeMap::from([("a".to_string(), op(status))]),
    };
    assert_same("case", &run("SUCCEEDED"), &run("FAILED"));
}

#[test]
fn fulfil_order_runs_the_same_on_the_embedded_store_and_on_the_service() {
    let Some(bed) = dexbed::bed() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orkestra.db");
    let cases = [
        (
            "parity-fulfil",
            json!({"order_id": "o-1", "items": [200, 350, 500], "quantity": 4}),
        ),
        (
            "parity-invalid",
            json!({"order_id": "o-2", "items": [100], "quantity": 0}),
        ),
    ];
    let mut embedded = BTreeMap::new();
    for (rid, input) in &cases {
        let out = cli(
            &db,
            &[
                "start",
                "fulfil_order",
                "--id",
                rid,
                "--input",
                &input.to_string(),
                "--hold",
                "10s",
            ],
        );
        let run = inspect(&db, rid);
        assert!(
            matches!(run.status.as_str(), "SUCCEEDED" | "FAILED"),
            "{rid} ended on the embedded store: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let logs = if *rid == "parity-fulfil" {
            // AWS's log validator: the replay-safe logger's line once, with the ARN on it.
            json!([{ "match": {"message": "/reserving order o-1/", "executionArn": "/.+/"},
                     "count": 1 }])
        } else {
            Value::Null
        };
        write_requirement(dir.path(), rid, input, &run, logs);
        embedded.insert(rid.to_string(), run);
    }
    assert_eq!(embedded["parity-fulfil"].status, "SUCCEEDED");
    assert_eq!(embedded["parity-invalid"].status, "FAILED");

    let rids: Vec<&str> = cases.iter().map(|(rid, _)| *rid).collect();
    let bed_run = start_bed(&bed, dir.path(), "fulfil_order", None, &rids);
    let (service, verdicts) = finish_bed(bed_run, dir.path(), &rids);
    assert!(
        verdicts
            .lines()
            .any(|l| l.starts_with("PASS parity-fulfil") && l.contains("logs=")),
        "the bed checked the expected logs: {verdicts}"
    );
    for rid in &rids {
        assert_same(rid, &embedded[*rid], &service[*rid]);
    }
    // What the comparison covered: a retried step, a wait, a map, a parallel, a child and a
    // chained invoke.
    let fulfil = &service["parity-fulfil"];
    let sub_types: Vec<&str> = fulfil
        .ops
        .values()
        .filter_map(|op| op.sub_type.as_deref())
        .collect();
    for expected in [
        "Step",
        "Wait",
        "Map",
        "MapIteration",
        "Parallel",
        "ParallelBranch",
        "RunInChildContext",
        "ChainedInvoke",
    ] {
        assert!(sub_types.contains(&expected), "{expected} in {sub_types:?}");
    }
    let reserve = fulfil
        .ops
        .values()
        .find(|op| op.name.as_deref() == Some("reserve"));
    assert_eq!(reserve.and_then(|op| op.attempt), Some(2));
    let error = embedded["parity-invalid"].error.clone().expect("an error");
    assert!(
        error.to_string().contains("quantity is 0"),
        "the step's error surfaces: {error}"
    );
}

#[test]
fn a_callback_completed_from_outside_gives_the_same_run_on_both() {
    let Some(bed) = dexbed::bed() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orkestra.db");
    let rid = "parity-approve";

    // Embedded: the execution suspends on the callback; complete-callback, then resume.
    let file = dir.path().join("embedded-callback-id");
    let input = json!({"order_id": "o-7", "callback_file": file});
    let started = cli(
        &db,
        &[
            "start",
            "approve",
            "--id",
            rid,
            "--input",
            &input.to_string(),
        ],
    );
    assert_eq!(
        started.status.code(),
        Some(6),
        "suspended on the callback: {}",
        String::from_utf8_lossy(&started.stdout)
    );
    let callback_id = wait_for_file(&file, Duration::from_secs(10));
    let completed = cli(
        &db,
        &[
            "complete-callback",
            &callback_id,
            "--result",
            "\"approved\"",
        ],
    );
    assert!(completed.status.success(), "{completed:?}");
    let resumed = cli(&db, &["resume", rid]);
    assert!(resumed.status.success(), "{resumed:?}");
    let embedded = inspect(&db, rid);
    assert_eq!(embedded.result, Some(json!("o-7: approved")));

    // The service: the same input shape, the callback id minted by the service.
    let file = dir.path().join("service-callback-id");
    let input = json!({"order_id": "o-7", "callback_file": file});
    write_requirement(dir.path(), rid, &input, &embedded, Value::Null);
    let port = free_port();
    let bed_run = start_bed(&bed, dir.path(), "approve", Some(port), &[rid]);
    let callback_id = wait_for_file(&file, Duration::from_secs(60));
    // Let the invocation that created the callback return PENDING, as a warm Lambda has.
    std::thread::sleep(Duration::from_secs(1));
    let remote = |args: &[&str]| {
        Command::new(examples::example_binary("durable_parity"))
            .arg("durable")
            .args(args)
            .env(
                "AWS_ENDPOINT_URL_LAMBDA",
                format!("http://127.0.0.1:{port}"),
            )
            .env("AWS_REGION", "us-west-2")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("ORKESTRA_DB", dir.path().join("unused.db"))
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .output()
            .expect("run durable_parity")
    };
    let unknown = remote(&["heartbeat-callback", "no-such-callback"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("SendDurableExecutionCallbackHeartbeat") && said.contains("no-such-callback"),
        "the error names the call and the callback: {said}"
    );
    let heartbeat = remote(&["heartbeat-callback", &callback_id]);
    assert!(heartbeat.status.success(), "{heartbeat:?}");
    let completed = remote(&[
        "complete-callback",
        &callback_id,
        "--result",
        "\"approved\"",
        "--lambda",
    ]);
    assert!(completed.status.success(), "{completed:?}");
    assert_eq!(stdout_json(&completed), json!({"completed": callback_id}));
    let (service, _) = finish_bed(bed_run, dir.path(), &[rid]);
    assert_same(rid, &embedded, &service[rid]);
}
