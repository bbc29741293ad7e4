//! `.aws_lambda()`: a task's Lambda function, as CloudFormation resources.
//!
//! Every function runs the same binary (`provided.al2023`, a `bootstrap` in one zip); its
//! `Handler` is the task's registry key, which the binary receives as `_HANDLER` and uses to
//! pick the task. Each function has its own role (write its own logs and X-Ray traces, plus any
//! statements the task declares) and its own log group with a retention period.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::naming::{function_id, function_role_id, logical_id};
use crate::task::TaskSpec;

/// The CPU architecture of the Lambda functions (and of the packaged binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Architecture {
    /// x86-64, the default: what this project builds and tests.
    #[default]
    X86_64,
    /// AWS Graviton; package with `--arch arm64` as well.
    Arm64,
}

impl Architecture {
    /// CloudFormation's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl std::str::FromStr for Architecture {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" => Ok(Architecture::X86_64),
            "arm64" => Ok(Architecture::Arm64),
            other => Err(format!(
                "unknown architecture `{other}`: use x86_64 or arm64"
            )),
        }
    }
}

/// Memory when a task sets no `memory_mb`.
pub const DEFAULT_MEMORY_MB: u32 = 256;
/// Lambda timeout when a task sets no `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u32 = 30;
/// Log retention of every log group.
pub const LOG_RETENTION_DAYS: u32 = 30;

/// A task's Lambda function; build it with `divide_by::aws_lambda()` and adjust it.
///
/// ```
/// use orkestra::export::lambda::{Architecture, LambdaFunction};
/// # fn demo(spec: &'static orkestra::TaskSpec) {
/// let function = LambdaFunction::for_task(spec)
///     .architecture(Architecture::Arm64)
///     .environment("TABLE", "orders")
///     .reserved_concurrency(10);
/// let props = function.properties();
/// assert_eq!(props["Handler"], spec.name);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaFunction {
    task: &'static str,
    memory_mb: u32,
    timeout_secs: u32,
    architecture: Architecture,
    environment: BTreeMap<String, Value>,
    statements: Vec<Value>,
    reserved_concurrency: Option<u32>,
}

impl LambdaFunction {
    /// The function for a task, with its `memory_mb` and `timeout_secs`.
    pub fn for_task(spec: &'static TaskSpec) -> LambdaFunction {
        LambdaFunction {
            task: spec.name,
            memory_mb: spec.options.memory_mb.unwrap_or(DEFAULT_MEMORY_MB),
            timeout_secs: spec.options.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            architecture: Architecture::default(),
            environment: BTreeMap::new(),
            statements: Vec::new(),
            reserved_concurrency: None,
        }
    }

    /// A function serving `handler` (a `_HANDLER` the binary knows besides its tasks, such as
    /// the scheduler's `orkestra-scheduler`), with the given memory and timeout.
    ///
    /// ```
    /// use orkestra::export::LambdaFunction;
    /// let f = LambdaFunction::for_handler("orkestra-scheduler", 256, 60);
    /// assert_eq!(f.logical_id(), "OrkestraSchedulerFunction");
    /// assert_eq!(f.properties()["Timeout"], 60);
    /// ```
    pub fn for_handler(handler: &'static str, memory_mb: u32, timeout_secs: u32) -> LambdaFunction {
        LambdaFunction {
            task: handler,
            memory_mb,
            timeout_secs,
            architecture: Architecture::default(),
            environment: BTreeMap::new(),
            statements: Vec::new(),
            reserved_concurrency: None,
        }
    }

    /// Selects the architecture.
    pub fn architecture(mut self, architecture: Architecture) -> Self {
        self.architecture = architecture;
        self
    }

    /// Adds an environment variable.
    pub fn environment(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment
            .insert(key.into(), Value::String(value.into()));
        self
    }

    /// Adds an environment variable whose value is a CloudFormation expression, e.g.
    /// `{"Ref": "OrkestraStateTable"}`.
    pub fn environment_value(mut self, key: impl Into<String>, value: Value) -> Self {
        self.environment.insert(key.into(), value);
        self
    }

