//! Durable execution: handlers whose operations (steps, maps, waits, callbacks, ...) are
//! checkpointed to a [`CheckpointStore`] and replayed after an interruption, in the style of
//! the AWS Durable Execution SDK (seed 002: map operations).
//!
//! ```
//! use orkestra::durable::*;
//! use std::sync::Arc;
//!
//! // A map function gets its own context, the item, its index and all items.
//! async fn square(_ctx: DurableContext, item: i64, _index: usize, _items: Arc<[i64]>) -> Result<i64, DurableError> {
//!     Ok(item * item)
//! }
//!
//! async fn handler(_event: serde_json::Value, ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
//!     let result = ctx.map(vec![1, 2, 3, 4, 5], square).await?;
//!     Ok(result.to_dict())
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let result = DurableTestRunner::new(handler).run(serde_json::json!({})).await;
//! let batch: BatchResult<i64> = result.result();
//! assert_eq!(batch.total_count(), 5);
//! assert_eq!(batch.results()[2].result, Some(9));
//! assert_eq!(result.get_map("square").unwrap().result::<BatchResult<i64>>().success_count(), 5);
//! # });
//! ```
//!
//! # How it works
//! - Every operation gets a deterministic id ([`operation_id`]: a counter per parent context,
//!   hashed with the parent's id) and a record ([`OperationRecord`]). A re-run replays: a
//!   finished operation returns its stored result or raises its stored error without running;
//!   a record whose type or name differs from what the code asks for fails the execution with
//!   [`DurableError::NonDeterministic`], naming both.
//! - [`SqliteStore`] is the embedded store: one file (`.orkestra/orkestra.db` under the working
//!   directory, or `$ORKESTRA_DB`), WAL, `synchronous=NORMAL` (survives a killed process;
//!   [`Synchronous::Full`] also survives power loss). One writer thread folds queued writes
//!   into one transaction (group commit); each write returns a [`Commit`] that the caller awaits
//!   only when the write must be durable before continuing. The log is ordered, so work that
//!   may run again anyway (an at-least-once step's START and result, a map item's completion)
//!   does not wait for its own commit; whatever becomes visible outside (an at-most-once step's
//!   START, a callback, an invoke, the execution's result) awaits its write, a barrier that
//!   waits for every write before it. A fault or lost lease on an unawaited write refuses every
//!   later write, so the run stops before anything after it becomes visible.
//! - Steps: [`DurableContext::step`] takes a closure `Fn(StepContext) -> impl Future<Output =
//!   Result<T, E>>` or a [`NamedStep`] made by `#[durable_step]`; the builder takes `.name(..)`,
//!   `.retry(RetryStrategy::..)`, `.semantics(StepSemantics::AtMostOncePerRetry)`. A
//!   `#[durable_step] fn fetch(step_ctx: &StepContext, id: String) -> Result<U, E>` becomes
//!   `fetch(id) -> NamedStep<U, E>`, and its original body stays callable as
//!   `fetch::body(&StepContext::for_tests(), id)` in unit tests.
//! - Maps ([`DurableContext::map`]) return a [`BatchResult`] rather than an error. The default
//!   [`CompletionConfig`] runs every item and reports failures, as the seed documents (the
//!   Python SDK 3.0.0 made its empty default fail fast; use
//!   [`CompletionConfig::all_successful`] for that). When a criterion is met, items not yet
//!   started never start and are absent from `all`; items in flight are reported `STARTED`.
//!   A map result over 256 KB is checkpointed as a summary and rebuilt on replay from the
//!   items' records.
//! - Suspension: a wait, retry delay, callback or chained execution not due within the hold
//!   time ([`DurableExecutor::hold`]) checkpoints what it waits for and the run ends with the
//!   execution RUNNING and due in the store's wake-up index; a [`Worker`] runs it again when
//!   due and it replays. [`DurableTestRunner`] moves a virtual [`Clock`] to each due time.
//! - Also: [`DurableContext::parallel`], [`DurableContext::run_in_child_context`],
//!   [`DurableContext::wait`] (the wake-up time is checkpointed, so a wait spans restarts),
//!   callbacks ([`DurableContext::create_callback`], [`DurableContext::wait_for_callback`],
//!   completed by id with [`complete_callback`] or `durable complete-callback`),
//!   [`DurableContext::wait_for_condition`], [`DurableContext::invoke`] of a handler
//!   registered by `#[durable_execution]`, and [`DurableContext::logger`], silent while
//!   replaying.
//! - One owner at a time: [`DurableExecutor::run`] holds the execution's lease in the store
//!   ([`LeaseHolder`]); every checkpoint write is fenced by it, a second process gets
//!   [`DurableError::Owned`], and a lease whose process is provably gone is taken over at once.
//! - A store fault is never recorded as a failure: busy is retried, anything else stops the
//!   store's writes and the run ends with [`DurableError::Store`], resumable where it was.
//! - The CLI (`orkestra::main()`) has `durable list | inspect ID | start HANDLER --id ID
//!   --input JSON [--timeout D] [--hold D] | resume ID | worker [--once] | stop ID |
//!   complete-callback ID --result JSON | check [ID]`.

