//! Durable handlers registered by `#[durable_execution]`, so the CLI can start and resume
//! executions by handler name, `ctx.invoke` can call one handler from another, and export can
//! turn each into a Lambda durable function with the settings written on the attribute.

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
    /// The settings written on the attribute (`#[durable_execution(..)]`).
    pub options: DurableHandlerOptions,
}

/// What `#[durable_execution(..)]` declares besides the handler itself: its durable function's
/// configuration and the handlers it may chain with `ctx.invoke`.
///
/// ```
/// use orkestra::durable::DurableHandlerOptions;
/// let options = DurableHandlerOptions {
///     execution_timeout_secs: Some(86_400),
///     invokes: &["charge_card"],
///     ..DurableHandlerOptions::DEFAULT
/// };
/// assert!(options.may_invoke("charge_card"));
/// assert!(!options.may_invoke("refund"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableHandlerOptions {
    /// `execution_timeout_secs = N`: how long one execution may run in all (its invocations and
    /// the waits between them), 1 to 31,622,400 seconds.
    pub execution_timeout_secs: Option<u32>,
    /// `retention_days = N`: how long the service keeps a finished execution's history, 1 to 90.
    pub retention_days: Option<u32>,
    /// `memory_mb = N`: the function's memory.
    pub memory_mb: Option<u32>,
    /// `timeout_secs = N`: the limit of one invocation (at most 900 s; the execution goes on
    /// across invocations).
    pub timeout_secs: Option<u32>,
    /// `invokes = [a, b]`: the durable handlers this one may chain with `ctx.invoke`; its role
    /// may invoke exactly these functions, and the embedded engine refuses any other.
    pub invokes: &'static [&'static str],
}

impl DurableHandlerOptions {
    /// No settings written: the export defaults, and no chained invokes.
    pub const DEFAULT: DurableHandlerOptions = DurableHandlerOptions {
        execution_timeout_secs: None,
        retention_days: None,
        memory_mb: None,
        timeout_secs: None,
        invokes: &[],
    };

    /// Whether `target` is among the declared `invokes`.
    pub fn may_invoke(&self, target: &str) -> bool {
        self.invokes.contains(&target)
    }
}

/// Implemented by the companion type `#[durable_execution]` gives each handler (same name as the
/// function, in the type namespace); `invokes = [h]` reads `h`'s name through it, so a target
/// that is not a durable handler fails to compile at its name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[durable_execution]` handler, so it cannot be in `invokes`",
    label = "not a durable handler",
    note = "`invokes` lists the durable handlers this one chains with `ctx.invoke`"
)]
pub trait DurableHandlerDef {
    /// The handler's registered name.
    const NAME: &'static str;
}

impl Default for DurableHandlerOptions {
    fn default() -> Self {
        DurableHandlerOptions::DEFAULT
    }
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

/// The registration of the handler called `name` (the first, when two share it: see
/// [`check_durable_handlers`]).
pub fn registered_entry(name: &str) -> Option<&'static DurableHandlerEntry> {
    inventory::iter::<DurableHandlerEntry>
        .into_iter()
        .find(|e| e.name == name)
}

/// Every registered handler, sorted by name.
pub fn registered_entries() -> Vec<&'static DurableHandlerEntry> {
    let mut entries: Vec<_> = inventory::iter::<DurableHandlerEntry>.into_iter().collect();
    entries.sort_by_key(|e| e.name);
    entries
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
