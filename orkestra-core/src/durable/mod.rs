//! Durable execution: handlers whose operations (steps, maps, ...) are checkpointed to a
//! [`CheckpointStore`] and replayed after an interruption, in the style of the AWS Durable
//! Execution SDK.

mod ids;
pub mod store;

pub use ids::operation_id;
pub use store::{
    CheckpointStore, Commit, ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord,
    OperationStatus, OperationType, SqliteStore, StoreError, Synchronous,
};
