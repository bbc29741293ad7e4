//! The SDK configuration every AWS backend shares: region, credentials, endpoints, retries.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// The variable naming the state data table (set by the exported template on the functions of
/// `#[compose(state_data)]` tasks).
pub const TABLE_VAR: &str = crate::export::state_data::TABLE_VAR;
/// The variable naming the bucket that holds items too large for DynamoDB.
pub const BUCKET_VAR: &str = crate::export::state_data::BUCKET_VAR;

/// Attempts per request (the first one included) before a throttled or transient failure is
/// reported: the SDK's standard mode retries throttling with exponential backoff and jitter.
const MAX_ATTEMPTS: u32 = 8;

/// A missing or unusable setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsConfigError {
    /// A required environment variable is not set (or is empty).
    #[error("environment variable {var} is not set: {purpose}")]
    MissingEnv {
        /// The variable.
        var: &'static str,
        /// What it is for.
        purpose: &'static str,
    },
}

/// The SDK configuration shared by Orkestra's AWS backends, and the clients made from it.
///
/// ```no_run
/// # async fn demo() {
/// use orkestra::aws::AwsConfig;
/// // Region, credentials and endpoints from the environment, as every AWS SDK reads them.
/// let config = AwsConfig::from_env().await;
/// let _dynamodb = config.dynamodb();
/// // A local server (moto, dynalite, s3rver) with dummy credentials.
/// let local = AwsConfig::local("http://127.0.0.1:5055").await;
/// let _s3 = local.s3();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AwsConfig {
    sdk: SdkConfig,
    force_path_style: bool,
}

impl AwsConfig {
    /// Loads the standard configuration (`AWS_REGION`, credentials chain, `AWS_ENDPOINT_URL`
    /// and `AWS_ENDPOINT_URL_<SERVICE>`); throttling is retried up to 8 attempts.
    pub async fn from_env() -> AwsConfig {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        let custom_endpoint = sdk.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
        AwsConfig {
            sdk,
            force_path_style: custom_endpoint,
        }
    }

    /// A configuration for a local AWS-compatible server at `endpoint` (e.g.
    /// `http://127.0.0.1:5055`): region `us-east-1`, dummy credentials, path-style S3.
    pub async fn local(endpoint: &str) -> AwsConfig {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "orkestra-local",
            ))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        AwsConfig {
            sdk,
            force_path_style: true,
        }
    }

    /// Wraps a configuration built elsewhere; S3 uses path-style addressing if it has an
    /// endpoint URL.
    pub fn from_sdk(sdk: SdkConfig) -> AwsConfig {
        let force_path_style = sdk.endpoint_url().is_some();
        AwsConfig {
            sdk,
            force_path_style,
        }
    }

    /// Chooses S3 path-style addressing (`endpoint/bucket/key`) explicitly.
    pub fn force_path_style(mut self, force: bool) -> AwsConfig {
        self.force_path_style = force;
        self
    }

    /// The underlying SDK configuration.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// A DynamoDB client.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// An S3 client (path-style when a custom endpoint is set).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.force_path_style)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// A Step Functions client.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }
}

/// A required, non-empty environment variable.
pub(crate) fn required_env(
    var: &'static str,
    purpose: &'static str,
) -> Result<String, AwsConfigError> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(AwsConfigError::MissingEnv { var, purpose }),
    }
}
