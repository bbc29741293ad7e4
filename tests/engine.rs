//! Local engine behaviour: Step Functions semantics that a workflow relies on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use orkestra::engine::EventKind;
use orkestra::{compose, Captured, Context, Engine, EngineConfig, ExecutionStatus, TaskError};
use serde_json::{json, Value};

#[derive(Debug, orkestra::ErrorName)]
enum Trouble {
    Boom,
    #[error_name = "Custom.Name"]
    Renamed,
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "trouble: {self:?}")
    }
}

async fn run(workflow: orkestra::Workflow, input: Value) -> orkestra::Execution {
    Engine::default().run(&workflow, input).await
}

// ---- halting on the first failure -------------------------------------------------------

static AFTER_FAILURE_RAN: AtomicUsize = AtomicUsize::new(0);

#[compose]
fn fails_on_negative(n: i64, _ctx: &Context) -> Result<i64, Trouble> {
    if n < 0 {
        Err(Trouble::Boom)
    } else {
        Ok(n)
    }
}

#[compose]
fn counts_runs(n: i64, _ctx: &Context) -> i64 {
    AFTER_FAILURE_RAN.fetch_add(1, Ordering::SeqCst);
    n
}

orkestra::workflow!(halting = fails_on_negative >> counts_runs);

#[tokio::test]
async fn the_first_uncaught_error_halts_the_execution() {
    let execution = run(halting(), json!(-1)).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    let error = execution.error.as_ref().unwrap();
    assert_eq!(error.name(), "Boom");
    assert_eq!(
        execution.to_json(),
        json!({"status": "FAILED", "error": "Boom",
               "cause": r#"{"errorType":"Boom","errorMessage":"trouble: Boom"}"#})
    );
    assert_eq!(AFTER_FAILURE_RAN.load(Ordering::SeqCst), 0);
    assert_eq!(execution.history.count(EventKind::LambdaFunctionFailed), 1);
    assert_eq!(execution.history.count(EventKind::ExecutionFailed), 1);
    assert_eq!(execution.history.count(EventKind::TaskStateExited), 0);

    let ok = run(halting(), json!(5)).await;
    assert_eq!(ok.output, Some(json!(5)));
    assert_eq!(AFTER_FAILURE_RAN.load(Ordering::SeqCst), 1);
}

#[compose]
fn renamed_error(_n: i64, _ctx: &Context) -> Result<i64, Trouble> {
    Err(Trouble::Renamed)
}

orkestra::workflow!(renaming = renamed_error);

#[tokio::test]
async fn variant_names_can_be_overridden() {
    let execution = run(renaming(), json!(1)).await;
    assert_eq!(execution.error.unwrap().name(), "Custom.Name");
}

// ---- maps: captured errors, order, concurrency ------------------------------------------------

#[compose(map, capture_errors)]
fn inverse(n: i64, _ctx: &Context) -> Result<f64, Trouble> {
    if n == 0 {
        Err(Trouble::Boom)
    } else {
        Ok(1.0 / n as f64)
    }
}

#[compose(map)]
fn error_or_value(item: Captured<f64>, _ctx: &Context) -> String {
    match item {
        Captured::Ok(v) => format!("ok {v}"),
        Captured::Err(e) => format!("{} / {}", e.name(), e.message()),
    }
}

orkestra::workflow!(capturing = inverse >> error_or_value);

#[tokio::test]
async fn captured_item_errors_become_values_and_the_map_goes_on() {
    let execution = run(capturing(), json!([1, 0, 2])).await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.error
    );
    assert_eq!(
        execution.output.unwrap(),
        json!(["ok 1", "Boom / trouble: Boom", "ok 0.5"])
    );
    assert_eq!(execution.history.count(EventKind::MapIterationSucceeded), 6);
    assert_eq!(execution.history.count(EventKind::LambdaFunctionFailed), 1);
}

orkestra::workflow!(capturing_only = inverse);

#[tokio::test]
async fn a_captured_error_serialises_as_step_functions_catch_output() {
    let execution = run(capturing_only(), json!([0])).await;
    assert_eq!(
        execution.output.unwrap(),
        json!([{"Error": "Boom", "Cause": r#"{"errorType":"Boom","errorMessage":"trouble: Boom"}"#}])
    );
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[compose(map, max_concurrency = 3)]
async fn slow_square(n: u64, ctx: &Context) -> u64 {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    // Later items finish first, so completion order is the reverse of input order.
    tokio::time::sleep(Duration::from_millis(40 - n)).await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    assert_eq!(ctx.map_index(), Some(n as usize));
    n * n
}

orkestra::workflow!(squares = slow_square);

#[tokio::test]
async fn map_keeps_input_order_and_honours_max_concurrency() {
    let input: Vec<u64> = (0..20).collect();
    let execution = run(squares(), json!(input)).await;
    let expected: Vec<u64> = input.iter().map(|n| n * n).collect();
    assert_eq!(execution.output.unwrap(), json!(expected));
    assert_eq!(
        PEAK.load(Ordering::SeqCst),
        3,
        "peak of concurrently running items"
    );
}

static STARTED_ITEMS: AtomicUsize = AtomicUsize::new(0);

#[compose(map, max_concurrency = 2)]
async fn fails_at_three(n: u64, _ctx: &Context) -> Result<u64, Trouble> {
    STARTED_ITEMS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    if n == 3 {
        Err(Trouble::Boom)
    } else {
        Ok(n)
    }
}

orkestra::workflow!(failing_map = fails_at_three);

#[tokio::test]
async fn an_uncaptured_item_error_fails_the_whole_map_and_cancels_the_rest() {
    let execution = run(failing_map(), json!((0..100).collect::<Vec<u64>>())).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.unwrap().name(), "Boom");
    let started = STARTED_ITEMS.load(Ordering::SeqCst);
    assert!(
        started < 10,
        "items after the failure were not started: {started}"
    );
    assert_eq!(execution.history.count(EventKind::MapIterationFailed), 1);
    assert_eq!(execution.history.count(EventKind::MapStateFailed), 1);
}

#[tokio::test]
async fn a_map_fed_a_non_list_fails_with_states_runtime() {
    let execution = run(squares(), json!({"not": "a list"})).await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "States.Runtime");
    assert!(
        error.message().contains("slow_square"),
        "{}",
        error.message()
    );
}

// ---- parallel groups -------------------------------------------------------------------------

#[compose]
fn plus_one(n: i64, _ctx: &Context) -> i64 {
    n + 1
}

#[compose]
fn times_ten(n: i64, _ctx: &Context) -> i64 {
    n * 10
}

#[compose]
fn always_fails(_n: i64, _ctx: &Context) -> Result<i64, Trouble> {
    Err(Trouble::Boom)
}

#[compose]
fn describe_pair(pair: (Captured<i64>, Captured<i64>), _ctx: &Context) -> String {
    let describe = |slot: Captured<i64>| match slot {
        Captured::Ok(v) => v.to_string(),
        Captured::Err(e) => format!("error {}", e.name()),
    };
    format!("{} and {}", describe(pair.0), describe(pair.1))
}

#[compose]
fn add_pair(pair: (i64, i64), _ctx: &Context) -> i64 {
    pair.0 + pair.1
}

orkestra::workflow!(fail_fast_group = plus_one >> [times_ten, always_fails] >> add_pair);
orkestra::workflow!(swallowing_group = plus_one >> (times_ten, always_fails) >> describe_pair);
orkestra::workflow!(
    sub_chain_branches = [plus_one >> times_ten, times_ten >> plus_one] >> add_pair
);
orkestra::workflow!(nested_groups = [plus_one, [times_ten, plus_one] >> add_pair] >> add_pair);
orkestra::workflow!(
    explicit_forms = plus_one >> swallow((times_ten, always_fails)) >> describe_pair
);

#[compose]
fn count_items(items: Vec<i64>, _ctx: &Context) -> usize {
    items.len()
}

orkestra::workflow!(map_in_branch = (inverse, count_items));

#[tokio::test]
async fn a_branch_may_be_a_map_job() {
    let execution = run(map_in_branch(), json!([2, 0])).await;
    let output = execution.output.unwrap();
    assert_eq!(output[0][0], json!(0.5));
    assert_eq!(output[0][1]["Error"], json!("Boom"));
    assert_eq!(output[1], json!(2));
}

#[tokio::test]
async fn a_fail_fast_group_halts_on_a_branch_error() {
    let execution = run(fail_fast_group(), json!(1)).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.unwrap().name(), "Boom");
    assert_eq!(execution.history.count(EventKind::ParallelStateFailed), 1);
}

#[tokio::test]
async fn a_swallowing_group_puts_the_error_in_its_slot() {
    let execution = run(swallowing_group(), json!(1)).await;
    assert_eq!(execution.output.unwrap(), json!("20 and error Boom"));
    let explicit = run(explicit_forms(), json!(1)).await;
    assert_eq!(explicit.output.unwrap(), json!("20 and error Boom"));
}

#[tokio::test]
async fn branches_may_be_chains_and_groups() {
    // (1 + 1) * 10 = 20 and 1 * 10 + 1 = 11.
    assert_eq!(
        run(sub_chain_branches(), json!(1)).await.output.unwrap(),
        json!(31)
    );
    // 2 + (10 + 2) = 14.
    assert_eq!(
        run(nested_groups(), json!(1)).await.output.unwrap(),
        json!(14)
    );
}

#[test]
fn a_task_used_twice_gets_two_state_names() {
    let workflow = nested_groups();
    let names: Vec<&str> = workflow
        .root()
        .tasks()
        .iter()
        .map(|t| t.state_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "plus_one",
            "times_ten",
            "plus_one_2",
            "add_pair",
            "add_pair_2"
        ]
    );
}

// ---- retries, timeouts, panics ------------------------------------------------------------

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);

