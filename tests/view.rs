//! Human views: `run --history` and `durable inspect` as indented trees (with `--pretty`, as a
//! terminal would get them), the machine output unchanged otherwise.

#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;
#[allow(dead_code)]
#[path = "../examples/nested_job.rs"]
mod nested_job;
#[allow(dead_code)]
#[path = "../examples/parallel_job.rs"]
mod parallel_job;

#[path = "support/examples.rs"]
mod examples;
use examples::example_binary;

use std::process::Command;

use orkestra::{compose, view, Context, Engine, ErrorName};
use serde_json::json;

#[derive(Debug, ErrorName)]
struct Odd(u32);
impl std::fmt::Display for Odd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is odd", self.0)
    }
}

#[compose]
fn numbers(n: u32, _ctx: &Context) -> Vec<u32> {
    (0..n).collect()
}

#[compose(map, max_concurrency = 1)]
fn evens_only(n: u32, _ctx: &Context) -> Result<u32, Odd> {
    if n % 2 == 1 && n > 6 {
        Err(Odd(n))
    } else {
        Ok(n)
    }
}

orkestra::workflow!(failing_map = numbers >> evens_only);

/// Odd items fail their first attempt and succeed on the retry.
#[compose(map, retry(max_attempts = 1, interval_secs = 1))]
fn flaky(n: u32, ctx: &Context) -> Result<u32, Odd> {
    if n % 2 == 1 && ctx.retry_count() == 0 {
        Err(Odd(n))
    } else {
        Ok(n)
    }
}

orkestra::workflow!(retried = numbers >> flaky);

/// Item `n` takes `n` × 40 ms.
#[compose(map)]
async fn sleepy(n: u64, _ctx: &Context) -> u64 {
    tokio::time::sleep(std::time::Duration::from_millis(n * 40)).await;
    n
}

orkestra::workflow!(sleepy_map = sleepy);

/// A sync map runs inline (no task per item); its items are timed too.
#[compose(map)]
fn spin(n: u64, _ctx: &Context) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(n * 40));
    n
}

orkestra::workflow!(spin_map = spin);

#[tokio::test]
async fn a_map_is_summarised_not_listed() {
    let execution = Engine::default()
        .run(&map_job::map_example(), json!({"seed": 7}))
        .await;
    let text = view::history_tree(&map_job::map_example(), execution.history.events());
    let zeros = text
        .lines()
        .find(|l| l.trim_start().starts_with("iterations: 10  ("))
        .unwrap_or_else(|| panic!("{text}"));
    // seed 7 gives six zeros: each a captured DivideByZero.
    assert_eq!(
        zeros.trim(),
        "iterations: 10  (4 succeeded, 6 captured errors)",
        "{text}"
    );
    assert!(
        text.contains("    #0 captured: DivideByZero: division by zero\n"),
        "{text}"
    );
    assert!(text.contains("    … 3 more\n"), "{text}");
    // One line per map, not per item.
    assert!(text.lines().count() < 20, "{text}");
    assert!(text.starts_with("execution SUCCEEDED in "), "{text}");
}

#[tokio::test]
async fn a_failing_map_names_its_failure_and_cause() {
    let execution = Engine::default().run(&failing_map(), json!(20)).await;
    let text = view::history_tree(&failing_map(), execution.history.events());
    assert!(text.starts_with("execution FAILED in "), "{text}");
    assert!(
        text.contains(
            "  error: Odd\n  cause: {\"errorType\":\"Odd\",\"errorMessage\":\"7 is odd\"}\n"
        ),
        "{text}"
    );
    assert!(text.contains("  evens_only  FAILED  "), "{text}");
    assert!(
        text.contains("    iterations: 8  (7 succeeded, 1 failed)\n"),
        "{text}"
    );
    assert!(text.contains("    #7 failed: Odd: 7 is odd\n"), "{text}");
}

#[tokio::test]
async fn a_map_names_its_slowest_iterations() {
    for workflow in [sleepy_map(), spin_map()] {
        let execution = Engine::default()
            .run(&workflow, json!([1, 6, 2, 5, 0, 3]))
            .await;
        let text = view::history_tree(&workflow, execution.history.events());
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("slowest: "))
            .unwrap_or_else(|| panic!("no slowest line: {text}"));
        let indices: Vec<&str> = line
            .trim_start()
            .trim_start_matches("slowest: ")
            .split(", ")
            .map(|item| item.split(' ').next().unwrap())
            .collect();
        // Items 6, 5 and 3 (positions 1, 3, 5) took 240, 200 and 120 ms.
        assert_eq!(indices, ["#1", "#3", "#5"], "{text}");
        assert!(line.contains("#1 2"), "about 240 ms: {line}");
    }
}

// Paused time: the one-second retry interval passes at once.
#[tokio::test(start_paused = true)]
async fn retried_items_are_counted() {
    let execution = Engine::default().run(&retried(), json!(6)).await;
    let text = view::history_tree(&retried(), execution.history.events());
    assert!(text.contains("  flaky  SUCCEEDED  "), "{text}");
    assert!(
        text.contains("    iterations: 6  (6 succeeded, 3 succeeded after a retry)\n"),
        "{text}"
    );
}

