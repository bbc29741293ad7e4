//! Structured logging in Lambda mode: one JSON object per line, Powertools-style.
//!
//! Lambda sends both stdout and stderr to the function's CloudWatch log stream; Orkestra writes
//! to **stdout** there, as Powertools' structured logger does (in CLI mode logs go to stderr, so
//! that stdout carries only the command's JSON). Each invocation runs inside a span named
//! `invocation` whose fields are `request_id`, `function`, `task`, `execution_id`,
//! `state_machine`, `state`, `retry_count` and, inside a map, `map_index`; every line logged
//! during the invocation, including the task's own `tracing` events, carries them under `span`:
//!
//! ```json
//! {"timestamp":"..","level":"INFO","message":"invocation finished","outcome":"ok",
//!  "target":"orkestra::lambda::handler","span":{"request_id":"..","task":"double",
//!  "execution_id":"..","state":"double","map_index":3,"name":"invocation"}}
//! ```
//!
//! A panic in a task is logged the same way, as one `ERROR` line (message and location) inside
//! the invocation's span, instead of the standard library's plain-text report on stderr; the
//! invocation then fails with `Orkestra.Panic` and the runtime goes on serving.
//!
//! The level comes from `ORKESTRA_LOG` (an `EnvFilter` directive), else from Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`, else `info`.

use tracing_subscriber::EnvFilter;

/// The filter Lambda mode logs with: `ORKESTRA_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn filter() -> EnvFilter {
    if let Ok(filter) = EnvFilter::try_from_env("ORKESTRA_LOG") {
        return filter;
    }
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .map(|level| level.to_ascii_lowercase())
        .unwrap_or_else(|_| "info".to_string());
    EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the JSON-lines subscriber writing to stdout; does nothing if one is installed.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter())
        .with_writer(std::io::stdout)
        .try_init();
}

/// Reports panics as JSON log lines (inside the current span) instead of plain text on stderr.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        crate::panic_log::log_panic(info);
    }));
}
