//! The untyped workflow graph: tasks, chains and parallel groups, with stable state names.

use std::collections::HashMap;

use crate::compose::Step;
use crate::task::TaskSpec;

/// A node of a workflow graph.
#[derive(Debug, Clone)]
pub enum Node {
    /// One task; a map task runs once per item of its input list.
    Task(TaskNode),
    /// Steps run one after another.
    Chain(Vec<Node>),
    /// Branches run at once on the same input.
    Parallel(ParallelNode),
}

/// A task in the graph.
#[derive(Debug, Clone)]
pub struct TaskNode {
    /// The registered task.
    pub task: &'static TaskSpec,
    /// The state's name: the task's key, suffixed `_2`, `_3`... when a task is used again.
    pub state_name: String,
}

/// A parallel group in the graph.
#[derive(Debug, Clone)]
pub struct ParallelNode {
    /// Each branch.
    pub branches: Vec<Node>,
    /// Whether a failing branch yields `{"Error","Cause"}` instead of halting.
    pub swallow: bool,
    /// The state's name, `parallel_1`, `parallel_2`... in order of appearance.
    pub state_name: String,
}

impl Node {
    /// A task node (named when the workflow is built).
    pub fn task(task: &'static TaskSpec) -> Node {
        Node::Task(TaskNode {
            task,
            state_name: String::new(),
        })
    }

    /// A parallel node (named when the workflow is built).
    pub fn parallel(branches: Vec<Node>, swallow: bool) -> Node {
        Node::Parallel(ParallelNode {
            branches,
            swallow,
            state_name: String::new(),
        })
    }

    /// Every task node, depth first, in order.
    pub fn tasks(&self) -> Vec<&TaskNode> {
        let mut out = Vec::new();
        self.visit_tasks(&mut out);
        out
    }

    fn visit_tasks<'a>(&'a self, out: &mut Vec<&'a TaskNode>) {
        match self {
            Node::Task(task) => out.push(task),
            Node::Chain(nodes) => nodes.iter().for_each(|node| node.visit_tasks(out)),
            Node::Parallel(group) => group.branches.iter().for_each(|b| b.visit_tasks(out)),
        }
    }

    fn assign_names(&mut self, namer: &mut Namer) {
        match self {
            Node::Task(task) => task.state_name = namer.task(task.task.name),
            Node::Chain(nodes) => nodes.iter_mut().for_each(|node| node.assign_names(namer)),
            Node::Parallel(group) => {
                group.state_name = namer.group();
                group
                    .branches
                    .iter_mut()
                    .for_each(|branch| branch.assign_names(namer));
            }
        }
    }
}

#[derive(Default)]
struct Namer {
    uses: HashMap<&'static str, usize>,
    groups: usize,
}

impl Namer {
    fn task(&mut self, key: &'static str) -> String {
        let count = self.uses.entry(key).or_default();
        *count += 1;
        match *count {
            1 => key.to_string(),
            n => format!("{key}_{n}"),
        }
    }

    fn group(&mut self) -> String {
        self.groups += 1;
        format!("parallel_{}", self.groups)
    }
}

/// Step Functions' two kinds of state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateMachineType {
    /// Long-running, exactly-once (the default).
    #[default]
    Standard,
    /// Short, high-volume, at-least-once.
    Express,
}

impl StateMachineType {
    /// The name CloudFormation uses (`STANDARD` / `EXPRESS`).
    pub fn as_str(self) -> &'static str {
        match self {
            StateMachineType::Standard => "STANDARD",
            StateMachineType::Express => "EXPRESS",
        }
    }
}

/// Per-workflow settings used by export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowSettings {
    /// STANDARD or EXPRESS.
    pub state_machine_type: StateMachineType,
    /// An EventBridge Scheduler expression, e.g. `rate(1 hour)` or `cron(0 12 * * ? *)`.
    pub schedule: Option<String>,
    /// A description, carried into the ASL `Comment`.
    pub comment: Option<String>,
}

/// A named workflow: the graph of its states and its settings.
///
/// ```
/// use orkestra::{Workflow, WorkflowSettings};
/// # fn build(flow: impl orkestra::Step) -> Workflow {
/// let wf = Workflow::new("example", flow);
/// # wf }
/// ```
#[derive(Debug, Clone)]
pub struct Workflow {
    name: String,
    root: Node,
    settings: WorkflowSettings,
}

impl Workflow {
    /// A workflow named `name` running `flow`.
    pub fn new<S: Step>(name: impl Into<String>, flow: S) -> Workflow {
        Workflow::from_node(name, flow.into_node())
    }

    /// A workflow from an untyped graph (names its states).
    pub fn from_node(name: impl Into<String>, mut root: Node) -> Workflow {
        root.assign_names(&mut Namer::default());
        Workflow {
            name: name.into(),
            root,
            settings: WorkflowSettings::default(),
        }
    }

    /// The same workflow with `settings`.
    pub fn with_settings(mut self, settings: WorkflowSettings) -> Workflow {
        self.settings = settings;
        self
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The graph.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The settings.
    pub fn settings(&self) -> &WorkflowSettings {
        &self.settings
    }
}
