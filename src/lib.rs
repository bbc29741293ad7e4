//! # Orkestra
//!
//! Serverless workflows for Rust. Annotate plain functions with [`compose`](macro@compose), chain them with
//! `>>` in a [`workflow!`], test them locally with Step Functions semantics, and export them.
//!
//! ```
//! use orkestra::{compose, Context};
//!
//! #[compose]
//! fn double(n: i64, _ctx: &Context) -> i64 {
//!     n * 2
//! }
//!
//! #[compose]
//! fn describe(n: i64, _ctx: &Context) -> String {
//!     format!("got {n}")
//! }
//!
//! orkestra::workflow!(doubling = double >> describe);
//!
//! // Tasks stay ordinary functions.
//! assert_eq!(double(21, &Context::for_tests()), 42);
//!
//! # tokio_test();
//! # fn tokio_test() {
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let execution = rt.block_on(orkestra::Engine::default().run(&doubling(), 21.into()));
//! assert_eq!(execution.output.unwrap(), "got 42");
//! # }
//! ```
#![warn(missing_docs)]

pub use orkestra_core::*;
pub use orkestra_macros::{compose, durable_execution, durable_step, workflow, ErrorName};

/// Defines `fn main()` for a binary serving the tasks, workflows and durable handlers of the
/// named crates and of the binary itself: `orkestra::main!(my_lib, other_lib);` is the whole
/// of a thin `src/main.rs`.
///
/// Naming the crates is what links them: registrations are statics in the crate that defines
/// them, and Rust links a library crate only when the binary names it, so a binary whose `main`
/// only calls [`fn@main`] has none of its library's tasks. Name every crate that defines tasks,
/// workflows or `#[durable_execution]` handlers (crates a named crate uses are linked too);
/// `orkestra::main!()` names none.
///
/// ```no_run
/// // src/main.rs of a package whose src/lib.rs defines the tasks (crate `order_service`):
/// # mod order_service {}
/// orkestra::main!(order_service);
/// ```
#[macro_export]
macro_rules! main {
    ($($krate:ident),* $(,)?) => {
        $(
            #[allow(unused_imports)]
            use $krate as _;
        )*

        fn main() -> ::std::process::ExitCode {
            $crate::main()
        }
    };
}

/// Runs this binary's command line (`run`, `list`, `invoke`, ...): call it from `main`, or let
/// [`main!`] write `main` (needed when the tasks live in a library crate).
///
/// With the `lambda` feature the same call serves the task named by `_HANDLER` (the Lambda
/// function's Handler) when `AWS_LAMBDA_RUNTIME_API` is set, that is inside AWS Lambda; see
/// `orkestra::lambda` and `scripts/package-lambda.sh`.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     orkestra::main()
/// }
/// ```
pub fn main() -> std::process::ExitCode {
    orkestra_core::cli::main()
}
