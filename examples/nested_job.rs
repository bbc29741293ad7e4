//! A workflow with nested groups, sub-chains, a map, retries and a timeout: what `diagram`
//! draws beyond a straight chain.
//!
//! ```text
//! cargo run --example nested_job -- run --input 3
//! cargo run --example nested_job -- diagram --format svg --output nested.svg
//! ```
//!
//! `prepare >> (score >> [enrich, audit] >> combine, fan_out >> square >> total) >> publish`:
//! a swallowing group whose first branch holds a fail-fast group, whose second branch is a
//! map over a list.

use orkestra::{compose, Captured, Context};

#[compose]
pub fn prepare(n: i64, _ctx: &Context) -> i64 {
    n
}

#[compose(timeout_secs = 30, retry(max_attempts = 2, interval_secs = 1))]
pub fn score(n: i64, _ctx: &Context) -> i64 {
    n * 10
}

#[compose]
pub fn enrich(n: i64, _ctx: &Context) -> i64 {
    n + 1
}

#[compose(retry(errors = ["States.Timeout"], max_attempts = 3, interval_secs = 2, backoff_rate = 1.5))]
pub fn audit(n: i64, _ctx: &Context) -> i64 {
    n - 1
}

#[compose]
pub fn combine(pair: (i64, i64), _ctx: &Context) -> i64 {
    pair.0 + pair.1
}

#[compose]
pub fn fan_out(n: i64, _ctx: &Context) -> Vec<i64> {
    (1..=n).collect()
}

#[compose(map, max_concurrency = 4)]
pub fn square(n: i64, _ctx: &Context) -> i64 {
    n * n
}

#[compose]
pub fn total(items: Vec<i64>, _ctx: &Context) -> i64 {
    items.iter().sum()
}

#[compose]
pub fn publish(slots: (Captured<i64>, Captured<i64>), _ctx: &Context) -> Vec<i64> {
    vec![slots.0.ok().unwrap_or(0), slots.1.ok().unwrap_or(0)]
}

orkestra::workflow!(
    pub nested_example = prepare
        >> (score >> [enrich, audit] >> combine, fan_out >> square >> total)
        >> publish
);

fn main() -> std::process::ExitCode {
    orkestra::main()
}
