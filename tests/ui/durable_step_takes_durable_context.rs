use orkestra::durable::{DurableContext, StepContext};
use orkestra::durable_step;

#[durable_step]
fn reserve(_step_ctx: &StepContext, ctx: DurableContext, n: u32) -> Result<u32, String> {
    let _ = ctx;
    Ok(n)
}

fn main() {}
