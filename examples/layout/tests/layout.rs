//! The library + thin binary layout: the binary made by `orkestra::main!(order_service)` has
//! the library's tasks, workflow and durable handler; one whose `main` only calls
//! `orkestra::main()` has none, and says why and how to fix it.

use serde_json::{json, Value};
use std::process::{Command, Output};

fn run(binary: &str, args: &[&str], db: &std::path::Path) -> (Value, i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(binary)
        .args(args)
        .env("ORKESTRA_DB", db)
        .output()
        .expect("run the binary");
    let stdout = String::from_utf8(stdout).unwrap();
    let json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"));
    (
        json,
        status.code().expect("an exit code"),
        String::from_utf8(stderr).unwrap(),
    )
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("layout-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("orkestra.db")
}

const SERVICE: &str = env!("CARGO_BIN_EXE_order-service");
const WITHOUT_MACRO: &str = env!("CARGO_BIN_EXE_without_macro");

#[test]
fn the_thin_binary_lists_and_runs_the_librarys_tasks_and_starts_its_durable_handler() {
    let db = temp_db("service");
    let (listed, code, _) = run(SERVICE, &["list"], &db);
    assert_eq!(code, 0, "{listed}");
    let tasks: Vec<&str> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["price_order", "validate_order"]);
    assert_eq!(
        listed["tasks"][1]["function"],
        "order_service::validate_order"
    );
    assert_eq!(
        listed["workflows"],
        json!([{"name": "process_order", "tasks": ["validate_order", "price_order"]}])
    );

    let order = r#"{"customer":"c-7","quantity":3}"#;
    let (ran, code, _) = run(SERVICE, &["run", "process_order", "--input", order], &db);
    assert_eq!(
        (ran["status"].as_str(), code),
        (Some("SUCCEEDED"), 0),
        "{ran}"
    );
    assert_eq!(ran["output"], 750);

    let empty = r#"{"customer":"c-7","quantity":0}"#;
    let (failed, code, _) = run(SERVICE, &["run", "process_order", "--input", empty], &db);
    assert_eq!(
        (failed["status"].as_str(), code),
        (Some("FAILED"), 1),
        "{failed}"
    );
    assert_eq!(failed["error"], "EmptyOrder");

    let (started, code, _) = run(
        SERVICE,
        &[
            "durable",
            "start",
            "fulfil_order",
            "--id",
            "o-1",
            "--input",
            order,
        ],
        &db,
    );
    assert_eq!(code, 0, "{started}");
    assert_eq!(started["status"], "SUCCEEDED");
    assert_eq!(started["result"], "reserved 3 for c-7");
}

#[test]
fn a_binary_that_never_names_the_library_says_why_it_is_empty_and_names_the_macro() {
    let db = temp_db("bare");
    let (listed, code, stderr) = run(WITHOUT_MACRO, &["list"], &db);
    assert_eq!(
        code, 2,
        "an empty registry is not a silent success: {listed}"
    );
    assert_eq!(listed["status"], "ERROR");
    let error = listed["error"].as_str().unwrap();
    assert!(
        error.starts_with("this binary registers no task, workflow or durable handler"),
        "{error}"
    );
    for part in [
        "a library crate that `main` never names is not linked",
        "`orkestra::main!(my_lib);`",
    ] {
        assert!(error.contains(part), "{error}");
    }
    assert!(stderr.contains("orkestra::main!"), "{stderr}");

    let (ran, code, _) = run(WITHOUT_MACRO, &["run", "process_order"], &db);
    assert_eq!(code, 2, "{ran}");
    let error = ran["error"].as_str().unwrap();
    assert!(
        error.starts_with("no workflow named `process_order`; this binary has: none;"),
        "{error}"
    );
    assert!(error.contains("`orkestra::main!(my_lib);`"), "{error}");

    let (started, code, _) = run(
        WITHOUT_MACRO,
        &[
            "durable",
            "start",
            "fulfil_order",
            "--id",
            "o-2",
            "--input",
            "{}",
        ],
        &db,
    );
    assert_eq!(code, 2, "{started}");
    let error = started["error"].as_str().unwrap();
    assert!(
        error.contains("no durable handler \"fulfil_order\""),
        "{error}"
    );
    assert!(error.contains("`orkestra::main!(my_lib);`"), "{error}");
}
