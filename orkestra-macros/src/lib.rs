//! Procedural macros for Orkestra. They parse and validate, then emit calls into
//! `orkestra-core`; all behaviour lives there. Use them through the `orkestra` crate.

mod attr_options;
mod compose;
mod durable;
mod error_name;
mod workflow;

use proc_macro::TokenStream;

/// Turns a function `fn name(event: In, ctx: &Context) -> Out` (or `-> Result<Out, E>`, or the
/// `async fn` forms) into a workflow task. The function stays an ordinary function; a
/// same-named companion type registers it and lets workflows name it.
///
/// Options: `map`, `capture_errors` (with `map`), `state_data` (the task calls
/// `ctx.state_data()`; the export grants only such tasks the state table and bucket), `name = "..."`, `max_concurrency = N` (with
/// `map`), `timeout_secs = N`, `memory_mb = N`, `retry(max_attempts = N, interval_secs = N,
/// backoff_rate = F, max_delay_secs = N, errors = ["..", ..])` (repeatable). `map`,
/// `capture_errors` and `state_data` are flags (no `= true`).
///
/// A fallible task returns `Result<Out, E>`, and its error type `E` needs `std::fmt::Display`
/// (the message) and `orkestra::ErrorName` (the name Step Functions reports; derive it).
/// The event and the output are JSON (`serde`'s `Deserialize` and `Serialize`). A task is a
/// plain function, so it captures nothing; a `map` task runs once per item, concurrently, each
/// call getting only its item and the context.
///
/// ```
/// use orkestra::{compose, Context, ErrorName, TaskDef};
///
/// #[derive(Debug, ErrorName)]
/// pub struct Declined;
///
/// impl std::fmt::Display for Declined {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("the card was declined")
///     }
/// }
///
/// #[compose(timeout_secs = 10, retry(max_attempts = 2))]
/// pub fn charge(cents: u64, _ctx: &Context) -> Result<u64, Declined> {
///     if cents > 10_000 { Err(Declined) } else { Ok(cents) }
/// }
///
/// #[compose(map, capture_errors)]
/// pub fn charge_each(cents: u64, ctx: &Context) -> Result<u64, Declined> {
///     charge(cents, ctx)
/// }
///
/// assert_eq!(charge(500, &Context::for_tests()).unwrap(), 500);
/// assert_eq!(charge::spec().name, "charge");
/// ```
#[proc_macro_attribute]
pub fn compose(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    keep_item_on_error(compose::expand(args.into(), item.clone()), item)
}

/// Declares and registers a named workflow: `workflow!(name = a >> b >> c)`.
///
/// `[b, c]` is a fail-fast parallel group, `(b, c)` an error-swallowing one, `(b >> c)` groups a
/// sub-chain. Settings may follow: `schedule = "rate(1 hour)"`, `state_machine_type =
/// "EXPRESS"`, `comment = "..."`. Emits `fn name() -> orkestra::Workflow`.
#[proc_macro]
pub fn workflow(input: TokenStream) -> TokenStream {
    workflow::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `ErrorName`: a struct is named after its type, an enum's variants after
/// themselves; `#[error_name = "..."]` on the type or a variant overrides. A task's error type
/// needs this and `std::fmt::Display`.
///
/// ```
/// use orkestra::ErrorName;
///
/// #[derive(Debug, ErrorName)]
/// enum PaymentError {
///     Declined,
///     #[error_name = "Payment.Timeout"]
///     TimedOut,
/// }
///
/// assert_eq!(PaymentError::Declined.error_name(), "Declined");
/// assert_eq!(PaymentError::TimedOut.error_name(), "Payment.Timeout");
/// ```
#[proc_macro_derive(ErrorName, attributes(error_name))]
pub fn derive_error_name(input: TokenStream) -> TokenStream {
    error_name::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes `fn name(step_ctx: &StepContext, args..) -> Result<T, E>` (sync or `async`) a
/// durable step: `name(args..)` returns a named, not-yet-run
/// `orkestra::durable::NamedStep<T, E>` to pass to `ctx.step(..)`; the original body stays
/// callable as `name::body(&step_ctx, args..)`. Arguments must be owned `Clone` types (each
/// attempt runs the body with clones). A step cannot start durable operations, so it takes no
/// `DurableContext`: run them in the handler and pass their results in as arguments.
///
/// ```
/// use orkestra::durable::{DurableContext, DurableError, StepContext};
/// use orkestra::{durable_execution, durable_step};
///
/// #[durable_step]
/// fn fetch_customer(_step_ctx: &StepContext, id: u32) -> Result<String, String> {
///     Ok(format!("customer {id}"))
/// }
///
/// #[durable_execution]
/// async fn greet(id: u32, ctx: DurableContext) -> Result<String, DurableError> {
///     // Not `fetch_customer(id).await`: the context runs (or replays) the step.
///     let customer = ctx.step(fetch_customer(id)).await?;
///     Ok(format!("hello, {customer}"))
/// }
///
/// fn main() {
///     assert_eq!(fetch_customer::body(&StepContext::for_tests(), 7).unwrap(), "customer 7");
/// }
/// ```
#[proc_macro_attribute]
pub fn durable_step(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    keep_item_on_error(durable::expand_step(args.into(), item.clone()), item)
}

/// Marks `async fn handler(event: E, ctx: DurableContext) -> Result<T, Err>` as a durable
/// handler, checking its shape at compile time. The function is kept as written: pass it to
/// `DurableTestRunner::new(handler)` or `DurableExecutor::run`; it is registered by name (for
/// `durable start`, `ctx.invoke` and `synth`), and a same-named companion type gives
/// `handler::aws_lambda()`, its Lambda durable function.
///
/// Options (each checked against Lambda's limits at compile time):
/// `execution_timeout_secs = N` (`DurableConfig.ExecutionTimeout`, 1..=31,622,400; default a
/// day), `retention_days = N` (`RetentionPeriodInDays`, 1..=90; default 14), `memory_mb = N`,
/// `timeout_secs = N` (one invocation, 1..=900; default 60) and `invokes = [other, ..]`: the
/// durable handlers it chains with `ctx.invoke`. Its exported role may invoke exactly those, and
/// the embedded engine fails an undeclared `ctx.invoke` with `AccessDeniedException`, as AWS does.
///
/// ```
/// use orkestra::durable::{DurableContext, DurableError};
/// use orkestra::durable_execution;
///
/// #[durable_execution(timeout_secs = 30)]
/// async fn charge(amount: u64, _ctx: DurableContext) -> Result<u64, DurableError> {
///     Ok(amount)
/// }
///
/// #[durable_execution(execution_timeout_secs = 604_800, retention_days = 30, invokes = [charge])]
/// async fn order(amount: u64, ctx: DurableContext) -> Result<u64, DurableError> {
///     ctx.invoke("charge", amount).await
/// }
///
/// fn main() {
///     let props = order::aws_lambda().properties();
///     assert_eq!(props["DurableConfig"]["ExecutionTimeout"], 604_800);
///     assert_eq!(order::DURABLE_HANDLER_NAME, "order");
/// }
/// ```
#[proc_macro_attribute]
pub fn durable_execution(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    keep_item_on_error(durable::expand_execution(args.into(), item.clone()), item)
}

/// On a macro error, emits the item as written beside the error (as tokio-macros does), so the
/// one mistake gives one error rather than "cannot find" errors at every use of the item.
fn keep_item_on_error(
    expanded: syn::Result<proc_macro2::TokenStream>,
    item: proc_macro2::TokenStream,
) -> TokenStream {
    match expanded {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.into_compile_error();
            quote::quote!(#item #error).into()
        }
    }
}