#[compose(retry(max_attempts = 2, interval_secs = 1, backoff_rate = 2.0, errors = ["Boom"]))]
fn flaky(n: i64, ctx: &Context) -> Result<i64, Trouble> {
    let call = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        ctx.retry_count() as usize,
        call,
        "the context carries the retry count"
    );
    if call < 2 {
        Err(Trouble::Boom)
    } else {
        Ok(n)
    }
}

orkestra::workflow!(retrying = flaky);

#[tokio::test(start_paused = true)]
async fn retry_runs_max_attempts_retries_after_the_first_attempt_with_backoff() {
    let started = tokio::time::Instant::now();
    let execution = run(retrying(), json!(7)).await;
    assert_eq!(execution.output, Some(json!(7)));
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 3);
    // Waits of 1 s then 2 s (interval 1, backoff rate 2), on tokio's paused clock.
    assert_eq!(started.elapsed().as_secs(), 3);
    assert_eq!(execution.history.count(EventKind::LambdaFunctionFailed), 2);
    assert_eq!(
        execution.history.count(EventKind::LambdaFunctionSucceeded),
        1
    );
}

static EXHAUSTED_CALLS: AtomicUsize = AtomicUsize::new(0);

#[compose(retry(max_attempts = 1, errors = ["Other"]), retry(max_attempts = 2))]
fn never_works(_n: i64, _ctx: &Context) -> Result<i64, Trouble> {
    EXHAUSTED_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(Trouble::Boom)
}

