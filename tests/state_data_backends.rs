//! The state data backend contract (`tests/support/state_data_suite.rs`) run against
//! DynamoDB + S3 on a local server (moto), plus what is particular to that backend: the row
//! schema, the spill to S3 exactly past DynamoDB's item limit, object expiry and clean-up, and
//! configuration from the standard environment variables.
//!
//! Needs `ORKESTRA_TEST_AWS_ENDPOINT` (`.ci/setup.d/60-aws.sh`); without it the tests skip
//! locally and fail under `CI=true`.

#[allow(dead_code)]
#[path = "support/aws_local.rs"]
mod aws_local;
#[allow(dead_code)]
#[macro_use]
#[path = "support/state_data_suite.rs"]
mod state_data_suite;
#[allow(dead_code)]
#[path = "../examples/state_data.rs"]
mod example;
#[path = "support/examples.rs"]
mod examples;
#[path = "support/runtime_api.rs"]
mod runtime_api;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use orkestra::aws::{
    attribute, provision, AttributeValue, AwsConfig, DynamoStateStore, MAX_ITEM_BYTES,
};
use orkestra::state_data::{StateDataError, StateDataStore, StoredItem};
use state_data_suite::{fresh_partition, next_week, sized_json, Suite};

/// A fresh table (and bucket) on the local server.
struct Fixture {
    config: AwsConfig,
    table: String,
    bucket: String,
}

async fn fixture() -> Option<Fixture> {
    let endpoint = aws_local::endpoint()?;
    let config = AwsConfig::local(&endpoint).await;
    let table = aws_local::unique("orkestra-state");
    let bucket = aws_local::unique("orkestra-state");
    provision::create_state_resources(&config, &table, Some(&bucket))
        .await
        .unwrap();
    Some(Fixture {
        config,
        table,
        bucket,
    })
}

impl Fixture {
    fn store(&self) -> DynamoStateStore {
        DynamoStateStore::new(&self.config, &self.table, Some(self.bucket.clone()))
    }
}

async fn dynamo_suite() -> Option<Suite> {
    let fixture = fixture().await?;
    let other_table = aws_local::unique("orkestra-other");
    provision::create_state_resources(&fixture.config, &other_table, None)
        .await
        .unwrap();
    Some(Suite {
        store: Arc::new(fixture.store()),
        other_table,
        missing_table: aws_local::unique("orkestra-missing"),
        boundary_sizes: vec![MAX_ITEM_BYTES - 1_000, MAX_ITEM_BYTES + 1_000],
        filters_expired: true,
    })
}

suite_tests!(dynamo_suite);

