//! Racing owners with real processes: 2, 4 and 8 processes (this test binary re-executed with
//! `ORKESTRA_RACE_CHILD` set, running the CLI's `durable start` / `durable resume`) go for one
//! execution at the same moment, 20 rounds each. Exactly one runs it; its at-most-once steps
//! run once; every other process exits 4 with the error naming the owner (or, on a loaded
//! machine where it asks only after the winner has finished, prints that run's record).

use orkestra::cli::{execute, Command as CliCommand, ExitStatus};
use orkestra::durable::cli::DurableCommand;
use orkestra::durable::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITEMS: u64 = 6;

async fn record(
    ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    let log = std::env::var("ORKESTRA_RACE_LOG").expect("log path");
    let round = ctx.execution_id().to_string();
    ctx.step(move |s: StepContext| {
        let (log, round) = (log.clone(), round.clone());
        async move {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            f.write_all(
                format!("{round} {item} {} {}\n", s.attempt(), std::process::id()).as_bytes(),
            )?;
            // Long enough that every racer asks for the lease while the winner runs.
            tokio::time::sleep(Duration::from_millis(40)).await;
            Ok::<_, std::io::Error>(item)
        }
    })
    .name("record")
    .semantics(StepSemantics::AtMostOncePerRetry)
    .await
}

/// Six at-most-once steps, two at a time (about 120 ms).
#[orkestra::durable_execution]
async fn race(n: u64, ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u64>>(), record)
        .name("race-map")
        .config(MapConfig {
            max_concurrency: Some(2),
            ..Default::default()
        })
        .await?;
    Ok(batch.success_count())
}

