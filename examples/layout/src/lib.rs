//! An order service laid out as Rust services usually are: the tasks, the workflow and the
//! durable handler live in this library; `src/main.rs` is one line, `orkestra::main!(order_service);`,
//! which links this library into the binary (see `orkestra::main!`).

use orkestra::durable::{DurableContext, DurableError, StepContext};
use orkestra::{compose, durable_execution, durable_step, Context, ErrorName};
use serde::{Deserialize, Serialize};

/// An order as the service receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// The customer's id.
    pub customer: String,
    /// How many items.
    pub quantity: u32,
}

/// An order nobody can fulfil. A task's error type needs `Display` and `ErrorName`.
#[derive(Debug, ErrorName)]
pub struct EmptyOrder;

impl std::fmt::Display for EmptyOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an order needs at least one item")
    }
}

/// Refuses an empty order.
#[compose]
pub fn validate_order(order: Order, _ctx: &Context) -> Result<Order, EmptyOrder> {
    if order.quantity == 0 {
        Err(EmptyOrder)
    } else {
        Ok(order)
    }
}

/// Prices an order at 250 cents an item.
#[compose]
pub fn price_order(order: Order, _ctx: &Context) -> u64 {
    u64::from(order.quantity) * 250
}

orkestra::workflow!(pub process_order = validate_order >> price_order);

/// Reserves stock for an order (a checkpointed step).
#[durable_step]
fn reserve_stock(_step_ctx: &StepContext, order: Order) -> Result<String, String> {
    Ok(format!(
        "reserved {} for {}",
        order.quantity, order.customer
    ))
}

/// Fulfils an order durably: the reservation is checkpointed and never redone.
#[durable_execution]
pub async fn fulfil_order(order: Order, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(reserve_stock(order)).await
}
