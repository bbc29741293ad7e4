//! A Lambda Runtime API on 127.0.0.1 for tests and the Lambda benchmark: the documented
//! endpoints (`GET /2018-06-01/runtime/invocation/next`, `POST .../invocation/{id}/response`,
//! `POST .../invocation/{id}/error`, `POST /2018-06-01/runtime/init/error`) over plain
//! `std::net` HTTP/1.1 with keep-alive, one thread per connection.
//!
//! Events are queued with [`RuntimeApi::push`]; whatever the runtime posts back is received, in
//! order, with [`RuntimeApi::next_posted`].
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Which endpoint a post went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /2018-06-01/runtime/invocation/{id}/response`
    Response,
    /// `POST /2018-06-01/runtime/invocation/{id}/error`
    Error,
    /// `POST /2018-06-01/runtime/init/error`
    InitError,
}

/// One post from the runtime.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The endpoint.
    pub kind: Kind,
    /// The `{id}` of the path (none for init errors).
    pub request_id: Option<String>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub error_type_header: Option<String>,
    /// When the post's body had been read.
    pub at: Instant,
}

impl Posted {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("posted body is not JSON ({e}): {}", self.text()))
    }
}

struct Event {
    request_id: String,
    body: Vec<u8>,
    deadline_ms: u64,
}

struct State {
    queue: Mutex<VecDeque<Event>>,
    ready: Condvar,
    posted: Mutex<Sender<Posted>>,
    next_polls: AtomicU64,
    first_poll: Mutex<Option<Instant>>,
}

/// The server; it lives until the process ends.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    posted: Receiver<Posted>,
    ids: AtomicU64,
}

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1.
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = channel();
        let state = Arc::new(State {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            posted: Mutex::new(tx),
            next_polls: AtomicU64::new(0),
            first_poll: Mutex::new(None),
        });
        let accept_state = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || serve_connection(stream, &state));
            }
        });
        RuntimeApi {
            addr,
            state,
            posted: rx,
            ids: AtomicU64::new(1),
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// How many `GET .../invocation/next` requests have arrived.
    pub fn next_polls(&self) -> u64 {
        self.state.next_polls.load(Ordering::SeqCst)
    }

    /// When the first `GET .../invocation/next` arrived.
    pub fn first_poll_at(&self) -> Option<Instant> {
        *self.state.first_poll.lock().unwrap()
    }

    /// Queues an event with a 60 s deadline; returns its request id.
    pub fn push(&self, body: &[u8]) -> String {
        self.push_with_deadline(body, Duration::from_secs(60))
    }

    /// Queues an event due `timeout` from now; returns its request id.
    pub fn push_with_deadline(&self, body: &[u8], timeout: Duration) -> String {
        let request_id = format!(
            "req-{:08}-{}",
            self.ids.fetch_add(1, Ordering::SeqCst),
            std::process::id()
        );
        let deadline = SystemTime::now() + timeout;
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        self.state.queue.lock().unwrap().push_back(Event {
            request_id: request_id.clone(),
            body: body.to_vec(),
            deadline_ms,
        });
        self.state.ready.notify_all();
        request_id
    }

    /// The next post, waiting at most `timeout`.
    pub fn next_posted(&self, timeout: Duration) -> Option<Posted> {
        self.posted.recv_timeout(timeout).ok()
    }

    /// Queues `body` and waits (10 s at most) for the post answering it.
    pub fn invoke(&self, body: &[u8]) -> Posted {
        let request_id = self.push(body);
        let posted = self
            .next_posted(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no answer to {request_id} within 10 s"));
        assert_eq!(
            posted.request_id.as_deref(),
            Some(request_id.as_str()),
            "answer to another request: {posted:?}"
        );
        posted
    }
}

/// One HTTP/1.1 request as read from a connection (shared with `lambda_invoke.rs`).
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Reads the next request of a keep-alive connection (Content-Length or chunked body); `None`
/// at the end of the connection or on a malformed request.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (key, value) = line.split_once(':')?;
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = request.header("content-length") {
        let mut body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    } else if request
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    }
    Some(request)
}

/// Writes a response with `Content-Length`; `false` when the connection is gone.
pub fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> bool {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (key, value) in headers {
        head.push_str(&format!("{key}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    stream
        .write_all(&bytes)
        .and_then(|_| stream.flush())
        .is_ok()
}

fn serve_connection(stream: TcpStream, state: &State) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    const PREFIX: &str = "/2018-06-01/runtime/";
    while let Some(request) = read_request(&mut reader) {
        let route = request.path.strip_prefix(PREFIX).unwrap_or("");
        let ok = match (request.method.as_str(), route) {
            ("GET", "invocation/next") => {
                state.next_polls.fetch_add(1, Ordering::SeqCst);
                state
                    .first_poll
                    .lock()
                    .unwrap()
                    .get_or_insert_with(Instant::now);
                let event = {
                    let mut queue = state.queue.lock().unwrap();
                    loop {
                        if let Some(event) = queue.pop_front() {
                            break event;
                        }
                        queue = state.ready.wait(queue).unwrap();
                    }
                };
                let deadline = event.deadline_ms.to_string();
                respond(
                    &mut writer,
                    "200 OK",
                    &[
                        ("Content-Type", "application/json"),
                        ("Lambda-Runtime-Aws-Request-Id", &event.request_id),
                        ("Lambda-Runtime-Deadline-Ms", &deadline),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:eu-west-1:123456789012:function:orkestra-test",
                        ),
                        (
                            "Lambda-Runtime-Trace-Id",
                            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                        ),
                    ],
                    &event.body,
                )
            }
            ("POST", "init/error") => {
                record(state, Kind::InitError, None, &request);
                respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)
            }
            ("POST", route) if route.starts_with("invocation/") => {
                let rest = &route["invocation/".len()..];
                let kind = if rest.ends_with("/response") {
                    Some(Kind::Response)
                } else if rest.ends_with("/error") {
                    Some(Kind::Error)
                } else {
                    None
                };
                match kind {
                    Some(kind) => {
                        let id = rest.rsplit_once('/').map(|(id, _)| id.to_string());
                        record(state, kind, id, &request);
                        respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)
                    }
                    None => respond(&mut writer, "404 Not Found", &[], b"{}"),
                }
            }
            _ => respond(&mut writer, "404 Not Found", &[], b"{}"),
        };
        if !ok {
            return;
        }
    }
}

fn record(state: &State, kind: Kind, request_id: Option<String>, request: &Request) {
    let posted = Posted {
        kind,
        request_id,
        body: request.body.clone(),
        error_type_header: request
            .header("lambda-runtime-function-error-type")
            .map(str::to_string),
        at: Instant::now(),
    };
    let _ = state.posted.lock().unwrap().send(posted);
}
