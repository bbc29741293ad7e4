//! Pictures of workflows and of recorded durable executions: Mermaid, DOT and SVG.
//!
//! Everything is drawn from one small model, [`Diagram`]: boxes (tasks, map tasks, durable
//! operations), chains (drawn top to bottom) and groups (branches drawn side by side). A
//! workflow's diagram comes from the same graph the ASL export walks ([`crate::graph::Node`]);
//! a durable execution's from its operation records.
//!
//! - [`mermaid`] gives Mermaid `flowchart` text (GitHub renders it in Markdown).
//! - [`dot`] gives Graphviz DOT.
//! - [`svg`] gives a standalone SVG laid out by Orkestra itself (no Graphviz needed): the
//!   graphs are series-parallel, so each chain's box is its children's boxes stacked, and each
//!   group's box its branches' boxes side by side.
//!
//! ```
//! use orkestra::{compose, Context};
//!
//! #[compose]
//! fn fetch(n: u32, _ctx: &Context) -> Vec<u32> { (0..n).collect() }
//! #[compose(map, max_concurrency = 8)]
//! fn square(n: u32, _ctx: &Context) -> u32 { n * n }
//! orkestra::workflow!(squares = fetch >> square);
//!
//! let text = orkestra::diagram::mermaid(&squares());
//! assert!(text.starts_with("flowchart TD"));
//! assert!(text.contains("max concurrency 8"));
//! ```

mod dot;
mod durable;
mod layout;
mod mermaid;
mod svg;
mod workflow;

use crate::durable::store::{ExecutionRecord, OperationRecord};

use crate::graph::Workflow;
pub(crate) use durable::{children_in_call_order, status_counts};

/// An output format of `diagram`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Mermaid `flowchart` text.
    #[default]
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// A standalone SVG image.
    Svg,
}

/// The Mermaid text of `workflow` (a `flowchart TD`).
///
/// ```
/// # use orkestra::{compose, Context};
/// # #[compose] fn a(n: i64, _ctx: &Context) -> i64 { n }
/// # #[compose] fn b(n: i64, _ctx: &Context) -> i64 { n }
/// orkestra::workflow!(ab = a >> b);
/// assert!(orkestra::diagram::mermaid(&ab()).contains("a --> b"));
/// ```
pub fn mermaid(workflow: &Workflow) -> String {
    Diagram::of_workflow(workflow).mermaid()
}

/// The Graphviz DOT text of `workflow`.
///
/// ```
/// # use orkestra::{compose, Context};
/// # #[compose] fn a(n: i64, _ctx: &Context) -> i64 { n }
/// # #[compose] fn b(n: i64, _ctx: &Context) -> i64 { n }
/// orkestra::workflow!(ab = a >> b);
/// assert!(orkestra::diagram::dot(&ab()).starts_with("digraph \"ab\""));
/// ```
pub fn dot(workflow: &Workflow) -> String {
    Diagram::of_workflow(workflow).dot()
}

/// A standalone SVG picture of `workflow`.
///
/// ```
/// # use orkestra::{compose, Context};
/// # #[compose] fn a(n: i64, _ctx: &Context) -> i64 { n }
/// # #[compose] fn b(n: i64, _ctx: &Context) -> i64 { n }
/// orkestra::workflow!(ab = a >> b);
/// let svg = orkestra::diagram::svg(&ab());
/// assert!(svg.starts_with("<svg") && svg.contains(">b</text>"));
/// ```
pub fn svg(workflow: &Workflow) -> String {
    Diagram::of_workflow(workflow).svg()
}

/// A drawable picture: a workflow's states or a durable execution's operations.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    title: String,
    root: Shape,
}

impl Diagram {
    /// The diagram of a workflow: its tasks, map tasks and groups, with retries and timeouts.
    ///
    /// ```
    /// # use orkestra::{compose, Context};
    /// # #[compose] fn a(n: i64, _ctx: &Context) -> i64 { n }
    /// # #[compose] fn b(n: i64, _ctx: &Context) -> i64 { n }
    /// orkestra::workflow!(ab = a >> b);
    /// let diagram = orkestra::diagram::Diagram::of_workflow(&ab());
    /// assert_eq!(diagram.render(orkestra::diagram::Format::Dot), orkestra::diagram::dot(&ab()));
    /// ```
    pub fn of_workflow(workflow: &Workflow) -> Diagram {
        workflow::diagram(workflow)
    }

