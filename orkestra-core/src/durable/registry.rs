//! Durable handlers registered by `#[durable_execution]`, so the CLI can start and resume
//! executions by handler name.

use super::execution::DurableHandler;

/// One registered durable handler (emitted by `#[durable_execution]`).
pub struct DurableHandlerEntry {
    /// The handler's name (its function name).
    pub name: &'static str,
    /// Makes the handler.
    pub make: fn() -> Box<dyn DurableHandler>,
}

inventory::collect!(DurableHandlerEntry);

/// The registered handler called `name`.
pub fn registered_handler(name: &str) -> Option<Box<dyn DurableHandler>> {
    inventory::iter::<DurableHandlerEntry>
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| (e.make)())
}

/// The names of all registered handlers, sorted.
pub fn registered_handlers() -> Vec<&'static str> {
    let mut names: Vec<_> = inventory::iter::<DurableHandlerEntry>
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort_unstable();
    names
}
