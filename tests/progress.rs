//! Progress bars: drawn on stderr under a pseudo-terminal (util-linux `script`), silent when
//! stderr is not a terminal. Runs the real example binaries.

#[path = "support/examples.rs"]
mod examples;
use examples::example_binary;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory for one test's database files, removed when dropped (the killed
/// 400,000-item maps leave databases of ~100 MB).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("orkestra-progress-")
        .tempdir()
        .unwrap()
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs `binary args` under a pseudo-terminal; returns everything the terminal showed.
fn under_pty(binary: &Path, args: &[&str], env: &[(&str, &Path)]) -> String {
    let command: Vec<String> = std::iter::once(binary.to_str().unwrap())
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect();
    let mut script = Command::new("script");
    script.args(["-qec", &command.join(" "), "/dev/null"]);
    for (key, value) in env {
        script.env(key, value);
    }
    let Output { status, stdout, .. } = script
        .output()
        .expect("util-linux `script` runs the command under a pseudo-terminal");
    let text = String::from_utf8_lossy(&stdout).into_owned();
    assert!(status.success(), "{text}");
    text
}

/// The last drawing of the bar named `name`: from its last `name [` to the `ETA` after it,
/// ANSI escapes removed.
fn last_drawing(screen: &str, name: &str) -> String {
    let plain = strip_ansi(screen);
    let start = plain
        .rfind(&format!("{name} ["))
        .unwrap_or_else(|| panic!("no {name} bar in {screen:?}"));
    let end = start + plain[start..].find("ETA").expect("a bar ends with its ETA");
    plain[start..end].to_string()
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn run_draws_a_bar_per_map_reaching_100_percent_on_a_terminal() {
    let screen = under_pty(
        &example_binary("map_job"),
        &["run", "map_example", "--input", r#"{"seed": 7}"#],
        &[],
    );
    let divide = last_drawing(&screen, "divide_by");
    assert!(divide.contains("10/10 (100%)"), "{divide}");
    let filter = last_drawing(&screen, "filter_division_errors");
    assert!(filter.contains("10/10 (100%) · 0 failed"), "{filter}");
    // divide_by's failures are the zeros, captured: the bar counts them.
    let output = Command::new(example_binary("map_job"))
        .args(["run", "map_example", "--input", r#"{"seed": 7}"#])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ones = (report["output"].as_f64().unwrap() / 3.0).round() as u64;
    assert!(
        divide.contains(&format!("· {} failed", 10 - ones)),
        "{divide}, {ones} ones"
    );
    // The JSON report is still printed.
    assert!(screen.contains(r#"{"status":"SUCCEEDED""#), "{screen:?}");
}

#[test]
fn nothing_is_printed_on_stderr_when_it_is_not_a_terminal() {
    let output = Command::new(example_binary("map_job"))
        .args(["run", "map_example", "--input", r#"{"seed": 7}"#])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");

    let dir = scratch();
    let db = dir.path().join("quiet.db");
    let output = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args([
            "durable",
            "start",
            "process_numbers",
            "--id",
            "quiet",
            "--input",
            "40",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn durable_start_draws_the_map_bar_on_a_terminal() {
    let dir = scratch();
    let db = dir.path().join("bars.db");
    let screen = under_pty(
        &example_binary("durable_cli"),
        &[
            "durable",
            "start",
            "process_numbers",
            "--id",
            "bars",
            "--input",
            "200",
        ],
        &[("ORKESTRA_DB", &db)],
    );
    let bar = last_drawing(&screen, "process_numbers");
    assert!(bar.contains("200/200 (100%) · 0 failed"), "{bar}");
    assert!(screen.contains(r#""status":"SUCCEEDED""#), "{screen:?}");
}

/// A 400,000-item `process_numbers` execution `id`, started without a terminal and SIGKILLed
/// part-way through its map; returns its database file in `dir`.
fn killed_part_way(dir: &Path, id: &str) -> PathBuf {
    let db = dir.join("durable.db");
    // Create the store first, so the child and the polling below never race to create it.
    let list = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args(["durable", "list"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{list:?}");
    // Start a long map without a terminal and kill the process part-way through.
    let mut child = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args([
            "durable",
            "start",
            "process_numbers",
            "--id",
            id,
            "--input",
            // Long enough that the polling below catches it part-way (item completions
            // are not awaited, so 100,000 items finished before the first poll).
            "400000",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a good part of the items are checkpointed (polling the store).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let inspect = Command::new(example_binary("durable_cli"))
            .env("ORKESTRA_DB", &db)
            .args(["durable", "inspect", id])
            .output()
            .unwrap();
        let done = serde_json::from_slice::<serde_json::Value>(&inspect.stdout)
            .ok()
            .and_then(|v| v["operations"].as_array().map(Vec::len))
            .unwrap_or(0);
        if done >= 5_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the map never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let list = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args(["durable", "list"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        list["executions"][0]["status"], "RUNNING",
        "killed before the map finished: {list}"
    );

    db
}

#[test]
fn durable_resume_draws_the_bar_from_the_items_already_done() {
    let dir = scratch();
    let db = killed_part_way(dir.path(), "cut");
    let screen = under_pty(
        &example_binary("durable_cli"),
        &["durable", "resume", "cut"],
        &[("ORKESTRA_DB", &db)],
    );
    let bar = last_drawing(&screen, "process_numbers");
    assert!(bar.contains("400000/400000 (100%) · 0 failed"), "{bar}");
    assert!(screen.contains(r#""status":"SUCCEEDED""#));
}

#[test]
fn durable_worker_draws_the_bars_of_the_executions_it_runs() {
    // The killed execution is due: the worker takes it over and finishes its map.
    let dir = scratch();
    let db = killed_part_way(dir.path(), "taken");
    let screen = under_pty(
        &example_binary("durable_cli"),
        &["durable", "worker", "--once"],
        &[("ORKESTRA_DB", &db)],
    );
    let bar = last_drawing(&screen, "process_numbers");
    assert!(bar.contains("400000/400000 (100%) · 0 failed"), "{bar}");
    assert!(
        strip_ansi(&screen).contains("durable worker: "),
        "{screen:?}"
    );
    assert!(screen.contains(r#""finished":1"#), "{screen:?}");
    // Without a terminal: only the JSON report.
    let quiet = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args(["durable", "worker", "--once"])
        .output()
        .unwrap();
    assert!(quiet.status.success());
    assert!(
        quiet.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}
