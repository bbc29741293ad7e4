//! `ctx.stop_execution(error, cause)`: the seed's feature-flag check, ending the whole
//! execution (ABORTED, exit code 3) before any work is done.
//!
//! ```sh
//! cargo run --example stop_execution -- run --input '{"enabled": true}'    # SUCCEEDED, exit 0
//! cargo run --example stop_execution -- run --input '{"enabled": false}'   # ABORTED, exit 3
//! ```

use orkestra::state_data::ExecutionStopped;
use orkestra::{compose, Context};
use serde::{Deserialize, Serialize};

/// The execution's input: whether the feature is on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flags {
    /// The feature flag.
    pub enabled: bool,
}

/// Stops the execution when the feature is off; passes the flags on otherwise.
#[compose]
pub async fn check_feature(flags: Flags, ctx: &Context) -> Result<Flags, ExecutionStopped> {
    if !flags.enabled {
        return Err(ctx
            .stop_execution("FeatureDisabled", "the feature flag is off for this run")
            .await);
    }
    Ok(flags)
}

/// The work the flag guards.
#[compose]
pub fn do_work(_flags: Flags, _ctx: &Context) -> String {
    "work done".to_string()
}

orkestra::workflow!(pub feature_flag = check_feature >> do_work);

fn main() -> std::process::ExitCode {
    orkestra::main()
}
