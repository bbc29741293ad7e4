//! [`DynamoStateStore`]: state data in a DynamoDB table, items over DynamoDB's item limit in
//! an S3 bucket.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use futures_util::{stream, StreamExt, TryStreamExt};

use super::batch::{self, BATCH_SIZE};
use super::config::{required_env, AwsConfig, AwsConfigError, BUCKET_VAR, TABLE_VAR};
use super::error::{self, Target};
use super::item::{self, attribute, Payload, Row};
use super::spill::Spill;
use crate::state_data::{StateDataError, StateDataStore, StoreFuture, StoredItem};

/// S3 transfers (spilled items) in flight at once within one call.
const OBJECT_CONCURRENCY: usize = 16;
/// BatchWriteItem requests in flight at once within one `put_many`.
const BATCH_CONCURRENCY: usize = 4;

/// State data on DynamoDB (+ S3): the backend of `ctx.state_data()` in AWS.
///
/// A row is `partition_key` (S), `sort_key` (N, the index), `expires_at` (N, the table's TTL
/// attribute) and `data` (the JSON text). An item too large for a DynamoDB row
/// ([`MAX_ITEM_BYTES`](super::MAX_ITEM_BYTES) with the rest of the row) is written to the state
/// bucket and the row holds its object key instead (`data_s3_key`). Reads are strongly
/// consistent and skip rows whose `expires_at` has passed (DynamoDB deletes them only
/// eventually); throttling is retried with backoff; every write goes to the table it names.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use orkestra::aws::{AwsConfig, DynamoStateStore};
/// use orkestra::state_data::{StateDataStore, StoredItem};
/// // In Lambda: ORKESTRA_STATE_TABLE and ORKESTRA_STATE_BUCKET, set by the exported template.
/// let store = DynamoStateStore::from_env().await?;
/// // Or explicitly, e.g. against a local server:
/// let config = AwsConfig::local("http://127.0.0.1:5055").await;
/// let store = DynamoStateStore::new(&config, "orkestra-state", Some("orkestra-state-data".into()));
/// let item = StoredItem { index: 0, data: br#"{"name":"jerry"}"#.to_vec() };
/// store.put("orkestra-state", "exec-1:characters", item, 1_900_000_000).await?;
/// let back = store.get("orkestra-state", "exec-1:characters", 0).await?;
/// assert_eq!(back.unwrap().data, br#"{"name":"jerry"}"#);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    dynamodb: aws_sdk_dynamodb::Client,
    spill: Option<Spill>,
    table: String,
}

impl DynamoStateStore {
    /// A store on `table` (the default table) spilling large items to `bucket`; without a
    /// bucket, an item too large for DynamoDB is an error.
    pub fn new(config: &AwsConfig, table: impl Into<String>, bucket: Option<String>) -> Self {
        DynamoStateStore {
            dynamodb: config.dynamodb(),
            spill: bucket.map(|bucket| Spill {
                client: config.s3(),
                bucket,
            }),
            table: table.into(),
        }
    }

    /// A store from the environment: the table from `ORKESTRA_STATE_TABLE` (required), the
    /// bucket from `ORKESTRA_STATE_BUCKET` (if set), the SDK settings as
    /// [`AwsConfig::from_env`] reads them.
    pub async fn from_env() -> Result<Self, AwsConfigError> {
        let table = required_env(TABLE_VAR, "the DynamoDB table holding state data")?;
        let bucket = std::env::var(BUCKET_VAR).ok().filter(|b| !b.is_empty());
        Ok(DynamoStateStore::new(
            &AwsConfig::from_env().await,
            table,
            bucket,
        ))
    }

    /// The state bucket, if large items can be spilled.
    pub fn bucket(&self) -> Option<&str> {
        self.spill.as_ref().map(|s| s.bucket.as_str())
    }

    /// How many bytes of data a row of `partition_key` holds before the item goes to S3.
    pub fn inline_capacity(partition_key: &str) -> usize {
        item::inline_capacity(partition_key)
    }

