//! The wire encoding, the batch rules and the token chain, without a server.

use super::fake::{event, FakeService};
use super::wire::{decode, encode, execution_input, repeated_start, seconds_until, Options};
use super::*;
use crate::durable::store::{OperationDetails, OperationStatus, OperationType};
use serde_json::json;

const NOW: u64 = 1_700_000_000_000;

fn rec(op_type: OperationType, sub_type: &str, status: OperationStatus) -> OperationRecord {
    OperationRecord {
        id: "0123456789abcdef0123456789abcdef".into(),
        parent_id: None,
        op_type,
        sub_type: Some(sub_type.into()),
        name: Some("op".into()),
        status,
        result: None,
        error: None,
        attempt: 1,
        started_ms: None,
        ended_ms: None,
        details: OperationDetails::default(),
    }
}

fn update(id: &str, t: OperationType, action: Action) -> Update {
    Update {
        id: id.into(),
        parent_id: None,
        name: None,
        update_type: UpdateType::Op(t),
        sub_type: None,
        action,
        payload: None,
        error: None,
        options: Options::default(),
    }
}

#[test]
fn steps_encode_as_start_succeed_fail_retry() {
    let start = encode(
        &rec(OperationType::Step, "Step", OperationStatus::Started),
        NOW,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        start.to_json(),
        json!({"Id": "0123456789abcdef0123456789abcdef", "Name": "op", "Type": "STEP",
               "SubType": "Step", "Action": "START"})
    );
    let mut done = rec(OperationType::Step, "Step", OperationStatus::Succeeded);
    done.result = Some("\"hi\"".into());
    let u = encode(&done, NOW).unwrap().unwrap();
    assert_eq!(
        (u.action, u.payload.as_deref()),
        (Action::Succeed, Some("\"hi\""))
    );

    let mut failed = rec(OperationType::Step, "Step", OperationStatus::Failed);
    failed.error = Some(ErrorObject::new("Boom", "it broke"));
    let u = encode(&failed, NOW).unwrap().unwrap();
    assert_eq!(u.action, Action::Fail);
    assert_eq!(
        u.to_json()["Error"],
        json!({"ErrorType": "Boom", "ErrorMessage": "it broke"})
    );
    assert_eq!(u.payload, None, "FAIL carries no payload");

    let mut retry = rec(OperationType::Step, "Step", OperationStatus::Pending);
    retry.error = Some(ErrorObject::new("Boom", "again"));
    retry.details.next_attempt_ms = Some(NOW + 2_500);
    let u = encode(&retry, NOW).unwrap().unwrap();
    assert_eq!(u.action, Action::Retry);
    assert_eq!(
        u.to_json()["StepOptions"],
        json!({"NextAttemptDelaySeconds": 3})
    );

    // The service owns READY (it flips a due retry).
    let ready = rec(OperationType::Step, "Step", OperationStatus::Ready);
    assert_eq!(encode(&ready, NOW).unwrap(), None);
}

#[test]
fn wait_for_condition_polls_carry_their_state() {
    // A "not yet" poll: RETRY without error, the polled state as its payload, the delay
    // rounded up to whole seconds (at least one).
    let mut poll = rec(
        OperationType::Step,
        "WaitForCondition",
        OperationStatus::Pending,
    );
    poll.result = Some("{\"n\":1}".into());
    poll.details.next_attempt_ms = Some(NOW + 200);
    let u = encode(&poll, NOW).unwrap().unwrap();
    assert_eq!(
        u.to_json(),
        json!({"Id": "0123456789abcdef0123456789abcdef", "Name": "op", "Type": "STEP",
               "SubType": "WaitForCondition", "Action": "RETRY", "Payload": "{\"n\":1}",
               "StepOptions": {"NextAttemptDelaySeconds": 1}})
    );
    // The service keeps a START's payload as the step's result: the next poll's START
    // carries the state on.
    let mut next = poll.clone();
    next.status = OperationStatus::Started;
    next.details = OperationDetails::default();
    let u = encode(&next, NOW).unwrap().unwrap();
    assert_eq!(
        (u.action, u.payload.as_deref()),
        (Action::Start, Some("{\"n\":1}"))
    );
    // READY is the service's (it flips a due poll), never sent.
    next.status = OperationStatus::Ready;
    assert_eq!(encode(&next, NOW).unwrap(), None);
    // A RETRY with an error (a failed attempt) sends no payload.
    poll.error = Some(ErrorObject::new("Boom", "no"));
    let u = encode(&poll, NOW).unwrap().unwrap();
    assert_eq!(u.payload, None);
    assert!(u.error.is_some());
    // The service's Attempt counts finished attempts: a READY poll after one RETRY is
    // attempt 1 to the engine (the next START is attempt 2), a STARTED one attempt 2.
    let ready = json!({"Id": "w", "Type": "STEP", "SubType": "WaitForCondition",
                       "Status": "READY", "StartTimestamp": NOW,
                       "StepDetails": {"Attempt": 1, "Result": "{\"n\":1}"}});
    let r = decode(&ready).unwrap();
    assert_eq!((r.attempt, r.result.as_deref()), (1, Some("{\"n\":1}")));
    let mut started = ready.clone();
    started["Status"] = json!("STARTED");
    assert_eq!(decode(&started).unwrap().attempt, 2);
}

