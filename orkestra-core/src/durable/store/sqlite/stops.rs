//! [`Stops`]: why the store refuses writes, shared by the writer thread (which finds out) and
//! the engine (which stops the run in place). After a store fault every write is refused, so
//! nothing derived from the fault (a step or item failing with it) is ever recorded; after a
//! lost lease, the writes of that execution.

use crate::durable::store::StoreError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Stops {
    /// Set once anything is stopped: the fast path of every check.
    any: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    fault: Option<StoreError>,
    lost: HashMap<String, StoreError>,
}

impl Stops {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store fault every write is refused with, if one happened.
    pub(super) fn fault(&self) -> Option<StoreError> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.inner().fault.clone()
    }

    /// Records the first store fault (later ones are consequences).
    pub(super) fn set_fault(&self, error: StoreError) {
        let mut inner = self.inner();
        inner.fault.get_or_insert(error);
        self.any.store(true, Ordering::Release);
    }

    /// Records that this process lost `execution_id`'s lease.
    pub(super) fn lose(&self, execution_id: &str) {
        self.inner().lost.insert(
            execution_id.to_string(),
            StoreError::LeaseLost {
                execution: execution_id.to_string(),
            },
        );
        self.any.store(true, Ordering::Release);
    }

    /// Forgets a lost lease of `execution_id` (this store took it again).
    pub(super) fn regain(&self, execution_id: &str) {
        if self.any.load(Ordering::Acquire) {
            self.inner().lost.remove(execution_id);
        }
    }

    /// Why writes of `execution_id` are refused, if they are.
    pub(super) fn stopped(&self, execution_id: &str) -> Option<StoreError> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let inner = self.inner();
        inner
            .fault
            .clone()
            .or_else(|| inner.lost.get(execution_id).cloned())
    }
}
