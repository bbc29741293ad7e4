//! Progress of map states, for displays such as the CLI's progress bars.
//!
//! The engine calls a [`Progress`] only when one is set ([`Engine::with_progress`]); without
//! one, a map item costs one branch on a `None`.
//!
//! [`Engine::with_progress`]: super::Engine::with_progress

/// Told when a map state starts; gives the per-map tracker that sees each item finish.
pub trait Progress: Send + Sync {
    /// A map state named `state` starts `total` items.
    fn map_started(&self, state: &str, total: usize) -> Box<dyn MapProgress>;
}

/// One map state's progress.
pub trait MapProgress: Send + Sync {
    /// One item settled; `failed` when it failed (captured or not).
    fn item_done(&self, failed: bool);
    /// The map state ended (`succeeded` false when an item failed it).
    fn finished(&self, succeeded: bool);
}
