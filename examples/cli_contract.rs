//! Tasks that exercise the command line's output contract (`tests/cli.rs` runs this binary):
//!
//! ```text
//! cargo run --example cli_contract -- invoke negate -3          # 3
//! cargo run --example cli_contract -- run negation --input -3   # {"status":"SUCCEEDED","output":3}
//! cargo run --example cli_contract -- invoke sleepy 5           # States.Timeout after 1 s, exit 3
//! cargo run --example cli_contract -- invoke explode 1          # Orkestra.Panic, one log line
//! ```

use orkestra::{compose, Context};

/// `-n`.
#[compose]
pub fn negate(n: i64, _ctx: &Context) -> i64 {
    -n
}

/// Sleeps `secs` seconds, past its one-second timeout when `secs > 1`.
#[compose(timeout_secs = 1)]
pub fn sleepy(secs: u64, _ctx: &Context) -> u64 {
    std::thread::sleep(std::time::Duration::from_secs(secs));
    secs
}

/// Panics with a message naming `n`.
#[compose]
pub fn explode(n: u64, _ctx: &Context) -> u64 {
    panic!("exploded on {n}")
}

/// A string of `n` bytes (over the 256 KiB payload limit when `n` is large enough).
#[compose]
pub fn bytes(n: usize, _ctx: &Context) -> String {
    "x".repeat(n)
}

orkestra::workflow!(pub negation = negate);

fn main() -> std::process::ExitCode {
    orkestra::main()
}
