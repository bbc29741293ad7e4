//! Tasks and durable handlers in one binary, exported together: `synth` gives one template with
//! the `order_pipeline` state machine and its task functions, and the durable handlers
//! `place_order` and `charge_card` as Lambda durable functions.
//!
//! ```text
//! cargo run --example durable_orders -- synth --output template.json
//! cargo run --example durable_orders -- durable start place_order --id o-1 --input '{"id":"o-1","amount_cents":1250}'
//! cargo run --example durable_orders -- durable complete-callback 'o-1/..' --result '{"tracking":"1Z"}'
//! ```
//!
//! `place_order` charges the card through a chained invoke of `charge_card` (declared in its
//! `invokes`, so its role may invoke exactly that function) and then waits for the warehouse to
//! complete a callback; in AWS the warehouse attaches the `PlaceOrderCallbackPolicy` the template
//! outputs and calls `SendDurableExecutionCallbackSuccess`.

use orkestra::durable::{CallbackConfig, DurableContext, DurableError, StepContext};
use orkestra::{compose, durable_execution, Context};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// An order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    /// The order id.
    pub id: String,
    /// What to charge.
    pub amount_cents: u64,
}

/// Refuses an order of nothing.
#[compose]
pub fn validate_order(order: Order, _ctx: &Context) -> Result<Order, String> {
    if order.amount_cents == 0 {
        return Err(format!("order {} is empty", order.id));
    }
    Ok(order)
}

/// Adds 20 % tax.
#[compose(memory_mb = 512)]
pub fn price_order(order: Order, _ctx: &Context) -> Order {
    Order {
        amount_cents: order.amount_cents * 6 / 5,
        ..order
    }
}

orkestra::workflow!(pub order_pipeline = validate_order >> price_order);

/// Charges the card, then waits up to a week for the warehouse to confirm the shipment.
#[durable_execution(execution_timeout_secs = 604_800, retention_days = 30, invokes = [charge_card])]
pub async fn place_order(order: Order, ctx: DurableContext) -> Result<Value, DurableError> {
    let charge: Value = ctx
        .invoke(
            "charge_card",
            json!({"order": order.id, "amount_cents": order.amount_cents}),
        )
        .await?;
    let order_id = order.id.clone();
    let shipment: Value = ctx
        .wait_for_callback(
            "shipment",
            move |callback_id: String, step: StepContext| {
                let order_id = order_id.clone();
                async move {
                    // A real handler sends the id to the warehouse here.
                    step.logger().info(format!(
                        "order {order_id}: warehouse completes {callback_id}"
                    ));
                    Ok::<(), String>(())
                }
            },
            CallbackConfig {
                timeout: Some(Duration::from_secs(6 * 86_400)),
                ..CallbackConfig::default()
            },
        )
        .await?;
    Ok(json!({"order": order.id, "charge": charge, "shipment": shipment}))
}

/// Charges an amount (a step, so a replay does not charge twice).
#[durable_execution(timeout_secs = 30, memory_mb = 256)]
pub async fn charge_card(charge: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let receipt = json!({"charged_cents": charge["amount_cents"], "order": charge["order"]});
    ctx.step(move |_s: StepContext| {
        let receipt = receipt.clone();
        async move { Ok::<_, String>(receipt) }
    })
    .name("charge")
    .await
}

fn main() -> std::process::ExitCode {
    orkestra::main()
}
