//! Export speed. Run with `cargo bench --bench export`; prints figures, asserts nothing.
//!
//! Synthesises the CloudFormation template (ASL built and checked, resources, JSON text) for a
//! generated workflow of 1,000 states: chains of tasks, map tasks and parallel groups.

use std::time::{Duration, Instant};

use orkestra::export::Template;
use orkestra::{compose, Context, Node, TaskDef, Workflow};

#[compose]
fn step_a(n: u64, _ctx: &Context) -> u64 {
    n + 1
}

#[compose]
fn step_b(n: u64, _ctx: &Context) -> u64 {
    n * 2
}

#[compose(map, capture_errors, retry(max_attempts = 2))]
fn per_item(n: u64, _ctx: &Context) -> u64 {
    n
}

/// About 1,000 states (counted and printed): tasks and map states in the main chain, and
/// parallel groups of two branches, half of them swallowing errors.
fn generated_workflow() -> Workflow {
    let mut nodes = Vec::new();
    for i in 0..800 {
        let node = match i % 19 {
            0 => Node::parallel(
                vec![Node::task(step_a::spec()), Node::task(step_b::spec())],
                i % 2 == 0,
            ),
            5 => Node::task(per_item::spec()),
            n if n % 2 == 0 => Node::task(step_a::spec()),
            _ => Node::task(step_b::spec()),
        };
        nodes.push(node);
    }
    Workflow::from_node("generated", Node::Chain(nodes))
}

/// Every state, in branches and item processors too.
fn count_states(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => {
            let here = map
                .get("States")
                .and_then(|states| states.as_object())
                .map_or(0, |states| states.len());
            here + map.values().map(count_states).sum::<usize>()
        }
        serde_json::Value::Array(items) => items.iter().map(count_states).sum(),
        _ => 0,
    }
}

fn main() {
    let workflow = generated_workflow();
    let asl = orkestra::export::asl(&workflow).expect("valid ASL");
    let states = count_states(&serde_json::to_value(&asl).unwrap());
    let mut samples: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let template = Template::new().workflow(&workflow).to_json().unwrap();
            let text = serde_json::to_string_pretty(&template).unwrap();
            std::hint::black_box(text);
            started.elapsed()
        })
        .collect();
    samples.sort();
    let text =
        serde_json::to_string_pretty(&Template::new().workflow(&workflow).to_json().unwrap())
            .unwrap();
    println!(
        "synth of a generated workflow of {states} states: median {:.2} ms, max {:.2} ms, template {} KB",
        samples[samples.len() / 2].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        text.len() / 1024
    );
}
