//! The scheduler queue's store contract, as checks any [`QueueStore`] must pass (SQLite in
//! `tests/scheduler_queue.rs`, DynamoDB in `tests/scheduler_dynamo.rs`). Each check gets two
//! handles on one fresh store (two dispatchers' views); [`suite_tests!`] gives each check its
//! own `#[test]`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use orkestra::scheduler::chunk::ChunkedJob;
use orkestra::scheduler::config::SchedulerConfig;
use orkestra::scheduler::dispatch::{Backoff, DispatchOptions, Dispatcher};
use orkestra::scheduler::store::{now_ms, FailOutcome, QueueStore, RetryPlan};
use orkestra::scheduler::submit;
use orkestra::{compose, Context};
use serde_json::{json, Value};

/// Two handles on one fresh store.
pub type Pair = (Arc<dyn QueueStore>, Arc<dyn QueueStore>);

fn job(labourer: &str, n: usize) -> ChunkedJob {
    ChunkedJob {
        labourer: labourer.into(),
        rerun: false,
        payloads: (0..n).map(|i| json!({"n": i})).collect(),
    }
}

pub fn submission_is_idempotent_and_closed_tasks_need_rerun((queue, other): Pair) {
    let first = submit(&*queue, &job("w", 150), |_| {}).unwrap();
    assert_eq!(first.queued, 150);
    // A second submission (e.g. after a crash part-way) adds only what is missing.
    let again = submit(&*queue, &job("w", 200), |_| {}).unwrap();
    assert_eq!((again.queued, again.already_queued), (50, 150));
    assert_eq!(queue.counts().unwrap()["w"].queued, 200);

    // Complete one task: it is not queued again, unless the job asks for a re-run.
    let t = now_ms();
    let claim = queue.claim("w", 10, 1, 60_000, "me", t).unwrap().remove(0);
    assert_eq!(claim.payload, json!({"n": 0}), "oldest first");
    assert!(queue.complete(&claim, t + 1).unwrap());
    let one = ChunkedJob {
        payloads: vec![json!({"n": 0})],
        ..job("w", 0)
    };
    assert_eq!(submit(&*queue, &one, |_| {}).unwrap().already_closed, 1);
    let rerun = ChunkedJob {
        rerun: true,
        ..one.clone()
    };
    assert_eq!(submit(&*queue, &rerun, |_| {}).unwrap().queued, 1);
    // The other handle sees the same queue.
    assert_eq!(other.counts().unwrap()["w"].queued, 200);
}

pub fn claims_respect_the_limit_and_are_conditional((a, b): Pair) {
    submit(&*a, &job("w", 10), |_| {}).unwrap();
    let t = now_ms();
    let got_a = a.claim("w", 4, 10, 60_000, "a", t).unwrap();
    let got_b = b.claim("w", 4, 10, 60_000, "b", t).unwrap();
    assert_eq!(got_a.len(), 4);
    assert!(
        got_b.is_empty(),
        "the limit counts the other dispatcher's claims"
    );
    // A completion under the wrong lease changes nothing.
    let mut stolen = got_a[0].clone();
    stolen.lease = "b#1".into();
    assert!(!b.complete(&stolen, t + 1).unwrap());
    assert!(a.complete(&got_a[0], t + 1).unwrap());
    assert!(!a.complete(&got_a[0], t + 1).unwrap(), "archived once only");
    let next = b.claim("w", 4, 10, 60_000, "b", t + 2).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].payload, json!({"n": 4}));
    assert_eq!(a.counts().unwrap()["w"].running, 4);
}