async fn raw_row(
    fixture: &Fixture,
    partition_key: &str,
    index: u64,
) -> std::collections::HashMap<String, AttributeValue> {
    fixture
        .config
        .dynamodb()
        .get_item()
        .table_name(&fixture.table)
        .key(
            attribute::PARTITION_KEY,
            AttributeValue::S(partition_key.into()),
        )
        .key(attribute::SORT_KEY, AttributeValue::N(index.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the row exists")
}

async fn object_exists(fixture: &Fixture, key: &str) -> bool {
    fixture
        .config
        .s3()
        .head_object()
        .bucket(&fixture.bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

/// An item's size as DynamoDB counts it: attribute names plus values (a number takes one byte
/// per two significant digits, plus one).
fn row_size(row: &std::collections::HashMap<String, AttributeValue>) -> usize {
    row.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(text) => text.len(),
                    AttributeValue::N(number) => {
                        number.trim_start_matches('0').len().div_ceil(2) + 1
                    }
                    other => panic!("unexpected attribute {other:?}"),
                }
        })
        .sum()
}

fn s3_key(row: &std::collections::HashMap<String, AttributeValue>) -> String {
    row[attribute::DATA_S3_KEY].as_s().unwrap().clone()
}

#[tokio::test]
async fn items_spill_to_s3_exactly_past_the_row_limit() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let store = fixture.store();
    let pk = fresh_partition("edge");
    let capacity = DynamoStateStore::inline_capacity(&pk);
    let expires_at = next_week();
    for (index, size) in [(0, capacity - 1), (1, capacity), (2, capacity + 1)] {
        let item = StoredItem {
            index,
            data: sized_json(size, index),
        };
        store
            .put(&fixture.table, &pk, item, expires_at)
            .await
            .unwrap();
    }
    // Just under and at the limit: the JSON text is in the row, with the documented schema.
    for index in [0, 1] {
        let row = raw_row(&fixture, &pk, index).await;
        assert_eq!(row[attribute::PARTITION_KEY], AttributeValue::S(pk.clone()));
        assert_eq!(
            row[attribute::SORT_KEY],
            AttributeValue::N(index.to_string())
        );
        assert_eq!(
            row[attribute::EXPIRES_AT],
            AttributeValue::N(expires_at.to_string())
        );
        let text = row[attribute::DATA].as_s().unwrap();
        assert_eq!(text.len(), capacity - 1 + index as usize);
        assert!(!row.contains_key(attribute::DATA_S3_KEY));
    }
    // The largest inline row is within DynamoDB's limit, counted as DynamoDB counts, and the
    // threshold is tight (numbers were reserved at their largest, 21 bytes each).
    let largest = row_size(&raw_row(&fixture, &pk, 1).await);
    assert!(
        largest <= MAX_ITEM_BYTES && largest > MAX_ITEM_BYTES - 48,
        "largest inline row is {largest} bytes"
    );
    // Just over: the row points to an S3 object carrying the expiry as metadata and tag.
    let row = raw_row(&fixture, &pk, 2).await;
    assert!(!row.contains_key(attribute::DATA));
    let key = s3_key(&row);
    let s3 = fixture.config.s3();
    let head = s3
        .head_object()
        .bucket(&fixture.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length, Some(capacity as i64 + 1));
    assert_eq!(head.metadata.unwrap()["expires-at"], expires_at.to_string());
    let tags = s3
        .get_object_tagging()
        .bucket(&fixture.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let tag = tags.tag_set.iter().find(|t| t.key == "expires_at").unwrap();
    assert_eq!(tag.value, expires_at.to_string());
    for index in 0..3 {
        let back = store
            .get(&fixture.table, &pk, index)
            .await
            .unwrap()
            .unwrap();
        assert!(back.data == sized_json(capacity - 1 + index as usize, index));
    }

    // Replacing a spilled item deletes its old object; deleting a row deletes its object.
    store
        .put(
            &fixture.table,
            &pk,
            StoredItem {
                index: 2,
                data: b"\"small\"".to_vec(),
            },
            expires_at,
        )
        .await
        .unwrap();
    assert!(!object_exists(&fixture, &key).await, "old object deleted");
    store
        .put(
            &fixture.table,
            &pk,
            StoredItem {
                index: 3,
                data: sized_json(capacity + 10, 3),
            },
            expires_at,
        )
        .await
        .unwrap();
    let key = s3_key(&raw_row(&fixture, &pk, 3).await);
    assert!(object_exists(&fixture, &key).await);
    assert_eq!(store.delete(&fixture.table, &pk, Some(3)).await.unwrap(), 1);
    assert!(
        !object_exists(&fixture, &key).await,
        "object deleted with its row"
    );
}

#[tokio::test]
async fn deleting_a_partition_deletes_its_objects() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let store = fixture.store();
    let pk = fresh_partition("spilled-list");
    let items = (0..4)
        .map(|index| StoredItem {
            index,
            data: sized_json(MAX_ITEM_BYTES + 1, index),
        })
        .collect();
    store
        .put_many(&fixture.table, &pk, items, next_week())
        .await
        .unwrap();
    let mut keys = Vec::new();
    for index in 0..4 {
        keys.push(s3_key(&raw_row(&fixture, &pk, index).await));
    }
    for key in &keys {
        assert!(object_exists(&fixture, key).await);
    }
    assert_eq!(store.delete(&fixture.table, &pk, None).await.unwrap(), 4);
    for key in &keys {
        assert!(!object_exists(&fixture, key).await, "{key} deleted");
    }
}

