//! Automatic offload: a state output over the payload limit is stored as state data and
//! replaced by a pointer, which the next state (or the execution's end) loads back; at the
//! limit nothing is offloaded; with offloading off, `States.DataLimitExceeded` as before.

use std::sync::Arc;

use orkestra::engine::{EventKind, DEFAULT_PAYLOAD_LIMIT};
use orkestra::state_data::{SqliteStateStore, StateDataStore, DEFAULT_TABLE};
use orkestra::{compose, Context, Engine, EngineConfig, ExecutionStatus};
use serde_json::{json, Value};

fn store(name: &str) -> Arc<SqliteStateStore> {
    let dir = std::env::temp_dir().join(format!("orkestra-offload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    let _ = std::fs::remove_file(&path);
    Arc::new(SqliteStateStore::open(path).unwrap())
}

/// A JSON string of exactly `bytes` bytes (quotes included).
#[compose]
fn text_of(bytes: usize, _ctx: &Context) -> String {
    "x".repeat(bytes - 2)
}

/// What the next state sees: the text's length.
#[compose]
fn length(text: String, _ctx: &Context) -> usize {
    text.len() + 2
}

orkestra::workflow!(text_then_length = text_of >> length);
orkestra::workflow!(text_only = text_of);

fn engine(limit: usize, offload: bool, store: &Arc<SqliteStateStore>) -> Engine {
    Engine::new(EngineConfig {
        payload_limit: Some(limit),
        offload,
        ..EngineConfig::default()
    })
    .with_state_store(store.clone())
}

fn offloads(execution: &orkestra::Execution) -> Vec<(String, Value)> {
    execution
        .history
        .events()
        .filter(|e| e.kind == EventKind::StateOutputOffloaded)
        .map(|e| {
            (
                e.state_name.as_deref().unwrap().to_string(),
                serde_json::from_str(e.details.as_deref().unwrap()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn just_under_at_and_just_over_the_limit() {
    let store = store("boundary");
    for limit in [1_000, DEFAULT_PAYLOAD_LIMIT] {
        let engine = engine(limit, true, &store);
        for (bytes, offloaded) in [(limit - 1, false), (limit, false), (limit + 1, true)] {
            let execution = engine.run(&text_then_length(), json!(bytes)).await;
            assert_eq!(
                execution.status,
                ExecutionStatus::Succeeded,
                "{bytes} bytes: {:?}",
                execution.error
            );
            // The next task got the whole text back.
            assert_eq!(execution.output, Some(json!(bytes)), "{bytes} bytes");
            let expected = if offloaded {
                vec![(
                    "text_of".to_string(),
                    json!({"bytes": bytes, "limit": limit}),
                )]
            } else {
                vec![]
            };
            assert_eq!(offloads(&execution), expected, "{bytes} bytes");
            // What was offloaded is stored under the execution's id.
            let stored = store
                .get(
                    DEFAULT_TABLE,
                    &format!("{}:orkestra.offload.text_of.0", execution.execution_id),
                    0,
                )
                .await
                .unwrap();
            assert_eq!(stored.map(|row| row.data.len()), offloaded.then_some(bytes));
        }
    }
}

#[tokio::test]
async fn the_executions_output_is_loaded_back() {
    let store = store("output");
    let execution = engine(100, true, &store)
        .run(&text_only(), json!(150))
        .await;
    assert_eq!(execution.output, Some(json!("x".repeat(148))));
    assert_eq!(offloads(&execution).len(), 1);
}

#[tokio::test]
async fn with_offload_off_the_limit_fails_the_state() {
    let store = store("off");
    let engine = engine(1_000, false, &store);
    let execution = engine.run(&text_then_length(), json!(1_000)).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    let execution = engine.run(&text_then_length(), json!(1_001)).await;
    let error = execution.error.clone().unwrap();
    assert_eq!(error.name(), "States.DataLimitExceeded");
    assert_eq!(
        error.message(),
        "the output of state `text_of` is larger than the payload limit of 1000 bytes"
    );
    assert!(offloads(&execution).is_empty());
}

/// Each branch gives a text of `bytes` bytes.
#[compose]
fn left(bytes: usize, _ctx: &Context) -> String {
    "l".repeat(bytes - 2)
}

#[compose]
fn right(bytes: usize, _ctx: &Context) -> String {
    "r".repeat(bytes - 2)
}

#[compose]
fn both_lengths(pair: (String, String), _ctx: &Context) -> (usize, usize) {
    (pair.0.len() + 2, pair.1.len() + 2)
}

orkestra::workflow!(branches = [left, right] >> both_lengths);

/// `n` items of `n` bytes each.
#[compose]
fn many(n: usize, _ctx: &Context) -> Vec<usize> {
    vec![n; n]
}

#[compose(map)]
fn item_text(bytes: usize, _ctx: &Context) -> String {
    "i".repeat(bytes - 2)
}

#[compose]
fn count_bytes(texts: Vec<String>, _ctx: &Context) -> usize {
    texts.iter().map(|t| t.len() + 2).sum()
}

orkestra::workflow!(mapped = many >> item_text >> count_bytes);

#[tokio::test]
async fn groups_and_maps_offload_their_outputs_too() {
    let store = store("groups");
    let engine = engine(1_000, true, &store);
    // Each branch over the limit: both branch outputs offloaded, the pair resolved.
    let execution = engine.run(&branches(), json!(1_200)).await;
    assert_eq!(
        execution.output,
        Some(json!([1_200, 1_200])),
        "{:?}",
        execution.error
    );
    let states: Vec<String> = offloads(&execution).into_iter().map(|(s, _)| s).collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.contains(&"left".to_string()) && states.contains(&"right".to_string()));
    // Branches under the limit whose pair is over it: the group's output is offloaded.
    let execution = engine.run(&branches(), json!(600)).await;
    assert_eq!(
        execution.output,
        Some(json!([600, 600])),
        "{:?}",
        execution.error
    );
    assert_eq!(offloads(&execution).len(), 1);
    // Each branch over the limit and the pair of markers over it too: both levels load back.
    let tight = self::engine(100, true, &store);
    let execution = tight.run(&branches(), json!(120)).await;
    assert_eq!(
        execution.output,
        Some(json!([120, 120])),
        "{:?}",
        execution.error
    );
    assert_eq!(offloads(&execution).len(), 3);
    // A map whose items are small but whose list is over the limit.
    let execution = engine.run(&mapped(), json!(40)).await;
    assert_eq!(
        execution.output,
        Some(json!(1_600)),
        "{:?}",
        execution.error
    );
    assert_eq!(
        offloads(&execution),
        vec![(
            "item_text".to_string(),
            json!({"bytes": 40 * 40 + 39 + 2, "limit": 1_000})
        )]
    );
}

/// A store whose writes fail, to see the offload's error.
struct ReadOnly(Arc<SqliteStateStore>);

impl StateDataStore for ReadOnly {
    fn default_table(&self) -> &str {
        self.0.default_table()
    }
    fn put<'a>(
        &'a self,
        table: &'a str,
        _: &'a str,
        _: orkestra::state_data::StoredItem,
        _: i64,
    ) -> orkestra::state_data::StoreFuture<'a, ()> {
        Box::pin(async move {
            Err(orkestra::state_data::StateDataError::Backend {
                backend: "sqlite",
                operation: "put",
                table: table.to_string(),
                message: "disk full".into(),
            })
        })
    }
    fn put_many<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        items: Vec<orkestra::state_data::StoredItem>,
        expires_at: i64,
    ) -> orkestra::state_data::StoreFuture<'a, ()> {
        self.0.put_many(table, partition_key, items, expires_at)
    }
    fn get<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: u64,
    ) -> orkestra::state_data::StoreFuture<'a, Option<orkestra::state_data::StoredItem>> {
        self.0.get(table, partition_key, index)
    }
    fn get_all<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
    ) -> orkestra::state_data::StoreFuture<'a, Vec<orkestra::state_data::StoredItem>> {
        self.0.get_all(table, partition_key)
    }
    fn delete<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: Option<u64>,
    ) -> orkestra::state_data::StoreFuture<'a, u64> {
        self.0.delete(table, partition_key, index)
    }
}

