//! Child contexts, durable waits and parallel branches.

use super::batch::BatchResult;
use super::completion::CompletionConfig;
use super::context::DurableContext;
use super::error::{capture_error, DurableError};
use super::map::{MapConfig, MAX_CHECKPOINT_RESULT};
use super::serdes::{self, Serdes};
use super::step::BoxFuture;
use super::store::{
    ErrorObject, OperationDetails, OperationRecord, OperationStatus, OperationType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

type BranchFn<T> =
    dyn Fn(DurableContext) -> BoxFuture<'static, Result<T, ErrorObject>> + Send + Sync;

/// A parallel branch: a function of its own child context (made by [`branch`]).
pub struct Branch<T>(Arc<BranchFn<T>>);

impl<T> Clone for Branch<T> {
    fn clone(&self) -> Self {
        Branch(self.0.clone())
    }
}

/// Makes a [`Branch`] from an async closure.
pub fn branch<T, E, F, Fut>(f: F) -> Branch<T>
where
    F: Fn(DurableContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    Branch(Arc::new(move |ctx| {
        let fut = f(ctx);
        Box::pin(async move { fut.await.map_err(|e| capture_error(&e)) })
    }))
}

/// How a parallel runs. The default requires every branch to succeed.
#[derive(Debug, Clone)]
pub struct ParallelConfig {
    /// At most this many branches at once (`None`: all).
    pub max_concurrency: Option<usize>,
    /// When the parallel is done (default: [`CompletionConfig::all_successful`]).
    pub completion_config: CompletionConfig,
    /// How branches are recorded (default [`Nesting::Nested`](crate::durable::Nesting)).
    pub nesting: super::map::Nesting,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        ParallelConfig {
            max_concurrency: None,
            completion_config: CompletionConfig::all_successful(),
            nesting: Default::default(),
        }
    }
}

fn run_branch<T: 'static>(
    ctx: DurableContext,
    branch: Branch<T>,
    _index: usize,
    _all: Arc<[Branch<T>]>,
) -> BoxFuture<'static, Result<T, ErrorObject>> {
    (branch.0)(ctx)
}

/// How a child context checkpoints its result (see
/// [`DurableContext::run_in_child_context_with`]). The default is JSON.
pub struct ChildConfig<T> {
    /// The codec of the context's result (default `None`: JSON). Its text is stored as it is,
    /// JSON or not, and only this codec reads it back.
    pub serdes: Option<Arc<dyn Serdes<T>>>,
}

impl<T> ChildConfig<T> {
    /// Checkpoints the result with `codec` instead of JSON.
    pub fn serdes(mut self, codec: impl Serdes<T> + 'static) -> Self {
        self.serdes = Some(Arc::new(codec));
        self
    }
}

impl<T> Default for ChildConfig<T> {
    fn default() -> Self {
        ChildConfig { serdes: None }
    }
}

impl<T> Clone for ChildConfig<T> {
    fn clone(&self) -> Self {
        ChildConfig {
            serdes: self.serdes.clone(),
        }
    }
}

impl<T> std::fmt::Debug for ChildConfig<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildConfig")
            .field("serdes", &self.serdes.is_some())
            .finish()
    }
}

impl DurableContext {
    /// Runs `f` in a named child context: its operations are grouped under it, and once it has
    /// finished a replay returns its stored result (or error) without running `f`.
    pub async fn run_in_child_context<T, E, F, Fut>(
        &self,
        name: &str,
        f: F,
    ) -> Result<T, DurableError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display + Send + 'static,
        F: FnOnce(DurableContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_in_child_context_with(name, ChildConfig::default(), f)
            .await
    }

