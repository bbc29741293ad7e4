//! Items too large for a DynamoDB row, kept as objects in the state bucket.
//!
//! Each object carries its expiry as the `expires-at` metadata and the `expires_at` tag (Unix
//! seconds, as the row's TTL); the bucket's lifecycle rule (see the exported template) deletes
//! the objects, as DynamoDB's TTL deletes the rows. Object keys are fresh per write
//! (`<table>/<uuid>.json`), so a reader holding an older row never sees a half-replaced item.

use aws_sdk_s3::primitives::ByteStream;

use super::error::{self, Target};
use crate::state_data::StateDataError;

/// The state bucket and its client.
#[derive(Debug, Clone)]
pub(crate) struct Spill {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

impl Spill {
    /// Stores `data` under a new key; returns the key.
    pub async fn put(
        &self,
        target: Target<'_>,
        data: Vec<u8>,
        expires_at: i64,
    ) -> Result<String, StateDataError> {
        let key = format!("{}/{}.json", target.table, uuid::Uuid::new_v4());
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .metadata("expires-at", expires_at.to_string())
            .tagging(format!("expires_at={expires_at}"))
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(|e| error::s3("PutObject", target, &self.bucket, &key, e))?;
        Ok(key)
    }

    /// Reads the object `key`; a missing object means the row points nowhere (corrupt).
    pub async fn get(&self, target: Target<'_>, key: &str) -> Result<Vec<u8>, StateDataError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    StateDataError::Corrupt {
                        partition_key: target.partition_key.to_string(),
                        table: target.table.to_string(),
                        index: target.index.unwrap_or(0),
                        message: format!(
                            "the item's data object s3://{}/{key} does not exist",
                            self.bucket
                        ),
                    }
                } else {
                    error::s3("GetObject", target, &self.bucket, key, e)
                }
            })?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| error::backend("s3", "GetObject", target, &e))?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// Deletes the object `key` (deleting a missing object succeeds).
    pub async fn delete(&self, target: Target<'_>, key: &str) -> Result<(), StateDataError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| error::s3("DeleteObject", target, &self.bucket, key, e))?;
        Ok(())
    }
}
