//! `diagram`: golden Mermaid and DOT of every example workflow, the Mermaid text parsed by the
//! real npm `mermaid` parser, the SVG parsed as XML and checked for overlaps, the README's copy
//! of the map job's diagram, and the command line (`diagram`, `durable diagram`).
//!
//! The Mermaid parser is installed by `.ci/setup.d/50-diagram.sh`, which exports
//! `ORKESTRA_MERMAID_MODULES` (and `ORKESTRA_NODE`, from 30-export.sh). Under CI (`CI=true`) a
//! missing tool is a failure; elsewhere the parser check is skipped with a message.

#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;
#[allow(dead_code)]
#[path = "../examples/nested_job.rs"]
mod nested_job;
#[allow(dead_code)]
#[path = "../examples/parallel_job.rs"]
mod parallel_job;

#[allow(dead_code)]
#[path = "../examples/cli_contract.rs"]
mod cli_contract;
#[path = "support/examples.rs"]
mod examples;
#[allow(dead_code)]
#[path = "../examples/layout/src/lib.rs"]
mod order_service;
#[allow(dead_code)]
#[path = "../examples/state_data.rs"]
mod state_data;
#[allow(dead_code)]
#[path = "../examples/stop_execution.rs"]
mod stop_execution;
use examples::example_binary;

use std::path::{Path, PathBuf};
use std::process::Command;

use orkestra::diagram;
use orkestra::Workflow;

/// Task keys allowed by `#[compose]` that Mermaid would misread as ids (`-`, the `end` keyword).
#[orkestra::compose(name = "load-data")]
fn odd_name(n: i64, _ctx: &orkestra::Context) -> i64 {
    n
}

#[orkestra::compose(name = "end")]
fn end_task(n: i64, _ctx: &orkestra::Context) -> i64 {
    n
}

// A group directly inside a group's branch, and a sub-chain beside it.
orkestra::workflow!(
    odd_names = odd_name >> end_task >> ([odd_name, end_task], end_task >> odd_name)
);

fn workflows() -> Vec<Workflow> {
    vec![
        map_job::map_example(),
        parallel_job::swallowing_example(),
        parallel_job::halting_example(),
        nested_job::nested_example(),
        state_data::state_data_example(),
        stop_execution::feature_flag(),
        cli_contract::negation(),
        order_service::process_order(),
    ]
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-diagram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A tool from the CI setup, or `None` (a failure under CI).
fn tool(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(path) if Path::new(&path).exists() => Some(path),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} is not set: .ci/setup.d/50-diagram.sh installs it")
        }
        _ => {
            eprintln!(
                "skipping: {var} is not set (run `source .ci/setup.d/30-export.sh; source .ci/setup.d/50-diagram.sh`)"
            );
            None
        }
    }
}

fn check_golden(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, text).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(text, golden, "{name} differs from its golden file");
}

#[test]
fn mermaid_and_dot_match_the_reviewed_golden_files() {
    for workflow in workflows() {
        let mermaid = diagram::mermaid(&workflow);
        let dot = diagram::dot(&workflow);
        check_golden(&format!("{}.mmd", workflow.name()), &mermaid);
        check_golden(&format!("{}.dot", workflow.name()), &dot);
        assert_eq!(diagram::mermaid(&workflow), mermaid, "deterministic");
    }
}

#[test]
fn the_two_kinds_of_group_and_map_settings_are_visible() {
    let nested = diagram::mermaid(&nested_job::nested_example());
    assert!(nested.contains("parallel_1 · (..) swallows branch errors"));
    assert!(nested.contains("parallel_2 · [..] fail-fast"));
    assert!(nested.contains(
        "style parallel_1 fill:#f7fafc,stroke:#2b6cb0,stroke-width:2px,stroke-dasharray:6 4"
    ));
    assert!(nested.contains("style parallel_2 fill:#fffaf0,stroke:#c05621,stroke-width:2px\n"));
    assert!(nested.contains(
        "square[[\"square<br/>map · max concurrency 4<br/>an item error fails the map\"]]"
    ));
    assert!(nested.contains("timeout 30 s"));
    assert!(nested.contains("retry States.Timeout ×3 every 2 s, backoff ×1.5"));
    // The fail-fast group sits inside the swallowing one's first branch.
    let outer = nested.find("subgraph parallel_1").unwrap();
    let inner = nested.find("subgraph parallel_2").unwrap();
    let fan_out = nested.find("fan_out[").unwrap();
    assert!(outer < inner && inner < fan_out);
    // Arrows fork into each branch and join after them.
    for edge in [
        "prepare --> score",
        "prepare --> fan_out",
        "score --> enrich",
        "score --> audit",
        "enrich --> combine",
        "audit --> combine",
        "combine --> publish",
        "total --> publish",
    ] {
        assert!(nested.contains(edge), "{edge} in\n{nested}");
    }
    let map = diagram::dot(&map_job::map_example());
    assert!(map.contains("\"divide_by\" [label=\"divide_by\\nmap · max concurrency 40 (default)\\ncaptures item errors\", peripheries=2"));
    let halting = diagram::dot(&parallel_job::halting_example());
    assert!(halting.contains("style=\"rounded,bold\""));
    let swallowing = diagram::dot(&parallel_job::swallowing_example());
    assert!(swallowing.contains("style=\"rounded,dashed,bold\""));
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn of(node: roxmltree::Node<'_, '_>) -> Rect {
        let get = |name: &str| node.attribute(name).unwrap().parse::<f64>().unwrap();
        Rect {
            x: get("x"),
            y: get("y"),
            w: get("width"),
            h: get("height"),
        }
    }
    fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
    fn contains(&self, other: &Rect) -> bool {
        self.x <= other.x
            && self.y <= other.y
            && other.x + other.w <= self.x + self.w
            && other.y + other.h <= self.y + self.h
    }
}

