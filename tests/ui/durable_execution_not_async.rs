use orkestra::durable::{DurableContext, DurableError};
use orkestra::durable_execution;

#[durable_execution]
fn handler(event: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(event)
}

fn main() {}