    /// [`run_in_child_context`](Self::run_in_child_context) with a [`ChildConfig`]: e.g. a
    /// custom codec for the result. With a codec, the value returned is the one decoded from
    /// the checkpointed text, so a first run and a replay return the same value.
    ///
    /// ```
    /// # use orkestra::durable::*;
    /// /// Checkpoints the child's string upper-cased, as plain (non-JSON) text.
    /// struct Upper;
    /// impl Serdes<String> for Upper {
    ///     fn serialize(&self, value: &String) -> Result<String, String> {
    ///         Ok(value.to_uppercase())
    ///     }
    ///     fn deserialize(&self, text: &str) -> Result<String, String> {
    ///         Ok(text.to_string())
    ///     }
    /// }
    ///
    /// async fn handler(name: String, ctx: DurableContext) -> Result<String, DurableError> {
    ///     ctx.run_in_child_context_with(
    ///         "shout",
    ///         ChildConfig::default().serdes(Upper),
    ///         |child| async move {
    ///             child
    ///                 .step(move |_s: StepContext| {
    ///                     let name = name.clone();
    ///                     async move { Ok::<_, String>(name) }
    ///                 })
    ///                 .await
    ///         },
    ///     )
    ///     .await
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let run = DurableTestRunner::new(handler).run("hello").await;
    /// assert_eq!(run.result::<String>(), "HELLO");
    /// // Checkpointed as the codec wrote it: plain text, not the JSON string "\"HELLO\"".
    /// assert_eq!(run.get_context("shout").unwrap().record.result.as_deref(), Some("HELLO"));
    /// # });
    /// ```
    pub async fn run_in_child_context_with<T, E, F, Fut>(
        &self,
        name: &str,
        config: ChildConfig<T>,
        f: F,
    ) -> Result<T, DurableError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display + Send + 'static,
        F: FnOnce(DurableContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.ensure_not_in_step("child context", Some(name))?;
        self.child_context_with(name, "RunInChildContext", config.serdes.as_ref(), f)
            .await
    }

    /// [`run_in_child_context`](Self::run_in_child_context) recorded with sub type
    /// `sub_type` (e.g. `WaitForCallback`, as the SDKs record that operation).
    pub(crate) async fn child_context_of_kind<T, E, F, Fut>(
        &self,
        name: &str,
        sub_type: &'static str,
        f: F,
    ) -> Result<T, DurableError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display + Send + 'static,
        F: FnOnce(DurableContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.child_context_with(name, sub_type, None, f).await
    }

    /// A child context of sub type `sub_type` whose result `codec` encodes (JSON if `None`).
    async fn child_context_with<T, E, F, Fut>(
        &self,
        name: &str,
        sub_type: &'static str,
        codec: Option<&Arc<dyn Serdes<T>>>,
        f: F,
    ) -> Result<T, DurableError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display + Send + 'static,
        F: FnOnce(DurableContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let what = || format!("result of child context {name:?}");
        let id = self.next_id();
        let fail = |error| DurableError::OperationFailed {
            name: name.to_string(),
            error,
        };
        let recorded = self.replay(&id, OperationType::Context, Some(name))?;
        let resumed = recorded.is_some();
        let mut replaying_children = false;
        if let Some(rec) = recorded {
            // A result over MAX_CHECKPOINT_RESULT was not stored: the body runs again and its
            // operations replay from their records to rebuild it.
            replaying_children =
                rec.status == OperationStatus::Succeeded && rec.details.replay_children;
            if rec.status.is_finished() && !replaying_children {
                self.forget_descendants(&id);
            }
            match rec.status {
                _ if replaying_children => {}
                OperationStatus::Succeeded => {
                    return serdes::decode(codec, rec.result.as_deref().unwrap_or("null"), what)
                }
                status if status.is_failure() => {
                    return Err(fail(rec.error.unwrap_or_else(|| {
                        ErrorObject::new("Failed", "no recorded error")
                    })))
                }
                _ => {}
            }
        }
        let record = |status, result, error| OperationRecord {
            id: id.clone(),
            parent_id: self.context_id().map(str::to_string),
            op_type: OperationType::Context,
            sub_type: Some(sub_type.into()),
            name: Some(name.to_string()),
            status,
            result,
            error,
            attempt: 0,
            started_ms: None,
            ended_ms: None,
            details: Default::default(),
        };
        // A context found STARTED (its body was interrupted) or replaying its children to
        // rebuild a large result is not started again.
        if !resumed {
            self.checkpoint_nowait(&record(OperationStatus::Started, None, None));
        }
        let out = f(self.child(id.clone())).await;
        match out {
            Ok(v) if replaying_children => Ok(v),
            Ok(v) => {
                let text = serdes::encode(codec, &v, what)?;
                // A custom codec's value is the one a replay decodes.
                let v = match codec {
                    Some(_) => serdes::decode(codec, &text, what)?,
                    None => v,
                };
                // Too large to checkpoint: a replay runs the body again (ReplayChildren).
                let large = text.len() > MAX_CHECKPOINT_RESULT;
                let stored = if large { String::new() } else { text };
                let mut done = record(OperationStatus::Succeeded, Some(stored), None);
                done.details.replay_children = large;
                self.checkpoint(&done).await?;
                Ok(v)
            }
            Err(e) => {
                // A store fault is not the context's failure: the run stops (see `stopped`).
                if let Some(stop) = self.stopped() {
                    return Err(stop.into());
                }
                let error = capture_error(&e);
                self.checkpoint(&record(OperationStatus::Failed, None, Some(error.clone())))
                    .await?;
                Err(fail(error))
            }
        }
    }

