use orkestra::durable::{DurableContext, DurableError, StepContext};
use orkestra::{durable_execution, durable_step};

#[durable_step]
fn fetch_customer(_step_ctx: &StepContext, id: String) -> Result<String, String> {
    Ok(id)
}

#[durable_execution]
async fn handler(id: String, _ctx: DurableContext) -> Result<String, DurableError> {
    let customer = fetch_customer(id).await.unwrap();
    Ok(customer)
}

fn main() {}
