//! # Orkestra
//!
//! Serverless workflows for Rust. Annotate plain functions with [`compose`], chain them with
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

/// Runs this binary's command line (`run`, `list`, `invoke`, ...): call it from `main`.
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
