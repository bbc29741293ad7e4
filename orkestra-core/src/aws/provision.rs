//! Creating the state table and bucket with the SDK, for local servers and tests (in AWS the
//! exported CloudFormation template creates them, with the same schema).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::config::AwsConfig;
use super::item::attribute;
use crate::state_data::StateDataError;

/// Creates the state data table `table` (partition key `partition_key` S, sort key
/// `sort_key` N, on-demand billing, TTL on `expires_at`) and, if given, the bucket.
///
/// ```no_run
/// # async fn demo() -> Result<(), orkestra::state_data::StateDataError> {
/// use orkestra::aws::{provision, AwsConfig};
/// let config = AwsConfig::local("http://127.0.0.1:5055").await;
/// provision::create_state_resources(&config, "orkestra-state", Some("orkestra-state-data")).await?;
/// # Ok(()) }
/// ```
pub async fn create_state_resources(
    config: &AwsConfig,
    table: &str,
    bucket: Option<&str>,
) -> Result<(), StateDataError> {
    let fail =
        |backend: &'static str, operation: &'static str, message: String| StateDataError::Backend {
            backend,
            operation,
            table: table.to_string(),
            message,
        };
    let dynamodb = config.dynamodb();
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let definition = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let built = (|| {
        Ok::<_, aws_sdk_dynamodb::error::BuildError>((
            key(attribute::PARTITION_KEY, KeyType::Hash)?,
            key(attribute::SORT_KEY, KeyType::Range)?,
            definition(attribute::PARTITION_KEY, ScalarAttributeType::S)?,
            definition(attribute::SORT_KEY, ScalarAttributeType::N)?,
            TimeToLiveSpecification::builder()
                .attribute_name(attribute::EXPIRES_AT)
                .enabled(true)
                .build()?,
        ))
    })()
    .map_err(|e| fail("dynamodb", "CreateTable", e.to_string()))?;
    let (hash, range, pk, sk, ttl) = built;
    dynamodb
        .create_table()
        .table_name(table)
        .key_schema(hash)
        .key_schema(range)
        .attribute_definitions(pk)
        .attribute_definitions(sk)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| fail("dynamodb", "CreateTable", display(&e)))?;
    dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| fail("dynamodb", "UpdateTimeToLive", display(&e)))?;
    if let Some(bucket) = bucket {
        config
            .s3()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                fail(
                    "s3",
                    "CreateBucket",
                    format!("bucket {bucket}: {}", display(&e)),
                )
            })?;
    }
    Ok(())
}

fn display(error: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()
}
