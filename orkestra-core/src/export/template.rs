//! A whole CloudFormation template (JSON) for one or more workflows: one Lambda function per
//! task, all sharing one code artefact; a state machine per workflow with a role that may invoke
//! exactly its own functions; an EventBridge Scheduler schedule where a workflow has one; the
//! state data table and bucket when a task uses state data, with access for exactly those
//! tasks' functions; per STANDARD state machine, a policy letting its functions stop its
//! executions (`ctx.stop_execution`); and, with [`Template::scheduler`], the scheduler's
//! tables, orchestrator and schedule; with [`Template::durable`] (or
//! [`Template::durable_handlers`]), `#[durable_execution]` handlers as Lambda durable functions
//! (see [`durable_functions`](super::durable_functions)).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::durable_functions::{DurableFunction, PREFIX_PARAMETER};
use super::lambda::{checkov_skips, log_group, Architecture, LambdaFunction};
use super::naming::{function_arn_substitution, function_id, function_role_id, logical_id};
use super::scheduler::{SchedulerExport, ORCHESTRATOR_HANDLER};
use super::{asl, state_data, AslError};
use crate::graph::{StateMachineType, Workflow};
use crate::task::TaskSpec;

/// A workflow's state machine as CloudFormation resources (what `.schedule()` gives).
#[derive(Debug, Clone)]
pub struct ScheduledStateMachine {
    workflow: Workflow,
}

impl Workflow {
    /// The workflow's state machine: name, STANDARD or EXPRESS, and the schedule expression
    /// from its settings (`workflow!(.., schedule = "rate(1 hour)")`).
    pub fn schedule(&self) -> ScheduledStateMachine {
        ScheduledStateMachine {
            workflow: self.clone(),
        }
    }
}

impl ScheduledStateMachine {
    /// The state machine's logical id.
    pub fn logical_id(&self) -> String {
        format!("{}StateMachine", logical_id(self.workflow.name()))
    }

    /// The resources: state machine, its role and log group, the schedule with its role, and
    /// (STANDARD machines) the policy letting the workflow's functions stop its executions.
    pub fn resources(&self) -> Result<Vec<(String, Value)>, Vec<AslError>> {
        let machine = asl(&self.workflow)?;
        let id = self.logical_id();
        let role_id = format!("{id}Role");
        let log_id = format!("{id}LogGroup");
        let tasks: BTreeSet<&str> = self
            .workflow
            .root()
            .tasks()
            .iter()
            .map(|t| t.task.name)
            .collect();
        let substitutions: Map<String, Value> = tasks
            .iter()
            .map(|task| {
                (
                    function_arn_substitution(task),
                    json!({"Fn::GetAtt": [function_id(task), "Arn"]}),
                )
            })
            .collect();
        let function_arns: Vec<Value> = tasks
            .iter()
            .map(|task| json!({"Fn::GetAtt": [function_id(task), "Arn"]}))
            .collect();
        let settings = self.workflow.settings();
        let mut resources = vec![
            (
                id.clone(),
                json!({
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {
                        "StateMachineName": self.workflow.name(),
                        "StateMachineType": settings.state_machine_type.as_str(),
                        // A plain object (not Fn::Sub) so cfn-lint checks the ASL (rule E3601).
                        "Definition": machine,
                        "DefinitionSubstitutions": substitutions,
                        "RoleArn": {"Fn::GetAtt": [role_id.clone(), "Arn"]},
                        "TracingConfiguration": {"Enabled": true},
                        "LoggingConfiguration": {
                            "Level": "ERROR",
                            "IncludeExecutionData": false,
                            "Destinations": [{"CloudWatchLogsLogGroup": {
                                "LogGroupArn": {"Fn::GetAtt": [log_id.clone(), "Arn"]}
                            }}],
                        },
                    },
                }),
            ),
            (
                role_id.clone(),
                role(
                    "states.amazonaws.com",
                    vec![
                        json!({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arns}),
                        json!({"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"], "Resource": "*"}),
                        // What Step Functions needs to deliver its logs (documented by AWS; these
                        // actions support no resource-level permissions).
                        json!({"Effect": "Allow", "Action": [
                            "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                            "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                            "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"
                        ], "Resource": "*"}),
                    ],
                    &format!("{}StateMachinePolicy", logical_id(self.workflow.name())),
                ),
            ),
            (log_id, log_group()),
        ];
        if self
            .workflow
            .root()
            .tasks()
            .iter()
            .any(|t| t.task.options.items_pointer)
        {
            // A Distributed Map runs its iterations as child executions of this very machine.
            resources.push((
                format!("{id}DistributedMapPolicy"),
                state_data::distributed_map_policy(
                    &format!("{}DistributedMapPolicy", logical_id(self.workflow.name())),
                    self.workflow.name(),
                    &role_id,
                ),
            ));
        }
        if settings.state_machine_type == StateMachineType::Standard {
            // Every task may call `ctx.stop_execution`; Express executions cannot be stopped.
            let roles: Vec<String> = tasks.iter().map(|task| function_role_id(task)).collect();
            resources.push((
                format!("{id}StopExecutionPolicy"),
                state_data::stop_execution_policy(
                    &format!("{}StopExecutionPolicy", logical_id(self.workflow.name())),
                    self.workflow.name(),
                    &roles,
                ),
            ));
        }
        if let Some(expression) = &settings.schedule {
            let schedule_role = format!("{id}ScheduleRole");
            resources.push((
                format!("{id}Schedule"),
                json!({
                    "Type": "AWS::Scheduler::Schedule",
                    "Properties": {
                        "ScheduleExpression": expression,
                        "FlexibleTimeWindow": {"Mode": "OFF"},
                        "Target": {
                            "Arn": {"Ref": id.clone()},
                            "RoleArn": {"Fn::GetAtt": [schedule_role.clone(), "Arn"]},
                            "Input": "{}",
                        },
                    },
                }),
            ));
            resources.push((
                schedule_role,
                role(
                    "scheduler.amazonaws.com",
                    vec![json!({"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": id}})],
                    &format!("{}SchedulePolicy", logical_id(self.workflow.name())),
                ),
            ));
        }
        Ok(resources)
    }
}