    /// The diagram of a recorded durable execution: its operation tree, each operation with
    /// its status (map iterations drawn one by one up to a few, summarised beyond).
    ///
    /// ```
    /// use orkestra::durable::store::{ExecutionRecord, InvocationStatus};
    /// let execution = ExecutionRecord {
    ///     id: "run-1".into(), handler: "h".into(), status: InvocationStatus::Succeeded,
    ///     input: "{}".into(), result: Some("1".into()), error: None, started_ms: None, ended_ms: None,
    /// };
    /// let diagram = orkestra::diagram::Diagram::of_durable(&execution, &[]);
    /// assert!(diagram.mermaid().contains("SUCCEEDED"));
    /// ```
    pub fn of_durable(execution: &ExecutionRecord, operations: &[OperationRecord]) -> Diagram {
        durable::diagram(execution, operations)
    }

    /// The diagram in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Mermaid => self.mermaid(),
            Format::Dot => self.dot(),
            Format::Svg => self.svg(),
        }
    }

    /// Mermaid `flowchart TD` text.
    pub fn mermaid(&self) -> String {
        mermaid::render(self)
    }

    /// Graphviz DOT text.
    pub fn dot(&self) -> String {
        dot::render(self)
    }

    /// A standalone SVG image.
    pub fn svg(&self) -> String {
        svg::render(self)
    }
}

/// A piece of a diagram.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// One box.
    Item(Item),
    /// Pieces one after another.
    Chain(Vec<Shape>),
    /// Branches side by side in a titled frame.
    Group(Group),
}

/// What a box stands for (decides its outline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    /// A task or an operation.
    Task,
    /// A map task: a double outline.
    Map,
    /// The start or end of the whole diagram: a pill.
    Terminal,
    /// A summary of elided pieces: a dashed outline.
    Note,
}

/// How a group treats a failing branch (decides its frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    /// `[a, b]`: the first error halts everything.
    FailFast,
    /// `(a, b)`: a failing branch yields its error as a value.
    Swallow,
    /// A durable context (map, parallel, child context).
    Context,
}

/// A recorded status, for durable diagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Succeeded,
    Failed,
    Running,
}

impl Status {
    fn class(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Running => "running",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    /// Unique in the diagram; a plain identifier (`[A-Za-z0-9_]`).
    id: String,
    /// The first line (the state's or operation's name).
    title: String,
    /// Annotations, one per line.
    notes: Vec<String>,
    kind: ItemKind,
    status: Option<Status>,
}

#[derive(Debug, Clone, PartialEq)]
struct Group {
    id: String,
    title: String,
    notes: Vec<String>,
    kind: GroupKind,
    branches: Vec<Shape>,
    status: Option<Status>,
}

impl Shape {
    /// The ids of the boxes an arrow into this shape points at.
    fn entries(&self) -> Vec<&str> {
        match self {
            Shape::Item(item) => vec![&item.id],
            Shape::Chain(parts) => parts.first().map_or_else(Vec::new, Shape::entries),
            Shape::Group(group) => group.branches.iter().flat_map(Shape::entries).collect(),
        }
    }

    /// The ids of the boxes an arrow out of this shape starts from.
    fn exits(&self) -> Vec<&str> {
        match self {
            Shape::Item(item) => vec![&item.id],
            Shape::Chain(parts) => parts.last().map_or_else(Vec::new, Shape::exits),
            Shape::Group(group) => group.branches.iter().flat_map(Shape::exits).collect(),
        }
    }

    /// Every arrow (from, to) between boxes, in drawing order.
    fn edges<'a>(&'a self, out: &mut Vec<(&'a str, &'a str)>) {
        match self {
            Shape::Item(_) => {}
            Shape::Chain(parts) => {
                for part in parts {
                    part.edges(out);
                }
                for pair in parts.windows(2) {
                    for from in pair[0].exits() {
                        for to in pair[1].entries() {
                            out.push((from, to));
                        }
                    }
                }
            }
            Shape::Group(group) => group.branches.iter().for_each(|b| b.edges(out)),
        }
    }

    /// Every box, depth first.
    fn items<'a>(&'a self, out: &mut Vec<&'a Item>) {
        match self {
            Shape::Item(item) => out.push(item),
            Shape::Chain(parts) => parts.iter().for_each(|p| p.items(out)),
            Shape::Group(group) => group.branches.iter().for_each(|b| b.items(out)),
        }
    }
}

/// Hands out unique plain identifiers derived from names (Mermaid and DOT both accept them;
/// Mermaid's keywords, e.g. `end`, get a suffix).
#[derive(Debug, Default)]
struct Ids {
    used: std::collections::HashSet<String>,
}

impl Ids {
    fn make(&mut self, name: &str) -> String {
        let mut base: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert(0, 'n');
        }
        const RESERVED: [&str; 12] = [
            "end",
            "graph",
            "flowchart",
            "subgraph",
            "style",
            "class",
            "classDef",
            "click",
            "linkStyle",
            "direction",
            "default",
            "call",
        ];
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&base)) {
            base.push('_');
        }
        let mut id = base.clone();
        let mut n = 1;
        while !self.used.insert(id.clone()) {
            n += 1;
            id = format!("{base}_{n}");
        }
        id
    }
}
