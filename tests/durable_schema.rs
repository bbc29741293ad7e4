//! Files written by earlier builds (the durable tables versioned by `PRAGMA user_version` alone)
//! open under the shared per-component versions, migrate, and keep their executions.

use orkestra::durable::*;
use orkestra::sqlite_file::component_version;
use rusqlite::Connection;
use std::path::PathBuf;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-schema-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("orkestra.db")
}

/// The version-2 layout exactly as the build of that time wrote it, with one finished
/// execution (a step and a failed step) and one running execution.
fn write_v2(path: &PathBuf) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE durable_executions (
             id TEXT PRIMARY KEY, handler TEXT NOT NULL, status TEXT NOT NULL,
             input TEXT NOT NULL, result TEXT, error TEXT);
         CREATE TABLE durable_execution_keys (key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
         CREATE TABLE durable_operation_log (
             seq INTEGER PRIMARY KEY, exec_key INTEGER NOT NULL, op_id TEXT NOT NULL,
             parent_id TEXT, op_type TEXT NOT NULL, sub_type TEXT, name TEXT,
             status TEXT NOT NULL, result TEXT, error TEXT, attempt INTEGER NOT NULL);
         CREATE INDEX durable_operation_log_by_execution ON durable_operation_log (exec_key, seq);
         CREATE INDEX durable_operation_log_callbacks
             ON durable_operation_log (exec_key, op_id) WHERE op_type = 'CALLBACK';
         INSERT INTO durable_executions VALUES ('done', 'h', 'SUCCEEDED', '5', '10', NULL);
         INSERT INTO durable_executions VALUES ('half', 'h', 'RUNNING', '7', NULL, NULL);
         INSERT INTO durable_execution_keys (key, id) VALUES (1, 'done'), (2, 'half');
         INSERT INTO durable_operation_log
             (exec_key, op_id, parent_id, op_type, sub_type, name, status, result, error, attempt)
         VALUES
             (1, 'a', NULL, 'STEP', 'Step', 'double', 'STARTED', NULL, NULL, 1),
             (1, 'a', NULL, 'STEP', 'Step', 'double', 'SUCCEEDED', '10', NULL, 1),
             (1, 'b', NULL, 'STEP', 'Step', 'bad', 'FAILED', NULL,
                 '{\"ErrorType\":\"E\",\"ErrorMessage\":\"m\"}', 2),
             (2, 'a', NULL, 'STEP', 'Step', 'double', 'SUCCEEDED', '14', NULL, 1);
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

fn check_migrated(path: &PathBuf, started_ms: Option<u64>) {
    let store = SqliteStore::open(path).unwrap();
    let done = store.get_execution("done").unwrap().unwrap();
    assert_eq!(done.status, InvocationStatus::Succeeded);
    assert_eq!(done.result.as_deref(), Some("10"));
    assert_eq!(done.started_ms, started_ms);
    let ops = store.load_operations("done").unwrap();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(
        (ops[0].status, ops[0].result.as_deref()),
        (OperationStatus::Succeeded, Some("10"))
    );
    assert_eq!(ops[1].error, Some(ErrorObject::new("E", "m")));
    assert_eq!(
        (ops[0].started_ms, ops[0].ended_ms),
        (None, None),
        "rows written before version 4 have no commit time"
    );
    let ids: Vec<String> = store
        .list_executions()
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["done", "half"]);
    drop(store);
    let conn = Connection::open(path).unwrap();
    assert_eq!(component_version(&conn, "durable").unwrap(), 5);
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 5, "older builds refuse the migrated file");
}

async fn double(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n * 2) })
        .name("double")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_file_migrates_and_its_running_execution_resumes() {
    let path = temp_db("v2");
    write_v2(&path);
    check_migrated(&path, None);
    // The running execution resumes from its recorded step (14 = 7 * 2 was stored).
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    let rec = DurableExecutor::new(store.clone())
        .run("half", "h", &handler_fn(double), serde_json::Value::Null)
        .await
        .unwrap();
    assert_eq!(
        (rec.status, rec.result.as_deref()),
        (InvocationStatus::Succeeded, Some("14"))
    );
    // A new execution's records carry their commit times.
    let new = DurableExecutor::new(store.clone())
        .run("new", "h", &handler_fn(double), 4.into())
        .await
        .unwrap();
    assert_eq!(new.result.as_deref(), Some("8"));
    let op = &store.load_operations("new").unwrap()[0];
    let (start, end) = (op.started_ms.unwrap(), op.ended_ms.unwrap());
    assert!(start <= end && end <= ExecutionRecord::now_ms());
}

#[test]
fn a_version_3_file_migrates_keeping_its_times() {
    let path = temp_db("v3");
    write_v2(&path);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE durable_executions ADD COLUMN started_ms INTEGER;
         ALTER TABLE durable_executions ADD COLUMN ended_ms INTEGER;
         UPDATE durable_executions SET started_ms = 1700000000000, ended_ms = 1700000000500;
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);
    check_migrated(&path, Some(1_700_000_000_000));
}

async fn wait_then_double(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    ctx.wait(std::time::Duration::from_secs(3600)).await?;
    Ok(n * 2)
}

/// A version-4 file (this build's layout without the wake-up index) migrates, keeps its
/// executions, and a suspended execution gets an entry in the new index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_4_file_migrates_and_gets_the_wake_up_index() {
    let path = temp_db("v4");
    write_v2(&path);
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE durable_due; DROP TABLE durable_wakes;
         UPDATE orkestra_components SET version = 4 WHERE name = 'durable';
         PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    check_migrated(&path, None);
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    let rec = DurableExecutor::new(store.clone())
        .run("sleeper", "h", &handler_fn(wait_then_double), 3.into())
        .await
        .unwrap();
    assert_eq!(
        rec.status,
        InvocationStatus::Running,
        "suspended in its wait"
    );
    let due = store.due_state("sleeper").unwrap().unwrap().due_ms.unwrap();
    let now = ExecutionRecord::now_ms();
    assert!(
        due > now + 3_500_000 && due <= now + 3_600_000,
        "{due} vs {now}"
    );
}

#[test]
fn a_file_newer_than_this_build_is_refused_with_its_versions() {
    let path = temp_db("newer");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE orkestra_components SET version = 99 WHERE name = 'durable'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("durable tables") && err.contains("version 99"),
        "{err}"
    );
}
