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
    }
}

#[tokio::test]
async fn operations_upsert_in_first_write_order_and_survive_reopen() {
    let path = temp_db("upsert");
    {
        let store = SqliteStore::open(&path).unwrap();
        drop(store.checkpoint("e1", op("a", OperationStatus::Started, None)));
        drop(store.checkpoint("e1", op("b", OperationStatus::Started, None)));
        drop(store.checkpoint("e2", op("a", OperationStatus::Started, None)));
        store
            .checkpoint("e1", op("a", OperationStatus::Succeeded, Some("42")))
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
            })
            .await
            .unwrap();
    }
    let all = store.list_executions().unwrap();
    assert_eq!(
        all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["x", "y"]
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
                    .checkpoint("g", op(&id, OperationStatus::Succeeded, Some("1")))
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
    assert_eq!(version, 1, "the store migrates to schema 1");
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
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
