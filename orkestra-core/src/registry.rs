//! The registry of tasks and workflows compiled into this binary (collected with `inventory`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::graph::Workflow;
use crate::task::TaskSpec;

/// A task registered by `#[compose]`.
#[derive(Debug)]
pub struct TaskEntry(pub &'static TaskSpec);

/// A workflow registered by `workflow!`.
#[derive(Debug)]
pub struct WorkflowEntry {
    /// The workflow's (state machine's) name.
    pub name: &'static str,
    /// Builds the workflow.
    pub build: fn() -> Workflow,
    /// The module that declares it.
    pub module_path: &'static str,
    /// The file that declares it.
    pub file: &'static str,
    /// The line of the declaration.
    pub line: u32,
}

inventory::collect!(TaskEntry);
inventory::collect!(WorkflowEntry);

/// A registration problem found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two tasks share one registry key.
    #[error("two tasks are registered as `{name}`: {first} and {second}; give one another name with #[compose(name = \"...\")]")]
    DuplicateTask {
        /// The shared key.
        name: String,
        /// One definition.
        first: String,
        /// The other definition.
        second: String,
    },
    /// Two workflows share one name.
    #[error("two workflows are registered as `{name}`: {first} and {second}")]
    DuplicateWorkflow {
        /// The shared name.
        name: String,
        /// One declaration.
        first: String,
        /// The other declaration.
        second: String,
    },
}

/// Every task and workflow in this binary, by name.
///
/// ```no_run
/// let registry = orkestra::Registry::global().expect("no duplicate names");
/// for task in registry.tasks() {
///     println!("{}", task.name);
/// }
/// ```
#[derive(Debug)]
pub struct Registry {
    tasks: BTreeMap<&'static str, &'static TaskSpec>,
    workflows: BTreeMap<&'static str, &'static WorkflowEntry>,
}

impl Registry {
    /// Collects the registrations, failing on duplicate names.
    pub fn load() -> Result<Registry, RegistryError> {
        Registry::from_entries(
            inventory::iter::<TaskEntry>
                .into_iter()
                .map(|entry| entry.0),
            inventory::iter::<WorkflowEntry>,
        )
    }

    /// Builds a registry from explicit entries (what [`Registry::load`] does with `inventory`'s).
    pub fn from_entries(
        tasks: impl IntoIterator<Item = &'static TaskSpec>,
        workflows: impl IntoIterator<Item = &'static WorkflowEntry>,
    ) -> Result<Registry, RegistryError> {
        let mut registry = Registry {
            tasks: BTreeMap::new(),
            workflows: BTreeMap::new(),
        };
        for spec in tasks {
            if let Some(previous) = registry.tasks.insert(spec.name, spec) {
                let (first, second) = ordered(previous.location(), spec.location());
                return Err(RegistryError::DuplicateTask {
                    name: spec.name.to_string(),
                    first,
                    second,
                });
            }
        }
        for entry in workflows {
            if let Some(previous) = registry.workflows.insert(entry.name, entry) {
                let (first, second) = ordered(location(previous), location(entry));
                return Err(RegistryError::DuplicateWorkflow {
                    name: entry.name.to_string(),
                    first,
                    second,
                });
            }
        }
        Ok(registry)
    }

    /// The registry of this binary, loaded once.
    pub fn global() -> Result<&'static Registry, RegistryError> {
        static GLOBAL: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        GLOBAL
            .get_or_init(Registry::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The task registered as `name`.
    pub fn task(&self, name: &str) -> Option<&'static TaskSpec> {
        self.tasks.get(name).copied()
    }

    /// Every task, by name.
    pub fn tasks(&self) -> impl Iterator<Item = &'static TaskSpec> + '_ {
        self.tasks.values().copied()
    }

    /// The workflow registered as `name`.
    pub fn workflow(&self, name: &str) -> Option<&'static WorkflowEntry> {
        self.workflows.get(name).copied()
    }

    /// Every workflow, by name.
    pub fn workflows(&self) -> impl Iterator<Item = &'static WorkflowEntry> + '_ {
        self.workflows.values().copied()
    }

    /// Whether no task and no workflow is registered.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.workflows.is_empty()
    }
}

/// Why a binary may lack a task, workflow or durable handler, and the fix; CLI errors about an
/// empty registry or an unknown name end with it.
///
/// Registrations are statics in the crate that defines them, and a library crate that `main`
/// never names is not linked into the binary, so its tasks vanish.
pub const NOT_REGISTERED_HINT: &str = "if the definitions live in a library crate, name that \
crate in src/main.rs: `orkestra::main!(my_lib);` instead of calling `orkestra::main()` (a \
library crate that `main` never names is not linked into the binary, so nothing it defines is \
registered; see \"Project layout\" in the README)";

/// `message` followed by [`NOT_REGISTERED_HINT`].
pub fn with_registration_hint(message: impl std::fmt::Display) -> String {
    format!("{message}; {NOT_REGISTERED_HINT}")
}

fn location(entry: &WorkflowEntry) -> String {
    format!(
        "{}::{} ({}:{})",
        entry.module_path, entry.name, entry.file, entry.line
    )
}

// Link order decides which definition inventory yields first; sort so messages are stable.
fn ordered(a: String, b: String) -> (String, String) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{ErasedBody, TaskOptions};
    use serde_json::Value;

    fn body(v: Value, _: &crate::Context) -> Result<Value, crate::TaskError> {
        Ok(v)
    }

    const fn spec(module_path: &'static str, file: &'static str, line: u32) -> TaskSpec {
        TaskSpec {
            name: "same",
            rust_name: "same",
            module_path,
            file,
            line,
            options: TaskOptions::DEFAULT,
            input_type: "u8",
            output_type: "u8",
            body: ErasedBody::Sync(body),
        }
    }

    static A: TaskSpec = spec("crate_a::jobs", "src/jobs.rs", 3);
    static B: TaskSpec = spec("crate_a::other", "src/other.rs", 9);

    #[test]
    fn duplicate_task_names_are_reported_with_both_locations() {
        let err = Registry::from_entries([&A, &B], []).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`same`"), "{text}");
        assert!(
            text.contains("crate_a::jobs::same (src/jobs.rs:3)"),
            "{text}"
        );
        assert!(
            text.contains("crate_a::other::same (src/other.rs:9)"),
            "{text}"
        );
    }

    #[test]
    fn distinct_names_load() {
        let registry = Registry::from_entries([&A], []).unwrap();
        assert_eq!(registry.task("same").unwrap().line, 3);
        assert!(registry.task("missing").is_none());
    }
}
