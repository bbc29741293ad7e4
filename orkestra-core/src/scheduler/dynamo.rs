//! The queue on DynamoDB (feature `aws`), in sosw's layout: `<prefix>_tasks` (key `task_id`;
//! index `<prefix>_tasks_greenfield` on `labourer_id` + `greenfield`), `<prefix>_retry_tasks`,
//! `<prefix>_closed_tasks`, plus `<prefix>_labourers` (each labourer's running count, the
//! concurrency limit's counter) and `<prefix>_audit` (key `task_id` + `seq`).
//!
//! As in sosw, `greenfield` orders the queue while a task waits (submission time × 1000 +
//! position) and marks it running once claimed ([`RUNNING`] + lease end). Every state change
//! is one `TransactWriteItems` whose conditions hold the lease and the labourer's count, so two
//! dispatchers never exceed the limit nor both own a task.
//!
//! [`QueueStore`] is synchronous (the SQLite queue blocks briefly, like this one); the SDK
//! calls run on a small runtime of this store's own, on its own thread.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde_json::{json, Value};

use super::store::{
    AuditEvent, Claim, DeadLetter, FailOutcome, LabourerCounts, NewTask, QueueStore, RetryPlan,
    StoreError, SubmitReport,
};
use crate::aws::AwsConfig;

/// `greenfield` at and above this marks a running task (below it: the queue order).
pub const RUNNING: i64 = 10_000_000_000_000_000;

/// The tables' names.
#[derive(Debug, Clone)]
struct Names {
    tasks: String,
    index: String,
    retry: String,
    closed: String,
    labourers: String,
    audit: String,
}

impl Names {
    fn new(prefix: &str) -> Names {
        Names {
            tasks: format!("{prefix}_tasks"),
            index: format!("{prefix}_tasks_greenfield"),
            retry: format!("{prefix}_retry_tasks"),
            closed: format!("{prefix}_closed_tasks"),
            labourers: format!("{prefix}_labourers"),
            audit: format!("{prefix}_audit"),
        }
    }
}

/// The queue in DynamoDB tables named `<prefix>_...`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use orkestra::aws::AwsConfig;
/// use orkestra::scheduler::dynamo::{create_tables, DynamoQueue};
/// let config = AwsConfig::local("http://127.0.0.1:5055").await;
/// create_tables(&config, "sosw").await?;
/// let queue = DynamoQueue::new(&config, "sosw");
/// # Ok(()) }
/// ```
pub struct DynamoQueue {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    // Dropping it stops the runtime's thread (never inside an async context).
    _stop: std::sync::mpsc::Sender<()>,
}

impl std::fmt::Debug for DynamoQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoQueue")
            .field("tables", &self.inner.names)
            .finish()
    }
}

struct Inner {
    client: Client,
    names: Names,
}

fn err(operation: &str, e: impl std::error::Error + 'static) -> StoreError {
    StoreError(format!("DynamoDB {operation}: {}", DisplayErrorContext(e)))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn get_n(item: &HashMap<String, AttributeValue>, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// The audit trail's sort key: time, then a per-process sequence (events of one change keep
/// their order), then a random tail (no two processes collide).
fn audit_seq(at: i64) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{at:015}-{n:012}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

impl DynamoQueue {
    /// A queue on the tables `<prefix>_...` (see [`create_tables`]).
    pub fn new(config: &AwsConfig, prefix: &str) -> DynamoQueue {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("orkestra-scheduler-dynamodb".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                let _ = handle_tx.send(rt.handle().clone());
                // Until the queue is dropped.
                let _ = stop_rx.recv();
                drop(rt);
            })
            .expect("spawn the DynamoDB thread");
        DynamoQueue {
            inner: Arc::new(Inner {
                client: config.dynamodb(),
                names: Names::new(prefix),
            }),
            handle: handle_rx.recv().expect("the DynamoDB runtime starts"),
            _stop: stop_tx,
        }
    }

    fn run<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
        &self,
        make: impl FnOnce(Arc<Inner>) -> F,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let future = make(self.inner.clone());
        self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().expect("the DynamoDB runtime stopped")
    }
}

