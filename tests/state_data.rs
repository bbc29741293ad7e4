//! The state data client (`ctx.state_data()`) on the embedded SQLite store: every method,
//! isolation between executions, bad input, a map over a `put_items` pointer, and a proptest
//! round trip.

#[allow(dead_code)]
#[path = "../examples/state_data.rs"]
mod example;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use orkestra::state_data::{
    ItemsPointer, MapIteration, Pointer, SqliteStateStore, StateDataError, StateDataStore,
    StoredItem, DEFAULT_TABLE,
};
use orkestra::{compose, Context, Engine, ErrorName, ExecutionStatus};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-state-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    let _ = std::fs::remove_file(&path);
    path
}

fn store(name: &str) -> Arc<SqliteStateStore> {
    Arc::new(SqliteStateStore::open(temp_db(name)).unwrap())
}

fn ctx(execution: &str, store: &Arc<SqliteStateStore>) -> Context {
    Context::new(execution, "wf", "state").with_state_store(store.clone())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Character {
    name: String,
}

fn character(name: &str) -> Character {
    Character { name: name.into() }
}

#[tokio::test]
async fn put_item_and_get_item_with_and_without_index() {
    let store = store("items");
    let ctx = ctx("exec-1", &store);
    let client = ctx.state_data();
    let pointer = client
        .put_item("characters", &character("jerry"), None)
        .await
        .unwrap();
    assert_eq!(
        pointer,
        Pointer {
            key: "characters".into(),
            partition_key: "exec-1:characters".into(),
            table_name: DEFAULT_TABLE.into(),
            index: None,
        }
    );
    let at_24 = client
        .put_item("characters", &character("elaine"), Some(24))
        .await
        .unwrap();
    assert_eq!(at_24.index, Some(24));
    let first: Character = client.get_item("characters", None).await.unwrap();
    let other: Character = client.get_item("characters", Some(24)).await.unwrap();
    assert_eq!((first, other), (character("jerry"), character("elaine")));
    // Index 0 is the default.
    let zero: Character = client.get_item("characters", Some(0)).await.unwrap();
    assert_eq!(zero, character("jerry"));
    // A pointer loads the same item, wherever it is.
    let via_pointer: Character = client.get_pointer(&at_24).await.unwrap();
    assert_eq!(via_pointer, character("elaine"));
}

#[tokio::test]
async fn put_items_get_items_and_delete() {
    let store = store("lists");
    let ctx = ctx("exec-2", &store);
    let client = ctx.state_data();
    let names = [character("jerry"), character("elaine"), character("george")];
    let pointer: ItemsPointer<Character> = client.put_items("cast", &names).await.unwrap();
    assert_eq!(pointer.count, 3);
    assert_eq!(pointer.indices, vec![0, 1, 2]);
    assert_eq!(pointer.partition_key, "exec-2:cast");
    let all: Vec<Character> = client.get_items("cast").await.unwrap();
    assert_eq!(all, names);
    let second: Character = client.get_item("cast", Some(1)).await.unwrap();
    assert_eq!(second, character("elaine"));
    assert_eq!(client.delete("cast", Some(1)).await.unwrap(), 1);
    let err = client
        .get_item::<Character>("cast", Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateDataError::NoItemFound { index: Some(1), .. }),
        "{err}"
    );
    assert_eq!(client.delete("cast", None).await.unwrap(), 2);
    let err = client.get_items::<Character>("cast").await.unwrap_err();
    assert!(matches!(err, StateDataError::NoItemFound { .. }), "{err}");
}

#[tokio::test]
async fn map_iteration_methods_read_and_write_the_iterations_slot() {
    let store = store("iterations");
    let ctx = ctx("exec-3", &store);
    let client = ctx.state_data();
    let names = [character("jerry"), character("elaine")];
    let pointer = client.put_items("cast", &names).await.unwrap();
    let iterations: Vec<MapIteration<Character>> = pointer.iterations().collect();
    assert_eq!(iterations.len(), 2);
    // The seed's iteration input schema.
    assert_eq!(
        serde_json::to_value(&iterations[1]).unwrap(),
        json!({
            "items_result_table_name": DEFAULT_TABLE,
            "items_result_partition_key": "exec-3:cast",
            "items_result_key": "cast",
            "context_index": 1,
            "context_value": 1,
        })
    );
    let read: Character = client
        .get_item_for_map_iteration(&iterations[1])
        .await
        .unwrap();
    assert_eq!(read, character("elaine"));
    let written = client
        .put_item_for_map_iteration(&iterations[1], &character("kramer"))
        .await
        .unwrap();
    assert_eq!(written.index, Some(1));
    let all: Vec<Character> = client.get_items("cast").await.unwrap();
    assert_eq!(all, vec![character("jerry"), character("kramer")]);
    let global: Character = client
        .get_global_item_for_map_iteration(&iterations[0])
        .await
        .unwrap();
    assert_eq!(global, character("jerry"));
}

