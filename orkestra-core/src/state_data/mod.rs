//! State data: large values kept out of a workflow's state, stored under the execution's id,
//! with only pointers travelling between tasks.
//!
//! [`StateDataStore`] is the contract every backend implements (the embedded
//! [`SqliteStateStore`], DynamoDB with the `aws` feature); [`StateData`] is the typed client a
//! task reaches as `ctx.state_data()`; [`Pointer`], [`ItemsPointer`] and [`MapIteration`] are
//! what travels between tasks instead of the data.

mod client;
mod error;
mod pointer;
pub(crate) mod services;
pub(crate) mod sqlite;
mod stop;
mod store;

pub use client::{StateData, DEFAULT_TTL};
pub use error::StateDataError;
pub use pointer::{ItemsPointer, MapIteration, Pointer};
pub use services::StopRequest;
pub use sqlite::{SqliteStateStore, COMPONENT, DEFAULT_TABLE};
pub use stop::ExecutionStopped;
pub use store::{ExecutionStopper, StateDataStore, StoreFuture, StoredItem};