#[test]
fn waits_send_their_seconds_and_leave_completion_to_the_service() {
    let mut wait = rec(OperationType::Wait, "Wait", OperationStatus::Started);
    wait.details.scheduled_end_ms = Some(NOW + 3_600_000);
    let u = encode(&wait, NOW + 1).unwrap().unwrap();
    assert_eq!(u.to_json()["WaitOptions"], json!({"WaitSeconds": 3600}));
    wait.status = OperationStatus::Succeeded;
    assert_eq!(encode(&wait, NOW).unwrap(), None);
    wait.status = OperationStatus::Cancelled;
    assert_eq!(encode(&wait, NOW).unwrap().unwrap().action, Action::Cancel);
    assert_eq!(seconds_until(NOW, NOW), 1, "at least one second");
    assert_eq!(
        seconds_until(NOW + 10 * 31_622_400_000, NOW),
        wire::MAX_DELAY_SECONDS
    );
}

#[test]
fn callbacks_and_chained_invokes_encode_their_options() {
    let mut cb = rec(
        OperationType::Callback,
        "Callback",
        OperationStatus::Started,
    );
    cb.result = Some((NOW + 5_000).to_string());
    cb.details.heartbeat_timeout_ms = Some(10_000);
    let u = encode(&cb, NOW).unwrap().unwrap();
    assert_eq!(
        u.to_json()["CallbackOptions"],
        json!({"TimeoutSeconds": 5, "HeartbeatTimeoutSeconds": 10})
    );
    assert_eq!(u.payload, None, "the deadline is not sent as a payload");
    cb.status = OperationStatus::TimedOut;
    assert_eq!(
        encode(&cb, NOW).unwrap(),
        None,
        "the service times callbacks out"
    );

    let mut invoke = rec(
        OperationType::ChainedInvoke,
        "ChainedInvoke",
        OperationStatus::Started,
    );
    invoke.result = Some("{\"order\":7}".into());
    invoke.details.function_name = Some("orders".into());
    let u = encode(&invoke, NOW).unwrap().unwrap();
    assert_eq!(u.payload.as_deref(), Some("{\"order\":7}"));
    assert_eq!(
        u.to_json()["ChainedInvokeOptions"],
        json!({"FunctionName": "orders"})
    );
    invoke.status = OperationStatus::Succeeded;
    assert_eq!(encode(&invoke, NOW).unwrap(), None);
}

#[test]
fn contexts_keep_their_sub_types_and_replay_children() {
    for sub in [
        "Map",
        "MapIteration",
        "Parallel",
        "ParallelBranch",
        "RunInChildContext",
    ] {
        let mut c = rec(OperationType::Context, sub, OperationStatus::Started);
        c.parent_id = Some("parent_id-1".into());
        let u = encode(&c, NOW).unwrap().unwrap();
        assert_eq!(u.to_json()["SubType"], json!(sub));
        assert_eq!(u.to_json()["ParentId"], json!("parent_id-1"));
    }
    let mut big = rec(OperationType::Context, "Map", OperationStatus::Succeeded);
    big.result = Some("{\"summary\":{}}".into());
    big.details.replay_children = true;
    let u = encode(&big, NOW).unwrap().unwrap();
    assert_eq!(
        u.to_json()["ContextOptions"],
        json!({"ReplayChildren": true})
    );
}

#[test]
fn bad_ids_and_names_are_refused_with_the_reason() {
    let mut r = rec(OperationType::Step, "Step", OperationStatus::Started);
    r.id = "x".repeat(65);
    let e = encode(&r, NOW).unwrap_err().to_string();
    assert!(e.contains("65 characters, at most 64"), "{e}");
    r.id = "exec/op".into();
    let e = encode(&r, NOW).unwrap_err().to_string();
    assert!(e.contains("'/'"), "{e}");
    r.id = "ok".into();
    r.parent_id = Some(String::new());
    assert!(encode(&r, NOW)
        .unwrap_err()
        .to_string()
        .contains("ParentId"));
    r.parent_id = None;
    r.name = Some("tab\there".into());
    let e = encode(&r, NOW).unwrap_err().to_string();
    assert!(
        e.contains("not printable ASCII") && e.contains("operation ok"),
        "{e}"
    );
    r.name = Some("n".repeat(257));
    assert!(encode(&r, NOW)
        .unwrap_err()
        .to_string()
        .contains("257 characters"));
    r.name = Some("n".repeat(256));
    assert!(encode(&r, NOW).is_ok());
}