orkestra::workflow!(exhausting = never_works);

#[tokio::test(start_paused = true)]
async fn the_first_matching_rule_decides_and_exhausted_retries_fail() {
    let execution = run(exhausting(), json!(1)).await;
    assert_eq!(execution.error.unwrap().name(), "Boom");
    // The second rule (States.ALL) matches: 1 attempt + 2 retries.
    assert_eq!(EXHAUSTED_CALLS.load(Ordering::SeqCst), 3);
}

#[compose(timeout_secs = 2)]
async fn sleeps_too_long(n: i64, ctx: &Context) -> i64 {
    assert!(ctx.remaining_time().unwrap() <= Duration::from_secs(2));
    tokio::time::sleep(Duration::from_secs(60)).await;
    n
}

orkestra::workflow!(timing_out = sleeps_too_long);

#[tokio::test(start_paused = true)]
async fn a_task_past_its_timeout_fails_with_states_timeout() {
    let execution = run(timing_out(), json!(1)).await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "States.Timeout");
    assert_eq!(
        execution.history.count(EventKind::LambdaFunctionTimedOut),
        1
    );
}

#[compose(timeout_secs = 1)]
fn sync_sleeper(millis: u64, _ctx: &Context) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    millis
}

orkestra::workflow!(sync_timing_out = sync_sleeper);