/// Creates the queue's tables `<prefix>_...` (on-demand billing), for local servers and tests.
pub async fn create_tables(config: &AwsConfig, prefix: &str) -> Result<(), StoreError> {
    let names = Names::new(prefix);
    let client = config.dynamodb();
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("complete")
    };
    let def = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .expect("complete")
    };
    let simple = |table: &str, hash: &str| {
        client
            .create_table()
            .table_name(table)
            .key_schema(key(hash, KeyType::Hash))
            .attribute_definitions(def(hash, ScalarAttributeType::S))
            .billing_mode(BillingMode::PayPerRequest)
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(&names.index)
        .key_schema(key("labourer_id", KeyType::Hash))
        .key_schema(key("greenfield", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("complete");
    simple(&names.tasks, "task_id")
        .attribute_definitions(def("labourer_id", ScalarAttributeType::S))
        .attribute_definitions(def("greenfield", ScalarAttributeType::N))
        .global_secondary_indexes(index)
        .send()
        .await
        .map_err(|e| err("CreateTable", e))?;
    for table in [&names.retry, &names.closed] {
        simple(table, "task_id")
            .send()
            .await
            .map_err(|e| err("CreateTable", e))?;
    }
    simple(&names.labourers, "labourer_id")
        .send()
        .await
        .map_err(|e| err("CreateTable", e))?;
    simple(&names.audit, "task_id")
        .key_schema(key("seq", KeyType::Range))
        .attribute_definitions(def("seq", ScalarAttributeType::S))
        .send()
        .await
        .map_err(|e| err("CreateTable", e))?;
    Ok(())
}

type Item = HashMap<String, AttributeValue>;

impl Inner {
    fn audit_put(
        &self,
        task: &str,
        at: i64,
        event: &str,
        detail: Option<&str>,
    ) -> TransactWriteItem {
        let mut item = Item::new();
        item.insert("task_id".into(), s(task));
        item.insert("seq".into(), s(audit_seq(at)));
        item.insert("at".into(), n(at));
        item.insert("event".into(), s(event));
        if let Some(detail) = detail {
            item.insert("detail".into(), s(detail));
        }
        put(&self.names.audit, item, None)
    }

    fn running_delta(&self, labourer: &str, delta: i64) -> TransactWriteItem {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&self.names.labourers)
                    .key("labourer_id", s(labourer))
                    .update_expression("ADD running :d")
                    .expression_attribute_values(":d", n(delta))
                    .build()
                    .expect("complete"),
            )
            .build()
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let canceled = e
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception());
                if canceled {
                    Ok(false)
                } else {
                    Err(err("TransactWriteItems", e))
                }
            }
        }
    }

    async fn get(&self, table: &str, task: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key("task_id", s(task))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| err("GetItem", e))?;
        Ok(out.item)
    }

    async fn scan(
        &self,
        table: &str,
        filter: Option<(&str, Item)>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if let Some((expr, values)) = &filter {
                req = req
                    .filter_expression(*expr)
                    .set_expression_attribute_values(Some(values.clone()));
            }
            let out = req.send().await.map_err(|e| err("Scan", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    async fn queued(&self, labourer: &str, limit: i32) -> Result<Vec<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.names.tasks)
            .index_name(&self.names.index)
            .key_condition_expression("labourer_id = :l AND greenfield < :r")
            .expression_attribute_values(":l", s(labourer))
            .expression_attribute_values(":r", n(RUNNING))
            .scan_index_forward(true)
            .limit(limit)
            .send()
            .await
            .map_err(|e| err("Query", e))?;
        Ok(out.items.unwrap_or_default())
    }

    async fn submit(
        &self,
        tasks: Vec<NewTask>,
        rerun: bool,
        now: i64,
    ) -> Result<SubmitReport, StoreError> {
        let mut report = SubmitReport::default();
        let mut labourers: Vec<&str> = tasks.iter().map(|t| t.labourer_id.as_str()).collect();
        labourers.sort_unstable();
        labourers.dedup();
        for labourer in labourers {
            // The labourer's counter exists before any claim counts on it.
            self.client
                .update_item()
                .table_name(&self.names.labourers)
                .key("labourer_id", s(labourer))
                .update_expression("ADD running :z")
                .expression_attribute_values(":z", n(0))
                .send()
                .await
                .map_err(|e| err("UpdateItem", e))?;
        }
        for (i, task) in tasks.iter().enumerate() {
            let greenfield = now * 1000 + i as i64;
            let absent = |table: &str| {
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(table)
                            .key("task_id", s(&task.task_id))
                            .condition_expression("attribute_not_exists(task_id)")
                            .build()
                            .expect("complete"),
                    )
                    .build()
            };
            let mut item = Item::new();
            item.insert("task_id".into(), s(&task.task_id));
            item.insert("labourer_id".into(), s(&task.labourer_id));
            item.insert("created_at".into(), n(now));
            item.insert("greenfield".into(), n(greenfield));
            item.insert("queue_order".into(), n(greenfield));
            item.insert("attempts".into(), n(0));
            item.insert("payload".into(), s(task.payload.to_string()));
            item.insert("errors".into(), s("[]"));
            let mut items = vec![absent(&self.names.retry)];
            if !rerun {
                items.push(absent(&self.names.closed));
            }
            items.push(put(
                &self.names.tasks,
                item,
                Some("attribute_not_exists(task_id)"),
            ));
            items.push(self.audit_put(&task.task_id, now, "created", None));
            if self.transact(items).await? {
                report.queued += 1;
            } else if !rerun && self.get(&self.names.closed, &task.task_id).await?.is_some() {
                report.already_closed += 1;
            } else {
                report.already_queued += 1;
            }
        }
        Ok(report)
    }

    async fn claim(
        &self,
        labourer: String,
        limit: u32,
        max: usize,
        lease_ms: i64,
        owner: String,
        now: i64,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut claims = Vec::new();
        if max == 0 {
            return Ok(claims);
        }
        for candidate in self.queued(&labourer, (2 * max).min(1000) as i32).await? {
            if claims.len() >= max {
                break;
            }
            let task_id = get_s(&candidate, "task_id");
            let attempts = get_n(&candidate, "attempts").unwrap_or(0) as u32 + 1;
            let lease = format!("{owner}#{attempts}");
            let count = TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.names.labourers)
                        .key("labourer_id", s(&labourer))
                        .update_expression("ADD running :one")
                        .condition_expression("attribute_not_exists(running) OR running < :limit")
                        .expression_attribute_values(":one", n(1))
                        .expression_attribute_values(":limit", n(limit))
                        .build()
                        .expect("complete"),
                )
                .build();
            let take = TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.names.tasks)
                        .key("task_id", s(&task_id))
                        .update_expression("SET lease_owner = :lease, lease_until = :until, attempts = :a, greenfield = :running")
                        .condition_expression("greenfield = :gf AND attribute_not_exists(lease_owner)")
                        .expression_attribute_values(":lease", s(&lease))
                        .expression_attribute_values(":until", n(now + lease_ms))
                        .expression_attribute_values(":a", n(attempts))
                        .expression_attribute_values(":running", n(RUNNING + now + lease_ms))
                        .expression_attribute_values(":gf", candidate.get("greenfield").cloned().unwrap_or_else(|| n(0)))
                        .build()
                        .expect("complete"),
                )
                .build();
            let detail = format!("attempt {attempts} by {owner}");
            let audit = self.audit_put(&task_id, now, "invoked", Some(&detail));
            if self.transact(vec![count, take, audit]).await? {
                claims.push(Claim {
                    task_id,
                    labourer_id: labourer.clone(),
                    payload: serde_json::from_str(&get_s(&candidate, "payload"))
                        .unwrap_or(Value::Null),
                    attempts,
                    lease,
                });
                continue;
            }
            // Either the limit is reached (stop) or another dispatcher took the task (next).
            let counter = self
                .client
                .get_item()
                .table_name(&self.names.labourers)
                .key("labourer_id", s(&labourer))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| err("GetItem", e))?;
            let running = counter
                .item
                .as_ref()
                .and_then(|i| get_n(i, "running"))
                .unwrap_or(0);
            if running >= limit as i64 {
                break;
            }
        }
        Ok(claims)
    }

    /// Moves the leased task (as `item` holds it) out of the tasks table: to closed, or to
    /// retry, with its audit events, on condition that `lease` still holds it.
    ///
    /// `None` when the lease no longer holds; else `Some` of the failure's outcome (`None`
    /// inside for a completion).
    async fn close_or_retry(
        &self,
        item: Item,
        lease: &str,
        outcome: Outcome<'_>,
        now: i64,
    ) -> Result<Option<Option<FailOutcome>>, StoreError> {
        let task_id = get_s(&item, "task_id");
        let labourer = get_s(&item, "labourer_id");
        let attempts = get_n(&item, "attempts").unwrap_or(0);
        let mut errors: Vec<Value> =
            serde_json::from_str(&get_s(&item, "errors")).unwrap_or_default();
        let delete = TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.names.tasks)
                    .key("task_id", s(&task_id))
                    .condition_expression("lease_owner = :lease")
                    .expression_attribute_values(":lease", s(lease))
                    .build()
                    .expect("complete"),
            )
            .build();
        let mut row = Item::new();
        for key in [
            "task_id",
            "labourer_id",
            "created_at",
            "attempts",
            "payload",
        ] {
            if let Some(v) = item.get(key) {
                row.insert(key.into(), v.clone());
            }
        }
        row.insert(
            "greenfield".into(),
            item.get("queue_order").cloned().unwrap_or_else(|| n(0)),
        );
        let mut items = vec![delete, self.running_delta(&labourer, -1)];
        let result = match outcome {
            Outcome::Completed => {
                row.insert("completed_at".into(), n(now));
                row.insert("closed_at".into(), n(now));
                row.insert("outcome".into(), s("completed"));
                row.insert("errors".into(), s(Value::from(errors).to_string()));
                items.push(put(&self.names.closed, row, None));
                items.push(self.audit_put(
                    &task_id,
                    now,
                    "completed",
                    Some(&format!("attempt {attempts}")),
                ));
                items.push(self.audit_put(&task_id, now, "archived", None));
                None
            }
            Outcome::Failed { error, plan, event } => {
                errors.push(json!({"attempt": attempts, "error": error.0, "message": error.1}));
                row.insert("errors".into(), s(Value::from(errors).to_string()));
                let detail = format!("attempt {attempts}: {}: {}", error.0, error.1);
                items.push(self.audit_put(&task_id, now, event, Some(&detail)));
                if attempts >= plan.max_attempts as i64 {
                    row.insert("closed_at".into(), n(now));
                    row.insert("outcome".into(), s("dead"));
                    items.push(put(&self.names.closed, row, None));
                    items.push(self.audit_put(
                        &task_id,
                        now,
                        "dead",
                        Some(&format!("after {attempts} attempts")),
                    ));
                    Some(FailOutcome::Dead)
                } else {
                    row.insert("desired_launch_time".into(), n(plan.launch_at_ms));
                    items.push(put(&self.names.retry, row, None));
                    items.push(self.audit_put(
                        &task_id,
                        now,
                        "retried",
                        Some(&format!("launch at {}", plan.launch_at_ms)),
                    ));
                    Some(FailOutcome::Retrying)
                }
            }
        };
        Ok(self.transact(items).await?.then_some(result))
    }

    async fn leased(&self, claim: &Claim) -> Result<Option<Item>, StoreError> {
        Ok(self
            .get(&self.names.tasks, &claim.task_id)
            .await?
            .filter(|item| get_s(item, "lease_owner") == claim.lease))
    }
}

