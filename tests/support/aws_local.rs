//! The local AWS-compatible server the AWS tests use (moto_server on 127.0.0.1, started by
//! `.ci/setup.d/60-aws.sh`, which sets `ORKESTRA_TEST_AWS_ENDPOINT`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the local server's endpoint, e.g. `http://127.0.0.1:5055`.
pub const ENDPOINT_VAR: &str = "ORKESTRA_TEST_AWS_ENDPOINT";

/// The endpoint; `None` (with the reason printed) when it is not set outside CI. Under
/// `CI=true` a missing endpoint fails the test.
pub fn endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "{ENDPOINT_VAR} is not set: .ci/setup.d/60-aws.sh starts moto_server and sets it"
            )
        }
        _ => {
            eprintln!(
                "skipping: {ENDPOINT_VAR} is not set (run `moto_server -H 127.0.0.1 -p 5055` and \
                 set {ENDPOINT_VAR}=http://127.0.0.1:5055)"
            );
            None
        }
    }
}

/// A fresh resource name (lowercase letters, digits and hyphens; valid for tables, buckets
/// and state machines).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}
