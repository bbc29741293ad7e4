//! Corrupt stored values are errors naming the execution and operation (never `null`), and
//! `durable check` finds them, with SQLite's integrity check and the record rules.

use orkestra::cli::{execute, Command, ExitStatus};
use orkestra::durable::cli::DurableCommand;
use orkestra::durable::*;
use rusqlite::Connection;
use serde_json::Value;
use std::sync::Arc;

async fn item(
    ctx: DurableContext,
    n: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n * 10) })
        .name("times-ten")
        .await
}

/// A map of steps (contexts with children) and a step at the root.
#[orkestra::durable_execution]
async fn tally(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u64>>(), item)
        .name("items")
        .await?;
    let sum: u64 = batch.results().iter().filter_map(|i| i.result).sum();
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(sum + 1) })
        .name("plus-one")
        .await
}

async fn durable(command: DurableCommand) -> (Value, ExitStatus) {
    let out = execute(Some(Command::Durable { command })).await;
    (serde_json::from_str(&out.stdout).unwrap(), out.code)
}

fn start(id: &str, n: u64) -> DurableCommand {
    DurableCommand::Start {
        handler: "tally".into(),
        id: id.into(),
        input: n.to_string(),
        timeout: None,
        hold: std::time::Duration::from_secs(1),
    }
}

fn check(id: Option<&str>) -> DurableCommand {
    DurableCommand::Check {
        id: id.map(str::to_string),
    }
}

