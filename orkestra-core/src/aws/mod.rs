//! AWS backends (cargo feature `aws`, which implies `lambda`): the shared SDK configuration
//! ([`AwsConfig`]), state data on DynamoDB with large items spilled to S3
//! ([`DynamoStateStore`]), and `ctx.stop_execution` through Step Functions ([`SfnStopper`]).
//!
//! Endpoints follow the SDK's standard settings, so local servers need no code change:
//! `AWS_ENDPOINT_URL` (every service) or `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_S3` /
//! `AWS_ENDPOINT_URL_SFN` (one service), with `AWS_REGION` and the usual credentials. S3 uses
//! path-style addressing whenever a custom endpoint is set (local servers such as moto or
//! s3rver serve no per-bucket host names).

mod batch;
mod config;
mod error;
mod item;
pub mod provision;
mod spill;
mod state_store;
mod stopper;

pub use config::{AwsConfig, AwsConfigError, BUCKET_VAR, TABLE_VAR};
pub use item::{attribute, MAX_ITEM_BYTES};
pub use state_store::DynamoStateStore;
pub use stopper::SfnStopper;

/// A DynamoDB attribute value, for reading rows with [`AwsConfig::dynamodb`]'s client.
///
/// (The SDK crates themselves are not re-exported: their public items would be in scope of
/// every crate using `orkestra`, and rustc then prints `std::string::String` for `String` in
/// diagnostics, including Orkestra's own compile errors.)
pub use aws_sdk_dynamodb::types::AttributeValue;