#[tokio::test]
async fn local_methods_only_reach_the_current_execution() {
    let store = store("isolation");
    let a = ctx("exec-a", &store);
    let b = ctx("exec-b", &store);
    a.state_data()
        .put_item("secret", &"a's", None)
        .await
        .unwrap();
    let pointer = a
        .state_data()
        .put_items("list", &["x".to_string(), "y".to_string()])
        .await
        .unwrap();
    // The same key in another execution is another item.
    let err = b
        .state_data()
        .get_item::<String>("secret", None)
        .await
        .unwrap_err();
    match &err {
        StateDataError::NoItemFound {
            key,
            partition_key,
            table,
            index,
        } => {
            assert_eq!(key, "secret");
            assert_eq!(partition_key, "exec-b:secret");
            assert_eq!(table, DEFAULT_TABLE);
            assert_eq!(*index, None);
        }
        other => panic!("{other}"),
    }
    b.state_data()
        .put_item("secret", &"b's", None)
        .await
        .unwrap();
    let a_value: String = a.state_data().get_item("secret", None).await.unwrap();
    assert_eq!(a_value, "a's");
    // Another execution's map iteration is refused by the local variant...
    let iteration = pointer.iterations().next().unwrap();
    let err = b
        .state_data()
        .get_item_for_map_iteration(&iteration)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateDataError::OtherExecution { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("exec-a:list"), "{err}");
    assert!(err.to_string().contains("get_global_item"), "{err}");
    let err = b
        .state_data()
        .put_item_for_map_iteration(&iteration, &"overwrite")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateDataError::OtherExecution { .. }),
        "{err}"
    );
    // ... and reachable with the global variants and an explicit partition key.
    let x: String = b
        .state_data()
        .get_global_item_for_map_iteration(&iteration)
        .await
        .unwrap();
    assert_eq!(x, "x");
    let secret: String = b
        .state_data()
        .get_global_item(DEFAULT_TABLE, "exec-a:secret", None)
        .await
        .unwrap();
    assert_eq!(secret, "a's");
    // A prefix of another id is not the same execution.
    let c = ctx("exec", &store);
    let err = c
        .state_data()
        .get_item_for_map_iteration(&iteration)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateDataError::OtherExecution { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn global_writes_go_to_the_table_asked_for() {
    let store = store("global");
    store.create_table("reports").await.unwrap();
    let ctx = ctx("exec-g", &store);
    let client = ctx.state_data();
    let pointer = client
        .put_global_item(
            "reports",
            "other-exec:summary",
            &json!({"total": 3}),
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(pointer.table_name, "reports");
    assert_eq!(pointer.key, "summary");
    let read: serde_json::Value = client
        .get_global_item("reports", "other-exec:summary", Some(2))
        .await
        .unwrap();
    assert_eq!(read, json!({"total": 3}));
    // Not in the default table.
    let err = client
        .get_global_item::<serde_json::Value>(DEFAULT_TABLE, "other-exec:summary", Some(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StateDataError::NoItemFound { .. }), "{err}");
}

#[tokio::test]
async fn bad_input_gives_clear_errors() {
    let store = store("bad");
    let ctx = ctx("exec-bad", &store);
    let client = ctx.state_data();

    // A pointer to a missing item names key, partition and index.
    let missing = Pointer {
        key: "nothing".into(),
        partition_key: "exec-bad:nothing".into(),
        table_name: DEFAULT_TABLE.into(),
        index: Some(7),
    };
    let err = client.get_pointer::<String>(&missing).await.unwrap_err();
    assert_eq!(err.error_name(), "StateData.NoItemFound");
    assert_eq!(
        err.to_string(),
        format!(
            r#"no item found: key "nothing", partition "exec-bad:nothing", table "{DEFAULT_TABLE}", index 7"#
        )
    );

    // A table nothing was written to.
    let err = client
        .get_global_item::<String>("no-such-table", "exec-bad:x", None)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "StateData.UnknownTable");
    assert_eq!(
        err.to_string(),
        r#"unknown state data table "no-such-table""#
    );

    // A corrupted payload (not JSON) and a payload of the wrong type.
    store
        .put(
            DEFAULT_TABLE,
            "exec-bad:broken",
            StoredItem {
                index: 0,
                data: b"{\"name\": tru".to_vec(),
            },
            i64::MAX,
        )
        .await
        .unwrap();
    let err = client
        .get_item::<Character>("broken", None)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "StateData.Corrupt");
    let text = err.to_string();
    assert!(
        text.starts_with(r#"corrupt state data item: partition "exec-bad:broken""#)
            && text.contains("index 0"),
        "{text}"
    );
    client
        .put_item("typed", &json!({"name": 5}), None)
        .await
        .unwrap();
    let err = client
        .get_item::<Character>("typed", None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("at `name`: invalid type: integer `5`"),
        "{err}"
    );
}

#[tokio::test]
async fn items_expire_after_their_ttl() {
    let store = store("ttl");
    let ctx = ctx("exec-ttl", &store);
    let client = ctx.state_data().with_ttl(Duration::ZERO);
    client.put_item("gone", &1, None).await.unwrap();
    let err = client.get_item::<i32>("gone", None).await.unwrap_err();
    assert!(matches!(err, StateDataError::NoItemFound { .. }), "{err}");
    // The default lives 7 days.
    ctx.state_data().put_item("kept", &1, None).await.unwrap();
    assert_eq!(
        ctx.state_data()
            .get_item::<i32>("kept", None)
            .await
            .unwrap(),
        1
    );
}

// ---- in a workflow ------------------------------------------------------------------------

/// Uses state data without declaring it.
#[compose]
async fn undeclared(n: u32, ctx: &Context) -> Result<u32, StateDataError> {
    ctx.state_data().put_item("n", &n, None).await?;
    Ok(n)
}

orkestra::workflow!(undeclared_flow = undeclared);

#[tokio::test]
async fn a_task_not_declared_state_data_is_refused_naming_the_flag() {
    let store = store("undeclared");
    let execution = Engine::default()
        .with_state_store(store)
        .run(&undeclared_flow(), json!(3))
        .await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "StateData.NotDeclared");
    assert_eq!(
        error.message(),
        "task `undeclared` uses state data but is not declared `#[compose(state_data)]`: add the `state_data` flag so the export grants its function the state table"
    );
}

