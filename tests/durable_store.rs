//! The SQLite checkpoint store: schema, upserts, ordering, group commit, reopen.

use orkestra::durable::*;
use std::path::PathBuf;
use std::sync::Arc;

fn temp_db(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir()
        .join(format!(
            "orkestra-store-{tag}-{}-{nanos}",
            std::process::id()
        ))
        .join("nested")
        .join("orkestra.db")
}

fn cleanup(path: &std::path::Path) {
    let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
}

fn op(id: &str, status: OperationStatus, result: Option<&str>) -> OperationRecord {
    OperationRecord {
        id: id.into(),
        parent_id: None,
        op_type: OperationType::Step,
        sub_type: Some("Step".into()),
        name: Some(format!("step-{id}")),
        status,
        result: result.map(str::to_string),
        error: None,
        attempt: 1,
        started_ms: None,
        ended_ms: None,
        details: Default::default(),
    }
}

#[tokio::test]
async fn operations_upsert_in_first_write_order_and_survive_reopen() {
    let path = temp_db("upsert");
    {
        let store = SqliteStore::open(&path).unwrap();
        drop(store.checkpoint("e1", &op("a", OperationStatus::Started, None)));
        drop(store.checkpoint("e1", &op("b", OperationStatus::Started, None)));
        drop(store.checkpoint("e2", &op("a", OperationStatus::Started, None)));
        store
            .checkpoint("e1", &op("a", OperationStatus::Succeeded, Some("42")))
            .await
            .unwrap();
        let ops = store.load_operations("e1").unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].id, "a");
        assert_eq!(ops[0].status, OperationStatus::Succeeded);
        assert_eq!(ops[0].result.as_deref(), Some("42"));
        assert_eq!(ops[1].status, OperationStatus::Started);
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load_operations("e1").unwrap().len(), 2);
    assert_eq!(store.load_operations("e2").unwrap().len(), 1);
    assert!(store.load_operations("nope").unwrap().is_empty());
    cleanup(&path);
}

