//! Progress bars: drawn on stderr under a pseudo-terminal (util-linux `script`), silent when
//! stderr is not a terminal. Runs the real example binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example_binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let binary = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        binary.exists(),
        "build the example first: {}",
        binary.display()
    );
    binary
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
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

/// The last state each bar was drawn in (the text after the last carriage return or cursor
/// move on each line).
fn final_lines(screen: &str) -> Vec<String> {
    let plain = strip_ansi(screen);
    plain
        .split('\n')
        .map(|line| {
            line.rsplit('\r')
                .find(|s| !s.trim().is_empty())
                .unwrap_or("")
                .to_string()
        })
        .filter(|line| !line.trim().is_empty())
        .collect()
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
                // A cursor move starts a new drawing of the bars.
                out.push('\r');
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
    let lines = final_lines(&screen);
    let divide = lines
        .iter()
        .rev()
        .find(|l| l.contains("divide_by ["))
        .unwrap_or_else(|| panic!("no divide_by bar in {screen:?}"));
    assert!(divide.contains("10/10 (100%)"), "{divide}");
    let filter = lines
        .iter()
        .rev()
        .find(|l| l.contains("filter_division_errors ["))
        .unwrap_or_else(|| panic!("no filter_division_errors bar in {screen:?}"));
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

    let db = scratch("quiet.db");
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
    let db = scratch("bars.db");
    let _ = std::fs::remove_file(&db);
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
    let lines = final_lines(&screen);
    let bar = lines
        .iter()
        .rev()
        .find(|l| l.contains("process_numbers ["))
        .unwrap_or_else(|| panic!("no process_numbers bar in {screen:?}"));
    assert!(bar.contains("200/200 (100%) · 0 failed"), "{bar}");
    assert!(screen.contains(r#""status":"SUCCEEDED""#), "{screen:?}");
}

#[test]
fn durable_resume_draws_the_bar_from_the_items_already_done() {
    let db = scratch("resume.db");
    let _ = std::fs::remove_file(&db);
    // Start a long map without a terminal and kill the process part-way through.
    let mut child = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args([
            "durable",
            "start",
            "process_numbers",
            "--id",
            "cut",
            "--input",
            "60000",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    let list = Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", &db)
        .args(["durable", "list"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(
        list[0]["status"], "RUNNING",
        "killed before the map finished: {list}"
    );

    let screen = under_pty(
        &example_binary("durable_cli"),
        &["durable", "resume", "cut"],
        &[("ORKESTRA_DB", &db)],
    );
    let lines = final_lines(&screen);
    let bar = lines
        .iter()
        .rev()
        .find(|l| l.contains("process_numbers ["))
        .unwrap_or_else(|| panic!("no process_numbers bar in {screen:?}"));
    assert!(bar.contains("60000/60000 (100%) · 0 failed"), "{bar}");
    assert!(screen.contains(r#""status":"SUCCEEDED""#));
}
