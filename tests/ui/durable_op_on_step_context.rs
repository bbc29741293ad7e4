use orkestra::durable::{StepContext};
use orkestra::durable_step;
use std::time::Duration;

#[durable_step]
fn inner(_step_ctx: &StepContext, n: u32) -> Result<u32, String> {
    Ok(n)
}

#[durable_step]
async fn outer(step_ctx: &StepContext, n: u32) -> Result<u32, String> {
    let doubled: u32 = step_ctx.step(inner(n)).await.map_err(|e: String| e)?;
    step_ctx.wait(Duration::from_secs(1)).await;
    Ok(doubled)
}

fn main() {}
