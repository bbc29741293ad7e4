//! Durable execution: handlers whose operations (steps, maps, ...) are checkpointed to a
//! [`CheckpointStore`] and replayed after an interruption, in the style of the AWS Durable
//! Execution SDK.

mod batch;
mod callback;
mod child;
pub mod cli;
mod completion;
mod context;
mod error;
mod execution;
mod ids;
mod invoke;
mod map;
mod registry;
mod retry;
mod runner;
mod step;
pub mod store;

pub use batch::{BatchItem, BatchItemStatus, BatchResult, CompletionReason};
pub use callback::{complete_callback, Callback, CallbackConfig};
pub use child::{branch, Branch, ParallelConfig};
pub use completion::CompletionConfig;
pub use context::{DurableContext, ReplayLogger};
pub use error::DurableError;
pub use execution::{__assert_handler, handler_fn, DurableExecutor, DurableHandler, FnHandler};
pub use ids::operation_id;
pub use invoke::{WaitDecision, WaitForConditionConfig, WaitStrategy};
pub use map::{
    ItemNamer, MapBuilder, MapConfig, MapFunction, SummaryGenerator, MAX_CHECKPOINT_RESULT,
};
pub use registry::{registered_handler, registered_handlers, DurableHandlerEntry};
pub use retry::{Jitter, RetryStrategy};
pub use runner::{DurableTestRunner, OperationView, TestResult};
pub use step::{
    BoxFuture, NamedStep, StepBuilder, StepConfig, StepContext, StepFunction, StepLogger,
    StepSemantics,
};
pub use store::{
    CheckpointStore, Commit, ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord,
    OperationStatus, OperationType, SqliteStore, StoreError, Synchronous,
};
