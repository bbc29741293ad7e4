//! The scheduler on AWS, end to end against real local servers: the queue on DynamoDB (moto,
//! `ORKESTRA_TEST_AWS_ENDPOINT`), labourers invoked asynchronously through a local Lambda
//! `Invoke` endpoint (`support/lambda_invoke.rs`) that runs the `scheduler` example's binary
//! in Lambda mode per invocation, and the orchestrator itself that binary in Lambda mode
//! (`_HANDLER=orkestra-scheduler`) served one scheduled event at a time.

#[path = "support/aws_local.rs"]
mod aws_local;
#[path = "support/examples.rs"]
mod examples;
#[path = "support/lambda_invoke.rs"]
mod lambda_invoke;
#[path = "support/runtime_api.rs"]
mod runtime_api;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lambda_invoke::InvokeServer;
use orkestra::aws::AwsConfig;
use orkestra::scheduler::chunk::ChunkedJob;
use orkestra::scheduler::dynamo::{create_tables, DynamoQueue};
use orkestra::scheduler::store::QueueStore;
use orkestra::scheduler::submit;
use runtime_api::{Kind, RuntimeApi};
use serde_json::{json, Value};

/// Fresh tables on the local server, and a queue on them.
fn tables(name: &str) -> Option<(String, String, DynamoQueue)> {
    let endpoint = aws_local::endpoint()?;
    let prefix = aws_local::unique(name).replace('-', "_");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(async {
        let config = AwsConfig::local(&endpoint).await;
        create_tables(&config, &prefix).await.unwrap();
        config
    });
    let queue = DynamoQueue::new(&config, &prefix);
    Some((endpoint, prefix, queue))
}