mod batch;
mod callback;
mod child;
pub mod cli;
mod clock;
mod completion;
mod condition;
mod context;
mod error;
mod execution;
mod ids;
mod invoke;
#[cfg(feature = "aws")]
mod lambda_callbacks;
mod map;
mod misuse;
mod owner;
mod pending;
mod registry;
mod retry;
mod runner;
mod serdes;
mod step;
mod step_scope;
pub mod store;
mod suspend;
pub mod transition;
mod worker;

pub use batch::{BatchItem, BatchItemStatus, BatchResult, CompletionReason};
pub use callback::{complete_callback, Callback, CallbackConfig};
pub use child::{branch, Branch, ChildConfig, ParallelConfig};
pub use clock::Clock;
pub use completion::CompletionConfig;
pub use condition::{WaitDecision, WaitForConditionConfig, WaitStrategy, WAIT_FOR_CONDITION};
pub use context::{DurableContext, ReplayLogger};
pub use error::DurableError;
pub use execution::{handler_fn, DurableExecutor, DurableHandler, FnHandler};
pub use ids::operation_id;
pub use invoke::{ALIAS_VAR, FUNCTION_PREFIX_VAR};
#[cfg(feature = "aws")]
pub use lambda_callbacks::{LambdaCallbacks, RemoteCallbackError};
pub use map::{
    ItemNamer, MapBuilder, MapConfig, MapFunction, Nesting, SummaryGenerator, MAX_CHECKPOINT_RESULT,
};
pub use owner::{LeaseHolder, Ownership, LEASE_RENEW_EVERY, LEASE_TTL};
pub use registry::{
    check_durable_handlers, registered_entries, registered_entry, registered_handler,
    registered_handlers, DuplicateDurableHandler, DurableHandlerDef, DurableHandlerEntry,
    DurableHandlerOptions,
};
pub use retry::{Jitter, RetryStrategy};
pub use runner::{DurableTestRunner, OperationView, TestResult};
pub use serdes::{JsonSerdes, Serdes};
pub use step::{
    BoxFuture, NamedStep, StepBuilder, StepConfig, StepContext, StepFunction, StepLogger,
    StepSemantics,
};
pub use store::{
    CheckProblem, CheckReport, CheckpointStore, Commit, DueChange, DueExecution, DueState,
    ErrorObject, ExecutionRecord, InvocationStatus, OperationDetails, OperationRecord,
    OperationStatus, OperationType, SqliteStore, StoreError, Synchronous, WakeTicket,
};
pub use suspend::DEFAULT_HOLD;
pub use worker::{Worker, WorkerReport};
