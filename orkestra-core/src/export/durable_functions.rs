//! `handler::aws_lambda()`: a `#[durable_execution]` handler as a Lambda **durable function**,
//! as CloudFormation resources.
//!
//! The function runs the same binary as the tasks (`Handler` = the handler's name, which the
//! binary receives as `_HANDLER`) with a `DurableConfig` (execution timeout, retention). A durable
//! function is invoked only through a qualified identifier (a version, an alias or `$LATEST`), so
//! each gets a published version and the alias [`ALIAS`] pointing at it; executions start on the
//! alias, and chained invokes (`ctx.invoke`) go to the target's alias.
//!
//! Names: the function is called `<DurableFunctionPrefix>-<handler>` (a template parameter), so
//! its ARN is known without referring to the resource. That keeps the template free of
//! dependency cycles when handlers invoke each other (or themselves), and lets the binary turn
//! `ctx.invoke("charge_card", ..)` into `<prefix>-charge_card:live` from two environment
//! variables ([`FUNCTION_PREFIX_VAR`], [`ALIAS_VAR`]).
//!
//! Least privilege: the role may call `lambda:CheckpointDurableExecution` and
//! `lambda:GetDurableExecutionState` on its own function's executions only
//! (`function:<name>:*`: Lambda authorises these against the durable execution ARN, which always
//! carries the version), `lambda:InvokeFunction` only on the aliases of the handlers it declares
//! in `invokes`, write its own log group and X-Ray traces. External systems that complete its
//! callbacks attach the managed policy `<Id>CallbackPolicy`
//! (`lambda:SendDurableExecutionCallbackSuccess/Failure/Heartbeat` on that function only).

use serde_json::{json, Value};

use super::lambda::{checkov_skips, Architecture, LambdaFunction, DEFAULT_MEMORY_MB};
use super::naming::{function_id, logical_id};
use crate::durable::{DurableHandlerEntry, DurableHandlerOptions};

pub use crate::durable::{ALIAS_VAR, FUNCTION_PREFIX_VAR};

/// `ExecutionTimeout` when the handler sets no `execution_timeout_secs`: one day.
pub const DEFAULT_EXECUTION_TIMEOUT_SECS: u32 = 86_400;
/// `RetentionPeriodInDays` when the handler sets no `retention_days` (the service's default).
pub const DEFAULT_RETENTION_DAYS: u32 = 14;
/// Lambda timeout of one invocation when the handler sets no `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u32 = 60;
/// The alias every durable function is invoked through.
pub const ALIAS: &str = "live";
/// The template parameter naming the durable functions: `<prefix>-<handler>`.
pub const PREFIX_PARAMETER: &str = "DurableFunctionPrefix";
/// Lambda's limits on `DurableConfig` (from the `AWS::Lambda::Function` schema).
pub const EXECUTION_TIMEOUT_RANGE: (u32, u32) = (1, 31_622_400);
/// Lambda's limits on `RetentionPeriodInDays`.
pub const RETENTION_DAYS_RANGE: (u32, u32) = (1, 90);
/// A Lambda function name's length limit.
pub const FUNCTION_NAME_MAX: usize = 64;

/// A durable handler's function; build it with `handler::aws_lambda()` (or from the registry
/// with [`DurableFunction::for_entry`]) and adjust it.
///
/// ```
/// use orkestra::durable::DurableHandlerOptions;
/// use orkestra::export::DurableFunction;
/// let options = DurableHandlerOptions { invokes: &["charge_card"], ..DurableHandlerOptions::DEFAULT };
/// let f = DurableFunction::new("place_order", options).retention_days(30);
/// let props = f.properties();
/// assert_eq!(props["Handler"], "place_order");
/// assert_eq!(props["DurableConfig"]["ExecutionTimeout"], 86_400);
/// assert_eq!(props["DurableConfig"]["RetentionPeriodInDays"], 30);
/// assert_eq!(f.alias_id(), "PlaceOrderFunctionAlias");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DurableFunction {
    handler: &'static str,
    invokes: &'static [&'static str],
    execution_timeout_secs: u32,
    retention_days: u32,
    function: LambdaFunction,
}

