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

/// Each durable operation's name on [`StepContext`], taking the same number of arguments as on
/// `DurableContext`, so that calling it there gives the message above (and nothing else:
/// the result's type is left to inference, which the compiler does not report after an error).
macro_rules! refused {
    ($($name:ident($first:ident: $first_ty:ident $(, $arg:ident: $ty:ident)*);)*) => {
        #[doc(hidden)]
        impl StepContext {
            $(
                #[allow(missing_docs)]
                pub fn $name<$first_ty, $($ty,)* R>(&self, $first: $first_ty, $($arg: $ty),*) -> R
                where
                    // On the first argument's type: a bound on `Self` alone would be checked
                    // (and refused) here rather than at the call.
                    $first_ty: OnlyOnDurableContext,
                {
                    let _ = ($first, $($arg,)*);
                    unreachable!("no type implements OnlyOnDurableContext")
                }
            )*
        }
    };
}

refused! {
    step(step: S);
    map(items: I, f: F);
    parallel(name: N, branches: B, config: C);
    wait(duration: D);
    wait_named(name: N, duration: D);
    run_in_child_context(name: N, f: F);
    create_callback(name: N, config: C);
    wait_for_callback(name: N, submitter: F, config: C);
    wait_for_condition(name: N, check: F, config: C);
    invoke(handler: H, input: I);
}