fn problems(report: &Value) -> Vec<(String, Option<String>, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["execution"].as_str().unwrap().to_string(),
                p["operation"].as_str().map(str::to_string),
                p["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_values_are_named_errors_and_check_finds_them() {
    let dir = std::env::temp_dir().join(format!("orkestra-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("orkestra.db");
    std::env::set_var("ORKESTRA_DB", &db);

    // Clean executions: the check passes.
    for id in ["ok-1", "bad-result", "bad-step"] {
        let (out, code) = durable(start(id, 3)).await;
        assert_eq!(code, ExitStatus::Succeeded, "{out}");
        assert_eq!(out["result"], 31);
    }
    let (report, code) = durable(check(None)).await;
    assert_eq!(code, ExitStatus::Succeeded, "{report}");
    assert_eq!(
        (&report["clean"], &report["integrity_check"]),
        (&Value::Bool(true), &serde_json::json!(["ok"]))
    );
    assert_eq!(report["executions"], 3);
    // Per execution at least: the map, 3 iterations, their 3 steps, the last step.
    assert!(
        report["operation_rows"].as_u64().unwrap() >= 3 * 8,
        "{report}"
    );

    // A finished execution's result no longer parses: an error naming it, not `null`.
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE durable_executions SET result = '{\"tru' WHERE id = 'bad-result'",
        [],
    )
    .unwrap();
    for command in [
        DurableCommand::Resume {
            id: "bad-result".into(),
            hold: std::time::Duration::from_secs(1),
        },
        DurableCommand::List { full: true },
        DurableCommand::Inspect {
            id: "bad-result".into(),
            pretty: false,
        },
    ] {
        let (out, code) = durable(command).await;
        assert_eq!(code, ExitStatus::StoreFault, "{out}");
        let message = out["error"].as_str().unwrap();
        assert!(
            message.contains("execution \"bad-result\"") && message.contains("stored result"),
            "{message}"
        );
    }

    // A step's stored result no longer parses: resuming names the execution and the step.
    conn.execute_batch(
        "UPDATE durable_executions SET status = 'RUNNING', result = NULL WHERE id = 'bad-step';
         UPDATE durable_operation_log SET result = 'not json'
         WHERE name = 'plus-one' AND status = 'SUCCEEDED'
           AND exec_key = (SELECT key FROM durable_execution_keys WHERE id = 'bad-step');",
    )
    .unwrap();
    let (out, code) = durable(DurableCommand::Resume {
        id: "bad-step".into(),
        hold: std::time::Duration::from_secs(1),
    })
    .await;
    assert_eq!(code, ExitStatus::StoreFault, "{out}");
    let message = out["error"].as_str().unwrap();
    assert!(
        message.contains("execution \"bad-step\" operation")
            && message.contains("(\"plus-one\")")
            && message.contains("not JSON"),
        "{message}"
    );
    let store = SqliteStore::open(&db).unwrap();
    let exec = store.get_execution("bad-step").unwrap().unwrap();
    assert_eq!(exec.status, InvocationStatus::Running, "nothing recorded");
    drop(store);

    // Record rules: a finished operation that changes again, and a parent with no record.
    conn.execute_batch(
        "INSERT INTO durable_operation_log
             (exec_key, op_id, parent_id, op_type, sub_type, name, status, result, error, attempt)
         SELECT exec_key, op_id, parent_id, op_type, sub_type, name, 'STARTED', NULL, NULL, 2
         FROM durable_operation_log
         WHERE name = 'plus-one' AND status = 'SUCCEEDED'
           AND exec_key = (SELECT key FROM durable_execution_keys WHERE id = 'ok-1');
         INSERT INTO durable_operation_log
             (exec_key, op_id, parent_id, op_type, sub_type, name, status, result, error, attempt)
         SELECT key, 'orphan', 'no-such-parent', 'STEP', 'Step', 'lost', 'WEIRD', NULL, NULL, 1
         FROM durable_execution_keys WHERE id = 'ok-1';",
    )
    .unwrap();
    let (report, code) = durable(check(None)).await;
    assert_eq!(code, ExitStatus::Failed, "{report}");
    assert_eq!(report["clean"], false);
    let found = problems(&report);
    let has = |exec: &str, op: bool, text: &str| {
        found
            .iter()
            .any(|(e, o, p)| e == exec && o.is_some() == op && p.contains(text))
    };
    assert!(
        has("bad-result", false, "stored result is not JSON"),
        "{found:?}"
    );
    assert!(
        has("bad-step", true, "stored result is not JSON"),
        "{found:?}"
    );
    assert!(has("ok-1", true, "STARTED after SUCCEEDED"), "{found:?}");
    assert!(
        has("ok-1", true, "unknown operation status \"WEIRD\""),
        "{found:?}"
    );
    assert!(
        has("ok-1", true, "parent no-such-parent has no record"),
        "{found:?}"
    );
    assert_eq!(found.len(), 5, "{found:?}");

    // One execution only; an unknown id is a usage error.
    let (report, code) = durable(check(Some("bad-step"))).await;
    assert_eq!(code, ExitStatus::Failed, "{report}");
    assert_eq!(problems(&report).len(), 1, "{report}");
    let (out, code) = durable(check(Some("nope"))).await;
    assert_eq!(code, ExitStatus::Usage, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Retries (PENDING then STARTED again), a timer, a child context and a step that fails for
/// good: every record sequence the engine writes passes the check.
async fn varied(_n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let flaky = ctx
        .step(|s: StepContext| async move {
            if s.attempt() < 3 {
                Err(format!("attempt {} fails", s.attempt()))
            } else {
                Ok(s.attempt())
            }
        })
        .name("flaky")
        .retry(RetryStrategy::immediate(5))
        .await?;
    ctx.wait(std::time::Duration::from_secs(3600)).await?;
    let inner = ctx
        .run_in_child_context("child", |child: DurableContext| async move {
            child
                .step(|_s: StepContext| async { Ok::<_, String>(5u64) })
                .name("inner")
                .await
        })
        .await?;
    let failed = ctx
        .step(|_s: StepContext| async { Err::<u64, _>("always".to_string()) })
        .name("doomed")
        .retry(RetryStrategy::immediate(2))
        .await;
    assert!(failed.is_err());
    Ok(u64::from(flaky) + inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_sequence_the_engine_writes_passes_the_check() {
    let runner = DurableTestRunner::new(varied);
    let result = runner.run_with_id("varied", 0).await;
    assert_eq!(result.result::<u64>(), 8);
    let replayed = runner.replay("varied").await;
    assert_eq!(replayed.result::<u64>(), 8);
    let report = runner.store().check(None).unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert!(report.operation_rows >= 5, "{report:#?}");
}
