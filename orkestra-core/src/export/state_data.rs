//! The state data resources of a template: the DynamoDB table and S3 bucket behind
//! `ctx.state_data()`, the access of `#[compose(state_data)]` tasks' functions to them, and
//! the `states:StopExecution` grant behind `ctx.stop_execution(..)`.
//!
//! The table's schema is the DynamoDB backend's (`orkestra::aws::DynamoStateStore`, feature
//! `aws`): partition key [`PARTITION_KEY`] (S), sort key [`SORT_KEY`] (N), TTL on
//! [`EXPIRES_AT`]. Items too large for a row live in the bucket, whose lifecycle rule deletes
//! objects after [`OBJECT_EXPIRY_DAYS`] days (the client's default TTL is 7 days).

use serde_json::{json, Value};

use super::lambda::{checkov_skips, LambdaFunction};

/// The table's partition key attribute (S): `<execution id>:<key>`.
pub const PARTITION_KEY: &str = "partition_key";
/// The table's sort key attribute (N): the item's index.
pub const SORT_KEY: &str = "sort_key";
/// The table's TTL attribute (N, Unix seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// The table's logical id.
pub const TABLE_ID: &str = "OrkestraStateTable";
/// The bucket's logical id.
pub const BUCKET_ID: &str = "OrkestraStateBucket";
/// The bucket policy's logical id.
pub const BUCKET_POLICY_ID: &str = "OrkestraStateBucketPolicy";
/// Days after which the bucket's lifecycle rule deletes an object: the default TTL of 7 days
/// plus one day's grace.
pub const OBJECT_EXPIRY_DAYS: u32 = 8;
/// The variable naming the table in a function's environment.
pub const TABLE_VAR: &str = "ORKESTRA_STATE_TABLE";
/// The variable naming the bucket in a function's environment.
pub const BUCKET_VAR: &str = "ORKESTRA_STATE_BUCKET";

/// The DynamoDB actions the backend calls on the table.
pub const TABLE_ACTIONS: [&str; 5] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
];
/// The S3 actions the backend calls on the bucket's objects (`PutObjectTagging` for the
/// `expires_at` tag written with each object).
pub const OBJECT_ACTIONS: [&str; 4] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:DeleteObject",
];

/// The table, the bucket and its TLS-only policy, by logical id.
///
/// ```
/// let resources = orkestra::export::state_data::resources();
/// let (id, table) = &resources[0];
/// assert_eq!(id, "OrkestraStateTable");
/// assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
/// ```
pub fn resources() -> Vec<(String, Value)> {
    let table = json!({
        "Type": "AWS::DynamoDB::Table",
        // State data is transient (a week by default): nothing to keep when the stack goes.
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "N"},
            ],
            "KeySchema": [
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            "TimeToLiveSpecification": {"AttributeName": EXPIRES_AT, "Enabled": true},
            "SSESpecification": {"SSEEnabled": true},
        },
        "Metadata": checkov_skips(&[
            ("CKV_AWS_28", "State data expires after days (TTL); point-in-time recovery of transient workflow state is not worth its cost."),
            ("CKV_AWS_119", "Encrypted at rest with the AWS managed KMS key; a customer managed key is the deployer's choice."),
        ]),
    });
    let bucket = json!({
        "Type": "AWS::S3::Bucket",
        // A bucket must be empty to be deleted; its objects expire on their own.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": true,
            }]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "expire-state-data",
                "Status": "Enabled",
                "ExpirationInDays": OBJECT_EXPIRY_DAYS,
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }]},
        },
        "Metadata": checkov_skips(&[
            ("CKV_AWS_18", "Transient workflow state written only by the stack's own functions; access logging is the deployer's choice."),
            ("CKV_AWS_21", "Objects are transient and replaced by new keys; versioning would only keep expired state longer."),
        ]),
    });
    let bucket_arn = json!({"Fn::GetAtt": [BUCKET_ID, "Arn"]});
    let policy = json!({
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": BUCKET_ID},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects_arn()],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }]},
        },
    });
    vec![
        (TABLE_ID.to_string(), table),
        (BUCKET_ID.to_string(), bucket),
        (BUCKET_POLICY_ID.to_string(), policy),
    ]
}

