//! The output contract of an Orkestra binary, checked on the real `map_job` and `cli_contract`
//! example processes: stdout carries exactly one line of JSON; exit codes as `ExitStatus`.

#[path = "support/examples.rs"]
mod examples;
use examples::example_binary as example;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn example_binary() -> PathBuf {
    example("map_job")
}

fn map_job(args: &[&str]) -> (Value, i32, String) {
    run_example("map_job", args, &[])
}

fn contract(args: &[&str]) -> (Value, i32, String) {
    run_example("cli_contract", args, &[])
}

/// Runs an example with `args` (and environment `env`); stdout must be one line of JSON.
fn run_example(name: &str, args: &[&str], env: &[(&str, &str)]) -> (Value, i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(example(name))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8(stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line of JSON on stdout: {stdout:?}"
    );
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout:?}"));
    (
        value,
        status.code().unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[test]
fn no_arguments_runs_the_workflow() {
    let (value, code, _) = map_job(&[]);
    assert_eq!(code, 0);
    assert_eq!(value["status"], "SUCCEEDED");
    let output = value["output"].as_f64().unwrap();
    assert!(
        (0.0..=30.0).contains(&output) && output % 3.0 == 0.0,
        "{output}"
    );
}

#[test]
fn a_seed_in_the_input_makes_runs_repeatable() {
    let first = map_job(&["run", "map_example", "--input", r#"{"seed": 7}"#]);
    let second = map_job(&["run", "--input", r#"{"seed": 7}"#]);
    assert_eq!(first.0, second.0);
    let dir = std::env::temp_dir().join(format!("orkestra-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("input.json");
    std::fs::write(&file, r#"{"seed": 7}"#).unwrap();
    let from_file = map_job(&["run", "--input", &format!("@{}", file.display())]);
    assert_eq!(from_file.0, first.0);
    // The status key comes first, as the contract is written.
    let stdout = Command::new(example_binary())
        .args(["run", "--input", r#"{"seed": 7}"#])
        .output()
        .unwrap()
        .stdout;
    assert!(String::from_utf8(stdout)
        .unwrap()
        .starts_with(r#"{"status":"SUCCEEDED","output":"#));
}

#[test]
fn a_failed_execution_exits_1_with_error_and_cause() {
    let (value, code, _) = map_job(&["run", "--input", r#"{"seed": "seven"}"#]);
    assert_eq!(code, 1);
    assert_eq!(value["status"], "FAILED");
    assert_eq!(value["error"], "Orkestra.InvalidInput");
    let cause: Value = serde_json::from_str(value["cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "Orkestra.InvalidInput");
    assert!(cause["errorMessage"]
        .as_str()
        .unwrap()
        .contains("ones_and_zeros"));
}

#[test]
fn invoke_prints_the_task_output_or_lambdas_error_bytes() {
    assert_eq!(map_job(&["invoke", "divide_by", "4"]).0, json!(0.25));
    let output = Command::new(example_binary())
        .args(["invoke", "divide_by", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "{\"errorType\":\"DivideByZero\",\"errorMessage\":\"division by zero\"}\n"
    );
    let envelope =
        r#"{"input": 2, "meta": {"execution_id": "e-1", "state": "divide_by", "map_index": 1}}"#;
    assert_eq!(map_job(&["invoke", "divide_by", envelope]).0, json!(0.5));
    let (value, code, _) = map_job(&["invoke", "no_such_task", "1"]);
    assert_eq!(code, 2);
    assert_eq!(value["errorType"], "Orkestra.UnknownTask");
}

#[test]
fn bad_usage_exits_2_and_says_what_was_wrong() {
    let (value, code, stderr) = map_job(&["run", "--input", "{not json"]);
    assert_eq!(code, 2);
    assert_eq!(value["status"], "ERROR");
    assert!(stderr.contains("--input is not valid JSON"), "{stderr}");
    let (value, code, _) = map_job(&["run", "nope"]);
    assert_eq!(code, 2);
    assert!(value["error"].as_str().unwrap().contains("map_example"));
}

#[test]
fn list_names_tasks_and_workflows() {
    let (value, code, _) = map_job(&["list"]);
    assert_eq!(code, 0);
    let states = &value["workflows"][0]["tasks"];
    assert_eq!(
        states,
        &json!([
            "ones_and_zeros",
            "divide_by",
            "filter_division_errors",
            "sum_up",
            "times_3"
        ])
    );
    let divide_by = value["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "divide_by")
        .unwrap();
    assert_eq!(divide_by["map"], true);
    assert_eq!(divide_by["input"], "u8");
}

#[test]
fn clap_usage_errors_follow_the_contract() {
    let (value, code, stderr) = map_job(&["run", "--bogus"]);
    assert_eq!(code, 2);
    assert_eq!(value["status"], "ERROR");
    assert!(
        value["error"].as_str().unwrap().contains("--bogus"),
        "{value}"
    );
    assert!(
        stderr.contains("Usage:"),
        "clap's text stays on stderr: {stderr}"
    );
    let (value, code, _) = map_job(&["invoke", "divide_by"]);
    assert_eq!((code, &value["status"]), (2, &json!("ERROR")));
    assert!(
        value["error"].as_str().unwrap().contains("<EVENT>"),
        "{value}"
    );
    let (value, code, _) = map_job(&["durable"]);
    assert_eq!((code, &value["status"]), (2, &json!("ERROR")), "{value}");
    let (value, code, _) = map_job(&["no-such-command"]);
    assert_eq!((code, &value["status"]), (2, &json!("ERROR")), "{value}");
    // Help is not an error.
    let help = Command::new(example_binary())
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8(help.stdout).unwrap().contains("invoke"));
}

#[test]
fn negative_numbers_are_values_not_flags() {
    assert_eq!(
        contract(&["invoke", "negate", "-3"]),
        (json!(3), 0, String::new())
    );
    let (value, code, _) = contract(&["run", "negation", "--input", "-3"]);
    assert_eq!((code, &value["output"]), (0, &json!(3)), "{value}");
    let (value, code, _) = contract(&["run", "--input=-12"]);
    assert_eq!((code, &value["output"]), (0, &json!(12)), "{value}");
}

#[test]
fn durable_values_may_start_with_a_hyphen() {
    use clap::Parser;
    use orkestra::cli::{Cli, Command as Cmd};
    use orkestra::durable::cli::DurableCommand;
    let cli = Cli::try_parse_from(["bin", "durable", "start", "h", "--id", "x", "--input", "-3"])
        .unwrap();
    match cli.command {
        Some(Cmd::Durable {
            command: DurableCommand::Start { input, .. },
        }) => assert_eq!(input, "-3"),
        other => panic!("{other:?}"),
    }
    let cli = Cli::try_parse_from([
        "bin",
        "durable",
        "complete-callback",
        "e/1",
        "--result",
        "-1",
    ])
    .unwrap();
    match cli.command {
        Some(Cmd::Durable {
            command: DurableCommand::CompleteCallback { result, .. },
        }) => assert_eq!(result.as_deref(), Some("-1")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invoke_stops_a_task_at_its_timeout() {
    let started = std::time::Instant::now();
    let (value, code, _) = contract(&["invoke", "sleepy", "60"]);
    assert_eq!(code, 3, "{value}");
    assert_eq!(value["errorType"], "States.Timeout");
    assert!(
        value["errorMessage"]
            .as_str()
            .unwrap()
            .contains("`sleepy` timed out after 1 seconds"),
        "{value}"
    );
    // The 60-second body was abandoned, not run to completion.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(contract(&["invoke", "sleepy", "0"]).0, json!(0));
}

#[test]
fn invoke_applies_the_payload_limit_to_its_event() {
    let dir = std::env::temp_dir().join(format!("orkestra-cli-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.json");
    // 256 KiB is the limit: a string just over it, and one just under.
    std::fs::write(&file, Value::from("x".repeat(256 * 1024)).to_string()).unwrap();
    let (value, code, _) = contract(&["invoke", "negate", &format!("@{}", file.display())]);
    assert_eq!(code, 2, "{value}");
    assert_eq!(value["errorType"], "States.DataLimitExceeded");
    assert!(
        value["errorMessage"].as_str().unwrap().contains("`negate`"),
        "{value}"
    );
    std::fs::write(&file, Value::from("x".repeat(256 * 1024 - 2)).to_string()).unwrap();
    let (value, code, _) = contract(&["invoke", "negate", &format!("@{}", file.display())]);
    assert_eq!(code, 2, "{value}");
    assert_eq!(
        value["errorType"], "Orkestra.InvalidInput",
        "under the limit, decoded"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_panicking_task_prints_its_error_and_one_log_line() {
    let (value, code, stderr) = run_example(
        "cli_contract",
        &["invoke", "explode", "7"],
        &[("RUST_BACKTRACE", "1")],
    );
    assert_eq!(code, 1);
    assert_eq!(value["errorType"], "Orkestra.Panic");
    assert!(
        value["errorMessage"]
            .as_str()
            .unwrap()
            .contains("exploded on 7"),
        "{value}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one log line, no backtrace: {stderr}");
    let log: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(log["level"], "ERROR");
    assert_eq!(log["panic"], "exploded on 7");
    // At the debug level the backtrace is logged.
    let (_, code, stderr) = run_example(
        "cli_contract",
        &["invoke", "explode", "7"],
        &[("RUST_BACKTRACE", "1"), ("ORKESTRA_LOG", "debug")],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("panic backtrace"), "{stderr}");
}

#[test]
fn history_is_json_lines_with_errors_indexes_and_times() {
    let output = Command::new(example_binary())
        .args(["run", "--input", r#"{"seed": 7}"#, "--history"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let events: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        stderr.lines().all(|line| line.starts_with(r#"{"id":"#)),
        "id first: {stderr}"
    );
    assert_eq!(events[0]["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["id"], i + 1);
        let time = event["timestamp"].as_str().unwrap();
        humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{e}: {time}"));
    }
    // Seed 7 gives at least one zero: its failure carries the error, cause and item index.
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "LambdaFunctionFailed")
        .collect();
    assert!(!failed.is_empty(), "{stderr}");
    for event in &failed {
        assert_eq!(event["state"], "divide_by");
        assert_eq!(event["error"], "DivideByZero");
        let cause: Value = serde_json::from_str(event["cause"].as_str().unwrap()).unwrap();
        assert_eq!(cause["errorMessage"], "division by zero");
        assert!(event["map_index"].as_u64().unwrap() < 10);
    }
    assert!(events
        .iter()
        .filter(|e| e["type"] == "MapIterationStarted")
        .all(|e| e["map_index"].is_u64()));
}

#[test]
fn a_durable_execution_run_by_another_process_is_a_conflict_until_that_process_dies() {
    let dir = std::env::temp_dir().join(format!("orkestra-cli-owner-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("o.db");
    let db = db.to_str().unwrap();
    let durable = |args: &[&str]| run_example("durable_cli", args, &[("ORKESTRA_DB", db)]);
    // `--hold 1h`: the owner waits for its callback in process (by default a wait longer
    // than 1 s suspends the execution and the process exits 6).
    let start = [
        "durable", "start", "approval", "--id", "ap", "--input", "\"o-1\"", "--hold", "1h",
    ];
    // The owner: waits on its callback until killed.
    let mut owner = Command::new(example("durable_cli"))
        .args(start)
        .env("ORKESTRA_DB", db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let callback = (0..500)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let (inspect, code, _) = durable(&["durable", "inspect", "ap"]);
            (code == 0)
                .then(|| {
                    inspect["operations"]
                        .as_array()?
                        .iter()
                        .find(|op| op["op_type"] == "CALLBACK")
                        .map(|op| format!("ap/{}", op["id"].as_str().unwrap()))
                })
                .flatten()
        })
        .expect("the owner created its callback");
    let (busy, code, _) = durable(&start);
    assert_eq!(code, 4, "{busy}");
    assert!(
        busy["error"].as_str().unwrap().contains("another process"),
        "{busy}"
    );
    let (busy, code, _) = durable(&["durable", "resume", "ap"]);
    assert_eq!(code, 4, "{busy}");
    // Once the owner is gone (however it ended), the execution resumes here.
    owner.kill().unwrap();
    owner.wait().unwrap();
    let (done, code, _) = durable(&[
        "durable",
        "complete-callback",
        &callback,
        "--result",
        "\"yes\"",
    ]);
    assert_eq!(code, 0, "{done}");
    let (resumed, code, _) = durable(&["durable", "resume", "ap"]);
    assert_eq!(
        (code, &resumed["result"]),
        (0, &json!("o-1: yes")),
        "{resumed}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
