//! Lowers a workflow's graph into Amazon States Language.
//!
//! - A task is a `Task` state whose `Resource` is its Lambda function's ARN (a
//!   `${<Id>FunctionArn}` substitution) and whose `Parameters` build the task envelope.
//! - A map task is an inline `Map` state; its item processor holds the task, and with
//!   `capture_errors` a `Catch` on `States.ALL` ends the item with the `{"Error","Cause"}` value.
//!   A map over a `put_items` pointer (item type `MapIteration<T>`) is a Distributed Map over
//!   the pointer's `indices`: its `ItemSelector` builds the seed's iteration input, and the
//!   parent's execution id travels with each item (child executions have their own).
//! - A group is a `Parallel` state; a swallowing group catches `States.ALL` on every top-level
//!   state of each branch and ends the branch with the error value.
//! - Every task first retries Lambda's transient service errors (as CDK's `LambdaInvoke`
//!   does), then its own `retry(..)` rules.

use serde_json::{json, Value};

use super::asl::*;
use super::naming::function_arn_substitution;
use crate::error::names;
use crate::graph::{Node, ParallelNode, TaskNode, Workflow};
use crate::task::TaskSpec;

/// The errors CDK's `LambdaInvoke` retries by default.
pub const LAMBDA_TRANSIENT_ERRORS: [&str; 4] = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
];

/// The state machine of `workflow`.
pub fn state_machine(workflow: &Workflow) -> StateMachine {
    let mut machine = sequence(workflow.root());
    machine.comment = workflow.settings().comment.clone();
    machine
}

/// The state of a single node, as CDK's `CustomState` takes it (with `"End": true`).
pub fn node_state(node: &Node) -> State {
    match node {
        Node::Task(task) if task.task.options.map => map_state(task),
        Node::Task(task) => State::Task(task_state(
            task.task,
            envelope(&task.state_name, "$", false),
        )),
        Node::Parallel(group) => parallel_state(group),
        Node::Chain(_) => unreachable!("chains are flattened into sequences"),
    }
}

fn flatten(node: &Node) -> Vec<&Node> {
    match node {
        Node::Chain(nodes) => nodes.iter().flat_map(flatten).collect(),
        other => vec![other],
    }
}

fn state_name(node: &Node) -> &str {
    match node {
        Node::Task(task) => &task.state_name,
        Node::Parallel(group) => &group.state_name,
        Node::Chain(_) => unreachable!("chains are flattened into sequences"),
    }
}

/// Nodes one after another, linked with `Next`, the last one `End`.
fn sequence(node: &Node) -> StateMachine {
    let nodes = flatten(node);
    let mut states: Vec<(String, State)> = nodes
        .iter()
        .map(|node| (state_name(node).to_string(), node_state(node)))
        .collect();
    let names: Vec<String> = states.iter().map(|(name, _)| name.clone()).collect();
    for (i, (_, state)) in states.iter_mut().enumerate() {
        *state.transition_mut() = match names.get(i + 1) {
            Some(next) => Transition::Next(next.clone()),
            None => Transition::End,
        };
    }
    StateMachine {
        comment: None,
        start_at: names[0].clone(),
        states: States(states),
    }
}

/// The task envelope (see `crate::envelope`). The state's name is known here, so it is written
/// as a literal (inside a map, the map state's name, as the local engine names it); the item and
/// its index come from the map's `ItemSelector`.
fn envelope(state: &str, input_path: &str, in_map: bool) -> Value {
    let mut meta = json!({
        "execution_id.$": "$$.Execution.Id",
        "state_machine.$": "$$.StateMachine.Name",
        "state": state,
        "retry_count.$": "$$.State.RetryCount",
    });
    if in_map {
        meta["map_index.$"] = json!("$.index");
    }
    json!({ "input.$": input_path, "meta": meta })
}