#[tokio::test]
async fn groups_indent_their_branches() {
    let workflow = parallel_job::halting_example();
    let execution = Engine::default().run(&workflow, json!(3)).await;
    let text = view::history_tree(&workflow, execution.history.events());
    let expected_tail = "\
  parallel_1  FAILED  ";
    assert!(text.contains(expected_tail), "{text}");
    assert!(
        text.contains("  [..] fail-fast\n    branch 1\n      double  SUCCEEDED  "),
        "{text}"
    );
    assert!(
        text.contains("    branch 2\n      explode  FAILED  "),
        "{text}"
    );
    assert!(text.contains("        error: Explosion\n        cause: {\"errorType\":\"Explosion\",\"errorMessage\":\"exploded on 3\"}\n"), "{text}");
    assert!(text.ends_with("  total  not run\n"), "{text}");

    let nested = nested_job::nested_example();
    let execution = Engine::default().run(&nested, json!(3)).await;
    let text = view::history_tree(&nested, execution.history.events());
    assert!(text.contains("      parallel_2  SUCCEEDED  "), "{text}");
    assert!(text.contains("          audit  SUCCEEDED  "), "{text}");
    assert!(text.contains("      square  SUCCEEDED  "), "{text}");
    assert!(
        text.contains("        iterations: 3  (3 succeeded)\n"),
        "{text}"
    );
}

#[test]
fn run_history_pretty_prints_the_tree_and_plain_history_stays_one_line_per_event() {
    let pretty = Command::new(example_binary("map_job"))
        .args(["run", "--input", r#"{"seed": 7}"#, "--history", "--pretty"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(pretty.stderr).unwrap();
    assert!(stderr.contains("\n  divide_by  SUCCEEDED  "), "{stderr}");
    assert!(
        stderr.contains("iterations: 10  (4 succeeded, 6 captured errors)"),
        "{stderr}"
    );
    let stdout = String::from_utf8(pretty.stdout).unwrap();
    assert_eq!(stdout, "{\"status\":\"SUCCEEDED\",\"output\":12.0}\n");

    // Not a terminal, no --pretty: the machine output (one line per event) is unchanged.
    let plain = Command::new(example_binary("map_job"))
        .args(["run", "--input", r#"{"seed": 7}"#, "--history"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(plain.stderr).unwrap();
    assert!(!stderr.contains("iterations:"), "{stderr}");
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains("MapIterationStarted"))
            .count()
            == 20,
        "{stderr}"
    );

    let misuse = Command::new(example_binary("map_job"))
        .args(["run", "--pretty"])
        .output()
        .unwrap();
    assert_eq!(misuse.status.code(), Some(2));
    assert!(String::from_utf8(misuse.stderr)
        .unwrap()
        .contains("--history"));
}

#[test]
fn durable_inspect_pretty_prints_the_operation_tree() {
    let dir = std::env::temp_dir().join(format!("orkestra-view-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("view.db");
    let run = |args: &[&str]| {
        Command::new(example_binary("durable_cli"))
            .env("ORKESTRA_DB", &db)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&[
        "durable",
        "start",
        "process_numbers",
        "--id",
        "few",
        "--input",
        "2"
    ])
    .status
    .success());
    assert!(run(&[
        "durable",
        "start",
        "process_numbers",
        "--id",
        "many",
        "--input",
        "50"
    ])
    .status
    .success());
    let few = String::from_utf8(run(&["durable", "inspect", "few", "--pretty"]).stdout).unwrap();
    assert!(
        few.starts_with("execution few (process_numbers) SUCCEEDED\n  input: 2\n"),
        "{few}"
    );
    // Each operation line ends with its duration from the store's commit times.
    let lines: Vec<&str> = few
        .lines()
        .skip_while(|l| !l.starts_with("operations:"))
        .collect();
    assert_eq!(lines.len(), 4, "{few}");
    for (line, start) in lines.iter().zip([
        "operations: 3",
        "  Map process_numbers  SUCCEEDED  ",
        "    MapIteration map-item-0  SUCCEEDED  ",
        "    MapIteration map-item-1  SUCCEEDED  ",
    ]) {
        assert!(line.starts_with(start), "{line:?} in {few}");
    }
    assert!(lines[1..].iter().all(|l| l.ends_with(" ms")), "{few}");
    let many = String::from_utf8(run(&["durable", "inspect", "many", "--pretty"]).stdout).unwrap();
    assert!(
        many.contains(" ms\n    iterations: 50  (50 SUCCEEDED)\n    slowest: map-item-"),
        "{many}"
    );
    assert!(
        !many.contains("MapIteration map-item-"),
        "summarised: {many}"
    );
    // Without a terminal or --pretty, inspect still prints its JSON.
    let json: serde_json::Value =
        serde_json::from_slice(&run(&["durable", "inspect", "many"]).stdout).unwrap();
    assert_eq!(json["operations"].as_array().unwrap().len(), 51);
}