/// What every process of the deployment gets: the region, dummy credentials, DynamoDB on the
/// local server, the tables' prefix.
fn deployment_env(endpoint: &str, prefix: &str) -> Vec<(String, String)> {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ("ORKESTRA_SCHEDULER_PREFIX", prefix),
        ("ORKESTRA_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn config_file(prefix: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{prefix}-scheduler.json"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The orchestrator's function: the example binary with `_HANDLER=orkestra-scheduler`.
struct Orchestrator {
    api: RuntimeApi,
    child: Child,
}

impl Orchestrator {
    fn start(env: &[(String, String)]) -> Orchestrator {
        let api = RuntimeApi::start();
        let child = Command::new(examples::example_binary("scheduler"))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("_HANDLER", "orkestra-scheduler")
            .env("AWS_LAMBDA_FUNCTION_NAME", "orchestrator")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Orchestrator { api, child }
    }

    /// One scheduled EventBridge event; the pass's report.
    fn tick(&self) -> Value {
        let event = json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event",
            "time": "2026-12-03T07:00:00Z", "resources": ["arn:aws:events:us-east-1:123456789012:rule/tick"], "detail": {}});
        let posted = self.api.invoke(event.to_string().as_bytes());
        assert_eq!(posted.kind, Kind::Response, "{}", posted.text());
        posted.json()
    }
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The largest number of the intervals `[start, end)` that overlap at one moment.
fn peak(intervals: &[(u64, u64)]) -> usize {
    let mut edges: Vec<(u64, i32)> = intervals
        .iter()
        .flat_map(|&(s, e)| [(s, 1), (e, -1)])
        .collect();
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn orchestrator_passes_invoke_labourers_that_report_their_own_outcome() {
    let Some((endpoint, prefix, queue)) = tables("schedlambda") else {
        return;
    };
    const LIMIT: usize = 4;
    const TASKS: usize = 30;
    let config = config_file(
        &prefix,
        &format!(
            r#"{{"labourers":{{"report_worker":{{"max_simultaneous_invocations":{LIMIT}}}}}}}"#
        ),
    );
    let mut payloads: Vec<Value> = (0..TASKS)
        .map(|i| json!({"sections": [format!("s{i}")], "work_ms": 150}))
        .collect();
    // No `sections`: the labourer fails every attempt (3, its `max_attempts`).
    payloads.push(json!({"stores": ["broken"]}));
    let job = ChunkedJob {
        labourer: "report_worker".into(),
        rerun: false,
        payloads,
    };
    assert_eq!(
        submit(&queue, &job, |_| {}).unwrap().queued,
        TASKS as u64 + 1
    );

    let env = deployment_env(&endpoint, &prefix);
    let lambda = InvokeServer::start(
        examples::example_binary("scheduler"),
        &["report_worker"],
        env.clone(),
    );
    let mut orchestrator_env = env.clone();
    orchestrator_env.push((
        "AWS_ENDPOINT_URL_LAMBDA".into(),
        lambda.endpoint().to_string(),
    ));
    orchestrator_env.push((
        "ORKESTRA_SCHEDULER_CONFIG".into(),
        config.display().to_string(),
    ));
    let orchestrator = Orchestrator::start(&orchestrator_env);

    let started = Instant::now();
    let mut invoked = 0;
    loop {
        let pass = orchestrator.tick();
        let n = pass["invoked"].as_u64().unwrap() as usize;
        assert!(n <= LIMIT, "one pass claimed {n} > {LIMIT}: {pass}");
        invoked += n;
        let counts = queue.counts().unwrap()["report_worker"];
        assert!(counts.running as usize <= LIMIT, "{counts:?}");
        if counts.pending() == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "not drained: {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    lambda.wait_idle(Duration::from_secs(10));

    let counts = queue.counts().unwrap()["report_worker"];
    assert_eq!(
        (counts.completed, counts.dead),
        (TASKS as u64, 1),
        "{counts:?}"
    );
    // 30 first attempts plus 3 of the failing task; every one ran in the real binary.
    assert_eq!(invoked, TASKS + 3);
    let ran = lambda.ran();
    assert_eq!(ran.len(), TASKS + 3);
    assert!(
        ran.iter().all(|r| r.ok),
        "every scheduled invocation succeeds for Lambda"
    );

    // The labourers reported: each completed task archived exactly once.
    let mut windows = Vec::new();
    for r in &ran {
        let task_id = r.event["orkestra_scheduler"]["task_id"].as_str().unwrap();
        if r.posted["reported"] == "completed" {
            let out = &r.posted["output"];
            assert_eq!(
                out["task"], task_id,
                "the context's execution id is the task id"
            );
            windows.push((
                out["started_ms"].as_u64().unwrap(),
                out["ended_ms"].as_u64().unwrap(),
            ));
            let events: Vec<String> = queue
                .audit(task_id)
                .unwrap()
                .into_iter()
                .map(|e| e.event)
                .collect();
            assert_eq!(
                events,
                ["created", "invoked", "completed", "archived"],
                "{task_id}"
            );
        }
    }
    assert_eq!(windows.len(), TASKS);
    let peak = peak(&windows);
    eprintln!("peak concurrent labourer runs: {peak} (limit {LIMIT})");
    assert!(peak <= LIMIT, "{peak} labourers ran at once, limit {LIMIT}");

    // The failing task: retried, then dead-lettered with the labourer's error each time.
    let dead = queue.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    let names: Vec<&str> = dead[0]
        .errors
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["NoSections"; 3]);
    assert_eq!(dead[0].errors[0]["message"], "the task names no section");
    let trail: Vec<String> = queue
        .audit(&dead[0].task_id)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        trail,
        [
            "created", "invoked", "failed", "retried", "invoked", "failed", "retried", "invoked",
            "failed", "dead"
        ]
    );
}

/// `schedule work --lambda --dynamodb` drains the queue with the Lambda invoker; a labourer
/// whose function does not exist fails at `Invoke`, is retried and dead-lettered with Lambda's
/// error.
#[test]
fn the_cli_drains_with_the_lambda_invoker_and_dead_letters_a_missing_function() {
    let Some((endpoint, prefix, queue)) = tables("schedlambdacli") else {
        return;
    };
    let missing = "arn:aws:lambda:us-east-1:123456789012:function:gone";
    for job in [
        ChunkedJob {
            labourer: "report_worker".into(),
            rerun: false,
            payloads: (0..5).map(|i| json!({"sections": [i]})).collect(),
        },
        ChunkedJob {
            labourer: missing.into(),
            rerun: false,
            payloads: vec![json!({"x": 1})],
        },
    ] {
        submit(&queue, &job, |_| {}).unwrap();
    }
    let env = deployment_env(&endpoint, &prefix);
    let lambda = InvokeServer::start(
        examples::example_binary("scheduler"),
        &["report_worker"],
        env.clone(),
    );
    let out = Command::new(examples::example_binary("scheduler"))
        .args(["schedule", "work", "--lambda", "--dynamodb", &prefix])
        .envs(env)
        .env("AWS_ENDPOINT_URL_LAMBDA", lambda.endpoint())
        .output()
        .unwrap();
    let stdout: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}",
            String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(
        out.status.code(),
        Some(1),
        "a task was dead-lettered: {stdout}"
    );
    assert_eq!(stdout["status"], "DRAINED");
    assert_eq!(stdout["invoked"], 5 + 3, "{stdout}");
    // Counted from the store: the labourers recorded these themselves.
    assert_eq!(
        (&stdout["completed"], &stdout["dead"]),
        (&json!(5), &json!(1))
    );
    assert_eq!(stdout["labourers"]["report_worker"]["completed"], 5);
    assert_eq!(stdout["labourers"][missing]["dead"], 1);
    let dead = queue.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].errors.len(), 3);
    for error in &dead[0].errors {
        assert_eq!(error["error"], "Scheduler.InvokeFailed");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(missing) && message.contains("ResourceNotFound"),
            "{message}"
        );
    }
    assert_eq!(lambda.ran().len(), 5);
}