fn role(service: &str, statements: Vec<Value>, policy_name: &str) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            },
            "Policies": [{
                "PolicyName": policy_name,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }],
        },
        "Metadata": checkov_skips(&[
            ("CKV_AWS_111", "X-Ray and Step Functions log-delivery actions do not support resource-level permissions."),
        ]),
    })
}

/// A problem building a template.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// A workflow's ASL failed Orkestra's checks.
    #[error("workflow `{workflow}` does not give valid ASL: {problems:?}")]
    InvalidAsl {
        /// The workflow.
        workflow: String,
        /// What is wrong.
        problems: Vec<AslError>,
    },
    /// Two registry keys map to one logical id.
    #[error("tasks `{0}` and `{1}` get the same CloudFormation logical id; rename one")]
    LogicalIdClash(String, String),
    /// A durable handler's settings do not fit Lambda.
    #[error("{0}")]
    InvalidDurableFunction(String),
}

/// A CloudFormation template for some workflows.
///
/// ```
/// # fn demo(workflow: &orkestra::Workflow) {
/// use orkestra::export::template::Template;
/// let template = Template::new().workflow(workflow).to_json().expect("valid");
/// assert!(template["Resources"].is_object());
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Template {
    workflows: Vec<Workflow>,
    architecture: Architecture,
    overrides: BTreeMap<&'static str, LambdaFunction>,
    scheduler: Option<SchedulerExport>,
    durable: BTreeMap<&'static str, DurableFunction>,
}

impl Template {
    /// An empty template.
    pub fn new() -> Template {
        Template::default()
    }

    /// Adds a workflow (its tasks become functions).
    pub fn workflow(mut self, workflow: &Workflow) -> Template {
        self.workflows.push(workflow.clone());
        self
    }

    /// Sets every function's architecture (the packaged binary must match).
    pub fn architecture(mut self, architecture: Architecture) -> Template {
        self.architecture = architecture;
        self
    }

    /// Adds the scheduler: its labourers' functions, the queue's tables, the orchestrator on
    /// its schedule, and their access (see [`scheduler`](super::scheduler)).
    pub fn scheduler(mut self, scheduler: SchedulerExport) -> Template {
        self.scheduler = Some(scheduler);
        self
    }

    /// Adds a durable handler's function (`handler::aws_lambda()`, adjusted), replacing one
    /// of the same handler.
    pub fn durable(mut self, function: DurableFunction) -> Template {
        self.durable.insert(function.handler(), function);
        self
    }

    /// Adds every registered `#[durable_execution]` handler with the settings its attribute
    /// declares (those already added keep theirs). This is what `synth` does.
    pub fn durable_handlers(mut self) -> Template {
        for entry in crate::durable::registered_entries() {
            self.durable
                .entry(entry.name)
                .or_insert_with(|| DurableFunction::for_entry(entry));
        }
        self
    }

    /// Replaces a task's function settings (extra environment, IAM statements, concurrency).
    pub fn function(mut self, function: LambdaFunction) -> Template {
        self.overrides.insert(function.task(), function);
        self
    }

