//! The scheduler queue's store contract (`tests/support/scheduler_suite.rs`) on DynamoDB,
//! against the local moto server (`ORKESTRA_TEST_AWS_ENDPOINT`, started by
//! `.ci/setup.d/60-aws.sh`): the same checks the SQLite queue passes.

#[path = "support/aws_local.rs"]
mod aws_local;
#[path = "support/scheduler_suite.rs"]
mod scheduler_suite;

use std::sync::Arc;

use orkestra::aws::AwsConfig;
use orkestra::scheduler::dynamo::{create_tables, DynamoQueue};
use orkestra::scheduler::store::QueueStore;

/// Fresh tables, and two queues (two clients) on them.
fn dynamo_pair() -> Option<(Arc<dyn QueueStore>, Arc<dyn QueueStore>)> {
    let endpoint = aws_local::endpoint()?;
    let prefix = aws_local::unique("sched").replace('-', "_");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(async {
        let config = AwsConfig::local(&endpoint).await;
        create_tables(&config, &prefix).await.unwrap();
        config
    });
    Some((
        Arc::new(DynamoQueue::new(&config, &prefix)),
        Arc::new(DynamoQueue::new(&config, &prefix)),
    ))
}

scheduler_suite::suite_tests!(dynamo_pair);

#[path = "support/examples.rs"]
mod examples;

/// `schedule submit|work|status --dynamodb PREFIX` on the `scheduler` example binary, the
/// endpoint and dummy credentials from the environment as in any AWS deployment.
#[test]
fn the_cli_queues_and_drains_on_dynamodb() {
    let Some(endpoint) = aws_local::endpoint() else {
        return;
    };
    let prefix = aws_local::unique("schedcli").replace('-', "_");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        create_tables(&AwsConfig::local(&endpoint).await, &prefix)
            .await
            .unwrap()
    });
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scheduler");
    let run = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(examples::example_binary("scheduler"))
            .arg("schedule")
            .args(args)
            .args(["--dynamodb", &prefix])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let job = root.join("report_job.json").display().to_string();
    let config = root.join("scheduler.json").display().to_string();
    assert_eq!(run(&["submit", &job, "--config", &config])["queued"], 10);
    assert_eq!(
        run(&["submit", &job, "--config", &config])["already_queued"],
        10
    );
    assert_eq!(run(&["work", "--config", &config])["completed"], 10);
    let status = run(&["status"]);
    assert_eq!(status["labourers"]["report_worker"]["completed"], 10);
    assert_eq!(status["labourers"]["report_worker"]["queued"], 0);
}