enum Outcome<'a> {
    Completed,
    Failed {
        error: (&'a str, &'a str),
        plan: RetryPlan,
        event: &'a str,
    },
}

fn put(table: &str, item: Item, condition: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_string))
                .build()
                .expect("complete"),
        )
        .build()
}

impl QueueStore for DynamoQueue {
    fn submit(
        &self,
        tasks: &[NewTask],
        rerun: bool,
        now_ms: i64,
    ) -> Result<SubmitReport, StoreError> {
        let tasks = tasks.to_vec();
        self.run(move |q| async move { q.submit(tasks, rerun, now_ms).await })
    }

    fn claim(
        &self,
        labourer: &str,
        limit: u32,
        max: usize,
        lease_ms: i64,
        owner: &str,
        now_ms: i64,
    ) -> Result<Vec<Claim>, StoreError> {
        let (labourer, owner) = (labourer.to_string(), owner.to_string());
        self.run(
            move |q| async move { q.claim(labourer, limit, max, lease_ms, owner, now_ms).await },
        )
    }

    fn complete(&self, claim: &Claim, now_ms: i64) -> Result<bool, StoreError> {
        let claim = claim.clone();
        self.run(move |q| async move {
            let Some(item) = q.leased(&claim).await? else {
                return Ok(false);
            };
            Ok(
                q.close_or_retry(item, &claim.lease, Outcome::Completed, now_ms)
                    .await?
                    .is_some(),
            )
        })
    }