    /// The row for `item`, uploading its data to S3 first when it is too large.
    async fn encode(
        &self,
        target: Target<'_>,
        item: StoredItem,
        expires_at: i64,
    ) -> Result<HashMap<String, AttributeValue>, StateDataError> {
        let payload = if item.data.len() <= item::inline_capacity(target.partition_key) {
            Payload::Inline(item.data)
        } else {
            let Some(spill) = &self.spill else {
                return Err(StateDataError::Backend {
                    backend: "dynamodb",
                    operation: "put",
                    table: target.table.to_string(),
                    message: format!(
                        "{target}: the item is {} bytes, over DynamoDB's item limit, and no \
                         state bucket is configured ({BUCKET_VAR})",
                        item.data.len()
                    ),
                });
            };
            Payload::Spilled(spill.put(target, item.data, expires_at).await?)
        };
        Ok(item::row(
            target.partition_key,
            item.index,
            payload,
            expires_at,
        ))
    }

    /// The item of a decoded row, reading its data from S3 if it was spilled.
    async fn load(&self, target: Target<'_>, row: Row) -> Result<StoredItem, StateDataError> {
        let index = row.index;
        match row.payload {
            Payload::Inline(data) => Ok(StoredItem { index, data }),
            Payload::Spilled(key) => {
                let target = Target {
                    index: Some(index),
                    ..target
                };
                let Some(spill) = &self.spill else {
                    return Err(StateDataError::Corrupt {
                        partition_key: target.partition_key.to_string(),
                        table: target.table.to_string(),
                        index,
                        message: format!(
                            "the item is in S3 ({key}) but no state bucket is configured \
                             ({BUCKET_VAR})"
                        ),
                    });
                };
                Ok(StoredItem {
                    index,
                    data: spill.get(target, &key).await?,
                })
            }
        }
    }

    /// Deletes the S3 objects of spilled rows.
    async fn delete_objects(
        &self,
        target: Target<'_>,
        keys: Vec<String>,
    ) -> Result<(), StateDataError> {
        let Some(spill) = &self.spill else {
            return Ok(());
        };
        stream::iter(keys)
            .map(|key| async move { spill.delete(target, &key).await })
            .buffer_unordered(OBJECT_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// Every row of a partition (expired ones included), in index order, following pages.
    async fn query(
        &self,
        target: Target<'_>,
        keys_only: bool,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StateDataError> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .dynamodb
                .query()
                .table_name(target.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", attribute::PARTITION_KEY)
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(target.partition_key.to_string()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if keys_only {
                request = request
                    .projection_expression("#pk, #sk, #s3")
                    .expression_attribute_names("#sk", attribute::SORT_KEY)
                    .expression_attribute_names("#s3", attribute::DATA_S3_KEY);
            }
            let output = request
                .send()
                .await
                .map_err(|e| error::dynamodb("Query", target, e))?;
            rows.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(rows),
            }
        }
    }

    /// Sends write requests for one table in batches of 25, a few batches at a time.
    async fn batch_write(
        &self,
        target: Target<'_>,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StateDataError> {
        let mut batches = Vec::new();
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            batches.push(requests.by_ref().take(BATCH_SIZE).collect::<Vec<_>>());
        }
        stream::iter(batches)
            .map(|batch| async move {
                batch::write_all(
                    batch,
                    |batch| async move {
                        let output = self
                            .dynamodb
                            .batch_write_item()
                            .request_items(target.table, batch)
                            .send()
                            .await
                            .map_err(|e| error::dynamodb("BatchWriteItem", target, e))?;
                        Ok(output
                            .unprocessed_items
                            .and_then(|mut left| left.remove(target.table))
                            .unwrap_or_default())
                    },
                    |left| StateDataError::Backend {
                        backend: "dynamodb",
                        operation: "BatchWriteItem",
                        table: target.table.to_string(),
                        message: format!(
                            "{target}: {left} writes still unprocessed (throttled) after {} \
                             attempts",
                            batch::ATTEMPTS
                        ),
                    },
                )
                .await
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<()>()
            .await
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn spilled_key(row: &HashMap<String, AttributeValue>) -> Option<String> {
    match row.get(attribute::DATA_S3_KEY) {
        Some(AttributeValue::S(key)) => Some(key.clone()),
        _ => None,
    }
}

/// A request builder's "missing field" failure (cannot happen: every field is set).
fn build_error(target: Target<'_>, e: aws_sdk_dynamodb::error::BuildError) -> StateDataError {
    error::backend("dynamodb", "BatchWriteItem", target, &e)
}

impl StateDataStore for DynamoStateStore {
    fn default_table(&self) -> &str {
        &self.table
    }

    fn put<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        item: StoredItem,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let target = Target {
                table,
                partition_key,
                index: Some(item.index),
            };
            let row = self.encode(target, item, expires_at).await?;
            let output = self
                .dynamodb
                .put_item()
                .table_name(table)
                .set_item(Some(row))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| error::dynamodb("PutItem", target, e))?;
            // A replaced item's old S3 object is deleted now rather than at its expiry.
            let old = output.attributes.as_ref().and_then(spilled_key);
            self.delete_objects(target, old.into_iter().collect()).await
        })
    }

    fn put_many<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        items: Vec<StoredItem>,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let target = Target {
                table,
                partition_key,
                index: None,
            };
            let rows: Vec<_> = stream::iter(items)
                .map(|item| {
                    let target = Target {
                        index: Some(item.index),
                        ..target
                    };
                    async move { self.encode(target, item, expires_at).await }
                })
                .buffered(OBJECT_CONCURRENCY)
                .try_collect()
                .await?;
            let requests = rows
                .into_iter()
                .map(|row| {
                    let put = PutRequest::builder()
                        .set_item(Some(row))
                        .build()
                        .map_err(|e| build_error(target, e))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StateDataError>>()?;
            self.batch_write(target, requests).await
        })
    }