/// Without `ORKESTRA_SCHEDULER_PREFIX` the orchestrator's every invocation fails saying what to
/// set (the process keeps serving); no AWS server is needed to see it.
#[test]
fn an_orchestrator_without_its_prefix_says_what_to_set() {
    let orchestrator = Orchestrator::start(&[
        ("AWS_REGION".into(), "us-east-1".into()),
        ("ORKESTRA_SCHEDULER_PREFIX".into(), String::new()),
    ]);
    for _ in 0..2 {
        let posted = orchestrator.api.invoke(b"{}");
        assert_eq!(posted.kind, Kind::Error, "{}", posted.text());
        let error = posted.json();
        assert_eq!(error["errorType"], "Scheduler.NotConfigured");
        assert!(
            error["errorMessage"]
                .as_str()
                .unwrap()
                .contains("`ORKESTRA_SCHEDULER_PREFIX` is not set"),
            "{error}"
        );
    }
}

/// Percent-encodes a form value (RFC 3986 unreserved characters kept).
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates a CloudFormation stack on the local server (the Query API, as the CLI sends it).
fn create_stack(endpoint: &str, name: &str, template: &Value) {
    use std::io::{Read, Write};
    let body = format!(
        "Action=CreateStack&Version=2010-05-15&StackName={}&TemplateBody={}",
        form_encode(name),
        form_encode(&template.to_string())
    );
    let host = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

/// The tables `synth` emits are the ones the DynamoDB queue uses: created from the template by
/// CloudFormation (moto), the queue submits, claims, completes and retries on them.
#[test]
fn the_synthesized_tables_serve_the_dynamodb_queue() {
    let Some(endpoint) = aws_local::endpoint() else {
        return;
    };
    let out = Command::new(examples::example_binary("scheduler"))
        .arg("synth")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let template: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables: serde_json::Map<String, Value> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    assert_eq!(tables.len(), 5);
    let stack = aws_local::unique("synth");
    create_stack(&endpoint, &stack, &json!({"Resources": tables}));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(AwsConfig::local(&endpoint));
    let queue = DynamoQueue::new(&config, &stack);
    let job = ChunkedJob {
        labourer: "report_worker".into(),
        rerun: false,
        payloads: (0..3).map(|i| json!({"sections": [i]})).collect(),
    };
    assert_eq!(submit(&queue, &job, |_| {}).unwrap().queued, 3);
    let now = orkestra::scheduler::store::now_ms();
    let claims = queue
        .claim("report_worker", 2, 3, 60_000, "me", now)
        .unwrap();
    assert_eq!(claims.len(), 2, "the limit, through the labourers table");
    assert_eq!(
        claims[0].payload,
        json!({"sections": [0]}),
        "oldest first, through the index"
    );
    assert!(queue.complete(&claims[0], now + 1).unwrap());
    let plan = orkestra::scheduler::store::RetryPlan {
        max_attempts: 3,
        launch_at_ms: now,
    };
    let outcome = queue.fail(&claims[1], ("E", "m"), plan, now + 1).unwrap();
    assert_eq!(outcome, orkestra::scheduler::store::FailOutcome::Retrying);
    assert_eq!(queue.requeue_due(now + 2).unwrap(), 1);
    let counts = queue.counts().unwrap()["report_worker"];
    assert_eq!((counts.completed, counts.queued, counts.running), (1, 2, 0));
    assert_eq!(queue.audit(&claims[0].task_id).unwrap().len(), 4);
}
