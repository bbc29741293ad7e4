//! Parallel groups, as Orkestra composes them (seed 001):
//!
//! - `swallowing_example`: `start >> (double, explode) >> report` — `explode` fails, its error is
//!   swallowed into its slot, and `report` still runs;
//! - `halting_example`: `start >> [double, explode] >> total` — the same failure halts the
//!   execution.
//!
//! `cargo run --example parallel_job -- run swallowing_example --input 4`

use orkestra::{compose, Captured, Context, ErrorName};

/// A deliberate failure.
#[derive(Debug, ErrorName)]
pub struct Explosion(pub i64);

impl std::fmt::Display for Explosion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exploded on {}", self.0)
    }
}

/// Passes the number on.
#[compose]
pub fn start(n: i64, _ctx: &Context) -> i64 {
    n
}

/// Twice the number.
#[compose]
pub fn double(n: i64, _ctx: &Context) -> i64 {
    n * 2
}

/// Always fails.
#[compose]
pub fn explode(n: i64, _ctx: &Context) -> Result<i64, Explosion> {
    Err(Explosion(n))
}

/// Describes both slots, failures included.
#[compose]
pub fn report(slots: (Captured<i64>, Captured<i64>), _ctx: &Context) -> Vec<String> {
    let describe = |slot: Captured<i64>| match slot {
        Captured::Ok(value) => format!("ok: {value}"),
        Captured::Err(error) => format!("{}: {}", error.name(), error.message()),
    };
    vec![describe(slots.0), describe(slots.1)]
}

/// Adds both slots.
#[compose]
pub fn total(slots: (i64, i64), _ctx: &Context) -> i64 {
    slots.0 + slots.1
}

orkestra::workflow!(
    pub swallowing_example = start >> (double, explode) >> report,
    schedule = "rate(1 hour)"
);
orkestra::workflow!(
    pub halting_example = start >> [double, explode] >> total,
    state_machine_type = "EXPRESS"
);

fn main() -> std::process::ExitCode {
    orkestra::main()
}
