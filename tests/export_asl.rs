//! Exported ASL: golden files, Orkestra's own checks, the real `asl-validator`, and the same
//! results on an independent interpreter (`aws-local-stepfunctions`) as on the local engine.
//!
//! The tools are installed by `.ci/setup.d/30-export.sh`, which exports `ORKESTRA_NODE`,
//! `ORKESTRA_ASL_VALIDATOR` and `ORKESTRA_NODE_MODULES`. Under CI (`CI=true`) a missing tool is
//! a failure; elsewhere the tool checks are skipped with a message.

#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;
#[allow(dead_code)]
#[path = "../examples/parallel_job.rs"]
mod parallel_job;
#[allow(dead_code)]
#[path = "../examples/state_data.rs"]
mod state_data;

#[path = "support/examples.rs"]
mod examples;
use examples::example_binary;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use orkestra::state_data::SqliteStateStore;

use orkestra::export;
use orkestra::{Engine, Node, Workflow};
use serde_json::{json, Value};

fn workflows() -> Vec<(Workflow, &'static str, Value)> {
    vec![
        (map_job::map_example(), "map_job", json!({"seed": 7})),
        (parallel_job::swallowing_example(), "parallel_job", json!(4)),
        (parallel_job::halting_example(), "parallel_job", json!(4)),
        // Every item of the Distributed Map reads its record from the state data file.
        (
            state_data::state_data_example(),
            "state_data",
            json!({"records": 4, "record_bytes": 7}),
        ),
    ]
}

fn asl_text(workflow: &Workflow) -> String {
    let machine = export::asl(workflow).expect("our checks pass");
    serde_json::to_string_pretty(&machine).unwrap() + "\n"
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A tool from the CI setup, or `None` (a failure under CI).
fn tool(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(path) if Path::new(&path).exists() => Some(path),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} is not set: .ci/setup.d/30-export.sh installs it")
        }
        _ => {
            eprintln!(
                "skipping: {var} is not set (run `source .ci/setup.d/30-export.sh` to install)"
            );
            None
        }
    }
}

#[test]
fn asl_matches_the_reviewed_golden_files() {
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (workflow, _, _) in workflows() {
        let path = golden_dir.join(format!("{}.asl.json", workflow.name()));
        let text = asl_text(&workflow);
        if std::env::var("UPDATE_GOLDEN").is_ok() {
            std::fs::write(&path, &text).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        assert_eq!(
            text,
            golden,
            "{} differs from its golden file",
            workflow.name()
        );
        // Deterministic: the same workflow gives the same bytes.
        assert_eq!(asl_text(&workflow), text);
    }
}

#[test]
fn a_task_used_twice_is_two_states_of_one_function() {
    let workflow = Workflow::from_node(
        "twice",
        Node::Chain(vec![
            Node::task(<map_job::times_3 as orkestra::TaskDef>::spec()),
            Node::task(<map_job::times_3 as orkestra::TaskDef>::spec()),
        ]),
    );
    let asl = serde_json::to_value(export::asl(&workflow).unwrap()).unwrap();
    assert_eq!(asl["States"]["times_3"]["Next"], "times_3_2");
    assert_eq!(
        asl["States"]["times_3"]["Resource"],
        asl["States"]["times_3_2"]["Resource"]
    );
}

#[test]
fn every_generated_asl_passes_asl_validator() {
    let Some(validator) = tool("ORKESTRA_ASL_VALIDATOR") else {
        return;
    };
    for (workflow, _, _) in workflows() {
        let path = scratch(&format!("{}.asl.json", workflow.name()));
        std::fs::write(&path, asl_text(&workflow)).unwrap();
        let out = Command::new(&validator)
            .args(["--json-path"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "asl-validator rejected {}: {}{}",
            workflow.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn asl_validator_catches_a_broken_definition() {
    // Guards the guard: the validator really runs and really rejects a missing `Next` target.
    let Some(validator) = tool("ORKESTRA_ASL_VALIDATOR") else {
        return;
    };
    let path = scratch("broken.asl.json");
    let broken = json!({"StartAt": "a", "States": {"a": {"Type": "Pass", "Next": "nowhere"}}});
    std::fs::write(&path, broken.to_string()).unwrap();
    let out = Command::new(&validator)
        .arg("--json-path")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// State name -> task key, for every Task state (map items included).
fn handlers(workflow: &Workflow) -> Value {
    let mut map = serde_json::Map::new();
    for task in workflow.root().tasks() {
        let state = if task.task.options.map {
            format!("{}_item", task.state_name)
        } else {
            task.state_name.clone()
        };
        map.insert(state, json!(task.task.name));
    }
    Value::Object(map)
}

/// JavaScript writes `12.0` as `12`: compare JSON numbers by value.
fn numbers_as_f64(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_f64).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, numbers_as_f64(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Fills the `${<Id>FunctionArn}` placeholders as CloudFormation's `DefinitionSubstitutions` do.
fn with_arns(workflow: &Workflow, mut asl: String) -> String {
    for task in workflow.root().tasks() {
        let key = export::naming::function_arn_substitution(task.task.name);
        let arn = format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            task.task.name
        );
        asl = asl.replace(&format!("${{{key}}}"), &arn);
    }
    assert!(
        !asl.contains("${"),
        "every placeholder is a task's function"
    );
    asl
}

#[tokio::test]
async fn an_independent_interpreter_gives_the_local_engines_results() {
    let (Some(node), Some(modules)) = (tool("ORKESTRA_NODE"), tool("ORKESTRA_NODE_MODULES")) else {
        return;
    };
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interp/run_asl.mjs");
    // Node resolves ES module imports next to the script: run a copy beside the packages.
    let driver_copy = Path::new(&modules).parent().unwrap().join("run_asl.mjs");
    std::fs::copy(&driver, &driver_copy).unwrap();
    // Tasks using state data share one SQLite file: the local engine's, and the one every
    // `invoke` process of the interpreter run opens (`ORKESTRA_DB`).
    let local_db = scratch("interp-local.db");
    let remote_db = scratch("interp-remote.db");
    let store = Arc::new(SqliteStateStore::open(&local_db).unwrap());
    for (workflow, binary, input) in workflows() {
        let local = Engine::default()
            .with_state_store(store.clone())
            .run(&workflow, input.clone())
            .await
            .to_json();
        let path = scratch(&format!("{}.run.asl.json", workflow.name()));
        std::fs::write(&path, with_arns(&workflow, asl_text(&workflow))).unwrap();
        let out = Command::new(&node)
            .arg(&driver_copy)
            .arg(&path)
            .arg(input.to_string())
            .arg(handlers(&workflow).to_string())
            .arg(example_binary(binary))
            .arg(workflow.name())
            .env("ORKESTRA_DB", &remote_db)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "driver failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let remote: Value =
            serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        if workflow.name() == "state_data_example" {
            // 4 records of 7 bytes, read back one per Distributed Map item.
            assert_eq!(local["status"], "SUCCEEDED", "{local}");
            assert_eq!(local["output"]["bytes"], 28, "{local}");
            assert_eq!(local["output"]["deleted"], 4, "{local}");
        }
        assert_eq!(
            numbers_as_f64(remote),
            numbers_as_f64(local),
            "{}: interpreter vs local engine",
            workflow.name()
        );
    }
}