    fn fail(
        &self,
        claim: &Claim,
        error: (&str, &str),
        plan: RetryPlan,
        now_ms: i64,
    ) -> Result<FailOutcome, StoreError> {
        let claim = claim.clone();
        let (name, message) = (error.0.to_string(), error.1.to_string());
        self.run(move |q| async move {
            let Some(item) = q.leased(&claim).await? else {
                return Ok(FailOutcome::LeaseLost);
            };
            let outcome = Outcome::Failed {
                error: (&name, &message),
                plan,
                event: "failed",
            };
            Ok(q.close_or_retry(item, &claim.lease, outcome, now_ms)
                .await?
                .flatten()
                .unwrap_or(FailOutcome::LeaseLost))
        })
    }

    fn expire(
        &self,
        now_ms: i64,
        grace_ms: i64,
        plan: &dyn Fn(&str, u32) -> RetryPlan,
    ) -> Result<Vec<(String, FailOutcome)>, StoreError> {
        let cutoff = now_ms - grace_ms;
        let expired = self.run(move |q| async move {
            let mut values = Item::new();
            values.insert(":r".into(), n(RUNNING));
            values.insert(":cutoff".into(), n(cutoff));
            q.scan(
                &q.names.tasks,
                Some(("greenfield >= :r AND lease_until < :cutoff", values)),
            )
            .await
        })?;
        let mut out = Vec::new();
        for item in expired {
            let task_id = get_s(&item, "task_id");
            let lease = get_s(&item, "lease_owner");
            let p = plan(
                &get_s(&item, "labourer_id"),
                get_n(&item, "attempts").unwrap_or(0) as u32,
            );
            let outcome = self.run(move |q| async move {
                let message = "the invocation ran past its lease (hung or its dispatcher died)";
                let outcome = Outcome::Failed {
                    error: ("Scheduler.Expired", message),
                    plan: p,
                    event: "expired",
                };
                q.close_or_retry(item, &lease, outcome, now_ms).await
            })?;
            if let Some(Some(outcome)) = outcome {
                out.push((task_id, outcome));
            }
        }
        Ok(out)
    }