#[tokio::test]
async fn a_sync_task_with_a_timeout_is_abandoned_at_the_deadline() {
    let execution = run(sync_timing_out(), json!(1500)).await;
    assert_eq!(execution.error.unwrap().name(), "States.Timeout");
    let quick = run(sync_timing_out(), json!(1)).await;
    assert_eq!(quick.output, Some(json!(1)));
}

#[compose]
fn panics(n: i64, _ctx: &Context) -> i64 {
    if n > 0 {
        panic!("no positive numbers, got {n}");
    }
    n
}

#[compose]
async fn panics_async(n: i64, _ctx: &Context) -> i64 {
    tokio::task::yield_now().await;
    panic!("async panic with {n}");
}

orkestra::workflow!(panicking = panics);
orkestra::workflow!(panicking_async = panics_async);

#[tokio::test]
async fn a_panic_is_reported_and_the_engine_carries_on() {
    let execution = run(panicking(), json!(3)).await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "Orkestra.Panic");
    assert_eq!(error.message(), "no positive numbers, got 3");
    let execution = run(panicking_async(), json!(4)).await;
    assert_eq!(execution.error.unwrap().message(), "async panic with 4");
    // The same engine still runs workflows.
    assert_eq!(run(panicking(), json!(-1)).await.output, Some(json!(-1)));
}

// ---- payload limit, bad input, context ---------------------------------------------------------

#[compose]
fn big_string(n: usize, _ctx: &Context) -> String {
    "x".repeat(n)
}

orkestra::workflow!(big_output = big_string);

#[tokio::test]
async fn outputs_over_the_payload_limit_fail_with_data_limit_exceeded() {
    // With offloading off (it is on by default: see tests/state_data_offload.rs).
    let strict = Engine::new(EngineConfig {
        offload: false,
        ..EngineConfig::default()
    });
    let execution = strict.run(&big_output(), json!(300 * 1024)).await;
    assert_eq!(execution.error.unwrap().name(), "States.DataLimitExceeded");
    let execution = strict.run(&big_output(), json!(100)).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);

    let small = Engine::new(EngineConfig {
        payload_limit: Some(50),
        offload: false,
        ..EngineConfig::default()
    });
    let execution = small.run(&big_output(), json!(60)).await;
    assert_eq!(execution.error.unwrap().name(), "States.DataLimitExceeded");
    let unlimited = Engine::new(EngineConfig {
        payload_limit: None,
        ..EngineConfig::default()
    });
    let execution = unlimited.run(&big_output(), json!(300 * 1024)).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn an_undecodable_input_names_the_task() {
    let execution = run(big_output(), json!("not a number")).await;
    let error = execution.error.unwrap();
    assert_eq!(error.name(), "Orkestra.InvalidInput");
    assert!(
        error.message().contains("big_string"),
        "{}",
        error.message()
    );
}

#[compose]
fn reads_context(_n: i64, ctx: &Context) -> Value {
    json!({
        "workflow": ctx.workflow_name(),
        "state": ctx.state_name(),
        "local": ctx.execution_id().starts_with("local:reading_context:"),
    })
}

orkestra::workflow!(reading_context = reads_context);

#[tokio::test]
async fn tasks_see_their_execution_in_the_context() {
    let execution = run(reading_context(), json!(0)).await;
    assert_eq!(
        execution.output.unwrap(),
        json!({"workflow": "reading_context", "state": "reads_context", "local": true})
    );
    assert!(execution.execution_id.starts_with("local:reading_context:"));
}

#[test]
fn task_functions_stay_ordinary_functions() {
    let ctx = Context::for_tests();
    assert_eq!(plus_one(1, &ctx), 2);
    let results: Vec<i64> = [1, 2].into_iter().map(|n| times_ten(n, &ctx)).collect();
    assert_eq!(results, [10, 20]);
    assert!(matches!(fails_on_negative(-1, &ctx), Err(Trouble::Boom)));
    let err: TaskError = TaskError::from_error(&Trouble::Renamed);
    assert_eq!(err.name(), "Custom.Name");
}
