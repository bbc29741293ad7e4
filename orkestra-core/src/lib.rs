//! Orkestra's runtime: the task registry, the workflow graph model, the local engine with
//! Step Functions semantics, and the command line every Orkestra binary has.
//!
//! Users depend on the `orkestra` facade crate, which re-exports this crate and the macros.
#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod cli;
pub mod compose;
pub mod context;
pub mod diagram;
pub mod durable;
pub mod engine;
pub mod envelope;
pub mod error;
pub mod export;
pub mod graph;
#[cfg(feature = "lambda")]
pub mod lambda;
mod panic_log;
pub mod progress;
pub mod registry;
pub mod scheduler;
pub mod sqlite_file;
pub mod state_data;
pub mod task;
pub mod view;

pub use compose::{parallel, swallow, Step};
pub use context::Context;
pub use engine::{Engine, EngineConfig, Execution, ExecutionStatus, History};
pub use error::{Captured, CapturedError, ErrorName, TaskError};
pub use graph::{Node, StateMachineType, Workflow, WorkflowSettings};
pub use registry::Registry;
pub use task::{RetryPolicy, TaskDef, TaskOptions, TaskSpec};

#[doc(hidden)]
pub mod __private {
    //! Used by the code `orkestra-macros` emits; not a public API.
    pub use crate::registry::{TaskEntry, WorkflowEntry};
    pub use crate::task::{
        decode_input, encode_output, into_task_result, BoxFuture, ErasedBody, IntoTaskResult,
        TaskErrorType,
    };
    pub use inventory;
    pub use serde_json::Value;
}