fn objects_arn() -> Value {
    json!({"Fn::Sub": format!("${{{BUCKET_ID}.Arn}}/*")})
}

/// A `state_data` task's function with the table and bucket in its environment and a grant
/// of exactly the backend's actions on them (what [`Template`](super::Template) does for
/// every `#[compose(state_data)]` task).
///
/// ```
/// use orkestra::export::{state_data, LambdaFunction};
/// # fn demo(spec: &'static orkestra::TaskSpec) {
/// let function = state_data::grant(LambdaFunction::for_task(spec));
/// let env = &function.properties()["Environment"]["Variables"];
/// assert_eq!(env["ORKESTRA_STATE_TABLE"], serde_json::json!({"Ref": "OrkestraStateTable"}));
/// # }
/// ```
pub fn grant(function: LambdaFunction) -> LambdaFunction {
    function
        .environment_value(TABLE_VAR, json!({"Ref": TABLE_ID}))
        .environment_value(BUCKET_VAR, json!({"Ref": BUCKET_ID}))
        .statement(json!({
            "Effect": "Allow",
            "Action": TABLE_ACTIONS,
            "Resource": {"Fn::GetAtt": [TABLE_ID, "Arn"]},
        }))
        .statement(json!({
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": objects_arn(),
        }))
}

/// The ARN pattern of the executions of state machine `name`.
pub fn executions_arn(state_machine_name: &str) -> Value {
    json!({"Fn::Sub": format!(
        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{state_machine_name}:*"
    )})
}

/// An `AWS::IAM::Policy` attached to `roles` (logical ids) allowing `states:StopExecution` on
/// the executions of state machine `name` only. It is a resource of its own, not part of the
/// roles, so the state machine (which needs the functions, which need their roles) does not
/// depend on itself; the ARN is built from the name, not from a reference to the machine.
///
/// ```
/// let policy = orkestra::export::state_data::stop_execution_policy(
///     "OrdersStopExecutionPolicy", "orders", &["ChargeFunctionRole".to_string()]);
/// let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
/// assert_eq!(statement["Action"], "states:StopExecution");
/// assert!(statement["Resource"]["Fn::Sub"].as_str().unwrap().ends_with(":execution:orders:*"));
/// # let _ = policy;
/// ```
pub fn stop_execution_policy(
    policy_name: &str,
    state_machine_name: &str,
    roles: &[String],
) -> Value {
    let roles: Vec<Value> = roles.iter().map(|role| json!({"Ref": role})).collect();
    json!({
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": policy_name,
            "Roles": roles,
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": "states:StopExecution",
                "Resource": executions_arn(state_machine_name),
            }]},
        },
    })
}

/// An `AWS::IAM::Policy` for the state machine role `role` (logical id) of a machine with a
/// Distributed Map: start child executions of state machine `name` (the map's iterations), and
/// describe and stop them (`execution:<name>/<map run>:<id>`). A resource of its own, built from
/// the name, because the machine depends on its role.
///
/// ```
/// let policy = orkestra::export::state_data::distributed_map_policy(
///     "ReportDistributedMapPolicy", "report", "ReportStateMachineRole");
/// let statements = policy["Properties"]["PolicyDocument"]["Statement"].as_array().unwrap();
/// assert_eq!(statements[0]["Action"], "states:StartExecution");
/// assert!(statements[0]["Resource"]["Fn::Sub"].as_str().unwrap().ends_with(":stateMachine:report"));
/// assert!(statements[1]["Resource"]["Fn::Sub"].as_str().unwrap().ends_with(":execution:report/*"));
/// ```
pub fn distributed_map_policy(policy_name: &str, state_machine_name: &str, role: &str) -> Value {
    json!({
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": policy_name,
            "Roles": [{"Ref": role}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "states:StartExecution",
                    "Resource": {"Fn::Sub": format!(
                        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{state_machine_name}"
                    )},
                },
                {
                    "Effect": "Allow",
                    "Action": ["states:DescribeExecution", "states:StopExecution"],
                    "Resource": {"Fn::Sub": format!(
                        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{state_machine_name}/*"
                    )},
                },
            ]},
        },
    })
}