    fn requeue_due(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.run(move |q| async move {
            let mut values = Item::new();
            values.insert(":now".into(), n(now_ms));
            let due = q
                .scan(
                    &q.names.retry,
                    Some(("desired_launch_time <= :now", values)),
                )
                .await?;
            let mut moved = 0;
            for mut item in due {
                let task_id = get_s(&item, "task_id");
                let delete = TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&q.names.retry)
                            .key("task_id", s(&task_id))
                            .condition_expression("attribute_exists(task_id)")
                            .build()
                            .expect("complete"),
                    )
                    .build();
                let order = item.get("greenfield").cloned().unwrap_or_else(|| n(0));
                item.insert("queue_order".into(), order);
                if q.transact(vec![
                    delete,
                    put(&q.names.tasks, item, Some("attribute_not_exists(task_id)")),
                ])
                .await?
                {
                    moved += 1;
                }
            }
            Ok(moved)
        })
    }

    fn labourers_with_queued(&self) -> Result<Vec<String>, StoreError> {
        self.run(move |q| async move {
            let mut out = Vec::new();
            for item in q.scan(&q.names.labourers, None).await? {
                let labourer = get_s(&item, "labourer_id");
                if !q.queued(&labourer, 1).await?.is_empty() {
                    out.push(labourer);
                }
            }
            Ok(out)
        })
    }

    fn next_retry_at(&self) -> Result<Option<i64>, StoreError> {
        self.run(move |q| async move {
            Ok(q.scan(&q.names.retry, None)
                .await?
                .iter()
                .filter_map(|i| get_n(i, "desired_launch_time"))
                .min())
        })
    }

    fn counts(&self) -> Result<BTreeMap<String, LabourerCounts>, StoreError> {
        self.run(move |q| async move {
            let mut out: BTreeMap<String, LabourerCounts> = BTreeMap::new();
            for item in q.scan(&q.names.tasks, None).await? {
                let c = out.entry(get_s(&item, "labourer_id")).or_default();
                if get_n(&item, "greenfield").unwrap_or(0) >= RUNNING {
                    c.running += 1;
                } else {
                    c.queued += 1;
                }
            }
            for item in q.scan(&q.names.retry, None).await? {
                out.entry(get_s(&item, "labourer_id")).or_default().retrying += 1;
            }
            for item in q.scan(&q.names.closed, None).await? {
                let c = out.entry(get_s(&item, "labourer_id")).or_default();
                if get_s(&item, "outcome") == "dead" {
                    c.dead += 1;
                } else {
                    c.completed += 1;
                }
            }
            Ok(out)
        })
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.run(move |q| async move {
            let mut values = Item::new();
            values.insert(":dead".into(), s("dead"));
            let mut out: Vec<DeadLetter> = q
                .scan(&q.names.closed, Some(("outcome = :dead", values)))
                .await?
                .iter()
                .map(|i| DeadLetter {
                    task_id: get_s(i, "task_id"),
                    labourer_id: get_s(i, "labourer_id"),
                    attempts: get_n(i, "attempts").unwrap_or(0) as u32,
                    closed_at: get_n(i, "closed_at").unwrap_or(0),
                    payload: serde_json::from_str(&get_s(i, "payload")).unwrap_or(Value::Null),
                    errors: serde_json::from_str(&get_s(i, "errors")).unwrap_or_default(),
                })
                .collect();
            out.sort_by(|a, b| (a.closed_at, &a.task_id).cmp(&(b.closed_at, &b.task_id)));
            Ok(out)
        })
    }

    fn audit(&self, task_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let task_id = task_id.to_string();
        self.run(move |q| async move {
            let mut out = Vec::new();
            let mut start: Option<Item> = None;
            loop {
                let page = q
                    .client
                    .query()
                    .table_name(&q.names.audit)
                    .key_condition_expression("task_id = :t")
                    .expression_attribute_values(":t", s(&task_id))
                    .consistent_read(true)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| err("Query", e))?;
                for i in page.items.unwrap_or_default() {
                    out.push(AuditEvent {
                        task_id: get_s(&i, "task_id"),
                        at: get_n(&i, "at").unwrap_or(0),
                        event: get_s(&i, "event"),
                        detail: i.get("detail").and_then(|d| d.as_s().ok()).cloned(),
                    });
                }
                match page.last_evaluated_key {
                    Some(key) if !key.is_empty() => start = Some(key),
                    _ => return Ok(out),
                }
            }
        })
    }
}
