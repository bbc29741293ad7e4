//! Typed composition: `a >> b`, fail-fast [`parallel`] groups and error-swallowing [`swallow`]
//! groups, checked at compile time and lowered to the untyped [`Node`] graph.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Captured;
use crate::graph::Node;

/// A piece of a workflow with a workflow-level input and output type.
///
/// `#[compose]` tasks implement it (a map task takes `Vec<Item>`), and so do chains and groups.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a workflow step",
    label = "not a `#[compose]` task, a chain or a group",
    note = "outside `workflow!`, a tuple or array is not a group: write `parallel((a {{}}, b {{}}))` (fail-fast) or `swallow((a {{}}, b {{}}))` (errors swallowed)"
)]
pub trait Step: Sized + Send + 'static {
    /// What the step takes (a JSON value of this shape).
    type In: Serialize + DeserializeOwned + Send + 'static;
    /// What the step gives.
    type Out: Serialize + DeserializeOwned + Send + 'static;
    /// The step named when something before it does not fit (the first task of a chain).
    type First;
    /// The step named when something after it does not fit (the last task of a chain).
    type Last;
    /// Lowers the step into the untyped graph.
    fn into_node(self) -> Node;
}

/// Compile-time check that a step taking `Takes` can follow `Prev`, which gives `Gives`.
///
/// Only implemented when `Gives` and `Takes` are the same type; otherwise the compiler reports
/// the mismatch in the workflow's own terms.
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes `{Takes}` but `{Prev}` gives `{Gives}`",
    label = "`{Self}` cannot follow `{Prev}` here",
    note = "in `a >> b` the output type of `a` must be the input type of `b`; a map task takes a `Vec` of its item type and a capturing map gives `Vec<Captured<T>>`"
)]
pub trait Follows<Prev, Gives, Takes> {}

impl<Prev, T, S> Follows<Prev, T, T> for S {}

/// Compile-time check that every branch of a group takes the group's input.
#[diagnostic::on_unimplemented(
    message = "branch `{Self}` takes `{Takes}` but the group's first branch `{First}` takes `{Expected}`",
    label = "every branch of a parallel group receives the same input",
    note = "each branch of `parallel((..))` / `swallow((..))` gets the previous step's output"
)]
pub trait SameInput<First, Expected, Takes> {}

impl<First, T, S> SameInput<First, T, T> for S {}

/// `a >> b`: runs `a`, then `b` on `a`'s output.
pub struct Chain<A, B> {
    first: A,
    second: B,
}

impl<A, B> Chain<A, B> {
    /// `a >> b` (what the `>>` operator builds).
    pub fn new(first: A, second: B) -> Self {
        Chain { first, second }
    }
}

impl<A: Step, B: Step> Step for Chain<A, B> {
    type In = A::In;
    type Out = B::Out;
    type First = A::First;
    type Last = B::Last;

    fn into_node(self) -> Node {
        let mut nodes = Vec::new();
        for node in [self.first.into_node(), self.second.into_node()] {
            match node {
                Node::Chain(inner) => nodes.extend(inner),
                other => nodes.push(other),
            }
        }
        Node::Chain(nodes)
    }
}

/// The branches of a group: a tuple of steps that all take the same input.
pub trait Branches: Send + 'static {
    /// The shared input.
    type In: Serialize + DeserializeOwned + Send + 'static;
    /// The tuple of branch outputs (a JSON array).
    type Out: Serialize + DeserializeOwned + Send + 'static;
    /// The tuple of branch outputs with failures captured.
    type CapturedOut: Serialize + DeserializeOwned + Send + 'static;
    /// Lowers each branch.
    fn into_nodes(self) -> Vec<Node>;
}

macro_rules! impl_branches {
    ($first:ident $(, $rest:ident)*) => {
        #[allow(non_snake_case)]
        impl<$first: Step $(, $rest: Step)*> Branches for ($first, $($rest,)*)
        where
            $( <$rest as Step>::First: SameInput<<$first as Step>::First, <$first as Step>::In, <$rest as Step>::In>, )*
        {
            type In = $first::In;
            type Out = ($first::Out, $($rest::Out,)*);
            type CapturedOut = (Captured<$first::Out>, $(Captured<$rest::Out>,)*);

            fn into_nodes(self) -> Vec<Node> {
                let ($first, $($rest,)*) = self;
                vec![$first.into_node() $(, $rest.into_node())*]
            }
        }
    };
}

impl_branches!(B1);
impl_branches!(B1, B2);
impl_branches!(B1, B2, B3);
impl_branches!(B1, B2, B3, B4);
impl_branches!(B1, B2, B3, B4, B5);
impl_branches!(B1, B2, B3, B4, B5, B6);
impl_branches!(B1, B2, B3, B4, B5, B6, B7);
impl_branches!(B1, B2, B3, B4, B5, B6, B7, B8);

/// A fail-fast parallel group (Orkestra's `a >> [b, c]`): every branch gets the same input, the
/// output is the array of branch outputs, and any branch error halts the execution.
pub struct Parallel<G>(G);

/// An error-swallowing parallel group (Orkestra's `a >> (b, c)`): a failing branch yields
/// `{"Error","Cause"}` in its slot and the other branches still run.
pub struct Swallow<G>(G);

/// Groups branches into a fail-fast parallel step; `workflow!` writes `[b, c]` as this.
pub fn parallel<G: Branches>(branches: G) -> Parallel<G> {
    Parallel(branches)
}

/// Groups branches into an error-swallowing parallel step; `workflow!` writes `(b, c)` as this.
pub fn swallow<G: Branches>(branches: G) -> Swallow<G> {
    Swallow(branches)
}

impl<G: Branches> Step for Parallel<G> {
    type In = G::In;
    type Out = G::Out;
    type First = Self;
    type Last = Self;

    fn into_node(self) -> Node {
        Node::parallel(self.0.into_nodes(), false)
    }
}

impl<G: Branches> Step for Swallow<G> {
    type In = G::In;
    type Out = G::CapturedOut;
    type First = Self;
    type Last = Self;

    fn into_node(self) -> Node {
        Node::parallel(self.0.into_nodes(), true)
    }
}

/// Implements `>>` for a step type (used by `#[compose]` for each task's companion type, and here
/// for chains and groups).
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_shr {
    ([$($generics:tt)*] $ty:ty) => {
        impl<$($generics)* __R: $crate::Step> ::core::ops::Shr<__R> for $ty
        where
            <__R as $crate::Step>::First: $crate::compose::Follows<
                <Self as $crate::Step>::Last,
                <Self as $crate::Step>::Out,
                <__R as $crate::Step>::In,
            >,
        {
            type Output = $crate::compose::Chain<Self, __R>;
            fn shr(self, next: __R) -> Self::Output {
                $crate::compose::Chain::new(self, next)
            }
        }
    };
}

__impl_shr!([A: Step, B: Step,] Chain<A, B>);
__impl_shr!([G: Branches,] Parallel<G>);
__impl_shr!([G: Branches,] Swallow<G>);
