//! Export: Amazon States Language from the graph model, checked before it leaves.

pub mod asl;
pub mod build;
pub mod check;
pub mod naming;

pub use asl::StateMachine;
pub use build::state_machine;
pub use check::{check, AslError};

use crate::graph::Workflow;

/// The checked ASL of `workflow`.
///
/// ```
/// # fn demo(workflow: &orkestra::Workflow) {
/// let asl = orkestra::export::asl(workflow).expect("valid ASL");
/// println!("{}", serde_json::to_string_pretty(&asl).unwrap());
/// # }
/// ```
pub fn asl(workflow: &Workflow) -> Result<StateMachine, Vec<AslError>> {
    let machine = state_machine(workflow);
    check(&machine)?;
    Ok(machine)
}

// Not `durable`: a second public module of that name makes rustc spell `orkestra::durable`
// paths in full in compile errors (tests/ui).
pub mod durable_functions;
pub mod lambda;
pub mod scheduler;
pub mod state_data;
pub mod template;

pub use durable_functions::DurableFunction;
pub use lambda::{Architecture, LambdaFunction};
pub use scheduler::SchedulerExport;
pub use template::{ScheduledStateMachine, Template, TemplateError};

/// `.task()`: a task's state JSON alone, in the shape CDK's `CustomState({stateJson})` takes.
pub fn task_state_json(spec: &'static crate::TaskSpec) -> serde_json::Value {
    let mut node = crate::Node::task(spec);
    if let crate::Node::Task(task) = &mut node {
        task.state_name = spec.name.to_string();
    }
    serde_json::to_value(build::node_state(&node)).expect("ASL serialises")
}