/// Returns what looks like an offloaded output whose item does not exist.
#[compose]
fn dangling(_n: u32, _ctx: &Context) -> Value {
    json!({
        "orkestra_offloaded": {
            "key": "orkestra.offload.gone.0",
            "partition_key": "exec-x:orkestra.offload.gone.0",
            "table_name": DEFAULT_TABLE,
        },
        "bytes": 10,
    })
}

/// `dangling >> length`, built by hand: the types do not chain (the marker is not a `String`).
fn dangling_then_length() -> orkestra::Workflow {
    use orkestra::{Node, TaskDef};
    orkestra::Workflow::from_node(
        "dangling_then_length",
        Node::Chain(vec![
            Node::task(dangling::spec()),
            Node::task(length::spec()),
        ]),
    )
}

#[tokio::test]
async fn failing_to_store_or_load_an_offloaded_output_is_a_clear_error() {
    let store = store("failing");
    let failing = Engine::new(EngineConfig {
        payload_limit: Some(100),
        ..EngineConfig::default()
    })
    .with_state_store(Arc::new(ReadOnly(store.clone())));
    let execution = failing.run(&text_then_length(), json!(101)).await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "Orkestra.StateData", "{error}");
    assert_eq!(
        error.message(),
        r#"offloading the output of state `text_of` failed: sqlite put failed for table "orkestra-state": disk full"#
    );
    let execution = engine(1_000, true, &store)
        .run(&dangling_then_length(), json!(1))
        .await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "Orkestra.StateData", "{error}");
    assert_eq!(
        error.message(),
        r#"loading the offloaded input of length failed: no item found: key "orkestra.offload.gone.0", partition "exec-x:orkestra.offload.gone.0", table "orkestra-state""#
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]

    /// Around the limit, the next state always gets the whole value, and only values over the
    /// limit are offloaded.
    #[test]
    fn offload_round_trips_around_the_limit(bytes in 150usize..250) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = store("proptest");
        let execution = rt.block_on(engine(200, true, &store).run(&text_then_length(), json!(bytes)));
        proptest::prop_assert_eq!(&execution.output, &Some(json!(bytes)));
        proptest::prop_assert_eq!(offloads(&execution).len(), usize::from(bytes > 200));
    }
}