/// The child: signals it is ready, waits for the start signal, runs one CLI command and exits
/// with its code.
#[test]
fn race_child_entry() {
    let Some(mode) = std::env::var_os("ORKESTRA_RACE_CHILD") else {
        return;
    };
    let dir = PathBuf::from(std::env::var_os("ORKESTRA_RACE_DIR").unwrap());
    let me = std::process::id();
    std::fs::write(dir.join(format!("ready-{me}")), b"").unwrap();
    while !dir.join("go").exists() {
        std::thread::sleep(Duration::from_micros(500));
    }
    let id = std::env::var("ORKESTRA_RACE_ID").unwrap();
    let command = match mode.to_str().unwrap() {
        "start" => DurableCommand::Start {
            handler: "race".into(),
            id,
            input: ITEMS.to_string(),
            timeout: None,
            hold: Duration::from_secs(1),
        },
        _ => DurableCommand::Resume {
            id,
            hold: Duration::from_secs(1),
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(execute(Some(CliCommand::Durable { command })));
    println!("{}", out.stdout);
    std::process::exit(i32::from(out.code.code()));
}

struct Round {
    codes: Vec<i32>,
    outputs: Vec<String>,
}

fn run_round(dir: &Path, db: &Path, log: &Path, id: &str, mode: &str, racers: usize) -> Round {
    let sync = dir.join(format!("sync-{id}"));
    std::fs::create_dir_all(&sync).unwrap();
    let children: Vec<_> = (0..racers)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "race_child_entry",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("ORKESTRA_RACE_CHILD", mode)
                .env("ORKESTRA_RACE_DIR", &sync)
                .env("ORKESTRA_RACE_ID", id)
                .env("ORKESTRA_RACE_LOG", log)
                .env("ORKESTRA_DB", db)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&sync).unwrap().count() < racers {
        assert!(Instant::now() < deadline, "racers did not get ready");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::fs::write(sync.join("go"), b"").unwrap();
    let mut round = Round {
        codes: Vec::new(),
        outputs: Vec::new(),
    };
    for child in children {
        let out = child.wait_with_output().unwrap();
        round.codes.push(out.status.code().unwrap_or(-1));
        // The CLI's JSON line, among the test harness's own lines.
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let json = stdout
            .lines()
            .find_map(|l| l.find('{').map(|at| &l[at..]))
            .unwrap_or(&stdout)
            .to_string();
        round.outputs.push(json);
    }
    round
}

#[test]
fn racing_processes_run_an_execution_exactly_once() {
    if std::env::var_os("ORKESTRA_RACE_CHILD").is_some() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("orkestra-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("orkestra.db");
    let log = dir.join("steps.log");
    let started = Instant::now();
    for racers in [2usize, 4, 8] {
        for r in 0..20 {
            let id = format!("race-{racers}-{r}");
            // Odd rounds resume an execution that exists (RUNNING, nothing done yet).
            let mode = if r % 2 == 0 { "start" } else { "resume" };
            if mode == "resume" {
                let store = SqliteStore::open(&db).unwrap();
                store
                    .put_execution(ExecutionRecord {
                        id: id.clone(),
                        handler: "race".into(),
                        status: InvocationStatus::Running,
                        input: ITEMS.to_string(),
                        result: None,
                        error: None,
                        started_ms: Some(ExecutionRecord::now_ms()),
                        ended_ms: None,
                    })
                    .wait()
                    .unwrap();
            }
            let round = run_round(&dir, &db, &log, &id, mode, racers);
            // A racer that asks only after the winner finished gets the stored result (exit 0,
            // the same record: `durable start` of a finished execution with the same input is
            // idempotent); every other loser exits 4. The step log below proves that one process
            // ran the round.
            let winners: Vec<usize> = (0..racers).filter(|&i| round.codes[i] == 0).collect();
            assert!(
                !winners.is_empty(),
                "round {id}: one process runs it: {:?} {:?}",
                round.codes,
                round.outputs
            );
            let won: serde_json::Value = serde_json::from_str(&round.outputs[winners[0]]).unwrap();
            assert_eq!(
                (&won["status"], &won["result"]),
                (&"SUCCEEDED".into(), &serde_json::Value::from(ITEMS)),
                "{id}"
            );
            for (i, (code, out)) in round.codes.iter().zip(&round.outputs).enumerate() {
                let out: serde_json::Value = serde_json::from_str(out).unwrap();
                if winners.contains(&i) {
                    assert_eq!(
                        out, won,
                        "round {id}: every exit 0 prints the one run's record"
                    );
                    continue;
                }
                assert_eq!(
                    *code,
                    i32::from(ExitStatus::Conflict.code()),
                    "round {id}: {out}"
                );
                let message = out["error"].as_str().unwrap();
                assert!(
                    message.contains(&format!("{id:?} is being run by another process (process "))
                        && message.contains("lease ends at"),
                    "{message}"
                );
            }
        }
    }
    // Every at-most-once step of every round ran exactly once, in the winning process.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut runs: HashMap<(String, u64), Vec<u32>> = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        runs.entry((parts[0].to_string(), parts[1].parse().unwrap()))
            .or_default()
            .push(parts[3].parse().unwrap());
    }
    assert_eq!(
        runs.len(),
        60 * ITEMS as usize,
        "every item of every round ran"
    );
    let mut runners: HashMap<&str, std::collections::BTreeSet<u32>> = HashMap::new();
    for (key, pids) in &runs {
        assert_eq!(pids.len(), 1, "{key:?} ran {} times: {pids:?}", pids.len());
        runners.entry(key.0.as_str()).or_default().extend(pids);
    }
    for (round, pids) in &runners {
        assert_eq!(pids.len(), 1, "round {round} ran in processes {pids:?}");
    }
    eprintln!(
        "60 rounds of 2/4/8 racing processes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sets `execution`'s lease row as another holder would have written it.
fn write_lease(db: &Path, execution: &str, owner: &str, pid: u32, boot_id: &str, expires_ms: u64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute(
        "INSERT INTO durable_leases
             (execution_id, owner, pid, boot_id, process_start, acquired_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, 12345, 0, ?5)
         ON CONFLICT (execution_id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid,
             boot_id = excluded.boot_id, process_start = excluded.process_start,
             expires_ms = excluded.expires_ms",
        rusqlite::params![execution, owner, pid, boot_id, expires_ms as i64],
    )
    .unwrap();
}

/// This machine's boot id and PID namespace, as a lease of this process records them.
fn this_boot() -> String {
    let boot = LeaseHolder::this_process(0).boot_id;
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert!(
        boot.starts_with(id.trim()) && boot.contains("pid:["),
        "{boot}"
    );
    boot
}

async fn one_step(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n + 1) })
        .name("inc")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_taken_over_when_its_holder_is_gone_or_expired_and_not_before() {
    let dir = std::env::temp_dir().join(format!("orkestra-lease-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("orkestra.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let run = |id: &'static str| {
        let store = store.clone();
        async move {
            DurableExecutor::new(store)
                .run(id, "one_step", &handler_fn(one_step), 1.into())
                .await
        }
    };
    let far = ExecutionRecord::now_ms() + 3_600_000;

    // A live holder on another machine (unknown boot): refused, naming it and its expiry.
    write_lease(&db, "other-boot", "them", 4242, "another-boot-id", far);
    let err = run("other-boot").await.unwrap_err();
    let DurableError::Owned { holder, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!((holder.pid, holder.owner.as_str()), (4242, "them"));
    let message = err.to_string();
    assert!(
        message.contains("process 4242") && message.contains(&holder.expires_rfc3339()),
        "{message}"
    );
    // The same holder once its lease expired: taken over.
    write_lease(&db, "other-boot", "them", 4242, "another-boot-id", 1);
    assert_eq!(
        run("other-boot").await.unwrap().result.as_deref(),
        Some("2")
    );

    // A holder on this boot whose process is gone (an exited child's pid): taken over at
    // once, before its expiry.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    write_lease(&db, "crashed", "dead", gone, &this_boot(), far);
    assert_eq!(run("crashed").await.unwrap().result.as_deref(), Some("2"));

    // This very process under another lease (another run in it): refused.
    write_lease(
        &db,
        "mine",
        "other-run",
        std::process::id(),
        &this_boot(),
        far,
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let start: String =
        std::fs::read_to_string(format!("/proc/{}/stat", std::process::id())).unwrap();
    let start: i64 = start[start.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    conn.execute(
        "UPDATE durable_leases SET process_start = ?1 WHERE execution_id = 'mine'",
        [start],
    )
    .unwrap();
    assert!(matches!(run("mine").await, Err(DurableError::Owned { .. })));
    // A finished run gives its lease up.
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM durable_leases WHERE execution_id IN ('crashed', 'other-boot')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three steps; the second one's body hands the lease to another owner (as a process that
/// took it over would), so the writes after it are refused.
async fn steps_losing_the_lease(_n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let db = std::env::var("ORKESTRA_FENCE_DB").unwrap_or_default();
    let mut sum = 0;
    for i in 0..3u64 {
        let db = db.clone();
        sum += ctx
            .step(move |_s: StepContext| {
                let db = db.clone();
                async move {
                    if i == 1 {
                        write_lease(
                            Path::new(&db),
                            "fenced",
                            "newcomer",
                            1,
                            "elsewhere",
                            u64::MAX / 2,
                        );
                    }
                    Ok::<_, String>(i)
                }
            })
            .name(format!("s{i}"))
            .await?;
    }
    Ok(sum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_owner_s_writes_are_refused_and_it_stops_without_recording_a_failure() {
    let dir = std::env::temp_dir().join(format!("orkestra-fence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("orkestra.db");
    std::env::set_var("ORKESTRA_FENCE_DB", &db);
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let err = DurableExecutor::new(store.clone())
        .run("fenced", "h", &handler_fn(steps_losing_the_lease), 0.into())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DurableError::Store(e) if e.is_lease_lost()),
        "{err}"
    );
    assert!(
        err.to_string().contains("no longer owned by this process"),
        "{err}"
    );
    drop(store);
    let store = SqliteStore::open(&db).unwrap();
    let exec = store.get_execution("fenced").unwrap().unwrap();
    assert_eq!(
        exec.status,
        InvocationStatus::Running,
        "not recorded as failed"
    );
    let ops = store.load_operations("fenced").unwrap();
    assert!(
        ops.iter().all(|op| op.status != OperationStatus::Failed),
        "{ops:?}"
    );
    assert!(
        !ops.iter().any(|op| op.name.as_deref() == Some("s2")),
        "no write after the takeover: {ops:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn slow_then_fast(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let slow = std::env::var_os("ORKESTRA_SLOW_STEP").is_some();
    ctx.step(move |_s: StepContext| async move {
        if slow {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Ok::<_, String>(n)
    })
    .name("maybe-slow")
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_gives_its_lease_up() {
    let dir = std::env::temp_dir().join(format!("orkestra-cancel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SqliteStore::open(dir.join("orkestra.db")).unwrap());
    let executor = DurableExecutor::new(store.clone());
    std::env::set_var("ORKESTRA_SLOW_STEP", "1");
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        executor.run("cancel", "h", &handler_fn(slow_then_fast), 7.into()),
    )
    .await;
    assert!(cancelled.is_err(), "the run was cut short");
    std::env::remove_var("ORKESTRA_SLOW_STEP");
    // The dropped run released its lease: this process may run the execution again at once.
    let rec = executor
        .run("cancel", "h", &handler_fn(slow_then_fast), 7.into())
        .await
        .unwrap();
    assert_eq!(rec.result.as_deref(), Some("7"));
    let _ = std::fs::remove_dir_all(&dir);
}