    /// The template as JSON.
    pub fn to_json(&self) -> Result<Value, TemplateError> {
        let mut resources = Map::new();
        let mut outputs = Map::new();
        let mut tasks: BTreeMap<&'static str, &'static TaskSpec> = BTreeMap::new();
        for workflow in &self.workflows {
            for task in workflow.root().tasks() {
                tasks.insert(task.task.name, task.task);
            }
        }
        let labourers: BTreeSet<&str> = match &self.scheduler {
            Some(scheduler) => {
                for spec in scheduler.labourers() {
                    tasks.insert(spec.name, spec);
                }
                scheduler.labourers().iter().map(|s| s.name).collect()
            }
            None => BTreeSet::new(),
        };
        let mut ids: BTreeMap<String, &str> = BTreeMap::new();
        let mut uses_state_data = false;
        for (name, spec) in &tasks {
            if let Some(other) = ids.insert(logical_id(name), name) {
                return Err(TemplateError::LogicalIdClash(
                    other.into(),
                    name.to_string(),
                ));
            }
            let mut function = self
                .overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| LambdaFunction::for_task(spec))
                .architecture(self.architecture);
            if spec.options.state_data {
                uses_state_data = true;
                function = state_data::grant(function);
            }
            if let Some(scheduler) = self.scheduler.as_ref().filter(|_| labourers.contains(name)) {
                function = scheduler.grant_labourer(function);
            }
            resources.extend(function.resources());
        }
        for (name, function) in &self.durable {
            if let Some(other) = ids.insert(logical_id(name), *name) {
                return Err(TemplateError::LogicalIdClash(
                    other.into(),
                    name.to_string(),
                ));
            }
            function
                .check()
                .map_err(TemplateError::InvalidDurableFunction)?;
            for target in function.invokes() {
                if !self.durable.contains_key(target) {
                    return Err(TemplateError::InvalidDurableFunction(format!(
                        "durable handler `{name}` invokes `{target}`, which is not in the template; add it with `.durable({target}::aws_lambda())`"
                    )));
                }
            }
            resources.extend(function.clone().architecture(self.architecture).resources());
            outputs.extend(function.outputs());
        }
        if let Some(scheduler) = &self.scheduler {
            if let Some(other) = ids.get(&logical_id(ORCHESTRATOR_HANDLER)) {
                return Err(TemplateError::LogicalIdClash(
                    other.to_string(),
                    ORCHESTRATOR_HANDLER.to_string(),
                ));
            }
            resources.extend(scheduler.resources());
            outputs.insert(
                "SchedulerPrefix".into(),
                json!({"Description": "Prefix of the scheduler's DynamoDB tables (`schedule submit --dynamodb PREFIX`)", "Value": {"Ref": "AWS::StackName"}}),
            );
        }
        if uses_state_data {
            resources.extend(state_data::resources());
            outputs.insert(
                "StateTableName".into(),
                json!({"Description": "DynamoDB table holding state data", "Value": {"Ref": state_data::TABLE_ID}}),
            );
            outputs.insert(
                "StateBucketName".into(),
                json!({"Description": "S3 bucket holding state data items too large for DynamoDB", "Value": {"Ref": state_data::BUCKET_ID}}),
            );
        }
        for workflow in &self.workflows {
            let machine = workflow.schedule();
            let machine_resources =
                machine
                    .resources()
                    .map_err(|problems| TemplateError::InvalidAsl {
                        workflow: workflow.name().to_string(),
                        problems,
                    })?;
            resources.extend(machine_resources);
            outputs.insert(
                format!("{}Arn", machine.logical_id()),
                json!({"Description": format!("ARN of the `{}` state machine", workflow.name()), "Value": {"Ref": machine.logical_id()}}),
            );
        }
        let mut parameters = json!({
            "CodeBucket": {"Type": "String", "Description": "S3 bucket of the packaged binary (bootstrap zip)"},
            "CodeKey": {"Type": "String", "Description": "S3 key of the packaged binary (bootstrap zip)"},
        });
        if let Some(room) = self
            .durable
            .values()
            .map(DurableFunction::prefix_room)
            .min()
        {
            parameters[PREFIX_PARAMETER] = json!({
                "Type": "String",
                "Description": "Names the durable functions `<prefix>-<handler>` (unique per account and region, e.g. `orders-prod`)",
                "AllowedPattern": "[a-zA-Z0-9-_]+",
                "MinLength": 1,
                "MaxLength": room,
            });
        }
        Ok(json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Orkestra workflows: one Lambda function per task, all running one binary",
            "Parameters": parameters,
            "Resources": resources,
            "Outputs": outputs,
        }))
    }
}
