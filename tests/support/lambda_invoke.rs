//! A local Lambda `Invoke` endpoint on 127.0.0.1 for the scheduler's tests, reached by the
//! SDK through `AWS_ENDPOINT_URL_LAMBDA`: `POST /2015-03-31/functions/{name}/invocations`
//! with `X-Amz-Invocation-Type: Event` answers 202 and then runs the REAL binary in Lambda
//! mode for that one invocation (a fresh process with `_HANDLER={name}`, served by its own
//! [`RuntimeApi`](crate::runtime_api::RuntimeApi)), as Lambda does with an asynchronous event.
//! An unknown function answers 404 `ResourceNotFoundException`, as Lambda does.
//!
//! Requires `#[path = "support/runtime_api.rs"] mod runtime_api;` in the test crate.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runtime_api::{read_request, respond, Kind, Request, RuntimeApi};

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The function (its `_HANDLER`).
    pub function: String,
    /// The event, as sent.
    pub event: serde_json::Value,
    /// `true` when the runtime posted a response, `false` for an error.
    pub ok: bool,
    /// What it posted (response or error body).
    pub posted: serde_json::Value,
}

struct State {
    binary: PathBuf,
    env: Vec<(String, String)>,
    functions: BTreeSet<String>,
    accepted: Mutex<u64>,
    ran: Mutex<Vec<Ran>>,
}

/// The server; it lives until the process ends.
pub struct InvokeServer {
    endpoint: String,
    state: Arc<State>,
}

impl InvokeServer {
    /// Serves `functions` (handler names) by running `binary` with `env` added.
    pub fn start(binary: PathBuf, functions: &[&str], env: Vec<(String, String)>) -> InvokeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            binary,
            env,
            functions: functions.iter().map(|f| f.to_string()).collect(),
            accepted: Mutex::new(0),
            ran: Mutex::new(Vec::new()),
        });
        let accept_state = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || serve_connection(stream, &state));
            }
        });
        InvokeServer { endpoint, state }
    }

    /// `http://127.0.0.1:port`, the value of `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Invocations accepted (202) so far.
    pub fn accepted(&self) -> u64 {
        *self.state.accepted.lock().unwrap()
    }

    /// Invocations finished so far.
    pub fn ran(&self) -> Vec<Ran> {
        self.state.ran.lock().unwrap().clone()
    }

    /// Waits until every accepted invocation has finished (at most `timeout`).
    pub fn wait_idle(&self, timeout: Duration) {
        let start = Instant::now();
        while self.ran().len() as u64 != self.accepted() {
            assert!(start.elapsed() < timeout, "invocations still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve_connection(stream: TcpStream, state: &Arc<State>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(Request {
        method,
        path,
        headers,
        body,
    }) = read_request(&mut reader)
    {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let name = path
            .split('?')
            .next()
            .and_then(|p| p.strip_prefix("/2015-03-31/functions/"))
            .and_then(|p| p.strip_suffix("/invocations"))
            .map(percent_decode);
        let ok = match (method.as_str(), name) {
            ("POST", Some(name)) if !state.functions.contains(&name) => {
                let message = format!(
                    r#"{{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}"}}"#
                );
                respond(
                    &mut writer,
                    "404 Not Found",
                    &[
                        ("Content-Type", "application/json"),
                        ("x-amzn-ErrorType", "ResourceNotFoundException"),
                    ],
                    message.as_bytes(),
                )
            }
            ("POST", Some(name))
                if header("x-amz-invocation-type").as_deref() == Some("Event") =>
            {
                *state.accepted.lock().unwrap() += 1;
                let state = state.clone();
                std::thread::spawn(move || run_once(&state, name, body));
                respond(
                    &mut writer,
                    "202 Accepted",
                    &[("x-amzn-RequestId", "local-invoke")],
                    b"",
                )
            }
            ("POST", Some(_)) => respond(
                &mut writer,
                "400 Bad Request",
                &[
                    ("Content-Type", "application/json"),
                    ("x-amzn-ErrorType", "InvalidParameterValueException"),
                ],
                br#"{"Type":"User","message":"this test endpoint serves only InvocationType Event"}"#,
            ),
            _ => respond(&mut writer, "404 Not Found", &[], b"{}"),
        };
        if !ok {
            return;
        }
    }
}

/// Runs the binary for one event, as Lambda would on a fresh (cold) execution environment.
fn run_once(state: &State, function: String, body: Vec<u8>) {
    let api = RuntimeApi::start();
    let mut child = Command::new(&state.binary)
        .envs(state.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("_HANDLER", &function)
        .env("AWS_LAMBDA_FUNCTION_NAME", &function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the function's binary");
    api.push(&body);
    let posted = api.next_posted(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let event = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let (ok, posted) = match posted {
        Some(p) => (p.kind == Kind::Response, p.json()),
        None => (false, serde_json::json!("no answer within 30 s")),
    };
    state.ran.lock().unwrap().push(Ran {
        function,
        event,
        ok,
        posted,
    });
}
