//! Status transitions of operation records: a due retry's READY is a commit of its own before
//! the next START, and `durable check` reports rows that break the protocol's transitions
//! (`orkestra::durable::transition`).

use orkestra::durable::*;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

async fn flaky(delay_secs: u64, ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.step(|s: StepContext| async move {
        FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
        if s.attempt() < 3 {
            Err(format!("attempt {} failed", s.attempt()))
        } else {
            Ok(s.attempt())
        }
    })
    .name("flaky")
    .retry(RetryStrategy {
        max_attempts: 3,
        initial_delay: Duration::from_secs(delay_secs),
        max_delay: Duration::from_secs(delay_secs),
        backoff_rate: 1.0,
        jitter: Jitter::None,
    })
    .await
}

/// The statuses of `name`'s log rows, in commit order (STARTED rows left out: a START nobody
/// awaits shares its commit with the attempt's outcome when the attempt is quick).
fn statuses(db: &Path, name: &str) -> Vec<(String, u32)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT status, attempt FROM durable_operation_log
             WHERE name = ?1 AND status != 'STARTED' ORDER BY seq",
        )
        .unwrap();
    let rows = stmt
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn owned(rows: &[(&str, u32)]) -> Vec<(String, u32)> {
    rows.iter().map(|(s, a)| (s.to_string(), *a)).collect()
}

#[tokio::test]
async fn a_due_retry_is_ready_in_its_own_commit_before_the_next_attempt() {
    let expected = owned(&[
        ("PENDING", 1),
        ("READY", 1),
        ("PENDING", 2),
        ("READY", 2),
        ("SUCCEEDED", 3),
    ]);
    // Hours of backoff: each retry suspends, and the wake-up writes READY.
    let runner = DurableTestRunner::new(flaky);
    let result = runner.run(7200).await;
    assert_eq!(result.result::<u32>(), 3);
    assert_eq!(result.wake_ups, 2);
    assert_eq!(statuses(runner.store().path(), "flaky"), expected);
    assert!(runner.store().check(None).unwrap().is_clean());

    // Retries served in process (no delay at all) record the same transitions.
    let runner = DurableTestRunner::new(flaky);
    let result = runner.run(0).await;
    assert_eq!(result.result::<u32>(), 3);
    assert_eq!(result.wake_ups, 0);
    assert_eq!(statuses(runner.store().path(), "flaky"), expected);
}

#[tokio::test]
async fn durable_check_reports_rows_that_break_the_transitions() {
    let runner = DurableTestRunner::new(flaky);
    let result = runner.run_with_id("t", 0).await;
    assert_eq!(result.result::<u32>(), 3);
    let db = runner.store().path().to_path_buf();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let insert = |op: &str, op_type: &str, status: &str| {
        conn.execute(
            "INSERT INTO durable_operation_log
                 (exec_key, op_id, parent_id, op_type, sub_type, name, status, attempt)
             SELECT key, ?1, NULL, ?2, NULL, ?1, ?3, 1
             FROM durable_execution_keys WHERE id = 't'",
            [op, op_type, status],
        )
        .unwrap();
    };
    // A step retried without becoming READY first, then finished from PENDING.
    insert("skipped-ready", "STEP", "PENDING");
    insert("skipped-ready", "STEP", "SUCCEEDED");
    // A wait that succeeded without being started.
    insert("unstarted-wait", "WAIT", "SUCCEEDED");
    // A callback completed twice.
    insert("twice", "CALLBACK", "STARTED");
    insert("twice", "CALLBACK", "SUCCEEDED");
    insert("twice", "CALLBACK", "FAILED");
    // What older versions wrote stays accepted: READY folded into the next START.
    insert("legacy", "STEP", "PENDING");
    insert("legacy", "STEP", "STARTED");
    insert("legacy", "STEP", "SUCCEEDED");
    drop(conn);

    let report = runner.store().check(Some("t")).unwrap();
    let found: Vec<(String, String)> = report
        .problems
        .iter()
        .map(|p| (p.operation.clone().unwrap_or_default(), p.problem.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "skipped-ready".to_string(),
                "status SUCCEEDED after PENDING (not a transition of the protocol)".to_string()
            ),
            (
                "twice".to_string(),
                "status FAILED after SUCCEEDED (a finished operation does not change)".to_string()
            ),
            (
                "unstarted-wait".to_string(),
                "status SUCCEEDED after no record (not a transition of the protocol)".to_string()
            ),
        ]
    );
}

async fn approval(_e: (), ctx: DurableContext) -> Result<String, DurableError> {
    let cb = ctx
        .create_callback::<String>(Some("approve"), CallbackConfig::default())
        .await?;
    cb.result().await
}

#[tokio::test]
async fn a_completion_that_breaks_the_transitions_is_refused_and_nothing_is_written() {
    let runner = DurableTestRunner::new(approval);
    let result = runner.run_with_id("a", ()).await;
    assert!(result.is_suspended());
    let cb = result
        .operations
        .iter()
        .find(|o| o.op_type == OperationType::Callback)
        .unwrap();
    let callback_id = cb.details.callback_id.clone().unwrap();
    let db = runner.store().path().to_path_buf();
    // A record no callback should have (a callback is never a pending retry).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO durable_operation_log
             (exec_key, op_id, parent_id, op_type, sub_type, name, status, attempt, callback_id)
         SELECT exec_key, op_id, parent_id, op_type, sub_type, name, 'PENDING', 0, callback_id
         FROM durable_operation_log WHERE op_type = 'CALLBACK'",
        [],
    )
    .unwrap();
    let rows = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM durable_operation_log", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let before = rows(&conn);
    let e = complete_callback(&*runner.store(), &callback_id, Ok("yes".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, DurableError::IllegalTransition(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "illegal transition of CALLBACK operation {callback_id}: PENDING -> SUCCEEDED (not a \
             transition of the protocol)"
        )
    );
    assert_eq!(rows(&conn), before, "nothing written");
    assert!(runner
        .store()
        .due_state("a")
        .unwrap()
        .unwrap()
        .due_ms
        .is_none());
}
