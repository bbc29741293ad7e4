//! `complete_callback` writes the callback's record and its execution's wake-up in one
//! transaction: a fault between them leaves neither, and a process SIGKILLed around the
//! completion never leaves a completed callback whose execution is not due.

use orkestra::durable::*;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

async fn approval(_e: (), ctx: DurableContext) -> Result<String, DurableError> {
    ctx.wait_for_callback::<String, String, _, _>(
        "approve",
        |_id, _s| async { Ok(()) },
        CallbackConfig::default(),
    )
    .await
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-cb-atomic-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `id` until it suspends waiting for its callback; returns the callback id.
async fn suspended(store: &Arc<SqliteStore>, id: &str) -> String {
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    let rec = DurableExecutor::new(dyn_store)
        .hold(Duration::ZERO)
        .run(id, "approval", &handler_fn(approval), ().into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Running);
    assert_eq!(store.due_state(id).unwrap().unwrap().due_ms, None);
    let ops = store.load_operations(id).unwrap();
    let cb = ops
        .iter()
        .find(|o| o.op_type == OperationType::Callback)
        .unwrap();
    cb.details.callback_id.clone().unwrap()
}

fn callback_status(store: &SqliteStore, callback_id: &str) -> OperationStatus {
    let (exec, op) = callback_id.rsplit_once('/').unwrap();
    store.load_operation(exec, op).unwrap().unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_the_wake_up_leaves_the_callback_uncompleted() {
    let dir = temp_dir("fault");
    let db = dir.join("d.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let callback_id = suspended(&store, "e").await;
    drop(store);
    // Inject a failure into the wake-up: the index refuses the update.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER injected BEFORE UPDATE ON durable_due
         BEGIN SELECT RAISE(ABORT, 'injected wake-up fault'); END;",
    )
    .unwrap();
    let store = SqliteStore::open(&db).unwrap();
    let e = complete_callback(&store, &callback_id, Ok("yes".into()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("injected wake-up fault"), "{e}");
    drop(store);
    // Neither write happened: the callback is still open, the execution not due.
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        callback_status(&store, &callback_id),
        OperationStatus::Started
    );
    assert_eq!(store.due_state("e").unwrap().unwrap().due_ms, None);
    drop(store);
    conn.execute_batch("DROP TRIGGER injected").unwrap();
    let store = SqliteStore::open(&db).unwrap();
    complete_callback(&store, &callback_id, Ok("yes".into()))
        .await
        .unwrap();
    assert_eq!(
        callback_status(&store, &callback_id),
        OperationStatus::Succeeded
    );
    assert!(store.due_state("e").unwrap().unwrap().due_ms.is_some());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_execution_refuses_callback_completion() {
    let dir = temp_dir("ended");
    let store = Arc::new(SqliteStore::open(dir.join("d.db")).unwrap());
    let callback_id = suspended(&store, "s").await;
    store
        .change_due(
            "s",
            DueChange::End {
                status: InvocationStatus::Stopped,
                error: ErrorObject::new("ExecutionStopped", "stopped by the test"),
                now_ms: ExecutionRecord::now_ms(),
            },
        )
        .await
        .unwrap();
    let e = complete_callback(&*store, &callback_id, Ok("late".into()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has already ended (STOPPED)"), "{e}");
    assert_eq!(
        callback_status(&store, &callback_id),
        OperationStatus::Started
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The child process: completes the callback named by `ORKESTRA_CB_CHILD` on `$ORKESTRA_DB`.
#[test]
fn complete_callback_entry() {
    let Some(callback_id) = std::env::var_os("ORKESTRA_CB_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open_default().expect("store");
        let id = callback_id.to_string_lossy();
        complete_callback(&store, &id, Ok("approved".into()))
            .await
            .expect("complete");
    });
}

fn completer(db: &Path, callback_id: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "complete_callback_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ORKESTRA_CB_CHILD", callback_id)
        .env("ORKESTRA_DB", db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_completion_never_leaves_a_completed_callback_not_due() {
    const ROUNDS: usize = 40;
    let dir = temp_dir("kill");
    let db = dir.join("d.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let (mut completed, mut killed_before) = (0, 0);
    // Calibrate: how long a completer takes to finish, so kills spread around its write.
    let probe = suspended(&store, "probe").await;
    let t = std::time::Instant::now();
    assert!(completer(&db, &probe).wait().unwrap().success());
    let full = t.elapsed().as_micros() as u64;
    for round in 0..ROUNDS {
        let id = format!("k{round}");
        let callback_id = suspended(&store, &id).await;
        let mut child = completer(&db, &callback_id);
        // From spawn to twice the calibrated run: some kills land before the write, some after,
        // and the rest around it, however the machine's load shifts the timings.
        let at = rng.random_range(0..=2 * full);
        std::thread::sleep(Duration::from_micros(at));
        let _ = child.kill();
        let _ = child.wait();
        let due = store.due_state(&id).unwrap().unwrap();
        match callback_status(&store, &callback_id) {
            OperationStatus::Succeeded => {
                completed += 1;
                assert!(
                    due.due_ms.is_some() && due.wakes == 1,
                    "round {round}: the callback completed but its execution is not due: {due:?}"
                );
            }
            OperationStatus::Started => {
                killed_before += 1;
                assert_eq!(due.due_ms, None, "round {round}: due without a completion");
                // What the kill interrupted can be done again.
                complete_callback(&*store, &callback_id, Ok("approved".into()))
                    .await
                    .unwrap();
            }
            other => panic!("round {round}: callback {other:?}"),
        }
        // Either way a worker now finds it due and it finishes with the callback's result.
        let dyn_store: Arc<dyn CheckpointStore> = store.clone();
        let worker = Worker::new(dyn_store).handler("approval", Arc::new(handler_fn(approval)));
        worker.run_once().await.unwrap();
        let rec = store.get_execution(&id).unwrap().unwrap();
        assert_eq!(rec.result.as_deref(), Some("\"approved\""), "round {round}");
    }
    eprintln!("{completed} completions survived the kill, {killed_before} were killed before");
    assert!(
        completed > 0 && killed_before > 0,
        "kills landed on both sides: {completed}/{killed_before}"
    );
    assert!(store.check(None).unwrap().is_clean());
    let _ = std::fs::remove_dir_all(dir);
}
