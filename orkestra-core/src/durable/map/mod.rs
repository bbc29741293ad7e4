//! `ctx.map(items, f)`: each item runs `f(ctx, item, index, items)` in its own child context,
//! checkpointed independently; the map returns a [`BatchResult`].

mod config;
mod lanes;
mod run;
mod summary;

pub use config::{ItemNamer, MapConfig, SummaryGenerator};
pub use summary::MAX_CHECKPOINT_RESULT;

use super::batch::BatchResult;
use super::context::DurableContext;
use super::error::DurableError;
use super::step::{fn_item_name, BoxFuture};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::{Future, IntoFuture};
use std::sync::Arc;

/// A map function: `Fn(DurableContext, T, usize, Arc<[T]>) -> impl Future<Output = Result<R, E>>`.
///
/// Items run concurrently on several threads and the function outlives the call that started
/// the map, so it is `Send + Sync + 'static`, and so is its future: a closure may capture
/// owned values (clone an `Arc` in; `move` it), not references to the handler's locals. What
/// an item needs from outside goes in through its item or the shared `items` list.
///
/// ```
/// use orkestra::durable::{DurableContext, DurableError};
/// use std::sync::Arc;
///
/// async fn handler(factor: u64, ctx: DurableContext) -> Result<u64, DurableError> {
///     let rates = Arc::new(vec![factor, factor * 2]); // owned, shared by every item
///     let batch = ctx
///         .map(vec![1u64, 2, 3], move |_ctx: DurableContext, n: u64, _i: usize, _all: Arc<[u64]>| {
///             let rates = rates.clone();
///             async move { Ok::<u64, String>(n * rates[0]) }
///         })
///         .await?;
///     Ok(batch.results().iter().filter_map(|item| item.result).sum())
/// }
/// ```
pub trait MapFunction<T>: Send + Sync + 'static {
    /// An item's result.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// An item's error.
    type Error: std::fmt::Display + Send + 'static;
    /// Processes one item.
    fn call(
        &self,
        ctx: DurableContext,
        item: T,
        index: usize,
        items: Arc<[T]>,
    ) -> BoxFuture<'static, Result<Self::Output, Self::Error>>;
}

impl<F, Fut, T, R, E> MapFunction<T> for F
where
    F: Fn(DurableContext, T, usize, Arc<[T]>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    type Output = R;
    type Error = E;
    fn call(
        &self,
        ctx: DurableContext,
        item: T,
        index: usize,
        items: Arc<[T]>,
    ) -> BoxFuture<'static, Result<R, E>> {
        Box::pin(self(ctx, item, index, items))
    }
}

/// How a map's items (a parallel's branches) are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nesting {
    /// Each item runs in its own child context, recorded (`MapIteration` / `ParallelBranch`)
    /// with its outcome, so a finished item replays without running.
    #[default]
    Nested,
    /// Items run in virtual contexts: no record per item, the item's operations record the map
    /// as their parent (fewer checkpoints; an item runs again on replay, its operations
    /// replaying). A FLAT map's result must fit [`MAX_CHECKPOINT_RESULT`] (a summary is rebuilt
    /// from item records, which FLAT items do not have).
    Flat,
}

/// `ctx.map(items, f)`, configurable before it is awaited.
#[must_use = "a map does nothing until awaited"]
pub struct MapBuilder<'a, T, F: MapFunction<T>> {
    ctx: &'a DurableContext,
    /// Sub-types of the operation and of its items (`Map`/`MapIteration`, `Parallel`/`ParallelBranch`).
    kinds: (&'static str, &'static str),
    items: Arc<[T]>,
    f: F,
    name: Option<String>,
    config: MapConfig<T, F::Output>,
    nesting: Nesting,
}

impl DurableContext {
    /// Maps `f` over `items` durably; awaiting gives a [`BatchResult`] (not an error when
    /// items fail: see [`BatchResult::throw_if_error`]). A fn item's name names the map.
    ///
    /// ```
    /// # use orkestra::durable::*;
    /// # use std::sync::Arc;
    /// async fn square(_ctx: DurableContext, item: i64, _i: usize, _all: Arc<[i64]>) -> Result<i64, DurableError> {
    ///     Ok(item * item)
    /// }
    /// async fn handler(_e: (), ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    ///     Ok(ctx.map(vec![1, 2, 3], square).await?.to_dict())
    /// }
    /// ```
    pub fn map<T, F>(&self, items: impl Into<Arc<[T]>>, f: F) -> MapBuilder<'_, T, F>
    where
        T: Clone + Send + Sync + 'static,
        F: MapFunction<T>,
    {
        MapBuilder {
            ctx: self,
            kinds: ("Map", "MapIteration"),
            items: items.into(),
            name: fn_item_name::<F>(),
            f,
            config: MapConfig::default(),
            nesting: Nesting::Nested,
        }
    }
}

impl<'a, T, F: MapFunction<T>> MapBuilder<'a, T, F> {
    pub(crate) fn kinds(mut self, op: &'static str, item: &'static str) -> Self {
        self.kinds = (op, item);
        self
    }

    /// Names the map.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: MapConfig<T, F::Output>) -> Self {
        self.config = config;
        self
    }

    /// Sets how items are recorded (default [`Nesting::Nested`]).
    pub fn nesting(mut self, nesting: Nesting) -> Self {
        self.nesting = nesting;
        self
    }
}

impl<'a, T, F> IntoFuture for MapBuilder<'a, T, F>
where
    T: Clone + Send + Sync + 'static,
    F: MapFunction<T>,
{
    type Output = Result<BatchResult<F::Output>, DurableError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run::run_map(self))
    }
}
