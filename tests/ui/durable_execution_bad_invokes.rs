//! `invokes = [..]` lists `#[durable_execution]` handlers by name or path.
use orkestra::durable::{DurableContext, DurableError};
use orkestra::{compose, durable_execution, Context};

#[durable_execution]
async fn target(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[compose]
fn a_task(n: u32, _ctx: &Context) -> u32 {
    n
}

#[durable_execution(invokes = target)]
async fn not_a_list(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(invokes = ["target"])]
async fn a_string(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(invokes = [target, target])]
async fn twice(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

fn main() {}
