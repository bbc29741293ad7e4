//! State data: large values kept out of a workflow's state, stored under the execution's id,
//! with only pointers travelling between tasks.
//!
//! This module holds the contract every backend implements ([`StateDataStore`]) and the
//! errors they report ([`StateDataError`]); the task-facing client builds on it.

mod error;
mod store;

pub use error::StateDataError;
pub use store::{ExecutionStopper, StateDataStore, StoreFuture, StoredItem};
