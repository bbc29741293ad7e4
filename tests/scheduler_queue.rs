//! The scheduler's SQLite queue and the local dispatcher: idempotent submission, conditional
//! claims, the concurrency limit, oldest first, retries with backoff, dead letters, expiry of
//! hung invocations, the audit trail.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orkestra::scheduler::chunk::ChunkedJob;
use orkestra::scheduler::config::SchedulerConfig;
use orkestra::scheduler::dispatch::{Backoff, DispatchOptions, Dispatcher};
use orkestra::scheduler::sqlite::SqliteQueue;
use orkestra::scheduler::store::{NewTask, QueueStore};
use orkestra::scheduler::submit;
use orkestra::{compose, Context, ErrorName, Registry};

#[path = "support/scheduler_suite.rs"]
mod scheduler_suite;
use serde_json::{json, Value};

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "orkestra-sched-{name}-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("q.db")
}

fn uuid_like() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn job(labourer: &str, n: usize) -> ChunkedJob {
    ChunkedJob {
        labourer: labourer.into(),
        rerun: false,
        payloads: (0..n).map(|i| json!({"n": i})).collect(),
    }
}

fn fast_options() -> DispatchOptions {
    DispatchOptions {
        poll: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        },
        grace: Duration::from_millis(300),
        ..DispatchOptions::default()
    }
}

fn registry() -> &'static Registry {
    Registry::global().unwrap()
}

// ---- the store contract, shared with the DynamoDB backend ----

/// Two handles on one fresh SQLite queue.
fn sqlite_pair() -> Option<(Arc<dyn QueueStore>, Arc<dyn QueueStore>)> {
    let path = temp_db("suite");
    Some((
        Arc::new(SqliteQueue::open(&path).unwrap()),
        Arc::new(SqliteQueue::open(&path).unwrap()),
    ))
}

scheduler_suite::suite_tests!(sqlite_pair);

#[test]
fn new_task_ids_are_stable() {
    let a = NewTask::new("w", json!({"b": 1, "a": [1, 2]}));
    let b = NewTask::new("w", json!({"a": [1, 2], "b": 1}));
    assert_eq!(a.task_id, b.task_id);
    assert_ne!(
        a.task_id,
        NewTask::new("w", json!({"a": [2, 1], "b": 1})).task_id
    );
}

// ---- dispatch ----

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ORDER: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Records how many of its invocations run at once.
#[compose(max_simultaneous_invocations = 3)]
pub async fn counting_labourer(event: Value, _ctx: &Context) -> Value {
    let now = CURRENT.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(3)).await;
    CURRENT.fetch_sub(1, Ordering::SeqCst);
    event
}

/// Runs one at a time and records the order it sees tasks in.
#[compose(max_simultaneous_invocations = 1)]
pub fn ordered_labourer(event: Value, _ctx: &Context) -> Value {
    ORDER.lock().unwrap().push(event["n"].as_u64().unwrap());
    event
}

#[derive(Debug, ErrorName)]
pub struct Flaky(u32);

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "attempt {} failed", self.0)
    }
}

/// Fails until the attempt number reaches the event's `succeed_on` (0: always fails).
#[compose(max_attempts = 3)]
pub fn flaky_labourer(event: Value, ctx: &Context) -> Result<Value, Flaky> {
    let succeed_on = event["succeed_on"].as_u64().unwrap() as u32;
    if succeed_on != 0 && ctx.attempt() >= succeed_on {
        Ok(event)
    } else {
        Err(Flaky(ctx.attempt()))
    }
}