/// The outer rect of every `<g class=..>` of `class`, with the `<g>`'s id.
fn boxes(doc: &roxmltree::Document<'_>, class: &str) -> Vec<(String, Rect)> {
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some(class))
        .map(|g| {
            let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
            (g.attribute("id").unwrap().to_string(), Rect::of(rect))
        })
        .collect()
}

#[test]
fn svg_is_well_formed_names_every_state_and_nothing_overlaps() {
    for workflow in workflows().into_iter().chain([odd_names()]) {
        let svg = diagram::svg(&workflow);
        // DIAGRAM_DUMP=DIR keeps the SVGs, to look at them.
        if let Ok(dir) = std::env::var("DIAGRAM_DUMP") {
            std::fs::write(
                Path::new(&dir).join(format!("{}.svg", workflow.name())),
                &svg,
            )
            .unwrap();
        }
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{}: SVG is not well-formed XML: {e}", workflow.name()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for task in workflow.root().tasks() {
            assert!(
                texts.contains(&task.state_name.as_str()),
                "{} missing in {svg}",
                task.state_name
            );
        }
        let states = boxes(&doc, "state");
        let groups = boxes(&doc, "group");
        assert_eq!(
            states.len(),
            workflow.root().tasks().len() + 2,
            "tasks + Start + End"
        );
        for (i, (a, ra)) in states.iter().enumerate() {
            for (b, rb) in &states[i + 1..] {
                assert!(
                    !ra.overlaps(rb),
                    "{}: boxes {a} and {b} overlap",
                    workflow.name()
                );
            }
            for (g, rg) in &groups {
                assert!(
                    rg.contains(ra) || !rg.overlaps(ra),
                    "{a} crosses the frame of {g}"
                );
            }
        }
        for (i, (a, ra)) in groups.iter().enumerate() {
            for (b, rb) in &groups[i + 1..] {
                assert!(
                    ra.contains(rb) || rb.contains(ra) || !ra.overlaps(rb),
                    "frames {a} and {b} cross"
                );
            }
        }
        // Everything is drawn inside the canvas.
        let root = doc.root_element();
        let width: f64 = root.attribute("width").unwrap().parse().unwrap();
        let height: f64 = root.attribute("height").unwrap().parse().unwrap();
        for (_, r) in states.iter().chain(&groups) {
            assert!(r.x >= 0.0 && r.y >= 0.0 && r.x + r.w <= width && r.y + r.h <= height);
        }
    }
    // A state name with markup is escaped, not broken.
    assert!(roxmltree::Document::parse(&diagram::svg(&nested_job::nested_example())).is_ok());
}

fn parse_mermaid(files: &[PathBuf]) -> Option<(bool, String)> {
    let node = tool("ORKESTRA_NODE")?;
    let modules = tool("ORKESTRA_MERMAID_MODULES")?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagram/mermaid_parse.mjs");
    let output = Command::new(node)
        .arg(script)
        .arg(modules)
        .args(files)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    Some((output.status.success(), format!("{stdout}{stderr}")))
}

#[test]
fn task_keys_that_are_not_mermaid_ids_get_safe_ids() {
    let mermaid = diagram::mermaid(&odd_names());
    assert!(
        mermaid.contains("    load_data[\"load-data\"]\n"),
        "{mermaid}"
    );
    // `end` is a Mermaid keyword: the node id gets a suffix, the label stays; the second use of
    // each task is its own state.
    assert!(mermaid.contains("    end_[\"end\"]\n"), "{mermaid}");
    assert!(
        mermaid.contains("    end_2_[\"end_2\"]\n") || mermaid.contains("    end_2[\"end_2\"]\n"),
        "{mermaid}"
    );
    assert!(mermaid.contains("    load_data --> end_\n"), "{mermaid}");
}

