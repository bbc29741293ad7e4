//! What can go wrong reading or writing state data.

/// An error from the state data client or a backend; each names the table and key involved.
#[derive(Debug, thiserror::Error)]
pub enum StateDataError {
    /// No item under this key (and index).
    #[error("no item found: key {key:?}, partition {partition_key:?}, table {table:?}{}", index.map(|i| format!(", index {i}")).unwrap_or_default())]
    NoItemFound {
        /// The key the task asked for.
        key: String,
        /// The partition key (`<execution id>:<key>`).
        partition_key: String,
        /// The table.
        table: String,
        /// The index asked for, if any.
        index: Option<u64>,
    },
    /// The table does not exist in the backend.
    #[error("unknown state data table {table:?}")]
    UnknownTable {
        /// The table asked for.
        table: String,
    },
    /// A stored value could not be decoded as the type asked for (or is not JSON).
    #[error("corrupt state data item: partition {partition_key:?}, table {table:?}, index {index}: {message}")]
    Corrupt {
        /// The partition key.
        partition_key: String,
        /// The table.
        table: String,
        /// The row's index.
        index: u64,
        /// What failed to parse, and where.
        message: String,
    },
    /// A value could not be serialised for storage.
    #[error("cannot serialise state data for key {key:?}: {message}")]
    Serialize {
        /// The key being written.
        key: String,
        /// serde's message.
        message: String,
    },
    /// The backend failed (I/O, network, a refused request after retries).
    #[error("{backend} {operation} failed for table {table:?}: {message}")]
    Backend {
        /// `sqlite`, `dynamodb`, `s3`, `sfn`.
        backend: &'static str,
        /// The call, e.g. `put`, `get_all`, `StopExecution`.
        operation: &'static str,
        /// The table (or bucket / state machine) involved.
        table: String,
        /// The backend's message.
        message: String,
    },
    /// A task used state data without declaring it.
    #[error("task `{task}` uses state data but is not declared `#[compose(state_data)]`: add the `state_data` flag so the export grants its function the state table")]
    NotDeclared {
        /// The task's registry key.
        task: String,
    },
    /// A local method was given a partition of another execution.
    #[error("partition {partition_key:?} is not the current execution's ({execution_id:?}): local state data methods only reach the current execution; use the global variants (`get_global_item`, `get_global_item_for_map_iteration`) with an explicit partition key")]
    OtherExecution {
        /// The partition key given.
        partition_key: String,
        /// The current execution's id.
        execution_id: String,
    },
}

impl crate::error::ErrorName for StateDataError {
    /// `StateData.<variant>`, e.g. `StateData.NoItemFound`, so a task can return
    /// `Result<T, StateDataError>` and ASL rules can name each case.
    fn error_name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            StateDataError::NoItemFound { .. } => "StateData.NoItemFound",
            StateDataError::UnknownTable { .. } => "StateData.UnknownTable",
            StateDataError::Corrupt { .. } => "StateData.Corrupt",
            StateDataError::Serialize { .. } => "StateData.Serialize",
            StateDataError::Backend { .. } => "StateData.Backend",
            StateDataError::NotDeclared { .. } => "StateData.NotDeclared",
            StateDataError::OtherExecution { .. } => "StateData.OtherExecution",
        })
    }
}
