//! One set of durable handlers, one binary, two engines: the embedded SQLite store and AWS
//! Lambda durable functions. `tests/durable_parity.rs` runs each handler on both (the service
//! being AWS's local checkpoint service on the offline conformance bed) and compares results,
//! errors and the operations recorded.
//!
//! ```sh
//! # embedded (checkpoints in .orkestra/orkestra.db)
//! cargo run --features lambda,aws --example durable_parity -- \
//!     durable start fulfil_order --id o-1 --input '{"order_id":"o-1","items":[2,3,5],"quantity":4}' --hold 5s
//! cargo run --features lambda,aws --example durable_parity -- durable inspect o-1
//! # on Lambda (or the bed) the same binary is the function: _HANDLER=fulfil_order
//! ```

use orkestra::durable::{
    branch, CallbackConfig, DurableContext, DurableError, Jitter, MapConfig, ParallelConfig,
    RetryStrategy, StepContext,
};
use orkestra::durable_execution;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// An order to fulfil.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    order_id: String,
    /// Unit prices, in cents.
    items: Vec<u64>,
    quantity: u64,
}

/// The order cannot be fulfilled as given.
#[derive(Debug)]
pub struct InvalidOrder(String);

impl std::fmt::Display for InvalidOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid order: {}", self.0)
    }
}

/// Stock was busy: the first attempt of a reservation always meets this, the retry succeeds.
#[derive(Debug)]
pub struct StockBusy(u32);

impl std::fmt::Display for StockBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stock busy on attempt {}", self.0)
    }
}

fn one_retry() -> RetryStrategy {
    RetryStrategy {
        max_attempts: 3,
        initial_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(1),
        backoff_rate: 1.0,
        jitter: Jitter::None,
    }
}

async fn price_item(
    ctx: DurableContext,
    cents: u64,
    index: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, InvalidOrder>(cents * 110 / 100) })
        .name(format!("tax-{index}"))
        .await
}

/// Writes the receipt of an invoice: a durable function of its own, chained by
/// [`fulfil_order`].
#[durable_execution]
async fn send_receipt(invoice: Value, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| {
        let line = format!("receipt {} for {}", invoice["number"], invoice["total"]);
        async move { Ok::<_, InvalidOrder>(line) }
    })
    .name("receipt")
    .await
}

/// Validates, reserves (retried once), cools off, prices every item in a map, notifies in
/// parallel, writes the invoice in a child context and chains [`send_receipt`].
#[durable_execution(invokes = [send_receipt])]
async fn fulfil_order(order: Order, ctx: DurableContext) -> Result<Value, DurableError> {
    let quantity = order.quantity;
    ctx.step(move |_s: StepContext| async move {
        if quantity == 0 {
            return Err(InvalidOrder("quantity is 0".into()));
        }
        Ok(quantity)
    })
    .name("validate")
    .await?;
    // Logged once per execution: silent while a later invocation replays past this point.
    ctx.logger()
        .info(format_args!("reserving order {}", order.order_id));
    let reserved: String = ctx
        .step(|s: StepContext| async move {
            if s.attempt() < 2 {
                return Err(StockBusy(s.attempt()));
            }
            Ok(format!("reserved on attempt {}", s.attempt()))
        })
        .name("reserve")
        .retry(one_retry())
        .await?;
    ctx.wait_named(Some("cool_off"), Duration::from_secs(2))
        .await?;
    let priced = ctx
        .map(order.items.clone(), price_item)
        .name("price")
        .config(MapConfig {
            max_concurrency: Some(2),
            ..Default::default()
        })
        .await?;
    let total: u64 = priced.get_results().into_iter().sum::<u64>() * order.quantity;
    let id = order.order_id.clone();
    let notified = ctx
        .parallel(
            Some("notify"),
            vec![
                branch(move |c: DurableContext| {
                    let mail = format!("mail:{id}");
                    async move {
                        c.step(move |_s: StepContext| {
                            let mail = mail.clone();
                            async move { Ok::<_, InvalidOrder>(mail) }
                        })
                        .name("email")
                        .await
                    }
                }),
                branch(|c: DurableContext| async move {
                    c.step(|_s: StepContext| async { Ok::<_, InvalidOrder>("sms".to_string()) })
                        .name("sms")
                        .await
                }),
            ],
            ParallelConfig::default(),
        )
        .await?;
    let invoice: Value = ctx
        .run_in_child_context("invoice", move |c: DurableContext| async move {
            let number: u64 = c
                .step(|_s: StepContext| async { Ok::<_, InvalidOrder>(1042) })
                .name("number")
                .await?;
            c.step(move |_s: StepContext| async move {
                Ok::<_, InvalidOrder>(json!({"number": number, "total": total}))
            })
            .name("render")
            .await
        })
        .await?;
    let receipt: String = ctx.invoke("send_receipt", invoice.clone()).await?;
    Ok(json!({
        "order": order.order_id,
        "receipt": receipt,
        "reserved": reserved,
        "total": total,
        "notified": notified.get_results(),
        "invoice": invoice,
    }))
}

/// What [`approve`] waits on: the order, and the file its submitter writes the callback id to
/// (standing in for the message a real submitter would send to an approver).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    order_id: String,
    callback_file: String,
}

/// Waits for a decision delivered with `durable complete-callback` (`--lambda` for an
/// execution on AWS); a failed callback fails the execution.
#[durable_execution]
async fn approve(request: Approval, ctx: DurableContext) -> Result<String, DurableError> {
    let file = request.callback_file.clone();
    let decision: String = ctx
        .wait_for_callback(
            "approval",
            move |callback_id: String, _s: StepContext| {
                let file = file.clone();
                async move { std::fs::write(&file, callback_id).map_err(|e| e.to_string()) }
            },
            CallbackConfig {
                timeout: Some(Duration::from_secs(600)),
                ..Default::default()
            },
        )
        .await?;
    let line = format!("{}: {decision}", request.order_id);
    ctx.step(move |_s: StepContext| {
        let line = line.clone();
        async move { Ok::<_, InvalidOrder>(line) }
    })
    .name("record")
    .await
}

fn main() -> std::process::ExitCode {
    orkestra::main()
}