#[test]
fn the_real_mermaid_parser_accepts_every_diagram() {
    let mut files = Vec::new();
    for workflow in workflows().into_iter().chain([odd_names()]) {
        let path = scratch(&format!("{}.mmd", workflow.name()));
        std::fs::write(&path, diagram::mermaid(&workflow)).unwrap();
        files.push(path);
    }
    let Some((ok, report)) = parse_mermaid(&files) else {
        return;
    };
    assert!(ok, "{report}");
    assert_eq!(
        report
            .matches("\"ok\":true,\"type\":\"flowchart-v2\"")
            .count(),
        files.len(),
        "{report}"
    );
}

#[test]
fn the_mermaid_parser_check_can_fail() {
    // The same harness rejects a diagram using a keyword as a node id: the check is real.
    let bad = scratch("bad.mmd");
    std::fs::write(&bad, "flowchart TD\n    a --> end\n").unwrap();
    let Some((ok, report)) = parse_mermaid(&[bad]) else {
        return;
    };
    assert!(!ok && report.contains("\"ok\":false"), "{report}");
}

#[test]
fn the_readme_shows_what_diagram_prints_for_the_map_job() {
    let output = Command::new(example_binary("map_job"))
        .args(["diagram", "map_example"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```mermaid\n")
        .expect("README has a ```mermaid block")
        + "```mermaid\n".len();
    let end = start + readme[start..].find("```").unwrap();
    assert_eq!(&readme[start..end], printed, "README's map job diagram is stale: paste `cargo run --example map_job -- diagram map_example`");
    assert_eq!(printed, diagram::mermaid(&map_job::map_example()));
}

#[test]
fn diagram_writes_files_and_names_unknown_workflows() {
    let path = scratch("nested.svg");
    let output = Command::new(example_binary("nested_job"))
        .args(["diagram", "--format", "svg", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let written: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written["bytes"], svg.len());
    assert_eq!(svg, diagram::svg(&nested_job::nested_example()));

    let output = Command::new(example_binary("parallel_job"))
        .args(["diagram", "no_such_flow"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no workflow named `no_such_flow`; this binary has: "),
        "{stderr}"
    );

    let output = Command::new(example_binary("map_job"))
        .args(["diagram", "--format", "png"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("invalid value 'png'"));
}

fn durable_cli(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(example_binary("durable_cli"))
        .env("ORKESTRA_DB", db)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn durable_diagram_draws_a_recorded_execution() {
    let db = scratch("durable.db");
    let _ = std::fs::remove_file(&db);
    for (id, n) in [("small", "3"), ("large", "20")] {
        let out = durable_cli(
            &db,
            &[
                "durable",
                "start",
                "process_numbers",
                "--id",
                id,
                "--input",
                n,
            ],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let small = durable_cli(&db, &["durable", "diagram", "small"]);
    assert!(small.status.success(), "{small:?}");
    let small = String::from_utf8(small.stdout).unwrap();
    assert!(
        small.contains("Map process_numbers<br/>SUCCEEDED"),
        "{small}"
    );
    assert_eq!(small.matches("MapIteration").count(), 3, "{small}");
    let succeeded = small
        .lines()
        .find(|l| l.ends_with(" succeeded") && l.starts_with("    class "))
        .unwrap();
    assert!(succeeded.contains("execution_end"), "{small}");
    assert_eq!(succeeded.matches("op_").count(), 3, "{small}");

    let large = durable_cli(&db, &["durable", "diagram", "large"]);
    let large = String::from_utf8(large.stdout).unwrap();
    assert!(large.contains("20 iterations<br/>20 SUCCEEDED"), "{large}");
    assert_eq!(
        large.matches("MapIteration").count(),
        0,
        "summarised: {large}"
    );

    let svg = durable_cli(&db, &["durable", "diagram", "large", "--format", "svg"]);
    let svg = String::from_utf8(svg.stdout).unwrap();
    roxmltree::Document::parse(&svg).unwrap();

    let files = [scratch("small.mmd"), scratch("large.mmd")];
    std::fs::write(&files[0], &small).unwrap();
    std::fs::write(&files[1], &large).unwrap();
    if let Some((ok, report)) = parse_mermaid(&files) {
        assert!(ok, "{report}");
    }

    let missing = durable_cli(&db, &["durable", "diagram", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8(missing.stderr)
        .unwrap()
        .contains("no execution \"nope\""));
}
