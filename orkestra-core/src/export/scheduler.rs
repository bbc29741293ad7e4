//! The scheduler's resources in a template (when the app has labourers): the queue's DynamoDB
//! tables in sosw's layout, the orchestrator's function (`Handler` [`ORCHESTRATOR_HANDLER`]) on
//! an EventBridge schedule, and least-privilege access for it and for each labourer's function.
//!
//! The tables are `<stack name>_tasks` (index `<stack name>_tasks_greenfield` on `labourer_id`
//! and `greenfield`), `_retry_tasks`, `_closed_tasks`, `_labourers` and `_audit`: the layout of
//! `orkestra::scheduler::dynamo` (feature `aws`), so `schedule submit --dynamodb <stack name>`
//! queues into them. Every scheduler function gets the prefix as [`PREFIX_VAR`].
//!
//! Access: the orchestrator may invoke only the labourers' functions and read and write only
//! the scheduler's tables; a labourer's function (the worker assistant) may only read and
//! delete task rows, add closed/retry/audit rows, and update its own labourer's running count
//! (`dynamodb:LeadingKeys` = its task name). Labourers are invoked asynchronously with Lambda's
//! own retries off (`AWS::Lambda::EventInvokeConfig`): the scheduler retries failed tasks.

use serde_json::{json, Value};

use super::lambda::{checkov_skips, LambdaFunction};
use super::naming::{function_id, logical_id};
use crate::task::TaskSpec;

/// The `Handler` of the orchestrator's function.
pub const ORCHESTRATOR_HANDLER: &str = "orkestra-scheduler";
/// The variable naming the tables' prefix in the scheduler's functions.
pub const PREFIX_VAR: &str = "ORKESTRA_SCHEDULER_PREFIX";
/// The schedule of the orchestrator when none is given.
pub const DEFAULT_RATE: &str = "rate(1 minute)";
/// The orchestrator function's timeout (one pass; never a long loop).
pub const ORCHESTRATOR_TIMEOUT_SECS: u32 = 60;
/// The EventBridge rule's logical id.
pub const RULE_ID: &str = "OrkestraSchedulerRule";

/// The tables: logical id and name suffix.
const TABLES: [(&str, &str); 5] = [
    ("SchedulerTasksTable", "tasks"),
    ("SchedulerRetryTasksTable", "retry_tasks"),
    ("SchedulerClosedTasksTable", "closed_tasks"),
    ("SchedulerLabourersTable", "labourers"),
    ("SchedulerAuditTable", "audit"),
];

/// The DynamoDB actions of the orchestrator (claims, scavenging, requeueing retries).
pub const ORCHESTRATOR_ACTIONS: [&str; 6] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:Scan",
];

/// The variable naming the function of labourer `labourer` in the orchestrator's environment
/// (what `orkestra::scheduler::lambda_invoke` reads).
///
/// ```
/// assert_eq!(orkestra::export::scheduler::function_var("report_worker"), "ORKESTRA_LABOURER_ReportWorker");
/// ```
pub fn function_var(labourer: &str) -> String {
    format!("ORKESTRA_LABOURER_{}", logical_id(labourer))
}

fn prefix() -> Value {
    json!({"Ref": "AWS::StackName"})
}

fn table_name(suffix: &str) -> Value {
    json!({"Fn::Sub": format!("${{AWS::StackName}}_{suffix}")})
}

fn arn(id: &str) -> Value {
    json!({"Fn::GetAtt": [id, "Arn"]})
}

/// The scheduler's part of a template: labourers and the orchestrator's schedule.
#[derive(Debug, Clone)]
pub struct SchedulerExport {
    labourers: Vec<&'static TaskSpec>,
    rate: String,
}

impl SchedulerExport {
    /// The scheduler for `labourers`, its orchestrator run every minute.
    pub fn new(labourers: impl IntoIterator<Item = &'static TaskSpec>) -> SchedulerExport {
        let mut labourers: Vec<&'static TaskSpec> = labourers.into_iter().collect();
        labourers.sort_by_key(|s| s.name);
        labourers.dedup_by_key(|s| s.name);
        SchedulerExport {
            labourers,
            rate: DEFAULT_RATE.to_string(),
        }
    }

    /// The orchestrator's schedule expression, e.g. `rate(5 minutes)`.
    pub fn rate(mut self, expression: impl Into<String>) -> SchedulerExport {
        self.rate = expression.into();
        self
    }

    /// The labourers.
    pub fn labourers(&self) -> &[&'static TaskSpec] {
        &self.labourers
    }

