//! The scheduler's configuration file: job schemas and per-deployment labourer overrides.
//!
//! ```json
//! {"job_schema_variants": {"default": {"chunkable_attrs": ["section", "store", "product"]}},
//!  "labourers": {"report_worker": {"max_simultaneous_invocations": 4, "max_attempts": 5,
//!                                  "lease_secs": 60,
//!                                  "arn": "arn:aws:lambda:eu-west-1:123456789012:function:report"}}}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::job::JobSchemaVariants;
use crate::task::TaskSpec;

/// Concurrent invocations of a labourer when neither its task nor the config says.
pub const DEFAULT_MAX_SIMULTANEOUS_INVOCATIONS: u32 = 10;
/// Attempts per task when neither the labourer nor the config says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// How long an invocation may run before it counts as hung, when neither the task's
/// `timeout_secs` (plus a margin) nor the config says.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(900);

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Job schemas by name.
    #[serde(default)]
    pub job_schema_variants: JobSchemaVariants,
    /// Overrides per labourer name.
    #[serde(default)]
    pub labourers: BTreeMap<String, LabourerOverride>,
}

/// A deployment's override of one labourer's limits.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabourerOverride {
    /// Invocations at once (at least 1).
    pub max_simultaneous_invocations: Option<u32>,
    /// Attempts before a task is dead-lettered (at least 1).
    pub max_attempts: Option<u32>,
    /// Seconds an invocation may run before it expires and is retried.
    pub lease_secs: Option<u64>,
    /// The Lambda function (name or ARN) the Lambda invoker calls for this labourer
    /// (`schedule work --lambda`, the orchestrator in Lambda), as sosw's `arn`.
    pub arn: Option<String>,
}

/// The limits the dispatcher applies to one labourer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabourerLimits {
    /// Invocations at once.
    pub max_simultaneous_invocations: u32,
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
    /// How long one invocation may run.
    pub lease: Duration,
}

impl SchedulerConfig {
    /// The file to read when none is named: `$ORKESTRA_SCHEDULER_CONFIG`, else
    /// `.orkestra/scheduler.json` (used only if it exists).
    pub fn default_path() -> PathBuf {
        match std::env::var_os("ORKESTRA_SCHEDULER_CONFIG") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(".orkestra").join("scheduler.json"),
        }
    }

    /// Reads `path`, or the default file (an empty config when it does not exist).
    pub fn load(path: Option<&Path>) -> Result<SchedulerConfig, String> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (SchedulerConfig::default_path(), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SchedulerConfig::default())
            }
            Err(e) => {
                return Err(format!(
                    "cannot read scheduler config `{}`: {e}",
                    path.display()
                ))
            }
        };
        SchedulerConfig::parse(&text)
            .map_err(|e| format!("scheduler config `{}`: {e}", path.display()))
    }

    /// Parses the config's JSON, naming the path of a bad field.
    ///
    /// ```
    /// use orkestra::scheduler::config::SchedulerConfig;
    /// let err = SchedulerConfig::parse(r#"{"labourers":{"w":{"max_attempts":0}}}"#).unwrap_err();
    /// assert!(err.contains("labourers.w.max_attempts"), "{err}");
    /// ```
    pub fn parse(text: &str) -> Result<SchedulerConfig, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: SchedulerConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?;
        for (name, o) in &config.labourers {
            for (field, value) in [
                (
                    "max_simultaneous_invocations",
                    o.max_simultaneous_invocations.map(u64::from),
                ),
                ("max_attempts", o.max_attempts.map(u64::from)),
                ("lease_secs", o.lease_secs),
            ] {
                if value == Some(0) {
                    return Err(format!("at `labourers.{name}.{field}`: must be at least 1"));
                }
            }
        }
        Ok(config)
    }

    /// The limits of `labourer`: the config's override, else the task's `#[compose(..)]`
    /// options, else the defaults.
    pub fn limits(&self, labourer: &str, spec: Option<&TaskSpec>) -> LabourerLimits {
        let o = self.labourers.get(labourer).cloned().unwrap_or_default();
        let options = spec.map(|s| s.options);
        LabourerLimits {
            max_simultaneous_invocations: o
                .max_simultaneous_invocations
                .or(options.and_then(|o| o.max_simultaneous_invocations))
                .unwrap_or(DEFAULT_MAX_SIMULTANEOUS_INVOCATIONS),
            max_attempts: o
                .max_attempts
                .or(options.and_then(|o| o.max_attempts))
                .unwrap_or(DEFAULT_MAX_ATTEMPTS),
            lease: o
                .lease_secs
                .map(Duration::from_secs)
                // A task's own timeout ends it first; the lease catches what outlives it.
                .or(options
                    .and_then(|o| o.timeout_secs)
                    .map(|t| Duration::from_secs(t as u64 + 30)))
                .unwrap_or(DEFAULT_LEASE),
        }
    }
}
