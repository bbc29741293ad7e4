//! One log line per panic, shared by the CLI's and Lambda mode's panic hooks.

use std::panic::PanicHookInfo;

/// Logs a panic as one `ERROR` line with its message and `file:line:column` location (a panic
/// with a payload other than a string logs "the task panicked").
pub(crate) fn log_panic(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the task panicked".to_string());
    tracing::error!(panic = %message, location = %location, "task panicked");
}