    /// Adds an IAM policy statement to the function's role.
    pub fn statement(mut self, statement: Value) -> Self {
        self.statements.push(statement);
        self
    }

    /// Reserves concurrency for the function.
    pub fn reserved_concurrency(mut self, limit: u32) -> Self {
        self.reserved_concurrency = Some(limit);
        self
    }

    /// The task's registry key.
    pub fn task(&self) -> &'static str {
        self.task
    }

    /// The function's logical id (`<Id>Function`).
    pub fn logical_id(&self) -> String {
        function_id(self.task)
    }

    fn role_id(&self) -> String {
        function_role_id(self.task)
    }

    fn log_group_id(&self) -> String {
        format!("{}LogGroup", self.logical_id())
    }

    /// The `AWS::Lambda::Function` properties.
    pub fn properties(&self) -> Value {
        let mut environment: Map<String, Value> = self
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        environment.insert("ORKESTRA_LOG".into(), json!("info"));
        let mut props = json!({
            "Runtime": "provided.al2023",
            "Handler": self.task,
            "Architectures": [self.architecture.as_str()],
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
            "Role": {"Fn::GetAtt": [self.role_id(), "Arn"]},
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout_secs,
            "Environment": {"Variables": environment},
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": {"Ref": self.log_group_id()}},
            "Description": format!("Orkestra task `{}`", self.task),
        });
        if let Some(limit) = self.reserved_concurrency {
            props["ReservedConcurrentExecutions"] = json!(limit);
        }
        props
    }

    /// The function, its role and its log group, by logical id.
    pub fn resources(&self) -> Vec<(String, Value)> {
        let log_group_arn = json!({"Fn::GetAtt": [self.log_group_id(), "Arn"]});
        let mut statements = vec![
            json!({
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_group_arn,
            }),
            json!({
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }),
        ];
        statements.extend(self.statements.iter().cloned());
        let function = json!({
            "Type": "AWS::Lambda::Function",
            "Properties": self.properties(),
            "Metadata": checkov_skips(&[
                ("CKV_AWS_116", "Invoked synchronously by Step Functions, which retries and reports failures, or asynchronously by the scheduler (or its schedule), which keeps failed tasks with their errors in its own dead-letter table; a DLQ would duplicate that."),
                ("CKV_AWS_117", "The tasks call public AWS APIs; a VPC is the deployer's choice, not a default."),
                ("CKV_AWS_173", "Environment variables hold configuration only; Lambda encrypts them at rest with an AWS managed key."),
                ("CKV_AWS_115", "Concurrency is limited per task with `reserved_concurrency` where the workload needs it."),
            ]),
        });
        let role = json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }],
                },
                "Policies": [{
                    "PolicyName": format!("{}Policy", logical_id(self.task)),
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }],
            },
            "Metadata": checkov_skips(&[
                ("CKV_AWS_111", "X-Ray's PutTraceSegments and PutTelemetryRecords do not support resource-level permissions."),
            ]),
        });
        vec![
            (self.logical_id(), function),
            (self.role_id(), role),
            (self.log_group_id(), log_group()),
        ]
    }
}

/// A log group with Orkestra's retention.
pub(crate) fn log_group() -> Value {
    json!({
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": LOG_RETENTION_DAYS},
        "Metadata": checkov_skips(&[
            ("CKV_AWS_158", "Log groups are encrypted at rest by CloudWatch Logs; a customer managed KMS key is the deployer's choice."),
            ("CKV_AWS_338", "30 days of retention by default; compliance-driven retention is set by the deployer."),
        ]),
    })
}

/// Resource metadata that skips checkov checks, each with its justification.
pub(crate) fn checkov_skips(skips: &[(&str, &str)]) -> Value {
    let skips: Vec<Value> = skips
        .iter()
        .map(|(id, comment)| json!({"id": id, "comment": comment}))
        .collect();
    json!({"checkov": {"skip": skips}})
}
