//! Each `invokes` target must be a `#[durable_execution]` handler in scope: the error points at
//! the name.
use orkestra::durable::{DurableContext, DurableError};
use orkestra::{compose, durable_execution, Context};

#[compose]
fn a_task(n: u32, _ctx: &Context) -> u32 {
    n
}

#[durable_execution(invokes = [nobody])]
async fn invokes_nobody(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(invokes = [a_task])]
async fn invokes_a_task(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

fn main() {}
