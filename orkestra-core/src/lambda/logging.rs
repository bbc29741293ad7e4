//! Structured logging in Lambda mode: one JSON object per line, Powertools-style.
//!
//! Lambda sends both stdout and stderr to the function's CloudWatch log stream; Orkestra writes
//! to **stdout** there, as Powertools' structured logger does (in CLI mode logs go to stderr, so
//! that stdout carries only the command's JSON). Each invocation runs inside a span named
//! `invocation` whose fields are `request_id`, `function`, `task`, `execution_id`,
//! `state_machine`, `state`, `retry_count` and, inside a map, `map_index`; a durable
//! function's invocation adds `executionArn` and `handler`. Every line logged during the
//! invocation, including the task's own `tracing` events, carries them as top-level keys
//! ([`FlatJson`]), with the Lambda runtime's `requestId` and `xrayTraceId`:
//!
//! ```json
//! {"timestamp":"..","level":"INFO","message":"invocation finished","target":"orkestra::lambda::handler",
//!  "requestId":"..","request_id":"..","task":"double","execution_id":"..","state":"double",
//!  "map_index":3,"outcome":"ok"}
//! ```
//!
//! A panic in a task is logged the same way, as one `ERROR` line (message and location) inside
//! the invocation's span, instead of the standard library's plain-text report on stderr; the
//! invocation then fails with `Orkestra.Panic` and the runtime goes on serving.
//!
//! The level comes from `ORKESTRA_LOG` (an `EnvFilter` directive), else from Lambda's
//! `AWS_LAMBDA_LOG_LEVEL`, else `info`.

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
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
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .event_format(FlatJson)
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

/// Formats each event as one flat JSON object: `timestamp`, `level`, `message`, `target`, the
/// fields of every span in scope, then the event's own fields (a later one wins a clash: an
/// inner span over an outer one, the event over its spans). Flat, because CloudWatch Logs filters and Insights
/// queries address top-level keys: `{ $.executionArn = "..." }` finds a durable execution's
/// lines (the way AWS's conformance tooling looks them up).
#[derive(Debug, Default, Clone, Copy)]
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = Map::new();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().to_string()),
        );
        let mut fields = EventFields::default();
        event.record(&mut fields);
        line.insert(
            "message".into(),
            Value::String(fields.message.unwrap_or_default()),
        );
        line.insert("target".into(), event.metadata().target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(recorded) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(span_fields)) =
                    serde_json::from_str::<Value>(recorded.as_str())
                {
                    line.extend(span_fields);
                }
            }
        }
        line.extend(fields.others);
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON: the `message` apart, the others by name.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    others: Map<String, Value>,
}

impl EventFields {
    fn insert(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.others.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(log: impl FnOnce()) -> Vec<Value> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(FlatJson)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn span_fields_become_top_level_keys_inner_spans_winning() {
        let lines = lines_of(|| {
            let outer = tracing::info_span!("invocation", request_id = "r-1", handler = "outer");
            let _outer = outer.enter();
            let inner = tracing::info_span!("durable", executionArn = "arn:x", handler = "orders");
            let _inner = inner.enter();
            tracing::warn!(attempt = 2, ok = true, "step {} retried", "charge");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["message"], "step charge retried");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["executionArn"], "arn:x");
        assert_eq!(line["handler"], "orders", "the inner span's value");
        assert_eq!(line["attempt"], 2);
        assert_eq!(line["ok"], true);
        assert!(line["timestamp"].as_str().is_some_and(|t| t.contains('T')));
        assert!(line.get("span").is_none(), "no nested span object: {line}");
    }

    #[test]
    fn an_event_outside_any_span_has_only_its_own_fields() {
        let lines = lines_of(|| tracing::info!(count = 3, "plain"));
        let keys: Vec<&str> = lines[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["count", "level", "message", "target", "timestamp"]);
    }
}