fn task_state(spec: &TaskSpec, parameters: Value) -> TaskState {
    let transient = Retrier {
        error_equals: LAMBDA_TRANSIENT_ERRORS
            .iter()
            .map(|e| e.to_string())
            .collect(),
        interval_seconds: 2,
        max_attempts: 6,
        backoff_rate: 2.0,
        max_delay_seconds: None,
    };
    let own = spec.options.retry.iter().map(|rule| Retrier {
        error_equals: rule.errors.iter().map(|e| e.to_string()).collect(),
        interval_seconds: rule.interval_secs,
        max_attempts: rule.max_attempts,
        backoff_rate: rule.backoff_rate,
        max_delay_seconds: rule.max_delay_secs,
    });
    TaskState {
        resource: format!("${{{}}}", function_arn_substitution(spec.name)),
        parameters,
        timeout_seconds: spec.options.timeout_secs,
        retry: std::iter::once(transient).chain(own).collect(),
        catch: Vec::new(),
        transition: Transition::End,
    }
}

fn catch_all(next: &str) -> Catcher {
    Catcher {
        error_equals: vec![names::ALL.to_string()],
        next: next.to_string(),
    }
}

fn error_value_state(comment: &str) -> State {
    State::Pass(PassState {
        comment: Some(comment.to_string()),
        transition: Transition::End,
    })
}

fn map_state(node: &TaskNode) -> State {
    let spec = node.task;
    let distributed = spec.options.items_pointer;
    let item_name = format!("{}_item", node.state_name);
    let mut parameters = envelope(&node.state_name, "$.value", true);
    if distributed {
        // Each item runs as a child execution, whose own `$$.Execution.Id` differs: the
        // parent's id travels in the item, so state data stays the parent execution's.
        parameters["meta"]["execution_id.$"] = json!("$.execution_id");
    }
    let mut item = task_state(spec, parameters);
    let mut states = Vec::new();
    let captured_name = format!("{item_name}_captured");
    if spec.options.capture_errors {
        item.catch.push(catch_all(&captured_name));
    }
    states.push((item_name.clone(), State::Task(item)));
    if spec.options.capture_errors {
        states.push((
            captured_name,
            error_value_state("capture_errors: the item's output is {\"Error\",\"Cause\"}"),
        ));
    }
    let (items_path, item_selector, processor_config) = if distributed {
        (
            Some("$.indices".to_string()),
            json!({
                "value": {
                    "items_result_table_name.$": "$.table_name",
                    "items_result_partition_key.$": "$.partition_key",
                    "items_result_key.$": "$.key",
                    "context_index.$": "$$.Map.Item.Index",
                    "context_value.$": "$$.Map.Item.Value",
                },
                "index.$": "$$.Map.Item.Index",
                "execution_id.$": "$$.Execution.Id",
            }),
            json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}),
        )
    } else {
        (
            None,
            json!({"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"}),
            json!({"Mode": "INLINE"}),
        )
    };
    State::Map(MapState {
        items_path,
        item_selector,
        item_processor: ItemProcessor {
            processor_config,
            start_at: item_name,
            states: States(states),
        },
        max_concurrency: spec.options.max_concurrency,
        retry: Vec::new(),
        catch: Vec::new(),
        transition: Transition::End,
    })
}

fn parallel_state(group: &ParallelNode) -> State {
    let branches = group
        .branches
        .iter()
        .enumerate()
        .map(|(i, branch)| {
            let mut machine = sequence(branch);
            if group.swallow {
                let failed = format!("{}_branch_{}_failed", group.state_name, i + 1);
                for (_, state) in machine.states.0.iter_mut() {
                    if let Some(catchers) = state.catchers_mut() {
                        catchers.push(catch_all(&failed));
                    }
                }
                machine.states.0.push((
                    failed,
                    error_value_state("swallowed: the branch's output is {\"Error\",\"Cause\"}"),
                ));
            }
            machine
        })
        .collect();
    State::Parallel(ParallelState {
        branches,
        retry: Vec::new(),
        catch: Vec::new(),
        transition: Transition::End,
    })
}