    /// A labourer's function with the prefix in its environment and the worker assistant's
    /// access to the tables.
    pub fn grant_labourer(&self, function: LambdaFunction) -> LambdaFunction {
        let task = function.task();
        function
            .environment_value(PREFIX_VAR, prefix())
            .statement(json!({
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:DeleteItem"],
                "Resource": arn(TABLES[0].0),
            }))
            .statement(json!({
                "Effect": "Allow",
                "Action": "dynamodb:PutItem",
                "Resource": [arn(TABLES[1].0), arn(TABLES[2].0), arn(TABLES[4].0)],
            }))
            .statement(json!({
                "Effect": "Allow",
                "Action": "dynamodb:UpdateItem",
                "Resource": arn(TABLES[3].0),
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [task]}},
            }))
    }

    /// The tables, the orchestrator's function (role, log group), its schedule and the
    /// permission letting EventBridge invoke it, and each labourer's asynchronous invocation
    /// settings.
    pub fn resources(&self) -> Vec<(String, Value)> {
        let mut resources: Vec<(String, Value)> = TABLES
            .iter()
            .map(|(id, suffix)| (id.to_string(), table(suffix)))
            .collect();
        let table_arns: Vec<Value> = TABLES.iter().map(|(id, _)| arn(id)).collect();
        let mut resources_with_index = table_arns.clone();
        resources_with_index.push(json!({"Fn::Sub": format!("${{{}.Arn}}/index/*", TABLES[0].0)}));
        let labourer_arns: Vec<Value> = self
            .labourers
            .iter()
            .map(|spec| arn(&function_id(spec.name)))
            .collect();
        let mut orchestrator =
            LambdaFunction::for_handler(ORCHESTRATOR_HANDLER, 256, ORCHESTRATOR_TIMEOUT_SECS)
                .environment_value(PREFIX_VAR, prefix())
                .statement(json!({
                    "Effect": "Allow",
                    "Action": ORCHESTRATOR_ACTIONS,
                    "Resource": resources_with_index,
                }));
        if !labourer_arns.is_empty() {
            orchestrator = orchestrator.statement(json!({
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": labourer_arns,
            }));
        }
        for spec in &self.labourers {
            orchestrator = orchestrator
                .environment_value(function_var(spec.name), arn(&function_id(spec.name)));
        }
        let orchestrator_id = orchestrator.logical_id();
        resources.extend(orchestrator.resources());
        resources.push((
            RULE_ID.to_string(),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": "Runs one pass of the Orkestra scheduler's orchestrator and scavenger",
                    "ScheduleExpression": self.rate,
                    "State": "ENABLED",
                    "Targets": [{"Arn": arn(&orchestrator_id), "Id": "orchestrator"}],
                },
            }),
        ));
        resources.push((
            format!("{RULE_ID}Permission"),
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": orchestrator_id},
                    "Principal": "events.amazonaws.com",
                    "SourceArn": arn(RULE_ID),
                },
            }),
        ));
        // A pass that fails is simply the next minute's pass: no retries of stale events.
        resources.push((
            format!("{orchestrator_id}EventInvokeConfig"),
            event_invoke_config(&orchestrator_id),
        ));
        for spec in &self.labourers {
            let id = function_id(spec.name);
            resources.push((format!("{id}EventInvokeConfig"), event_invoke_config(&id)));
        }
        resources
    }
}

/// Lambda's own retries of asynchronous events off: the scheduler retries (with backoff, up
/// to `max_attempts`, then a dead letter).
fn event_invoke_config(function: &str) -> Value {
    json!({
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": function},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 0,
        },
    })
}

fn table(suffix: &str) -> Value {
    let (mut attributes, mut keys) = (Vec::new(), Vec::new());
    let mut key = |name: &str, kind: &str, key_type: &str| {
        attributes.push(json!({"AttributeName": name, "AttributeType": kind}));
        keys.push(json!({"AttributeName": name, "KeyType": key_type}));
    };
    match suffix {
        "labourers" => key("labourer_id", "S", "HASH"),
        "audit" => {
            key("task_id", "S", "HASH");
            key("seq", "S", "RANGE");
        }
        _ => key("task_id", "S", "HASH"),
    }
    let mut properties = json!({
        "TableName": table_name(suffix),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attributes,
        "KeySchema": keys,
        "SSESpecification": {"SSEEnabled": true},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
    });
    if suffix == "tasks" {
        let defs = properties["AttributeDefinitions"].as_array_mut().unwrap();
        defs.push(json!({"AttributeName": "labourer_id", "AttributeType": "S"}));
        defs.push(json!({"AttributeName": "greenfield", "AttributeType": "N"}));
        properties["GlobalSecondaryIndexes"] = json!([{
            "IndexName": {"Fn::Sub": "${AWS::StackName}_tasks_greenfield"},
            "KeySchema": [
                {"AttributeName": "labourer_id", "KeyType": "HASH"},
                {"AttributeName": "greenfield", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }]);
    }
    json!({
        "Type": "AWS::DynamoDB::Table",
        // The queue and its dead letters are the business's record: kept if the stack goes.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
        "Metadata": checkov_skips(&[
            ("CKV_AWS_119", "Encrypted at rest with the AWS managed KMS key; a customer managed key is the deployer's choice."),
        ]),
    })
}