    fn get<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: u64,
    ) -> StoreFuture<'a, Option<StoredItem>> {
        Box::pin(async move {
            let target = Target {
                table,
                partition_key,
                index: Some(index),
            };
            let output = self
                .dynamodb
                .get_item()
                .table_name(table)
                .set_key(Some(item::key(partition_key, index)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| error::dynamodb("GetItem", target, e))?;
            let Some(row) = output.item else {
                return Ok(None);
            };
            let row = item::decode(table, partition_key, &row)?;
            if row.expired(now()) {
                return Ok(None);
            }
            self.load(target, row).await.map(Some)
        })
    }

    fn get_all<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
    ) -> StoreFuture<'a, Vec<StoredItem>> {
        Box::pin(async move {
            let target = Target {
                table,
                partition_key,
                index: None,
            };
            let now = now();
            let rows = self.query(target, false).await?;
            let rows = rows
                .iter()
                .map(|row| item::decode(table, partition_key, row))
                .filter(|row| !matches!(row, Ok(row) if row.expired(now)))
                .collect::<Result<Vec<Row>, _>>()?;
            stream::iter(rows)
                .map(|row| self.load(target, row))
                .buffered(OBJECT_CONCURRENCY)
                .try_collect()
                .await
        })
    }

    fn delete<'a>(
        &'a self,
        table: &'a str,
        partition_key: &'a str,
        index: Option<u64>,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let target = Target {
                table,
                partition_key,
                index,
            };
            if let Some(index) = index {
                let output = self
                    .dynamodb
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(item::key(partition_key, index)))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(|e| error::dynamodb("DeleteItem", target, e))?;
                let Some(old) = output.attributes.filter(|a| !a.is_empty()) else {
                    return Ok(0);
                };
                self.delete_objects(target, spilled_key(&old).into_iter().collect())
                    .await?;
                return Ok(1);
            }
            let rows = self.query(target, true).await?;
            let count = rows.len() as u64;
            let objects = rows.iter().filter_map(spilled_key).collect();
            let requests = rows
                .into_iter()
                .map(|mut row| {
                    row.remove(attribute::DATA_S3_KEY);
                    let delete = DeleteRequest::builder()
                        .set_key(Some(row))
                        .build()
                        .map_err(|e| build_error(target, e))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, StateDataError>>()?;
            self.batch_write(target, requests).await?;
            self.delete_objects(target, objects).await?;
            Ok(count)
        })
    }
}
