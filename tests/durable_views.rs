//! A durable execution with failures, drawn (`Diagram::of_durable`) and shown as a tree
//! (`view::durable_tree`) from the records the store really holds.

use orkestra::diagram::{Diagram, Format};
use orkestra::durable::store::CheckpointStore;
use orkestra::durable::*;
use orkestra::view;
use serde_json::json;
use std::sync::Arc;

async fn check(
    ctx: DurableContext,
    item: u32,
    _index: usize,
    _items: Arc<[u32]>,
) -> Result<u32, DurableError> {
    ctx.step(move |_s: StepContext| async move {
        if item % 4 == 3 {
            Err(format!("item {item} is <bad> & \"odd\" #{item}"))
        } else {
            Ok(item)
        }
    })
    .name("check")
    .await
}

async fn handler(n: u32, ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    let loaded: u32 = ctx
        .step(move |_s: StepContext| async move { Ok::<_, String>(n) })
        .name("load")
        .await?;
    let batch = ctx
        .map((0..loaded).collect::<Vec<u32>>(), check)
        .name("checks")
        .await?;
    batch.throw_if_error()?;
    Ok(batch.to_dict())
}

async fn recorded(n: u32, id: &str) -> (store::ExecutionRecord, Vec<store::OperationRecord>) {
    let runner = DurableTestRunner::new(handler);
    let result = runner.run_with_id(id, json!(n)).await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let store = runner.store();
    let execution = store.get_execution(id).unwrap().unwrap();
    let operations = store.load_operations(id).unwrap();
    (execution, operations)
}

#[tokio::test]
async fn a_small_failing_map_is_drawn_item_by_item_with_statuses() {
    let (execution, operations) = recorded(4, "small").await;
    let diagram = Diagram::of_durable(&execution, &operations);
    let mermaid = diagram.render(Format::Mermaid);
    assert!(mermaid.contains("Map checks<br/>SUCCEEDED"), "{mermaid}");
    assert_eq!(
        mermaid.matches("subgraph").count(),
        5,
        "the map and its four items: {mermaid}"
    );
    assert!(
        mermaid.contains("MapIteration map-item-3<br/>FAILED · "),
        "{mermaid}"
    );
    assert!(mermaid.contains("check<br/>Step · FAILED · "), "{mermaid}");
    // Markup in recorded errors is escaped for each format.
    assert!(
        mermaid.contains("item 3 is #lt;bad#gt; & #quot;odd#quot; #35;3"),
        "{mermaid}"
    );
    let failed = mermaid
        .lines()
        .find(|l| l.ends_with(" failed") && l.starts_with("    class "))
        .unwrap();
    assert!(failed.contains("execution_end"), "{mermaid}");
    let svg = diagram.render(Format::Svg);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for name in ["load", "check", "FAILED"] {
        assert!(texts.iter().any(|t| t.contains(name)), "{name} in {svg}");
    }
    assert!(
        texts
            .iter()
            .any(|t| t.contains("item 3 is <bad> & \"odd\" #3")),
        "{svg}"
    );
    let dot = diagram.render(Format::Dot);
    assert!(dot.contains("item 3 is <bad> & \\\"odd\\\" #3"), "{dot}");
    parse_with_real_mermaid(&mermaid);
    assert!(
        dot.contains("color=\"#c53030\""),
        "failed operations are red: {dot}"
    );
}

#[tokio::test]
async fn a_large_failing_map_is_summarised_in_the_tree_and_the_diagram() {
    let (execution, operations) = recorded(40, "large").await;
    let text = view::durable_tree(&execution, &operations);
    assert!(text.starts_with("execution large ("), "{text}");
    assert!(text.contains(" FAILED\n  input: 40\n"), "{text}");
    // Each line ends with the operation's duration from its commit times (`.. ms`).
    assert!(text.contains("  Step load  SUCCEEDED  "), "{text}");
    assert!(text.contains("\n  Map checks  SUCCEEDED  "), "{text}");
    assert!(
        text.contains(" ms\n    iterations: 40  (30 SUCCEEDED, 10 FAILED)\n"),
        "{text}"
    );
    assert!(text.contains("\n    slowest: map-item-"), "{text}");
    assert!(text.contains("    failed map-item-3: "), "{text}");
    assert!(text.contains("    … 7 more failed\n"), "{text}");
    assert!(text.lines().count() < 20, "{text}");

    let mermaid = Diagram::of_durable(&execution, &operations).mermaid();
    assert!(
        mermaid.contains("40 iterations<br/>30 SUCCEEDED, 10 FAILED<br/>failed map-item-3: "),
        "{mermaid}"
    );
    assert!(!mermaid.contains("map-item-4"), "{mermaid}");
}

/// Parses `text` with npm `mermaid` when `.ci/setup.d/50-diagram.sh` has installed it (required
/// under CI).
fn parse_with_real_mermaid(text: &str) {
    let vars = ["ORKESTRA_NODE", "ORKESTRA_MERMAID_MODULES"].map(std::env::var);
    let [Ok(node), Ok(modules)] = vars else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "50-diagram.sh sets ORKESTRA_MERMAID_MODULES"
        );
        eprintln!("skipping the mermaid parser: ORKESTRA_NODE / ORKESTRA_MERMAID_MODULES not set");
        return;
    };
    let file =
        std::env::temp_dir().join(format!("orkestra-durable-views-{}.mmd", std::process::id()));
    std::fs::write(&file, text).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagram/mermaid_parse.mjs");
    let out = std::process::Command::new(node)
        .arg(script)
        .arg(modules)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

async fn sometimes_slow(
    ctx: DurableContext,
    item: u32,
    _index: usize,
    _items: Arc<[u32]>,
) -> Result<u32, DurableError> {
    ctx.step(move |_s: StepContext| async move {
        let ms = match item {
            5 => 600,
            2 => 300,
            _ => 0,
        };
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        Ok::<_, String>(item)
    })
    .name("work")
    .await
}

async fn timed_map(n: u32, ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u32>>(), sometimes_slow)
        .name("timed")
        .await?;
    Ok(batch.success_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_summary_names_its_slowest_iterations_from_the_commit_times() {
    let runner = DurableTestRunner::new(timed_map);
    let result = runner.run_with_id("timed", 8).await;
    assert_eq!(result.result::<usize>(), 8);
    let text = view::durable_tree(&result.execution, &result.operations);
    let slowest = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("slowest: "))
        .unwrap_or_else(|| panic!("{text}"));
    let names: Vec<&str> = slowest
        .split(", ")
        .map(|s| s.split(' ').next().unwrap())
        .collect();
    assert_eq!(&names[..2], ["map-item-5", "map-item-2"], "{text}");
    // The slow item took its 600 ms (measured between commits: its START and result are not
    // awaited, so each commit time may trail its write by up to a batch's 2 ms linger).
    let first: Vec<&str> = slowest.split(", ").next().unwrap().split(' ').collect();
    let ms: f64 = first[1].parse().unwrap();
    let ms = if first[2] == "s" { ms * 1000.0 } else { ms };
    assert!((595.0..3_000.0).contains(&ms), "{text}");
    // The map's own line carries its duration, at least its slowest item's.
    let map_line = text
        .lines()
        .find(|l| l.contains("Map timed  SUCCEEDED"))
        .unwrap();
    assert!(
        map_line.ends_with(" ms") || map_line.ends_with(" s"),
        "{map_line}"
    );
}
