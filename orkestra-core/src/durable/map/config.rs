//! [`MapConfig`] and its pluggable parts: item naming, summaries, codecs.

use crate::durable::batch::BatchResult;
use crate::durable::completion::CompletionConfig;
use crate::durable::serdes::Serdes;
use std::sync::Arc;

/// Names an item's child context from the item and its index.
pub type ItemNamer<T> = Arc<dyn Fn(&T, usize) -> String + Send + Sync>;
/// Makes the compact summary stored in place of a result over 256 KB.
pub type SummaryGenerator<R> = Arc<dyn Fn(&BatchResult<R>) -> serde_json::Value + Send + Sync>;

/// How a map runs.
pub struct MapConfig<T, R> {
    /// At most this many items run at once (`None`: all).
    pub max_concurrency: Option<usize>,
    /// When the map is done (default: all items run, failures reported).
    pub completion_config: CompletionConfig,
    /// Names each item's context (default `map-item-{index}`).
    pub item_namer: Option<ItemNamer<T>>,
    /// Summary stored when the result is over 256 KB (default: the counts and reason).
    pub summary_generator: Option<SummaryGenerator<R>>,
    /// Codec of the whole `BatchResult` checkpoint (default JSON).
    pub serdes: Option<Arc<dyn Serdes<BatchResult<R>>>>,
    /// Codec of each item's result checkpoint (default JSON).
    pub item_serdes: Option<Arc<dyn Serdes<R>>>,
}

impl<T, R> Default for MapConfig<T, R> {
    fn default() -> Self {
        MapConfig {
            max_concurrency: None,
            completion_config: CompletionConfig::default(),
            item_namer: None,
            summary_generator: None,
            serdes: None,
            item_serdes: None,
        }
    }
}

impl<T, R> Clone for MapConfig<T, R> {
    fn clone(&self) -> Self {
        MapConfig {
            max_concurrency: self.max_concurrency,
            completion_config: self.completion_config.clone(),
            item_namer: self.item_namer.clone(),
            summary_generator: self.summary_generator.clone(),
            serdes: self.serdes.clone(),
            item_serdes: self.item_serdes.clone(),
        }
    }
}

impl<T, R> std::fmt::Debug for MapConfig<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapConfig")
            .field("max_concurrency", &self.max_concurrency)
            .field("completion_config", &self.completion_config)
            .field("item_namer", &self.item_namer.is_some())
            .field("summary_generator", &self.summary_generator.is_some())
            .field("serdes", &self.serdes.is_some())
            .field("item_serdes", &self.item_serdes.is_some())
            .finish()
    }
}
