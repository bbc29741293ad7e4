//! What a task's [`Context`](crate::Context) reaches state data and `stop_execution` through:
//! the store (given, or the project's SQLite file opened on first use), the optional cloud
//! stopper, and the execution's stop request.

use std::sync::{Arc, Mutex, OnceLock};

use super::{ExecutionStopper, SqliteStateStore, StateDataError, StateDataStore};

/// The store of an engine or context: one that was given, or the default SQLite file, opened
/// the first time a task uses state data (a workflow that never does never opens it).
#[derive(Clone)]
pub(crate) enum StoreSlot {
    Given(Arc<dyn StateDataStore>),
    Lazy(Arc<Mutex<Option<Arc<dyn StateDataStore>>>>),
}

impl Default for StoreSlot {
    fn default() -> Self {
        StoreSlot::Lazy(Arc::default())
    }
}

impl StoreSlot {
    /// The store, opening the default file (on tokio's blocking pool) the first time.
    pub(crate) async fn get(&self) -> Result<Arc<dyn StateDataStore>, StateDataError> {
        let slot = match self {
            StoreSlot::Given(store) => return Ok(store.clone()),
            StoreSlot::Lazy(slot) => slot.clone(),
        };
        tokio::task::spawn_blocking(move || {
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(store) = slot.as_ref() {
                return Ok(store.clone());
            }
            let store: Arc<dyn StateDataStore> = Arc::new(SqliteStateStore::open_default()?);
            *slot = Some(store.clone());
            Ok(store)
        })
        .await
        .map_err(|e| StateDataError::Backend {
            backend: "sqlite",
            operation: "open",
            table: crate::sqlite_file::default_path().display().to_string(),
            message: e.to_string(),
        })?
    }
}

/// An execution's request to stop: the error and cause given to `stop_execution`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    /// The short error name, e.g. `FeatureDisabled`.
    pub error: String,
    /// The longer description.
    pub cause: String,
}

/// Shared by every context of one execution.
#[derive(Clone, Default)]
pub(crate) struct Services {
    pub(crate) store: StoreSlot,
    pub(crate) stopper: Option<Arc<dyn ExecutionStopper>>,
    pub(crate) stop: Arc<OnceLock<StopRequest>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("store", &matches!(self.store, StoreSlot::Given(_)))
            .field("stopper", &self.stopper.is_some())
            .field("stop", &self.stop.get())
            .finish()
    }
}

/// The services of a context built by hand (`Context::new`, `Context::for_tests`): the
/// default SQLite file, no stopper.
pub(crate) fn process_default() -> Arc<Services> {
    static DEFAULT: OnceLock<Arc<Services>> = OnceLock::new();
    DEFAULT.get_or_init(Arc::default).clone()
}
