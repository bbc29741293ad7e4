//! Suite `invoke`.

use orkestra::durable::DurableHandler;
use std::sync::Arc;

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    let _ = id;
    None
}

/// The chained-invoke targets, as the bed's `--function-configs` takes them.
pub fn function_configs() -> serde_json::Value {
    serde_json::json!({})
}
