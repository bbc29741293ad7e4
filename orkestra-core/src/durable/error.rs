//! The error every durable operation returns.

use super::owner::LeaseHolder;
use super::store::{ErrorObject, OperationType, StoreError};

/// What a durable operation can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DurableError {
    /// A step (or child context) failed; on replay the stored error is raised again.
    #[error("operation {name:?} failed: {error}")]
    OperationFailed {
        /// The operation's name (or id when unnamed).
        name: String,
        /// The recorded error.
        error: ErrorObject,
    },
    /// The code asked for a different operation than the one recorded at this position.
    #[error(
        "non-deterministic execution at operation {id}: recorded {recorded_type} {recorded_name:?}, \
         but the code now requests {requested_type} {requested_name:?}"
    )]
    NonDeterministic {
        /// The operation id.
        id: String,
        /// The recorded type.
        recorded_type: &'static str,
        /// The recorded name.
        recorded_name: Option<String>,
        /// The requested type.
        requested_type: &'static str,
        /// The requested name.
        requested_name: Option<String>,
    },
    /// The checkpoint store failed (or this process lost the execution's lease): the run stops
    /// in place, recording nothing more, and can be resumed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another live process owns the execution (holds its lease).
    #[error(
        "execution {execution:?} is being run by another process ({holder}); wait for it to \
         end, or look at it with `durable inspect {execution}`"
    )]
    Owned {
        /// The execution.
        execution: String,
        /// Who holds its lease.
        holder: LeaseHolder,
    },
    /// A value could not be (de)serialized.
    #[error("cannot (de)serialize {what}: {message}")]
    Serde {
        /// What was being (de)serialized.
        what: String,
        /// The codec's message.
        message: String,
    },
    /// A write would break the protocol's status transitions (see
    /// [`transition`](crate::durable::transition)); it is refused, not recorded.
    #[error(transparent)]
    IllegalTransition(#[from] super::transition::IllegalTransition),
    /// A configuration was invalid.
    #[error("invalid {what}: {message}")]
    InvalidConfig {
        /// Which configuration.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl DurableError {
    pub(crate) fn non_deterministic(
        id: &str,
        recorded: (OperationType, Option<String>),
        requested: (OperationType, Option<String>),
    ) -> Self {
        DurableError::NonDeterministic {
            id: id.to_string(),
            recorded_type: recorded.0.as_str(),
            recorded_name: recorded.1,
            requested_type: requested.0.as_str(),
            requested_name: requested.1,
        }
    }

    /// The error as a recorded [`ErrorObject`] (a failed operation keeps its original one).
    pub fn to_error_object(&self) -> ErrorObject {
        match self {
            DurableError::OperationFailed { error, .. } => error.clone(),
            DurableError::NonDeterministic { .. } => {
                ErrorObject::new("NonDeterministicExecution", self.to_string())
            }
            DurableError::Store(_) => ErrorObject::new("CheckpointStoreError", self.to_string()),
            DurableError::Owned { .. } => ErrorObject::new("ExecutionOwned", self.to_string()),
            DurableError::Serde { .. } => ErrorObject::new("SerdeError", self.to_string()),
            DurableError::IllegalTransition(_) => {
                ErrorObject::new("IllegalTransition", self.to_string())
            }
            DurableError::InvalidConfig { .. } => {
                ErrorObject::new("InvalidConfiguration", self.to_string())
            }
        }
    }
}

/// Captures an error as an [`ErrorObject`]: an `ErrorObject` stays itself, a
/// [`DurableError`] keeps the error it carries, anything else is named after its type.
pub(crate) fn capture_error<E: std::fmt::Display + 'static>(e: &E) -> ErrorObject {
    let any = e as &dyn std::any::Any;
    if let Some(obj) = any.downcast_ref::<ErrorObject>() {
        obj.clone()
    } else if let Some(d) = any.downcast_ref::<DurableError>() {
        d.to_error_object()
    } else {
        ErrorObject::from_error(e)
    }
}
