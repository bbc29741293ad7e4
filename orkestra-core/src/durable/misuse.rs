//! Compile errors that name the fix for two durable mistakes: awaiting a `#[durable_step]`
//! call directly, and calling a durable operation on a step's [`StepContext`].
//!
//! Both work through impls whose bound no type satisfies: the compiler then reports the
//! bound's `#[diagnostic::on_unimplemented]` message instead of "not a future" or "no method".

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::step::{NamedStep, StepContext};

/// Implemented by no type: a [`NamedStep`] runs through `ctx.step(..)`, never by `.await`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a `#[durable_step]` call gives a step to run, not a future: run it with `ctx.step(..).await`",
    label = "write `ctx.step(<this call>).await` on the handler's `DurableContext`",
    note = "for example `let customer = ctx.step(fetch_customer(id)).await?;` checkpoints the step's result"
)]
pub trait RunThroughCtxStep {}

/// The bound's subject: a type other than `NamedStep`, so that the compiler reports
/// [`RunThroughCtxStep`]'s message rather than `Future`'s "not a future".
#[doc(hidden)]
pub struct AwaitedDirectly<T, E>(PhantomData<(T, E)>);

// A `Future` impl whose bound never holds: `.await` finds this one candidate (through
// `IntoFuture`'s blanket impl) and reports its bound. (An `IntoFuture` impl would compete with
// that blanket impl, and the compiler would then say only "not a future".)
impl<T, E> Future for NamedStep<T, E>
where
    AwaitedDirectly<T, E>: RunThroughCtxStep,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        unreachable!("no type implements RunThroughCtxStep")
    }
}

/// Implemented by no type: durable operations are methods of `DurableContext`, not of
/// [`StepContext`] (the bound sits on the first argument's type).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "durable operations belong in the handler, on the `DurableContext`: a step body cannot start them",
    label = "`StepContext` has no durable operations",
    note = "call it on the handler's `ctx: DurableContext` and pass the result to the step as an argument"
)]
pub trait OnlyOnDurableContext {}

// Each durable operation's name on `StepContext`, taking as many arguments as on
// `DurableContext`, so that calling it there gives the message above and nothing else (the
// result's type is left to inference, which the compiler does not report after an error). The
// bound is on the first argument's type: a bound on `Self` alone would be refused here.
#[doc(hidden)]
#[allow(missing_docs)]
impl StepContext {
    pub fn step<S, R>(&self, _step: S) -> R
    where
        S: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn map<I, F, R>(&self, _items: I, _f: F) -> R
    where
        I: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn parallel<N, B, C, R>(&self, _name: N, _branches: B, _config: C) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn wait<D, R>(&self, _duration: D) -> R
    where
        D: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn wait_named<N, D, R>(&self, _name: N, _duration: D) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn run_in_child_context<N, F, R>(&self, _name: N, _f: F) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn run_in_child_context_with<N, C, F, R>(&self, _name: N, _config: C, _f: F) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn create_callback<N, C, R>(&self, _name: N, _config: C) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn wait_for_callback<N, F, C, R>(&self, _name: N, _submitter: F, _config: C) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn wait_for_condition<N, F, C, R>(&self, _name: N, _check: F, _config: C) -> R
    where
        N: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }

    pub fn invoke<H, I, R>(&self, _handler: H, _input: I) -> R
    where
        H: OnlyOnDurableContext,
    {
        unreachable!("no type implements OnlyOnDurableContext")
    }
}