/// Hangs on its first attempt, answers at once after.
#[compose]
pub async fn hanging_labourer(event: Value, ctx: &Context) -> Value {
    if ctx.attempt() == 1 {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dispatch_never_exceeds_max_simultaneous_invocations() {
    let queue = Arc::new(SqliteQueue::open(temp_db("peak")).unwrap());
    submit(&*queue, &job("counting_labourer", 120), |_| {}).unwrap();
    let report = Dispatcher::new(
        queue.clone(),
        registry(),
        SchedulerConfig::default(),
        fast_options(),
    )
    .run(None)
    .await
    .unwrap();
    assert_eq!(report.completed, 120);
    let peak = PEAK.load(Ordering::SeqCst);
    assert!(peak <= 3, "peak {peak} exceeds the limit of 3");
    assert!(peak >= 2, "the dispatcher ran one at a time (peak {peak})");
    assert_eq!(queue.counts().unwrap()["counting_labourer"].completed, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_labourers_config_overrides_the_limit_and_oldest_run_first() {
    let queue = Arc::new(SqliteQueue::open(temp_db("order")).unwrap());
    submit(&*queue, &job("ordered_labourer", 40), |_| {}).unwrap();
    submit(&*queue, &job("ordered_labourer", 60), |_| {}).unwrap();
    let config = SchedulerConfig::parse(
        r#"{"labourers":{"ordered_labourer":{"max_simultaneous_invocations":1}}}"#,
    )
    .unwrap();
    let limits = config.limits("counting_labourer", registry().task("counting_labourer"));
    assert_eq!(limits.max_simultaneous_invocations, 3, "from #[compose]");
    let overridden = SchedulerConfig::parse(
        r#"{"labourers":{"counting_labourer":{"max_simultaneous_invocations":7,"max_attempts":9}}}"#,
    )
    .unwrap()
    .limits("counting_labourer", registry().task("counting_labourer"));
    assert_eq!(
        (
            overridden.max_simultaneous_invocations,
            overridden.max_attempts
        ),
        (7, 9)
    );
    Dispatcher::new(queue, registry(), config, fast_options())
        .run(None)
        .await
        .unwrap();
    let order = ORDER.lock().unwrap().clone();
    assert_eq!(order, (0..60).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_dead_lettered_at_max_attempts() {
    let queue = Arc::new(SqliteQueue::open(temp_db("flaky")).unwrap());
    let payloads = vec![json!({"succeed_on": 2}), json!({"succeed_on": 0})];
    let job = ChunkedJob {
        labourer: "flaky_labourer".into(),
        rerun: false,
        payloads,
    };
    submit(&*queue, &job, |_| {}).unwrap();
    let report = Dispatcher::new(
        queue.clone(),
        registry(),
        SchedulerConfig::default(),
        fast_options(),
    )
    .run(None)
    .await
    .unwrap();
    assert_eq!(report.completed, 1);
    assert_eq!(report.dead, 1);
    assert_eq!(
        report.retried, 3,
        "one retry of the first, two of the second"
    );
    let dead = queue.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload, json!({"succeed_on": 0}));
    assert_eq!(dead[0].attempts, 3);
    let errors: Vec<&str> = dead[0]
        .errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        errors,
        ["attempt 1 failed", "attempt 2 failed", "attempt 3 failed"]
    );
    assert!(dead[0].errors.iter().all(|e| e["error"] == "Flaky"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_invocation_expires_and_is_retried() {
    let queue = Arc::new(SqliteQueue::open(temp_db("hung")).unwrap());
    submit(&*queue, &job("hanging_labourer", 1), |_| {}).unwrap();
    let config =
        SchedulerConfig::parse(r#"{"labourers":{"hanging_labourer":{"lease_secs":1}}}"#).unwrap();
    let started = std::time::Instant::now();
    let report = Dispatcher::new(queue.clone(), registry(), config, fast_options())
        .run(None)
        .await
        .unwrap();
    assert_eq!((report.expired, report.completed), (1, 1));
    assert!(started.elapsed() < Duration::from_secs(20));
    let id = NewTask::new("hanging_labourer", json!({"n": 0})).task_id;
    let events: Vec<String> = queue
        .audit(&id)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            "created",
            "invoked",
            "failed",
            "retried",
            "invoked",
            "completed",
            "archived"
        ]
    );
    let trail = queue.audit(&id).unwrap();
    assert!(trail[2]
        .detail
        .as_deref()
        .unwrap()
        .contains("Scheduler.Expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_labourer_is_dead_lettered_with_a_clear_error() {
    let queue = Arc::new(SqliteQueue::open(temp_db("unknown")).unwrap());
    submit(&*queue, &job("not_registered", 1), |_| {}).unwrap();
    let report = Dispatcher::new(
        queue.clone(),
        registry(),
        SchedulerConfig::default(),
        fast_options(),
    )
    .run(None)
    .await
    .unwrap();
    assert_eq!(report.dead, 1);
    let dead = queue.dead_letters().unwrap();
    let message = dead[0].errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("no task named `not_registered`"),
        "{message}"
    );
    let counts: BTreeMap<_, _> = queue.counts().unwrap();
    assert_eq!(counts["not_registered"].dead, 1);
}
