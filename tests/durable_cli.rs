//! The `durable` CLI subcommands, run in-process against `$ORKESTRA_DB`.

use orkestra::cli::{execute, Command};
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

async fn durable(command: DurableCommand) -> (Value, u8) {
    let out = execute(Some(Command::Durable { command })).await;
    (serde_json::from_str(&out.stdout).unwrap(), out.code)
}

#[tokio::test]
async fn start_list_inspect_resume() {
    let dir = std::env::temp_dir().join(format!("orkestra-cli-{}", std::process::id()));
    // The only test in this binary: setting the variable cannot race another test.
    std::env::set_var("ORKESTRA_DB", dir.join("cli.db"));
    assert!(registered_handlers().contains(&"greet"));

    let (out, code) = durable(DurableCommand::Start {
        handler: "greet".into(),
        id: "g1".into(),
        input: "\"ada\"".into(),
    })
    .await;
    assert_eq!(
        (code, out["status"].as_str()),
        (0, Some("SUCCEEDED")),
        "{out}"
    );
    assert_eq!(out["result"], "hello ada");

    let (list, _) = durable(DurableCommand::List).await;
    assert_eq!(list[0]["id"], "g1");
    assert_eq!(list[0]["handler"], "greet");

    let (inspect, _) = durable(DurableCommand::Inspect {
        id: "g1".into(),
        pretty: false,
    })
    .await;
    assert_eq!(inspect["operations"][0]["name"], "greet");
    assert_eq!(inspect["operations"][0]["status"], "SUCCEEDED");

    let (missing, code) = durable(DurableCommand::Inspect {
        id: "nope".into(),
        pretty: false,
    })
    .await;
    assert_eq!(code, 2);
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("no execution \"nope\""));

    let (bad, code) = durable(DurableCommand::Start {
        handler: "nobody".into(),
        id: "x".into(),
        input: "{}".into(),
    })
    .await;
    assert_eq!(code, 2);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("registered: [\"greet\"]"),
        "{bad}"
    );

    // Resume an interrupted execution: its stored input is used and the step replays.
    let store = SqliteStore::open_default().unwrap();
    let mut rec = store.get_execution("g1").unwrap().unwrap();
    rec.status = InvocationStatus::Running;
    rec.result = None;
    store.put_execution(rec).await.unwrap();
    drop(store);
    let (resumed, code) = durable(DurableCommand::Resume { id: "g1".into() }).await;
    assert_eq!((code, &resumed["result"]), (0, &Value::from("hello ada")));
    let _ = std::fs::remove_dir_all(dir);
}
