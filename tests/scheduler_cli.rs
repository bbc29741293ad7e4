//! `schedule plan|submit|work|status|audit` on the real `scheduler` example binary.

#[path = "support/examples.rs"]
mod examples;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("orkestra-sched-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the example with `args` in `dir`; returns stdout, exit code, stderr.
fn schedule(dir: &Path, args: &[&str]) -> (String, i32, String) {
    let out = Command::new(examples::example_binary("scheduler"))
        .arg("schedule")
        .args(args)
        .current_dir(dir)
        .env_remove("ORKESTRA_DB")
        .env_remove("ORKESTRA_SCHEDULER_CONFIG")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json_of(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(stdout).unwrap()
}

fn files() -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scheduler");
    (
        root.join("report_job.json").display().to_string(),
        root.join("scheduler.json").display().to_string(),
    )
}

#[test]
fn plan_prints_the_worked_examples_ten_payloads_and_queues_nothing() {
    let dir = temp_dir("plan");
    let (job, config) = files();
    let (stdout, code, stderr) = schedule(
        &dir,
        &["plan", &job, "--today", "2024-06-12", "--config", &config],
    );
    assert_eq!(code, 0, "{stderr}");
    let payloads: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(payloads.len(), 10);
    assert_eq!(
        payloads[2],
        json!({"sections": ["weddings"], "stores": ["music"], "products": ["march", "chorus"],
               "report_type": "daily", "date_list": ["2024-06-10"]})
    );
    assert_eq!(
        payloads[9],
        json!({"sections": ["gifts"], "report_type": "daily", "date_list": ["2024-06-11"]})
    );
    assert!(!dir.join(".orkestra").exists(), "plan touched the database");
}

#[test]
fn submit_work_status_and_audit() {
    let dir = temp_dir("flow");
    let (job, config) = files();
    let (stdout, code, stderr) = schedule(&dir, &["submit", &job, "--config", &config]);
    assert_eq!(code, 0, "{stderr}");
    let out = json_of(&stdout);
    assert_eq!(
        (out["status"].clone(), out["queued"].clone()),
        (json!("QUEUED"), json!(10))
    );
    // Submitting again duplicates nothing.
    let (stdout, _, _) = schedule(&dir, &["submit", &job, "--config", &config]);
    assert_eq!(json_of(&stdout)["already_queued"], 10);

    let (stdout, _, _) = schedule(&dir, &["status"]);
    assert_eq!(json_of(&stdout)["labourers"]["report_worker"]["queued"], 10);

    let (stdout, code, stderr) = schedule(&dir, &["work", "--config", &config]);
    assert_eq!(code, 0, "{stderr}");
    let out = json_of(&stdout);
    assert_eq!(out["completed"], 10);
    assert_eq!(out["labourers"]["report_worker"]["completed"], 10);
    assert!(
        stderr.is_empty(),
        "no bar when stderr is not a terminal: {stderr}"
    );

    let (stdout, _, _) = schedule(&dir, &["status"]);
    let status = json_of(&stdout);
    assert_eq!(status["labourers"]["report_worker"]["completed"], 10);
    assert_eq!(status["dead_letters"], json!([]));

    // Completed tasks are not queued again.
    let (stdout, _, _) = schedule(&dir, &["submit", &job, "--config", &config]);
    assert_eq!(json_of(&stdout)["already_closed"], 10);

    let id = orkestra::scheduler::store::task_id(
        "report_worker",
        &json!({"sections": ["gifts"], "report_type": "daily",
                "date_list": [orkestra::scheduler::dates::format_date(
                    orkestra::scheduler::dates::today_utc() - time_days(1))]}),
    );
    let (stdout, code, _) = schedule(&dir, &["audit", &id]);
    assert_eq!(code, 0);
    let events: Vec<String> = json_of(&stdout)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["created", "invoked", "completed", "archived"]);
}

fn time_days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

#[test]
fn bad_input_is_a_usage_error_naming_the_field() {
    let dir = temp_dir("bad");
    let (_, config) = files();
    std::fs::write(
        dir.join("bad.json"),
        r#"{"labourer":"report_worker","period":"fortnight"}"#,
    )
    .unwrap();
    let (stdout, code, _) = schedule(&dir, &["plan", "bad.json", "--config", &config]);
    assert_eq!(code, 2);
    assert!(
        json_of(&stdout)["error"]
            .as_str()
            .unwrap()
            .starts_with("job field `period`"),
        "{stdout}"
    );

    std::fs::write(dir.join("nobody.json"), r#"{"labourer":"nobody"}"#).unwrap();
    let (stdout, code, _) = schedule(&dir, &["submit", "nobody.json", "--config", &config]);
    assert_eq!(code, 2);
    assert!(
        json_of(&stdout)["error"]
            .as_str()
            .unwrap()
            .contains("no task named `nobody`"),
        "{stdout}"
    );

    let (stdout, code, _) = schedule(&dir, &["plan", "bad.json", "--today", "12/06/2024"]);
    assert_eq!(code, 2);
    assert!(
        json_of(&stdout)["error"]
            .as_str()
            .unwrap()
            .starts_with("--today"),
        "{stdout}"
    );

    std::fs::write(
        dir.join("cfg.json"),
        r#"{"labourers":{"w":{"max_attempts":0}}}"#,
    )
    .unwrap();
    let (stdout, code, _) = schedule(&dir, &["plan", "bad.json", "--config", "cfg.json"]);
    assert_eq!(code, 2);
    assert!(
        json_of(&stdout)["error"]
            .as_str()
            .unwrap()
            .contains("labourers.w.max_attempts"),
        "{stdout}"
    );
}