pub fn failures_retry_then_dead_letter_with_errors_and_an_audit_trail((queue, _): Pair) {
    submit(&*queue, &job("w", 1), |_| {}).unwrap();
    let plan = |at| RetryPlan {
        max_attempts: 2,
        launch_at_ms: at,
    };
    // Times after the submission's (the audit trail is in time order).
    let t = now_ms() + 10;
    let c1 = queue.claim("w", 1, 1, 1000, "me", t).unwrap().remove(0);
    assert_eq!(
        queue
            .fail(&c1, ("Boom", "first"), plan(t + 100), t + 1)
            .unwrap(),
        FailOutcome::Retrying
    );
    assert_eq!(queue.counts().unwrap()["w"].retrying, 1);
    assert_eq!(queue.next_retry_at().unwrap(), Some(t + 100));
    assert_eq!(queue.requeue_due(t + 99).unwrap(), 0, "not yet due");
    assert_eq!(queue.requeue_due(t + 100).unwrap(), 1);
    let c2 = queue
        .claim("w", 1, 1, 1000, "me", t + 101)
        .unwrap()
        .remove(0);
    assert_eq!(c2.attempts, 2);
    assert_eq!(
        queue
            .fail(&c2, ("Boom", "second"), plan(t + 200), t + 102)
            .unwrap(),
        FailOutcome::Dead
    );
    let dead = queue.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2);
    let messages: Vec<&str> = dead[0]
        .errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["first", "second"]);
    let events: Vec<String> = queue
        .audit(&c1.task_id)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        ["created", "invoked", "failed", "retried", "invoked", "failed", "dead"]
    );
    let counts = queue.counts().unwrap()["w"];
    assert_eq!((counts.dead, counts.pending()), (1, 0));
}

pub fn the_scavenger_expires_leases_past_their_end((queue, _): Pair) {
    submit(&*queue, &job("w", 2), |_| {}).unwrap();
    let t = now_ms() + 10;
    let claims = queue.claim("w", 5, 5, 1000, "gone", t).unwrap();
    assert_eq!(claims.len(), 2);
    let plan = |_: &str, _: u32| RetryPlan {
        max_attempts: 3,
        launch_at_ms: 0,
    };
    assert!(
        queue.expire(t + 1500, 1000, &plan).unwrap().is_empty(),
        "within grace"
    );
    let expired = queue.expire(t + 2001, 1000, &plan).unwrap();
    assert_eq!(expired.len(), 2);
    assert!(expired.iter().all(|(_, o)| *o == FailOutcome::Retrying));
    // The dead dispatcher's late report changes nothing.
    assert!(!queue.complete(&claims[0], t + 2002).unwrap());
    let trail = queue.audit(&claims[0].task_id).unwrap();
    assert!(trail.iter().any(|e| e.event == "expired"));
    assert_eq!(queue.counts().unwrap()["w"].running, 0);
}

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Records how many of its invocations run at once.
#[compose(max_simultaneous_invocations = 4)]
pub async fn suite_labourer(event: Value, _ctx: &Context) -> Value {
    let now = CURRENT.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    CURRENT.fetch_sub(1, Ordering::SeqCst);
    event
}

pub fn two_dispatchers_drain_within_the_limit((a, b): Pair) {
    submit(&*a, &job("suite_labourer", 60), |_| {}).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = DispatchOptions {
        poll: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        },
        ..DispatchOptions::default()
    };
    let registry = orkestra::Registry::global().unwrap();
    let (ra, rb) = rt.block_on(async {
        let da = Dispatcher::new(
            a.clone(),
            registry,
            SchedulerConfig::default(),
            options.clone(),
        );
        let db = Dispatcher::new(
            b.clone(),
            registry,
            SchedulerConfig::default(),
            options.clone(),
        );
        tokio::join!(da.run(None), db.run(None))
    });
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.completed + rb.completed, 60, "each task completed once");
    let peak = PEAK.load(Ordering::SeqCst);
    assert!(peak <= 4, "peak {peak} exceeds the limit of 4");
    let counts = a.counts().unwrap()["suite_labourer"];
    assert_eq!((counts.completed, counts.pending()), (60, 0));
}

/// One `#[test]` per check, each on `$setup()`'s fresh pair (skipped when it gives `None`).
macro_rules! suite_tests {
    ($setup:path) => {
        scheduler_suite::suite_tests!($setup;
            submission_is_idempotent_and_closed_tasks_need_rerun,
            claims_respect_the_limit_and_are_conditional,
            failures_retry_then_dead_letter_with_errors_and_an_audit_trail,
            the_scavenger_expires_leases_past_their_end,
            two_dispatchers_drain_within_the_limit);
    };
    ($setup:path; $($check:ident),+) => {
        $(
            #[test]
            fn $check() {
                if let Some(pair) = $setup() {
                    scheduler_suite::$check(pair);
                }
            }
        )+
    };
}
pub(crate) use suite_tests;