#[test]
fn a_step_start_and_close_share_a_call_but_nothing_else_repeats() {
    use OperationType::*;
    let calls = batch::plan(vec![
        update("a", Step, Action::Start),
        update("a", Step, Action::Succeed),
        update("b", Context, Action::Start),
        update("b", Context, Action::Succeed),
        update("w", Wait, Action::Start),
        update("a", Step, Action::Start),
    ]);
    let shape: Vec<Vec<(&str, Action)>> = calls
        .iter()
        .map(|c| c.iter().map(|u| (u.id.as_str(), u.action)).collect())
        .collect();
    assert_eq!(
        shape,
        vec![
            vec![
                ("a", Action::Start),
                ("a", Action::Succeed),
                ("b", Action::Start),
                ("b", Action::Succeed),
                ("w", Action::Start)
            ],
            vec![("a", Action::Start)],
        ]
    );
    // A wait's START and CANCEL do not pair: two calls.
    let calls = batch::plan(vec![
        update("w", Wait, Action::Start),
        update("w", Wait, Action::Cancel),
    ]);
    assert_eq!(calls.len(), 2);
}

#[test]
fn the_execution_update_goes_alone_and_last() {
    let mut exec = update("execution-result-1", OperationType::Step, Action::Succeed);
    exec.update_type = UpdateType::Execution;
    let calls = batch::plan(vec![
        update("a", OperationType::Step, Action::Start),
        exec,
        update("b", OperationType::Step, Action::Start),
    ]);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].len(), 1);
    assert_eq!(calls[1][0].update_type, UpdateType::Execution);
}

#[test]
fn calls_respect_the_count_and_size_limits() {
    let many: Vec<Update> = (0..600)
        .map(|i| update(&format!("s{i}"), OperationType::Step, Action::Start))
        .collect();
    let calls = batch::plan(many);
    assert_eq!(
        calls.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![250, 250, 100]
    );
    let big: Vec<Update> = (0..4)
        .map(|i| {
            let mut u = update(&format!("s{i}"), OperationType::Step, Action::Succeed);
            u.payload = Some("x".repeat(200 * 1024));
            u
        })
        .collect();
    let calls = batch::plan(big);
    assert!(
        calls.len() >= 2,
        "4 x 400 KB of request does not fit one call"
    );
    assert!(calls
        .iter()
        .all(|c| c.iter().map(Update::wire_size).sum::<usize>() <= batch::MAX_BYTES));
}

#[test]
fn operations_decode_from_the_event() {
    let op = json!({
        "Id": "s1", "ParentId": "c1", "Name": "charge", "Type": "STEP", "SubType": "Step",
        "Status": "PENDING", "StartTimestamp": NOW,
        "StepDetails": {"Attempt": 2, "NextAttemptTimestamp": NOW + 5_000,
                        "Error": {"ErrorType": "Boom", "ErrorMessage": "no"}},
    });
    let r = decode(&op).unwrap();
    assert_eq!(r.status, OperationStatus::Pending);
    assert_eq!(r.attempt, 2, "a pending retry keeps the failed attempt");
    assert_eq!(r.details.next_attempt_ms, Some(NOW + 5_000));
    assert_eq!(r.error, Some(ErrorObject::new("Boom", "no")));
    assert_eq!(r.parent_id.as_deref(), Some("c1"));
    let started = json!({"Id": "s2", "Type": "STEP", "Status": "STARTED", "StartTimestamp": NOW,
                         "StepDetails": {"Attempt": 1}});
    assert_eq!(
        decode(&started).unwrap().attempt,
        2,
        "the attempt after one retry"
    );
    let cb = json!({"Id": "c", "Type": "CALLBACK", "Status": "SUCCEEDED", "StartTimestamp": NOW,
                    "CallbackDetails": {"CallbackId": "abc", "Result": "\"yes\""}});
    let r = decode(&cb).unwrap();
    assert_eq!(r.details.callback_id.as_deref(), Some("abc"));
    assert_eq!(r.result.as_deref(), Some("\"yes\""));
    let exec = json!({"Id": "e", "Type": "EXECUTION", "Status": "STARTED", "StartTimestamp": NOW});
    assert_eq!(decode(&exec), None);
    assert_eq!(
        execution_input(&[exec]).unwrap().unwrap(),
        json!({}),
        "no payload: {{}}"
    );
    let with = json!({"Type": "EXECUTION", "ExecutionDetails": {"InputPayload": "[1,2]"}});
    assert_eq!(execution_input(&[with]).unwrap().unwrap(), json!([1, 2]));
}