#[tokio::test]
async fn a_map_over_a_pointer_runs_once_per_stored_item() {
    let store = store("map");
    let execution = Engine::default()
        .with_state_store(store.clone())
        .run(
            &example::state_data_example(),
            json!({"records": 250, "record_bytes": 40}),
        )
        .await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.error
    );
    let summary: example::Summary = serde_json::from_value(execution.output.unwrap()).unwrap();
    assert_eq!(summary.records, 250);
    assert_eq!(summary.bytes, 250 * 40);
    assert_eq!(summary.per_category, vec![25; 10]);
    assert_eq!(summary.deleted, 250, "the last task deletes the records");
    assert_eq!(
        execution
            .history
            .count(orkestra::engine::EventKind::MapIterationSucceeded),
        250
    );
    // They were the execution's own, and are gone.
    let rows = store
        .get_all(
            DEFAULT_TABLE,
            &format!("{}:records", execution.execution_id),
        )
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn a_map_over_a_pointer_refuses_a_list() {
    let store = store("map-list");
    let workflow = orkestra::Workflow::from_node(
        "direct",
        orkestra::Node::task(<example::score_record as orkestra::TaskDef>::spec()),
    );
    let execution = Engine::default()
        .with_state_store(store)
        .run(&workflow, json!(1))
        .await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "States.Runtime");
    assert!(
        error.message().contains("map task `score_record`"),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever list goes in comes back, element by element and whole.
    #[test]
    fn put_items_get_items_round_trip(
        items in proptest::collection::vec(
            (any::<i64>(), ".{0,40}", proptest::option::of(any::<bool>())), 0..40),
        case in any::<u32>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = store("proptest");
        rt.block_on(async {
            let ctx = ctx(&format!("exec-prop-{case}"), &store);
            let client = ctx.state_data();
            let pointer = client.put_items("values", &items).await.unwrap();
            prop_assert_eq!(pointer.count as usize, items.len());
            if items.is_empty() {
                let err = client.get_items::<(i64, String, Option<bool>)>("values").await.unwrap_err();
                prop_assert!(matches!(err, StateDataError::NoItemFound { .. }), "{}", err);
            } else {
                let back: Vec<(i64, String, Option<bool>)> = client.get_items("values").await.unwrap();
                prop_assert_eq!(&back, &items);
                for (index, item) in items.iter().enumerate() {
                    let one: (i64, String, Option<bool>) =
                        client.get_item("values", Some(index as u64)).await.unwrap();
                    prop_assert_eq!(&one, item);
                }
            }
            Ok(())
        })?;
    }
}

#[path = "support/examples.rs"]
mod examples;

#[test]
fn run_opens_the_project_file_only_when_a_task_uses_state_data() {
    let used = temp_db("cli-used");
    let out = std::process::Command::new(examples::example_binary("state_data"))
        .args(["run", "--input", r#"{"records": 30, "record_bytes": 10}"#])
        .env("ORKESTRA_DB", &used)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["records"], 30);
    assert_eq!(report["output"]["deleted"], 30);
    let conn = rusqlite::Connection::open(&used).unwrap();
    let version: i64 = conn
        .query_row(
            "SELECT version FROM orkestra_components WHERE name = 'state_data'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, 1);

    let unused = temp_db("cli-unused");
    let out = std::process::Command::new(examples::example_binary("stop_execution"))
        .args(["run", "--input", r#"{"enabled": true}"#])
        .env("ORKESTRA_DB", &unused)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !unused.exists(),
        "a workflow without state data opens no file"
    );
}