#[tokio::test]
async fn executions_are_listed_and_inspected_with_errors() {
    let path = temp_db("exec");
    let store = SqliteStore::open_with(&path, Synchronous::Full).unwrap();
    for (id, status) in [
        ("x", InvocationStatus::Running),
        ("y", InvocationStatus::Failed),
    ] {
        store
            .put_execution(ExecutionRecord {
                id: id.into(),
                handler: "h".into(),
                status,
                input: "{}".into(),
                result: None,
                error: (status == InvocationStatus::Failed)
                    .then(|| ErrorObject::new("Boom", "it broke")),
                started_ms: Some(1_000),
                ended_ms: (status != InvocationStatus::Running).then_some(2_000),
            })
            .await
            .unwrap();
    }
    let all = store.list_executions().unwrap();
    assert_eq!(
        all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["x", "y"]
    );
    // Updating an execution keeps its place in the list.
    let mut x = store.get_execution("x").unwrap().unwrap();
    x.status = InvocationStatus::Succeeded;
    x.result = Some("1".into());
    store.put_execution(x).await.unwrap();
    let all = store.list_executions().unwrap();
    assert_eq!(
        all.iter()
            .map(|e| (e.id.as_str(), e.status))
            .collect::<Vec<_>>(),
        [
            ("x", InvocationStatus::Succeeded),
            ("y", InvocationStatus::Failed)
        ]
    );
    let y = store.get_execution("y").unwrap().unwrap();
    assert_eq!(y.error.unwrap().error_message, "it broke");
    assert!(store.get_execution("z").unwrap().is_none());
    cleanup(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_durable_writes_all_land() {
    let path = temp_db("group");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let mut handles = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..500 {
                let id = format!("{t}-{i}");
                store
                    .checkpoint("g", &op(&id, OperationStatus::Succeeded, Some("1")))
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(store.load_operations("g").unwrap().len(), 4000);
    cleanup(&path);
}

#[test]
fn newer_schema_is_refused_with_the_path() {
    let path = temp_db("schema");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5, "the store migrates to schema 5");
    // The durable tables' version is kept under the shared per-component versions.
    conn.execute_batch("UPDATE orkestra_components SET version = 99 WHERE name = 'durable'")
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this build"), "{err}");
    assert!(err.contains("orkestra.db"), "{err}");
    cleanup(&path);
}

#[test]
fn default_path_honours_orkestra_db() {
    // Only this test touches ORKESTRA_DB in this binary.
    std::env::set_var("ORKESTRA_DB", "/tmp/x/custom.db");
    assert_eq!(
        SqliteStore::default_path(),
        PathBuf::from("/tmp/x/custom.db")
    );
    std::env::remove_var("ORKESTRA_DB");
    assert_eq!(
        SqliteStore::default_path(),
        PathBuf::from(".orkestra").join("orkestra.db")
    );
}

#[tokio::test]
async fn a_later_write_of_an_operation_wins_across_transactions() {
    let path = temp_db("later");
    let store = SqliteStore::open(&path).unwrap();
    for (id, status, result) in [
        ("a", OperationStatus::Started, None),
        ("b", OperationStatus::Started, None),
        ("a", OperationStatus::Pending, None),
        ("a", OperationStatus::Succeeded, Some("\"done\"")),
    ] {
        // Awaiting each write puts it in a transaction of its own.
        store
            .checkpoint("e", &op(id, status, result))
            .await
            .unwrap();
    }
    let ops = store.load_operations("e").unwrap();
    let seen: Vec<_> = ops.iter().map(|o| (o.id.as_str(), o.status)).collect();
    assert_eq!(
        seen,
        [
            ("a", OperationStatus::Succeeded),
            ("b", OperationStatus::Started)
        ]
    );
    assert_eq!(ops[0].result.as_deref(), Some("\"done\""));
    let one = store.load_operation("e", "a").unwrap().unwrap();
    assert_eq!(one.status, OperationStatus::Succeeded);
    assert!(store.load_operation("e", "zzz").unwrap().is_none());
    assert!(store.load_operation("nope", "a").unwrap().is_none());
    cleanup(&path);
}

#[tokio::test]
async fn callbacks_are_found_by_id_with_their_newest_status() {
    let path = temp_db("callback");
    let store = SqliteStore::open(&path).unwrap();
    let callback = |status| OperationRecord {
        op_type: OperationType::Callback,
        ..op("cb", status, None)
    };
    for i in 0..1000 {
        drop(store.checkpoint("e", &op(&format!("s{i}"), OperationStatus::Succeeded, None)));
    }
    store
        .checkpoint("e", &callback(OperationStatus::Started))
        .await
        .unwrap();
    assert_eq!(
        store.load_operation("e", "cb").unwrap().unwrap().status,
        OperationStatus::Started
    );
    store
        .checkpoint("e", &callback(OperationStatus::Succeeded))
        .await
        .unwrap();
    let found = store.load_operation("e", "cb").unwrap().unwrap();
    assert_eq!(found.op_type, OperationType::Callback);
    assert_eq!(found.status, OperationStatus::Succeeded);
    cleanup(&path);
}

#[test]
fn a_version_1_store_is_migrated_keeping_its_records_in_order() {
    let path = temp_db("migrate");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE durable_executions (
             id TEXT PRIMARY KEY, handler TEXT NOT NULL, status TEXT NOT NULL,
             input TEXT NOT NULL, result TEXT, error TEXT);
         CREATE TABLE durable_operations (
             execution_id TEXT NOT NULL, op_id TEXT NOT NULL, seq INTEGER NOT NULL,
             parent_id TEXT, op_type TEXT NOT NULL, sub_type TEXT, name TEXT,
             status TEXT NOT NULL, result TEXT, error TEXT, attempt INTEGER NOT NULL,
             PRIMARY KEY (execution_id, op_id)) WITHOUT ROWID;
         INSERT INTO durable_executions VALUES ('old', 'h', 'RUNNING', '{}', NULL, NULL);
         INSERT INTO durable_operations VALUES
             ('old', 'z', 1, NULL, 'STEP', 'Step', 'first', 'SUCCEEDED', '1', NULL, 1),
             ('old', 'a', 2, NULL, 'STEP', 'Step', 'second', 'STARTED', NULL, NULL, 1),
             ('other', 'm', 3, NULL, 'WAIT', NULL, NULL, 'STARTED', NULL, NULL, 0);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let ops = store.load_operations("old").unwrap();
    let names: Vec<_> = ops.iter().map(|o| o.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["first", "second"], "first-write order kept");
    assert_eq!(ops[0].result.as_deref(), Some("1"));
    assert_eq!(store.load_operations("other").unwrap().len(), 1);
    assert_eq!(
        store.get_execution("old").unwrap().unwrap().handler,
        "h".to_string()
    );
    // New writes land after the migrated ones.
    store
        .checkpoint("old", &op("a", OperationStatus::Succeeded, Some("2")))
        .wait()
        .unwrap();
    let ops = store.load_operations("old").unwrap();
    assert_eq!(ops[1].status, OperationStatus::Succeeded);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    cleanup(&path);
}

#[tokio::test]
async fn a_version_2_store_gains_start_and_end_times() {
    let path = temp_db("migrate-v2");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The version 2 schema, as a store written by the previous release has it.
    conn.execute_batch(
        "CREATE TABLE durable_executions (
             id TEXT PRIMARY KEY, handler TEXT NOT NULL, status TEXT NOT NULL,
             input TEXT NOT NULL, result TEXT, error TEXT);
         CREATE TABLE durable_execution_keys (key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
         CREATE TABLE durable_operation_log (
             seq INTEGER PRIMARY KEY, exec_key INTEGER NOT NULL, op_id TEXT NOT NULL,
             parent_id TEXT, op_type TEXT NOT NULL, sub_type TEXT, name TEXT,
             status TEXT NOT NULL, result TEXT, error TEXT, attempt INTEGER NOT NULL);
         CREATE INDEX durable_operation_log_by_execution ON durable_operation_log (exec_key, seq);
         INSERT INTO durable_executions VALUES ('old', 'h', 'SUCCEEDED', '3', '9', NULL);
         INSERT INTO durable_execution_keys VALUES (1, 'old');
         INSERT INTO durable_operation_log VALUES
             (1, 1, 'a', NULL, 'STEP', 'Step', 'triple', 'SUCCEEDED', '9', NULL, 1);
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let old = store.get_execution("old").unwrap().unwrap();
    assert_eq!(
        (
            old.status,
            old.result.as_deref(),
            old.started_ms,
            old.ended_ms
        ),
        (InvocationStatus::Succeeded, Some("9"), None, None),
        "existing rows are kept, without times"
    );
    assert_eq!(
        store.load_operations("old").unwrap()[0].name.as_deref(),
        Some("triple")
    );
    store
        .put_execution(ExecutionRecord {
            id: "new".into(),
            handler: "h".into(),
            status: InvocationStatus::Succeeded,
            input: "1".into(),
            result: Some("3".into()),
            error: None,
            started_ms: Some(1_700_000_000_000),
            ended_ms: Some(1_700_000_000_250),
        })
        .await
        .unwrap();
    let new = store.get_execution("new").unwrap().unwrap();
    assert_eq!(
        (new.started_ms, new.ended_ms),
        (Some(1_700_000_000_000), Some(1_700_000_000_250))
    );
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    cleanup(&path);
}

mod model {
    //! Property: whatever writes arrive, in whatever transactions, loading gives the newest
    //! version of each operation in first-write order, per execution.
    use super::*;
    use proptest::prelude::*;

    fn status(n: u8) -> OperationStatus {
        [
            OperationStatus::Started,
            OperationStatus::Pending,
            OperationStatus::Succeeded,
            OperationStatus::Failed,
        ][n as usize % 4]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn loads_match_a_model_of_the_writes(
            writes in prop::collection::vec((0u8..2, 0u8..6, 0u8..4, any::<bool>()), 1..60)
        ) {
            let path = temp_db("model");
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let store = SqliteStore::open(&path).unwrap();
            let mut model: Vec<Vec<OperationRecord>> = vec![Vec::new(), Vec::new()];
            rt.block_on(async {
                for (n, (exec, op_n, st, wait)) in writes.iter().enumerate() {
                    let record = op(&format!("op{op_n}"), status(*st), Some(&n.to_string()));
                    let ops = &mut model[*exec as usize];
                    match ops.iter_mut().find(|o| o.id == record.id) {
                        Some(o) => *o = record.clone(),
                        None => ops.push(record.clone()),
                    }
                    let commit = store.checkpoint(&format!("e{exec}"), &record);
                    if *wait {
                        commit.await.unwrap();
                    } else {
                        drop(commit);
                    }
                }
                store.flush().await.unwrap();
            });
            for (exec, expected) in model.iter().enumerate() {
                // Commit times are the store's; the rest is what was written last.
                let loaded: Vec<OperationRecord> = store
                    .load_operations(&format!("e{exec}"))
                    .unwrap()
                    .into_iter()
                    .map(|r| OperationRecord { started_ms: None, ended_ms: None, ..r })
                    .collect();
                prop_assert_eq!(&loaded, expected);
            }
            drop(store);
            cleanup(&path);
        }
    }
}

/// Every status of the protocol's operation model and the type-specific fields (wake-up time,
/// next attempt, callback id, replay-children) are stored and read back; the store stamps
/// each operation's start (first row) and end (finishing row) commit times.
#[tokio::test]
async fn every_status_and_the_protocol_details_round_trip() {
    let path = temp_db("details");
    let store = SqliteStore::open(&path).unwrap();
    let before = ExecutionRecord::now_ms();
    let mut written = Vec::new();
    for (i, status) in OperationStatus::ALL.into_iter().enumerate() {
        let mut record = op(&format!("op{i}"), status, None);
        record.details = OperationDetails {
            scheduled_end_ms: Some(1_000 + i as u64),
            next_attempt_ms: (i % 2 == 0).then_some(2_000 + i as u64),
            callback_id: Some(format!("e/op{i}")),
            replay_children: i % 3 == 0,
            ..Default::default()
        };
        if status.is_failure() || status == OperationStatus::Pending {
            record.error = Some(ErrorObject::new("E", status.as_str()));
        }
        store.checkpoint("e", &record).await.unwrap();
        written.push(record);
    }
    let loaded = store.load_operations("e").unwrap();
    assert_eq!(loaded.len(), written.len());
    for (got, want) in loaded.iter().zip(&written) {
        let start = got.started_ms.expect("a commit time");
        assert!(start >= before && start <= ExecutionRecord::now_ms());
        assert_eq!(got.ended_ms.is_some(), want.status.is_finished(), "{got:?}");
        let stamped = OperationRecord {
            started_ms: None,
            ended_ms: None,
            ..got.clone()
        };
        assert_eq!(&stamped, want);
    }
    // The JSON of a record carries the details only when set.
    let json = serde_json::to_value(&loaded[1]).unwrap();
    assert_eq!(json["status"], "PENDING");
    assert_eq!(json["callback_id"], "e/op1");
    assert!(json.get("next_attempt_ms").is_none() && json.get("replay_children").is_none());
    cleanup(&path);
}

/// Unawaited (ordered) writes do not wait while the writer keeps up, and hold their caller
/// back once too many are queued: here the writer is stuck behind another connection's write
/// lock, so the queue only grows until the caller is made to wait; once the lock goes, every
/// write lands, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_writes_wait_only_when_the_queue_is_long() {
    let path = temp_db("ordered");
    let store = SqliteStore::open(&path).unwrap();
    store
        .put_execution(ExecutionRecord {
            id: "o".into(),
            handler: "h".into(),
            status: InvocationStatus::Running,
            input: "null".into(),
            result: None,
            error: None,
            started_ms: None,
            ended_ms: None,
        })
        .await
        .unwrap();
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The writer takes the first write and waits for the lock; the rest queue up.
    let mut waited_at = None;
    for i in 0..40_000 {
        let commit = store.checkpoint_ordered(
            "o",
            &op(&format!("op-{i}"), OperationStatus::Succeeded, Some("1")),
        );
        let waits = tokio::time::timeout(std::time::Duration::from_millis(20), commit)
            .await
            .is_err();
        if waits {
            waited_at = Some(i);
            break;
        }
    }
    let waited_at = waited_at.expect("a write was held back while the writer was stuck");
    assert!(
        waited_at >= 10_000,
        "writes were held back while only {waited_at} were queued"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    let last = format!("op-{waited_at}");
    store
        .checkpoint_ordered("o", &op(&last, OperationStatus::Succeeded, Some("2")))
        .await
        .unwrap();
    store.flush().await.unwrap();
    let ops = store.load_operations("o").unwrap();
    assert_eq!(ops.len(), waited_at + 1);
    assert_eq!(ops[0].id, "op-0");
    assert_eq!(ops[waited_at].id, last);
    assert_eq!(ops[waited_at].result.as_deref(), Some("2"));
    cleanup(&path);
}