#[tokio::test]
async fn a_spilled_item_whose_object_is_gone_is_corrupt() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let store = fixture.store();
    let pk = fresh_partition("orphan");
    let item = StoredItem {
        index: 5,
        data: sized_json(MAX_ITEM_BYTES + 1, 5),
    };
    store
        .put(&fixture.table, &pk, item, next_week())
        .await
        .unwrap();
    let key = s3_key(&raw_row(&fixture, &pk, 5).await);
    fixture
        .config
        .s3()
        .delete_object()
        .bucket(&fixture.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    match store.get(&fixture.table, &pk, 5).await {
        Err(StateDataError::Corrupt {
            partition_key,
            table,
            index,
            message,
        }) => {
            assert_eq!((partition_key, table, index), (pk, fixture.table, 5));
            assert!(message.contains(&key), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn large_items_without_a_usable_bucket_are_clear_errors() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let pk = fresh_partition("nowhere");
    let large = || StoredItem {
        index: 0,
        data: sized_json(MAX_ITEM_BYTES + 1, 0),
    };
    let no_bucket = DynamoStateStore::new(&fixture.config, &fixture.table, None);
    let error = no_bucket
        .put(&fixture.table, &pk, large(), next_week())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("ORKESTRA_STATE_BUCKET") && message.contains(&pk),
        "{message}"
    );
    // Small items still work without a bucket.
    no_bucket
        .put(
            &fixture.table,
            &pk,
            StoredItem {
                index: 1,
                data: b"1".to_vec(),
            },
            next_week(),
        )
        .await
        .unwrap();

    let missing = aws_local::unique("orkestra-no-bucket");
    let wrong_bucket =
        DynamoStateStore::new(&fixture.config, &fixture.table, Some(missing.clone()));
    match wrong_bucket
        .put(&fixture.table, &pk, large(), next_week())
        .await
    {
        Err(StateDataError::UnknownTable { table }) => assert_eq!(table, missing),
        other => panic!("expected UnknownTable naming the bucket, got {other:?}"),
    }
}

/// The issue's example size: 10,000 records of 1 KB through one put_many, read back in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_of_1_kb() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let store = fixture.store();
    let pk = fresh_partition("records");
    let items: Vec<StoredItem> = (0..10_000)
        .map(|index| StoredItem {
            index,
            data: sized_json(1024, index),
        })
        .collect();
    let started = Instant::now();
    store
        .put_many(&fixture.table, &pk, items, next_week())
        .await
        .unwrap();
    let written = started.elapsed();
    let all = store.get_all(&fixture.table, &pk).await.unwrap();
    eprintln!(
        "moto: put_many 10,000 x 1 KB in {written:?}, get_all in {:?}",
        started.elapsed() - written
    );
    assert_eq!(all.len(), 10_000);
    for (index, item) in all.iter().enumerate() {
        assert_eq!(item.index, index as u64);
    }
    assert!(all[9_999].data == sized_json(1024, 9_999));
}

const CHILD_VAR: &str = "ORKESTRA_TEST_FROM_ENV_CHILD";

/// Run in a child process (see below): `DynamoStateStore::from_env()` with the environment
/// the parent set, a large item through DynamoDB and S3.
async fn from_env_child() {
    match DynamoStateStore::from_env().await {
        Ok(store) => {
            let table = store.default_table().to_string();
            let pk = fresh_partition("from-env");
            let data = sized_json(MAX_ITEM_BYTES + 1, 9);
            store
                .put(
                    &table,
                    &pk,
                    StoredItem {
                        index: 0,
                        data: data.clone(),
                    },
                    next_week(),
                )
                .await
                .unwrap();
            assert!(store.get(&table, &pk, 0).await.unwrap().unwrap().data == data);
            println!("CHILD OK");
        }
        Err(error) => println!("CHILD ERROR: {error}"),
    }
}

/// `from_env` reads the table and bucket from ORKESTRA_STATE_TABLE / ORKESTRA_STATE_BUCKET and
/// the endpoint from the SDK's standard variables: `AWS_ENDPOINT_URL`, and the per-service
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_S3`, which win over it. Each case runs
/// in a child process so no test changes this process's environment.
#[tokio::test]
async fn from_env_uses_the_standard_variables() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return from_env_child().await;
    }
    let Some(fixture) = fixture().await else {
        return;
    };
    let endpoint = aws_local::endpoint().unwrap();
    let run = |vars: &[(&str, &str)], remove: &[&str]| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "from_env_uses_the_standard_variables",
                "--nocapture",
            ])
            .env(CHILD_VAR, "1")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ORKESTRA_STATE_TABLE", &fixture.table)
            .env("ORKESTRA_STATE_BUCKET", &fixture.bucket)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
            .env_remove("AWS_ENDPOINT_URL_S3");
        for (key, value) in vars {
            command.env(key, value);
        }
        for key in remove {
            command.env_remove(key);
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.success(),
            stdout + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&[("AWS_ENDPOINT_URL", &endpoint)], &[]);
    assert!(ok && out.contains("CHILD OK"), "AWS_ENDPOINT_URL:\n{out}");
    // A dead global endpoint: only the per-service variables can make this pass.
    let (ok, out) = run(
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
            ("AWS_ENDPOINT_URL_S3", &endpoint),
        ],
        &[],
    );
    assert!(
        ok && out.contains("CHILD OK"),
        "per-service variables:\n{out}"
    );
    let (_, out) = run(
        &[("AWS_ENDPOINT_URL", &endpoint)],
        &["ORKESTRA_STATE_TABLE"],
    );
    assert!(
        out.contains("CHILD ERROR: environment variable ORKESTRA_STATE_TABLE is not set"),
        "{out}"
    );
}

/// The environment a process needs to reach the fixture's table and bucket on the local server.
fn aws_env(command: &mut Command, fixture: &Fixture, endpoint: &str) {
    command
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("ORKESTRA_STATE_TABLE", &fixture.table)
        .env("ORKESTRA_STATE_BUCKET", &fixture.bucket)
        .env_remove("AWS_PROFILE");
}

/// The example workflow (2,000 records of 1 KB: 2 MB, eight times a state's payload limit)
/// gives the same summary on DynamoDB + S3 as on the embedded store, and leaves no rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_workflow_gives_the_same_result_on_dynamodb_as_on_sqlite() {
    use orkestra::engine::{Engine, ExecutionStatus};
    let Some(fixture) = fixture().await else {
        return;
    };
    let input = serde_json::json!({"records": 2_000, "record_bytes": 1_000});
    let workflow = example::state_data_example();
    let dynamo = Engine::default()
        .with_state_store(Arc::new(fixture.store()))
        .run(&workflow, input.clone())
        .await;
    assert_eq!(
        dynamo.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        dynamo.error
    );
    let dir = std::env::temp_dir().join(aws_local::unique("orkestra-example-sqlite"));
    let sqlite = Engine::default()
        .with_state_store(Arc::new(
            orkestra::state_data::SqliteStateStore::open(dir.join("orkestra.db")).unwrap(),
        ))
        .run(&workflow, input)
        .await;
    assert_eq!(sqlite.status, ExecutionStatus::Succeeded);
    assert_eq!(dynamo.output, sqlite.output, "same summary on both stores");
    let summary: example::Summary = serde_json::from_value(dynamo.output.unwrap()).unwrap();
    assert_eq!(summary.records, 2_000);
    assert_eq!(summary.bytes, 2_000 * 1_000);
    assert_eq!(summary.deleted, 2_000);
    let left = fixture
        .store()
        .get_all(&fixture.table, &format!("{}:records", dynamo.execution_id))
        .await
        .unwrap();
    assert!(left.is_empty(), "the last task deleted the records");
    let _ = std::fs::remove_dir_all(dir);
}

/// `run` of a binary built with `aws` keeps state data in the table `ORKESTRA_STATE_TABLE`
/// names, not in the project's SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_uses_the_configured_dynamodb_table() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let endpoint = aws_local::endpoint().unwrap();
    let db = std::env::temp_dir()
        .join(aws_local::unique("orkestra-run-dynamo"))
        .join("orkestra.db");
    let mut command = Command::new(examples::example_binary("state_data"));
    command
        .args(["run", "--input", r#"{"records": 300, "record_bytes": 100}"#])
        .env("ORKESTRA_DB", &db);
    aws_env(&mut command, &fixture, &endpoint);
    let out = command.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"]["records"], 300);
    assert_eq!(report["output"]["deleted"], 300);
    assert!(!db.exists(), "nothing went to the SQLite file");
}

/// In Lambda mode the binary gives its tasks the DynamoDB store of `ORKESTRA_STATE_TABLE`:
/// one function stores the records, another reads one back through a map iteration's input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_functions_share_state_data_through_the_configured_table() {
    use runtime_api::{Kind, RuntimeApi};
    let Some(fixture) = fixture().await else {
        return;
    };
    let endpoint = aws_local::endpoint().unwrap();
    let serve = |handler: &str| {
        let api = RuntimeApi::start();
        let mut command = Command::new(examples::example_binary("state_data"));
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("_HANDLER", handler)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("orkestra-{handler}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdout(std::process::Stdio::null());
        aws_env(&mut command, &fixture, &endpoint);
        (api, KillOnDrop(command.spawn().unwrap()))
    };
    let execution = "arn:aws:states:us-east-1:123456789012:execution:state-data:lambda-1";
    let meta = |state: &str| {
        serde_json::json!({"execution_id": execution, "state_machine": "state-data",
                           "state": state, "retry_count": 0})
    };

    let (api, _produce) = serve("produce_records");
    let event = serde_json::json!({"input": {"records": 5, "record_bytes": 3},
                                   "meta": meta("produce_records")});
    let posted = api.invoke(event.to_string().as_bytes());
    assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
    let pointer = posted.json();
    assert_eq!(pointer["table_name"], fixture.table.as_str());
    assert_eq!(pointer["partition_key"], format!("{execution}:records"));
    let rows = fixture
        .store()
        .get_all(&fixture.table, &format!("{execution}:records"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5, "the records are in DynamoDB");

    let (api, _score) = serve("score_record");
    let event = serde_json::json!({
        "input": {"items_result_table_name": fixture.table, "items_result_partition_key":
                  format!("{execution}:records"), "items_result_key": "records",
                  "context_index": 3, "context_value": 3},
        "meta": meta("score_record")});
    let posted = api.invoke(event.to_string().as_bytes());
    assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
    assert_eq!(
        posted.json(),
        serde_json::json!({"category": 3, "bytes": 3})
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
