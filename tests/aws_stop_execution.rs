//! `SfnStopper` (`ctx.stop_execution` in AWS) against a local Step Functions (moto): a
//! running execution of a state machine waiting an hour is stopped with an error and a cause
//! and ends ABORTED.
//!
//! moto's StopExecution drops the error and cause (its DescribeExecution reports neither), so
//! the test also reads moto's request recorder to check that both went over the wire in the
//! `StopExecution` call.
//!
//! Needs `ORKESTRA_TEST_AWS_ENDPOINT` (`.ci/setup.d/60-aws.sh`); without it the test skips
//! locally and fails under `CI=true`.

#[allow(dead_code)]
#[path = "support/aws_local.rs"]
mod aws_local;

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine as _;
use orkestra::aws::{AwsConfig, SfnStopper};
use orkestra::state_data::{ExecutionStopper, StateDataError};
use serde_json::{json, Value};

/// A plain HTTP request to the server's own API (`/moto-api/..`); returns the body.
fn moto_api(endpoint: &str, method: &str, path: &str) -> String {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "{response}"
    );
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// The JSON bodies of the recorded requests whose `X-Amz-Target` is `target`.
fn recorded(recording: &str, target: &str) -> Vec<Value> {
    recording
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| {
            entry["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .any(|(k, v)| {
                    k.eq_ignore_ascii_case("x-amz-target")
                        && v.as_str().is_some_and(|v| v.ends_with(target))
                })
        })
        .map(|entry| {
            let body = entry["body"].as_str().unwrap_or_default();
            let bytes = if entry["body_encoded"] == true {
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap()
            } else {
                body.as_bytes().to_vec()
            };
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        })
        .collect()
}

#[tokio::test]
async fn stop_execution_aborts_a_running_execution_with_error_and_cause() {
    let Some(endpoint) = aws_local::endpoint() else {
        return;
    };
    let config = AwsConfig::local(&endpoint).await;
    let sfn = config.sfn();
    let definition = json!({
        "StartAt": "wait_an_hour",
        "States": {"wait_an_hour": {"Type": "Wait", "Seconds": 3600, "End": true}}
    });
    let machine = sfn
        .create_state_machine()
        .name(aws_local::unique("orkestra-stop"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/orkestra-test")
        .send()
        .await
        .unwrap();
    let execution = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn)
        .input("{}")
        .send()
        .await
        .unwrap();
    let arn = execution.execution_arn;
    let before = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status.as_str(), "RUNNING");

    moto_api(&endpoint, "POST", "/moto-api/recorder/reset-recording");
    moto_api(&endpoint, "POST", "/moto-api/recorder/start-recording");
    let stopper = SfnStopper::new(&config);
    let stopped = stopper
        .stop(&arn, "FeatureDisabled", "the orders flag is off")
        .await;
    moto_api(&endpoint, "POST", "/moto-api/recorder/stop-recording");
    stopped.unwrap();

    let after = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status.as_str(), "ABORTED");
    assert!(after.stop_date.is_some());
    let recording = moto_api(&endpoint, "GET", "/moto-api/recorder/download-recording");
    let calls = recorded(&recording, "StopExecution");
    assert!(
        calls.contains(&json!({
            "executionArn": arn,
            "error": "FeatureDisabled",
            "cause": "the orders flag is off"
        })),
        "StopExecution calls recorded: {calls:?}"
    );
}

#[tokio::test]
async fn stopping_an_unknown_execution_names_it() {
    let Some(endpoint) = aws_local::endpoint() else {
        return;
    };
    let stopper = SfnStopper::new(&AwsConfig::local(&endpoint).await);
    let arn = "arn:aws:states:us-east-1:123456789012:execution:no-such-machine:run-1";
    match stopper.stop(arn, "E", "c").await {
        Err(StateDataError::Backend {
            backend,
            operation,
            table,
            message,
        }) => {
            assert_eq!(
                (backend, operation, table.as_str()),
                ("sfn", "StopExecution", arn)
            );
            assert!(message.contains(arn), "{message}");
        }
        other => panic!("expected a Backend error, got {other:?}"),
    }
}