    /// A durable timer: waits `duration` from the first time this wait was reached, across
    /// restarts. The wake-up time is checkpointed (WAIT STARTED with `scheduled_end_ms`);
    /// a wait longer than the executor's hold time suspends the execution until a worker
    /// wakes it then, a shorter one sleeps in process; either way the wait then SUCCEEDs.
    pub async fn wait(&self, duration: Duration) -> Result<(), DurableError> {
        self.wait_named(None, duration).await
    }

    /// [`DurableContext::wait`] with a name.
    pub async fn wait_named(
        &self,
        name: Option<&str>,
        duration: Duration,
    ) -> Result<(), DurableError> {
        self.ensure_not_in_step("wait", name)?;
        let id = self.next_id();
        let record = |status, wake: u64| OperationRecord {
            id: id.clone(),
            parent_id: self.context_id().map(str::to_string),
            op_type: OperationType::Wait,
            sub_type: Some("Wait".into()),
            name: name.map(str::to_string),
            status,
            result: None,
            error: None,
            attempt: 0,
            started_ms: None,
            ended_ms: None,
            details: OperationDetails {
                scheduled_end_ms: Some(wake),
                ..Default::default()
            },
        };
        let wake = match self.replay(&id, OperationType::Wait, name)? {
            Some(rec) if rec.status == OperationStatus::Succeeded => return Ok(()),
            // Records older than schema 4 kept the wake-up time as the result.
            Some(rec) => rec
                .details
                .scheduled_end_ms
                .or_else(|| rec.result.as_deref().and_then(|r| r.parse().ok()))
                .unwrap_or_else(|| self.now_ms()),
            None => {
                let wake = self.now_ms() + duration.as_millis() as u64;
                self.checkpoint(&record(OperationStatus::Started, wake))
                    .await?;
                wake
            }
        };
        self.until(wake).await;
        self.checkpoint(&record(OperationStatus::Succeeded, wake))
            .await?;
        Ok(())
    }

    /// Runs `branches` concurrently, each in its own child context; returns a
    /// [`BatchResult`] in branch order.
    pub async fn parallel<T>(
        &self,
        name: Option<&str>,
        branches: Vec<Branch<T>>,
        config: ParallelConfig,
    ) -> Result<BatchResult<T>, DurableError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        let mut builder = self
            .map(branches, run_branch::<T>)
            .kinds("Parallel", "ParallelBranch")
            .nesting(config.nesting)
            .config(MapConfig {
                max_concurrency: config.max_concurrency,
                completion_config: config.completion_config,
                ..Default::default()
            });
        builder = match name {
            Some(n) => builder.name(n),
            None => builder.name("parallel"),
        };
        builder.await
    }
}
