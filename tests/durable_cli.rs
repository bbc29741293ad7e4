//! The `durable` CLI subcommands, run in-process against `$ORKESTRA_DB`.

use orkestra::cli::{execute, Command, ExitStatus};
use orkestra::durable::cli::DurableCommand;
use orkestra::durable::*;
use serde_json::Value;

#[orkestra::durable_execution]
async fn greet(name: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| {
        let name = name.clone();
        async move { Ok::<_, String>(format!("hello {name}")) }
    })
    .name("greet")
    .await
}

#[derive(serde::Deserialize)]
struct Line {
    sku: String,
    qty: u32,
}

#[derive(serde::Deserialize)]
struct Order {
    items: Vec<Line>,
}

#[orkestra::durable_execution]
async fn pack(order: Order, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(order.items.iter().map(|l| l.qty + l.sku.len() as u32).sum())
}

/// An RFC 3339 time of the CLI's output.
fn time(value: &Value) -> std::time::SystemTime {
    let text = value.as_str().unwrap_or_else(|| panic!("a time: {value}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The default hold time: waits up to 1 s are served in process.
const HOLD: std::time::Duration = std::time::Duration::from_secs(1);

async fn durable(command: DurableCommand) -> (Value, ExitStatus) {
    let out = execute(Some(Command::Durable { command })).await;
    (serde_json::from_str(&out.stdout).unwrap(), out.code)
}

/// Waits for an approval delivered with `durable complete-callback`.
#[orkestra::durable_execution]
async fn approve(order: String, ctx: DurableContext) -> Result<String, DurableError> {
    let decision: String = ctx
        .wait_for_callback(
            "approval",
            |_callback_id: String, _s: StepContext| async move { Ok::<_, String>(()) },
            CallbackConfig::default(),
        )
        .await?;
    Ok(format!("{order}: {decision}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_list_inspect_resume() {
    let dir = std::env::temp_dir().join(format!("orkestra-cli-{}", std::process::id()));
    // The only test in this binary: setting the variable cannot race another test.
    std::env::set_var("ORKESTRA_DB", dir.join("cli.db"));
    assert!(registered_handlers().contains(&"greet"));

    let (out, code) = durable(DurableCommand::Start {
        handler: "greet".into(),
        id: "g1".into(),
        input: "\"ada\"".into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(
        (code, out["status"].as_str()),
        (ExitStatus::Succeeded, Some("SUCCEEDED")),
        "{out}"
    );
    assert_eq!(out["result"], "hello ada");

    let (list, _) = durable(DurableCommand::List { full: false }).await;
    let first = &list["executions"][0];
    assert_eq!(first["id"], "g1");
    assert_eq!(first["handler"], "greet");
    assert_eq!(first["status"], "SUCCEEDED");
    // The summary has exactly these fields, with RFC 3339 times.
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{first}");
    for key in ["id", "handler", "status", "started", "ended"] {
        assert!(keys.contains(&key), "{key} in {first}");
    }
    let (started, ended) = (time(&first["started"]), time(&first["ended"]));
    assert!(started <= ended, "{first}");
    assert!(started >= std::time::SystemTime::now() - std::time::Duration::from_secs(600));
    let (full, _) = durable(DurableCommand::List { full: true }).await;
    let first = &full["executions"][0];
    assert_eq!(
        (&first["input"], &first["result"]),
        (&Value::from("ada"), &Value::from("hello ada"))
    );

    let (inspect, _) = durable(DurableCommand::Inspect {
        id: "g1".into(),
        pretty: false,
    })
    .await;
    assert_eq!(inspect["operations"][0]["name"], "greet");
    assert_eq!(inspect["operations"][0]["status"], "SUCCEEDED");

    assert_eq!(inspect["input"], "ada");
    assert!(inspect["started"].is_string(), "{inspect}");

    let (missing, code) = durable(DurableCommand::Inspect {
        id: "nope".into(),
        pretty: false,
    })
    .await;
    assert_eq!(code, ExitStatus::Usage);
    assert_eq!(missing["status"], "ERROR");
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("no execution \"nope\""));

    let (bad, code) = durable(DurableCommand::Start {
        handler: "nobody".into(),
        id: "x".into(),
        input: "{}".into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(code, ExitStatus::Usage);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("registered: [\"approve\", \"greet\", \"pack\"]"),
        "{bad}"
    );

    // Resume an interrupted execution: its stored input is used and the step replays.
    let store = SqliteStore::open_default().unwrap();
    let mut rec = store.get_execution("g1").unwrap().unwrap();
    rec.status = InvocationStatus::Running;
    rec.result = None;
    store.put_execution(rec).await.unwrap();
    drop(store);
    let (resumed, code) = durable(DurableCommand::Resume {
        id: "g1".into(),
        hold: HOLD,
    })
    .await;
    assert_eq!(
        (code, &resumed["result"]),
        (ExitStatus::Succeeded, &Value::from("hello ada"))
    );

    // Starting an existing id again: the same input gives the execution back; another input
    // (or handler) is a conflict naming the id.
    let (again, code) = durable(DurableCommand::Start {
        handler: "greet".into(),
        id: "g1".into(),
        input: " \"ada\" ".into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(
        (code, &again["result"]),
        (ExitStatus::Succeeded, &Value::from("hello ada"))
    );
    let (conflict, code) = durable(DurableCommand::Start {
        handler: "greet".into(),
        id: "g1".into(),
        input: "\"bob\"".into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(code, ExitStatus::Conflict, "{conflict}");
    assert_eq!(conflict["status"], "ERROR");
    let message = conflict["error"].as_str().unwrap();
    assert!(
        message.contains("\"g1\"") && message.contains("another input"),
        "{message}"
    );
    let store = SqliteStore::open_default().unwrap();
    assert_eq!(store.get_execution("g1").unwrap().unwrap().input, "\"ada\"");
    drop(store);

    // A handler's event that does not decode: `Orkestra.InvalidInput` with the path.
    let (bad_input, code) = durable(DurableCommand::Start {
        handler: "greet".into(),
        id: "g2".into(),
        input: "{\"name\": 1}".into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(code, ExitStatus::Failed, "{bad_input}");
    assert_eq!(bad_input["status"], "FAILED");
    assert_eq!(bad_input["error"]["ErrorType"], "Orkestra.InvalidInput");
    let (order, code) = durable(DurableCommand::Start {
        handler: "pack".into(),
        id: "p1".into(),
        input: r#"{"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": "two"}]}"#.into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(code, ExitStatus::Failed);
    let message = order["error"]["ErrorMessage"].as_str().unwrap();
    assert!(message.contains("at `items[1].qty`"), "{message}");

    // While one run of an execution waits on its callback, a second start or resume of it is a
    // conflict (the first holds the execution's lease), not a second run.
    // (`hold` 1 h: it waits for the callback in process instead of suspending.)
    let waiting = tokio::spawn(durable(DurableCommand::Start {
        handler: "approve".into(),
        id: "a1".into(),
        input: "\"order-7\"".into(),
        timeout: None,
        hold: std::time::Duration::from_secs(3600),
    }));
    let callback_id = {
        let mut found = None;
        for _ in 0..500 {
            let (inspect, _) = durable(DurableCommand::Inspect {
                id: "a1".into(),
                pretty: false,
            })
            .await;
            if let Some(op) = inspect["operations"]
                .as_array()
                .and_then(|ops| ops.iter().find(|op| op["op_type"] == "CALLBACK"))
            {
                found = Some(format!("a1/{}", op["id"].as_str().unwrap()));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        found.expect("the callback is created")
    };
    for command in [
        DurableCommand::Start {
            handler: "approve".into(),
            id: "a1".into(),
            input: "\"order-7\"".into(),
            timeout: None,
            hold: HOLD,
        },
        DurableCommand::Resume {
            id: "a1".into(),
            hold: HOLD,
        },
    ] {
        let (busy, code) = durable(command).await;
        assert_eq!(code, ExitStatus::Conflict, "{busy}");
        let message = busy["error"].as_str().unwrap();
        // The error names the owner and when its lease ends.
        let owner = format!(
            "\"a1\" is being run by another process (process {}, owner ",
            std::process::id()
        );
        assert!(
            message.contains(&owner) && message.contains("lease ends at"),
            "{message}"
        );
    }
    let (done, code) = durable(DurableCommand::CompleteCallback {
        callback_id,
        result: Some("\"yes\"".into()),
        error: None,
        lambda: false,
    })
    .await;
    assert_eq!(code, ExitStatus::Succeeded, "{done}");
    let (finished, code) = waiting.await.unwrap();
    assert_eq!(
        (code, &finished["result"]),
        (ExitStatus::Succeeded, &Value::from("order-7: yes"))
    );
    // The lease went with the run: the same start now returns the finished execution.
    let (again, code) = durable(DurableCommand::Start {
        handler: "approve".into(),
        id: "a1".into(),
        input: "\"order-7\"".into(),
        timeout: None,
        hold: HOLD,
    })
    .await;
    assert_eq!(
        (code, &again["result"]),
        (ExitStatus::Succeeded, &Value::from("order-7: yes"))
    );

    // Suspension: waiting for its callback longer than the hold time, `start` ends with
    // exit 6, the execution RUNNING and not due; completing the callback makes it due and
    // `worker --once` runs it to its end.
    let suspended_start = |id: &str| DurableCommand::Start {
        handler: "approve".into(),
        id: id.into(),
        input: "\"order-8\"".into(),
        timeout: None,
        hold: std::time::Duration::ZERO,
    };
    let (suspended, code) = durable(suspended_start("a2")).await;
    assert_eq!(code, ExitStatus::Suspended, "{suspended}");
    assert_eq!(
        (
            &suspended["status"],
            &suspended["suspended"],
            &suspended["due"]
        ),
        (&Value::from("RUNNING"), &Value::from(true), &Value::Null),
        "{suspended}"
    );
    let worker = || DurableCommand::Worker {
        once: true,
        concurrency: 4,
        poll: std::time::Duration::from_millis(20),
        hold: HOLD,
    };
    let (idle, code) = durable(worker()).await;
    assert_eq!(
        (code, &idle["runs"]),
        (ExitStatus::Succeeded, &Value::from(0)),
        "{idle}"
    );
    let (inspect, _) = durable(DurableCommand::Inspect {
        id: "a2".into(),
        pretty: false,
    })
    .await;
    let callback = inspect["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["op_type"] == "CALLBACK")
        .unwrap();
    let callback_id = callback["callback_id"].as_str().unwrap().to_string();
    assert_eq!(
        callback_id,
        format!("a2/{}", callback["id"].as_str().unwrap())
    );
    let (_, code) = durable(DurableCommand::CompleteCallback {
        callback_id,
        result: Some("\"fine\"".into()),
        error: None,
        lambda: false,
    })
    .await;
    assert_eq!(code, ExitStatus::Succeeded);
    let (ran, code) = durable(worker()).await;
    assert_eq!(code, ExitStatus::Succeeded, "{ran}");
    assert_eq!(
        (&ran["runs"], &ran["finished"]),
        (&Value::from(1), &Value::from(1)),
        "{ran}"
    );
    let (a2, _) = durable(DurableCommand::Inspect {
        id: "a2".into(),
        pretty: false,
    })
    .await;
    assert_eq!(a2["result"], "order-8: fine", "{a2}");

    // `durable stop` ends a suspended execution STOPPED (its operations keep their status, as
    // the AWS local runner's); a second stop is a conflict.
    let (_, code) = durable(suspended_start("a3")).await;
    assert_eq!(code, ExitStatus::Suspended);
    let (stopped, code) = durable(DurableCommand::Stop { id: "a3".into() }).await;
    assert_eq!(
        (code, &stopped["status"]),
        (ExitStatus::Succeeded, &Value::from("STOPPED")),
        "{stopped}"
    );
    let (a3, code) = durable(DurableCommand::Resume {
        id: "a3".into(),
        hold: HOLD,
    })
    .await;
    assert_eq!(
        (code, &a3["status"]),
        (ExitStatus::Aborted, &Value::from("STOPPED")),
        "{a3}"
    );
    let (inspect, _) = durable(DurableCommand::Inspect {
        id: "a3".into(),
        pretty: false,
    })
    .await;
    let statuses: Vec<&str> = inspect["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["status"].as_str().unwrap())
        .collect();
    assert!(
        !statuses.contains(&"STOPPED") && statuses.contains(&"STARTED"),
        "{statuses:?}"
    );
    let (again, code) = durable(DurableCommand::Stop { id: "a3".into() }).await;
    assert_eq!(code, ExitStatus::Conflict, "{again}");
    let _ = std::fs::remove_dir_all(dir);
}