#[test]
fn a_second_start_is_only_sent_for_a_due_retry() {
    let start = update("a", OperationType::Step, Action::Start);
    assert!(!repeated_start(&start, None));
    assert!(repeated_start(&start, Some(OperationStatus::Started)));
    assert!(!repeated_start(&start, Some(OperationStatus::Ready)));
    let ctx = update("c", OperationType::Context, Action::Start);
    assert!(repeated_start(&ctx, Some(OperationStatus::Started)));
    let succeed = update("a", OperationType::Step, Action::Succeed);
    assert!(!repeated_start(&succeed, Some(OperationStatus::Started)));
}

#[tokio::test]
async fn the_first_state_is_paged_before_the_handler_runs() {
    let service = Arc::new(FakeService::default());
    service.pages.lock().unwrap().push_back(StatePage {
        operations: vec![json!({"Id": "s9", "Type": "STEP", "Status": "SUCCEEDED",
                                "StartTimestamp": NOW, "StepDetails": {"Result": "1"}})],
        next_marker: Some(String::new()),
    });
    let ev = event(&json!({"n": 1}), vec![], Some("page-2"));
    let (store, input) = LambdaCheckpointStore::from_event(service.clone(), &ev)
        .await
        .unwrap();
    assert_eq!(input, json!({"n": 1}));
    assert_eq!(
        *service.pages_asked.lock().unwrap(),
        vec![("token-0".to_string(), "page-2".to_string())]
    );
    let s9 = store.load_operation(store.arn(), "s9").unwrap().unwrap();
    assert_eq!(s9.result.as_deref(), Some("1"));
}

#[tokio::test]
async fn writes_follow_the_token_chain_and_merge_the_new_state() {
    let service = Arc::new(FakeService::default());
    let (store, _) =
        LambdaCheckpointStore::from_event(service.clone(), &event(&json!(1), vec![], None))
            .await
            .unwrap();
    let arn = store.arn().to_string();
    let start = rec(OperationType::Step, "Step", OperationStatus::Started);
    store.checkpoint_nowait(&arn, &start);
    let mut done = start.clone();
    done.status = OperationStatus::Succeeded;
    done.result = Some("2".into());
    store.checkpoint(&arn, &done).await.unwrap();
    let mut cb = rec(
        OperationType::Callback,
        "Callback",
        OperationStatus::Started,
    );
    cb.id = "cb1".into();
    store.checkpoint(&arn, &cb).await.unwrap();
    let calls = service.calls.lock().unwrap().clone();
    let tokens: Vec<&str> = calls.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tokens.first(), Some(&"token-0"));
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(
            *t,
            format!("token-{i}"),
            "each call uses the token the last one returned"
        );
    }
    let sent: usize = calls.iter().map(|(_, u)| u.len()).sum();
    assert_eq!(sent, 3);
    assert_eq!(store.round_trips(), calls.len() as u64);
    // The service minted the callback's id; the store's record has it.
    let minted = store.load_operation(&arn, "cb1").unwrap().unwrap();
    assert_eq!(minted.details.callback_id.as_deref(), Some("minted-cb1"));
    assert!(!store.revoked());
}

#[tokio::test]
async fn a_revoked_token_stops_every_later_write() {
    let service = Arc::new(FakeService {
        revoke_at: Some(0),
        ..Default::default()
    });
    let (store, _) =
        LambdaCheckpointStore::from_event(service.clone(), &event(&json!(1), vec![], None))
            .await
            .unwrap();
    let arn = store.arn().to_string();
    let start = rec(OperationType::Step, "Step", OperationStatus::Started);
    let err = store.checkpoint(&arn, &start).await.unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    assert!(store.revoked());
    assert!(store.stopped(&arn).is_some());
    let mut again = start.clone();
    again.id = "other".into();
    assert!(store.checkpoint(&arn, &again).await.is_err());
    assert_eq!(
        service.calls.lock().unwrap().len(),
        1,
        "nothing is sent after the revocation"
    );
}

