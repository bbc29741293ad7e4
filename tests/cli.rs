//! The output contract of an Orkestra binary, checked on the real `map_job` example process:
//! stdout carries exactly one line of JSON; exit code 0 on success, 1 on failure, 2 on bad usage.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn example_binary() -> PathBuf {
    // tests run from target/<profile>/deps/; cargo builds examples into target/<profile>/examples/.
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let binary = deps.parent().unwrap().join("examples").join("map_job");
    assert!(
        binary.exists(),
        "build the example first: {}",
        binary.display()
    );
    binary
}

fn map_job(args: &[&str]) -> (Value, i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(example_binary()).args(args).output().unwrap();
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
    assert_eq!(code, 1);
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