impl DurableFunction {
    /// The function of handler `handler` with the options its attribute declares.
    pub fn new(handler: &'static str, options: DurableHandlerOptions) -> DurableFunction {
        DurableFunction {
            handler,
            invokes: options.invokes,
            execution_timeout_secs: options
                .execution_timeout_secs
                .unwrap_or(DEFAULT_EXECUTION_TIMEOUT_SECS),
            retention_days: options.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS),
            function: LambdaFunction::for_handler(
                handler,
                options.memory_mb.unwrap_or(DEFAULT_MEMORY_MB),
                options.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            ),
        }
    }

    /// The function of a registered handler.
    pub fn for_entry(entry: &DurableHandlerEntry) -> DurableFunction {
        DurableFunction::new(entry.name, entry.options)
    }

    /// Sets `DurableConfig.ExecutionTimeout` (checked against Lambda's limits by the template).
    pub fn execution_timeout_secs(mut self, secs: u32) -> Self {
        self.execution_timeout_secs = secs;
        self
    }

    /// Sets `DurableConfig.RetentionPeriodInDays` (checked against Lambda's limits by the
    /// template).
    pub fn retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    /// Selects the architecture.
    pub fn architecture(mut self, architecture: Architecture) -> Self {
        self.function = self.function.architecture(architecture);
        self
    }

    /// Adds an environment variable.
    pub fn environment(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.function = self.function.environment(key, value);
        self
    }

    /// Adds an IAM policy statement to the function's role.
    pub fn statement(mut self, statement: Value) -> Self {
        self.function = self.function.statement(statement);
        self
    }

    /// Reserves concurrency for the function.
    pub fn reserved_concurrency(mut self, limit: u32) -> Self {
        self.function = self.function.reserved_concurrency(limit);
        self
    }

    /// The handler's registered name.
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// The handlers it may chain (`invokes`).
    pub fn invokes(&self) -> &'static [&'static str] {
        self.invokes
    }

    /// The function's logical id (`<Id>Function`).
    pub fn logical_id(&self) -> String {
        function_id(self.handler)
    }

    /// The published version's logical id.
    pub fn version_id(&self) -> String {
        format!("{}Version", self.logical_id())
    }

    /// The alias's logical id (`Ref` gives the alias ARN that starts executions).
    pub fn alias_id(&self) -> String {
        format!("{}Alias", self.logical_id())
    }

    /// The logical id of the managed policy that lets external systems complete its callbacks.
    pub fn callback_policy_id(&self) -> String {
        format!("{}CallbackPolicy", logical_id(self.handler))
    }

    /// What is wrong with its settings for Lambda, if anything.
    pub fn check(&self) -> Result<(), String> {
        let name_len = self.handler.len() + 1;
        if !self
            .handler
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "durable handler `{}`: a Lambda function name takes ASCII letters, digits, `_` and `-` only; rename the handler",
                self.handler
            ));
        }
        if name_len >= FUNCTION_NAME_MAX {
            return Err(format!(
                "durable handler `{}`: its function `<{PREFIX_PARAMETER}>-{}` would exceed Lambda's {FUNCTION_NAME_MAX} characters; use a shorter name",
                self.handler, self.handler
            ));
        }
        let in_range = |v: u32, (min, max): (u32, u32)| (min..=max).contains(&v);
        if !in_range(self.execution_timeout_secs, EXECUTION_TIMEOUT_RANGE) {
            return Err(format!(
                "durable handler `{}`: execution timeout {} s is outside Lambda's {}..={} s",
                self.handler,
                self.execution_timeout_secs,
                EXECUTION_TIMEOUT_RANGE.0,
                EXECUTION_TIMEOUT_RANGE.1
            ));
        }
        if !in_range(self.retention_days, RETENTION_DAYS_RANGE) {
            return Err(format!(
                "durable handler `{}`: retention of {} days is outside Lambda's {}..={} days",
                self.handler, self.retention_days, RETENTION_DAYS_RANGE.0, RETENTION_DAYS_RANGE.1
            ));
        }
        Ok(())
    }

    /// The longest prefix the function names leave room for.
    pub(crate) fn prefix_room(&self) -> usize {
        FUNCTION_NAME_MAX.saturating_sub(self.handler.len() + 1)
    }

    /// The `AWS::Lambda::Function` properties.
    pub fn properties(&self) -> Value {
        let mut props = self.base().properties();
        props["FunctionName"] = function_name(self.handler);
        props["Description"] = json!(format!("Orkestra durable handler `{}`", self.handler));
        props["DurableConfig"] = json!({
            "ExecutionTimeout": self.execution_timeout_secs,
            "RetentionPeriodInDays": self.retention_days,
        });
        props
    }

    /// The base function with the durable variables and role statements.
    fn base(&self) -> LambdaFunction {
        let mut function = self
            .function
            .clone()
            .environment_value(FUNCTION_PREFIX_VAR, json!({"Ref": PREFIX_PARAMETER}))
            .environment(ALIAS_VAR, ALIAS)
            .statement(json!({
                "Effect": "Allow",
                "Action": ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
                "Resource": executions_arn(self.handler),
            }));
        if !self.invokes.is_empty() {
            let targets: Vec<Value> = self.invokes.iter().map(|t| alias_arn(t)).collect();
            function = function.statement(json!({
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": targets,
            }));
        }
        function
    }

    /// The function, its role, log group, version, alias and callback policy, by logical id.
    pub fn resources(&self) -> Vec<(String, Value)> {
        let mut resources = self.base().resources();
        let function_id = self.logical_id();
        for (id, resource) in &mut resources {
            if *id == function_id {
                resource["Properties"] = self.properties();
                resource["Metadata"] = checkov_skips(&[
                    ("CKV_AWS_116", "Started through its alias or as a chained invoke; the service keeps each execution's outcome and history for the retention period, so a DLQ would duplicate it."),
                    ("CKV_AWS_117", "The handlers call public AWS APIs (the durable execution API among them); a VPC is the deployer's choice, not a default."),
                    ("CKV_AWS_173", "Environment variables hold configuration only; Lambda encrypts them at rest with an AWS managed key."),
                    ("CKV_AWS_115", "Concurrency is limited per handler with `reserved_concurrency` where the workload needs it."),
                ]);
            }
        }
        resources.push((
            self.version_id(),
            json!({
                "Type": "AWS::Lambda::Version",
                // Running executions stay on the version they started on: keep old versions.
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "FunctionName": {"Ref": function_id},
                    // A new code key publishes a new version (the description is immutable).
                    "Description": {"Fn::Sub": format!(
                        "Orkestra durable handler `{}`, code ${{CodeKey}}", self.handler
                    )},
                },
            }),
        ));
        resources.push((
            self.alias_id(),
            json!({
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": function_id},
                    "FunctionVersion": {"Fn::GetAtt": [self.version_id(), "Version"]},
                    "Name": ALIAS,
                    "Description": "Executions start here; chained invokes target it",
                },
            }),
        ));
        resources.push((
            self.callback_policy_id(),
            json!({
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "Description": format!("Complete the callbacks of durable handler `{}` (attach to the external completer)", self.handler),
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Action": [
                                "lambda:SendDurableExecutionCallbackSuccess",
                                "lambda:SendDurableExecutionCallbackFailure",
                                "lambda:SendDurableExecutionCallbackHeartbeat",
                            ],
                            "Resource": executions_arn(self.handler),
                        }],
                    },
                },
            }),
        ));
        resources
    }

    /// The template outputs: the alias ARN and the callback policy ARN.
    pub fn outputs(&self) -> Vec<(String, Value)> {
        vec![
            (
                self.alias_id(),
                json!({
                    "Description": format!("Qualified ARN that starts executions of durable handler `{}` (`aws lambda invoke --function-name`)", self.handler),
                    "Value": {"Ref": self.alias_id()},
                }),
            ),
            (
                format!("{}Arn", self.callback_policy_id()),
                json!({
                    "Description": format!("Managed policy to attach to whatever completes the callbacks of `{}`", self.handler),
                    "Value": {"Ref": self.callback_policy_id()},
                }),
            ),
        ]
    }
}

/// `<prefix>-<handler>`, the function's name.
fn function_name(handler: &str) -> Value {
    json!({"Fn::Sub": format!("${{{PREFIX_PARAMETER}}}-{handler}")})
}

fn function_arn(handler: &str) -> String {
    format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:${{{PREFIX_PARAMETER}}}-{handler}"
    )
}

/// Every qualified ARN of the function, what durable execution ARNs extend.
fn executions_arn(handler: &str) -> Value {
    json!({"Fn::Sub": format!("{}:*", function_arn(handler))})
}

/// The alias's ARN.
fn alias_arn(handler: &str) -> Value {
    json!({"Fn::Sub": format!("{}:{ALIAS}", function_arn(handler))})
}
