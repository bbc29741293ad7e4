//! SDK errors as [`StateDataError`]s: a missing table (or bucket) is `UnknownTable`; anything
//! else is `Backend`, naming the operation, the table and the key.

use std::error::Error;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::state_data::StateDataError;

/// Which row (or object) a failed call was about, for the error message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub table: &'a str,
    pub partition_key: &'a str,
    pub index: Option<u64>,
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "partition key {:?}", self.partition_key)?;
        if let Some(index) = self.index {
            write!(f, ", index {index}")?;
        }
        Ok(())
    }
}

/// A DynamoDB call failed.
pub(crate) fn dynamodb<E>(operation: &'static str, target: Target<'_>, error: E) -> StateDataError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if error.code() == Some("ResourceNotFoundException") {
        return StateDataError::UnknownTable {
            table: target.table.to_string(),
        };
    }
    backend("dynamodb", operation, target, &error)
}

/// An S3 call about the object `key` of `bucket` failed (a missing bucket is `UnknownTable`,
/// naming the bucket).
pub(crate) fn s3<E>(
    operation: &'static str,
    target: Target<'_>,
    bucket: &str,
    key: &str,
    error: E,
) -> StateDataError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if error.code() == Some("NoSuchBucket") {
        return StateDataError::UnknownTable {
            table: bucket.to_string(),
        };
    }
    StateDataError::Backend {
        backend: "s3",
        operation,
        table: target.table.to_string(),
        message: format!(
            "{target}, object s3://{bucket}/{key}: {}",
            DisplayErrorContext(&error)
        ),
    }
}

/// Any other failure of `backend`'s `operation`.
pub(crate) fn backend(
    backend: &'static str,
    operation: &'static str,
    target: Target<'_>,
    error: &(dyn Error + 'static),
) -> StateDataError {
    StateDataError::Backend {
        backend,
        operation,
        table: target.table.to_string(),
        message: format!("{target}: {}", DisplayErrorContext(error)),
    }
}
