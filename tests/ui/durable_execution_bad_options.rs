//! `#[durable_execution(..)]` options are checked: known names, Lambda's limits, given once.
use orkestra::durable::{DurableContext, DurableError};
use orkestra::durable_execution;

#[durable_execution(retention = 14)]
async fn unknown_option(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(retention_days = 365, execution_timeout_secs = 0)]
async fn out_of_range(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(timeout_secs = 1800)]
async fn invocation_too_long(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(retention_days = "14")]
async fn not_an_integer(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(retention_days = 7, retention_days = 14)]
async fn given_twice(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

#[durable_execution(retention_days)]
async fn without_value(_e: u32, _ctx: DurableContext) -> Result<u32, DurableError> {
    Ok(1)
}

fn main() {}
