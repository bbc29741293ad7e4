//! Durable handlers registered by `#[durable_execution]`, so the CLI can start and resume
//! executions by handler name and `ctx.invoke` can call one handler from another.

use super::execution::DurableHandler;

/// One registered durable handler (emitted by `#[durable_execution]`).
pub struct DurableHandlerEntry {
    /// The handler's name (its function name).
    pub name: &'static str,
    /// Makes the handler.
    pub make: fn() -> Box<dyn DurableHandler>,
    /// The module that defines it (`module_path!()`).
    pub module: &'static str,
    /// The file that defines it (`file!()`).
    pub file: &'static str,
    /// The line of its definition (`line!()`).
    pub line: u32,
}

impl DurableHandlerEntry {
    /// Where the handler is defined: `module::name (file:line)`.
    pub fn location(&self) -> String {
        format!(
            "{}::{} ({}:{})",
            self.module, self.name, self.file, self.line
        )
    }
}

inventory::collect!(DurableHandlerEntry);

/// Two durable handlers share one name, so neither can be started or invoked by it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "two durable handlers are registered as `{name}`: {first} and {second}; rename one of them"
)]
pub struct DuplicateDurableHandler {
    /// The shared name.
    pub name: String,
    /// One definition.
    pub first: String,
    /// The other definition.
    pub second: String,
}

fn duplicate_among<'a>(
    entries: impl IntoIterator<Item = &'a DurableHandlerEntry>,
) -> Option<DuplicateDurableHandler> {
    let mut seen = std::collections::BTreeMap::new();
    for entry in entries {
        if let Some(previous) = seen.insert(entry.name, entry) {
            let mut pair = [previous.location(), entry.location()];
            pair.sort();
            let [first, second] = pair;
            return Some(DuplicateDurableHandler {
                name: entry.name.to_string(),
                first,
                second,
            });
        }
    }
    None
}

/// Fails when two registered durable handlers share a name, naming both definitions.
pub fn check_durable_handlers() -> Result<(), DuplicateDurableHandler> {
    duplicate_among(inventory::iter::<DurableHandlerEntry>).map_or(Ok(()), Err)
}

/// The registered handler called `name` (`Ok(None)` when there is none; an error when two
/// share the name).
pub fn registered_handler(
    name: &str,
) -> Result<Option<Box<dyn DurableHandler>>, DuplicateDurableHandler> {
    let mut matching = inventory::iter::<DurableHandlerEntry>
        .into_iter()
        .filter(|e| e.name == name);
    let first = matching.next();
    if let Some(duplicate) = duplicate_among(first.into_iter().chain(matching)) {
        return Err(duplicate);
    }
    Ok(first.map(|e| (e.make)()))
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
