//! The seed's map job: `ones_and_zeros >> divide_by >> filter_division_errors >> sum_up >> times_3`.
//!
//! `cargo run --example map_job` runs it locally and prints `{"status":..,"output":..}`;
//! `cargo run --example map_job -- run --input '{"seed": 7}'` makes the run repeatable.

use orkestra::{compose, Captured, Context, ErrorName};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use serde::Deserialize;

/// The workflow's input event.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct Event {
    /// Seeds the random choice, so that a run can be repeated (also across processes).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// Dividing by zero, Rust's spelling of Python's `ZeroDivisionError`.
#[derive(Debug, ErrorName)]
pub struct DivideByZero;

impl std::fmt::Display for DivideByZero {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("division by zero")
    }
}

/// Ten random ones and zeros.
#[compose]
pub fn ones_and_zeros(event: Event, _ctx: &Context) -> Vec<u8> {
    let mut rng = match event.seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::from_os_rng(),
    };
    (0..10).map(|_| rng.random_range(0..=1)).collect()
}

/// `1 / n`; fails on zero, and the failure is captured per item.
#[compose(map, capture_errors)]
pub fn divide_by(n: u8, _ctx: &Context) -> Result<f64, DivideByZero> {
    if n == 0 {
        Err(DivideByZero)
    } else {
        Ok(1.0 / n as f64)
    }
}

/// Replaces captured errors with `0.0`.
#[compose(map)]
pub fn filter_division_errors(event: Captured<f64>, _ctx: &Context) -> f64 {
    event.ok().unwrap_or(0.0)
}

/// The sum of the numbers.
#[compose]
pub fn sum_up(numbers: Vec<f64>, _ctx: &Context) -> f64 {
    numbers.iter().sum()
}

/// Three times `n`.
#[compose]
pub fn times_3(n: f64, _ctx: &Context) -> f64 {
    n * 3.0
}

orkestra::workflow!(
    pub map_example = ones_and_zeros >> divide_by >> filter_division_errors >> sum_up >> times_3
);

fn main() -> std::process::ExitCode {
    orkestra::main()
}