#[tokio::test]
async fn an_event_without_a_token_records_nothing() {
    let service = Arc::new(FakeService::default());
    let mut ev = event(&json!(1), vec![], None);
    ev.as_object_mut().unwrap().remove("CheckpointToken");
    let (store, _) = LambdaCheckpointStore::from_event(service.clone(), &ev)
        .await
        .unwrap();
    assert!(store.revoked());
    let start = rec(OperationType::Step, "Step", OperationStatus::Started);
    assert!(store.checkpoint(store.arn(), &start).await.is_err());
    assert!(service.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_bad_event_is_named() {
    let service = Arc::new(FakeService::default());
    let e = LambdaCheckpointStore::from_event(service.clone(), &json!({"orders": 1}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("DurableExecutionArn"), "{e}");
    let mut ev = event(&json!(1), vec![], None);
    ev["InitialExecutionState"]["Operations"][0]["ExecutionDetails"]["InputPayload"] =
        json!("{not json");
    let e = LambdaCheckpointStore::from_event(service, &ev)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InputPayload is not JSON"), "{e}");
}

static FLAT_STEP_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A FLAT map of 300 items with a 1 KB step result each (over 256 KB in all), then a wait.
async fn flat_big(
    _e: serde_json::Value,
    ctx: crate::durable::DurableContext,
) -> Result<serde_json::Value, crate::durable::DurableError> {
    use crate::durable::{Nesting, StepContext};
    let item = |ctx: crate::durable::DurableContext, n: u32, _i: usize, _all: Arc<[u32]>| async move {
        ctx.step(move |_s: StepContext| async move {
            FLAT_STEP_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, String>(format!("{n}:{}", "x".repeat(1024)))
        })
        .name("make")
        .await
    };
    let batch = ctx
        .map((0..300).collect::<Vec<u32>>(), item)
        .name("flat-big")
        .nesting(Nesting::Flat)
        .await?;
    ctx.wait(std::time::Duration::from_secs(60)).await?;
    Ok(json!({"succeeded": batch.success_count(), "last": batch.all[299].result}))
}

#[tokio::test]
async fn a_summarised_flat_map_replays_from_the_services_state() {
    use crate::lambda::durable_function::invoke;
    use std::sync::atomic::Ordering;
    let handler = crate::durable::handler_fn(flat_big);
    let first = Arc::new(FakeService::default());
    let answer = invoke(
        first.clone(),
        "flat",
        &handler,
        event(&json!({}), vec![], None),
    )
    .await
    .unwrap();
    assert_eq!(answer, json!({"Status": "PENDING"}), "the wait suspends");
    let runs = FLAT_STEP_RUNS.load(Ordering::SeqCst);
    assert_eq!(runs, 300);

    // The map's SUCCEED carries the summary and ReplayChildren; no MapIteration records.
    let mut ops = first.operations();
    let map = ops
        .iter()
        .find(|op| op["Name"] == "flat-big")
        .expect("the map's operation")
        .clone();
    assert_eq!(map["Status"], "SUCCEEDED");
    assert_eq!(map["ContextDetails"]["ReplayChildren"], true);
    let summary = map["ContextDetails"]["Result"].as_str().unwrap();
    assert!(summary.len() < crate::durable::MAX_CHECKPOINT_RESULT);
    assert!(!ops.iter().any(|op| op["SubType"] == "MapIteration"));
    let map_id = map["Id"].as_str().unwrap();
    let steps = ops.iter().filter(|op| op["Type"] == "STEP").count();
    assert_eq!(steps, 300);
    assert!(ops
        .iter()
        .filter(|op| op["Type"] == "STEP")
        .all(|op| op["ParentId"] == map_id));

    // The service fires the wait and invokes again with the whole state (ReplayChildren).
    for op in ops.iter_mut().filter(|op| op["Type"] == "WAIT") {
        op["Status"] = json!("SUCCEEDED");
    }
    let second = Arc::new(FakeService::default());
    let answer = invoke(
        second.clone(),
        "flat",
        &handler,
        event(&json!({}), ops, None),
    )
    .await
    .unwrap();
    assert_eq!(answer["Status"], "SUCCEEDED", "{answer}");
    let result: serde_json::Value =
        serde_json::from_str(answer["Result"].as_str().unwrap()).unwrap();
    assert_eq!(result["succeeded"], 300);
    assert!(result["last"].as_str().unwrap().starts_with("299:"));
    assert_eq!(
        FLAT_STEP_RUNS.load(Ordering::SeqCst),
        runs,
        "the items' steps replayed from the service's records"
    );
    assert!(
        second
            .calls
            .lock()
            .unwrap()
            .iter()
            .all(|(_, u)| u.is_empty()),
        "the replay records nothing again"
    );
}
