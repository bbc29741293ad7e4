use orkestra::durable::{DurableContext, DurableError, StepContext};
use orkestra::{durable_execution, durable_step};

// One mistake, one error: the functions are kept beside the errors, so the calls below add
// no "cannot find" error.
#[durable_step(name = "fetch")]
fn fetch(_step_ctx: &StepContext, n: u32) -> Result<u32, String> {
    Ok(n)
}

#[durable_execution]
fn handler(n: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(n)
}

fn main() {
    let _ = fetch(&StepContext::for_tests(), 1);
    let _ = handler;
}
