//! The CloudFormation template: structure and least privilege checked here, and the real
//! `cfn-lint` and `checkov` run on it (installed by `.ci/setup.d/30-export.sh`; under `CI=true`
//! a missing tool is a failure).

#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;
#[allow(dead_code)]
#[path = "../examples/parallel_job.rs"]
mod parallel_job;
#[allow(dead_code)]
#[path = "../examples/state_data.rs"]
mod state_data_example;

/// A workflow whose first and last tasks use state data.
mod state_tasks {
    use orkestra::{compose, Context};

    #[compose(state_data)]
    pub fn store_records(n: u32, _ctx: &Context) -> u32 {
        n
    }

    #[compose]
    pub fn plain_step(n: u32, _ctx: &Context) -> u32 {
        n + 1
    }

    #[compose(state_data)]
    pub fn load_records(n: u32, _ctx: &Context) -> u32 {
        n
    }

    orkestra::workflow!(pub state_example = store_records >> plain_step >> load_records);
}

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use orkestra::export::{Architecture, Template};
use serde_json::{json, Value};

#[path = "support/template_checks.rs"]
mod template_checks;
use template_checks::{assert_checkov_passes, statements_of, tool, write};

/// Where the templates under test are written (per process).
const DIR: &str = "orkestra-template";

fn template() -> Value {
    Template::new()
        .workflow(&map_job::map_example())
        .workflow(&parallel_job::swallowing_example())
        .workflow(&parallel_job::halting_example())
        .workflow(&state_tasks::state_example())
        .workflow(&state_data_example::state_data_example())
        .function(
            map_job::sum_up::aws_lambda()
                .environment("TABLE", "sums")
                .statement(json!({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/sums"}))
                .reserved_concurrency(5),
        )
        .to_json()
        .expect("valid template")
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn one_function_per_task_all_running_one_binary() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Lambda::Function");
    // 5 map_job tasks + start, double, explode, report, total + 3 state_tasks + the
    // state_data example's 3.
    assert_eq!(functions.len(), 16);
    for (id, function) in &functions {
        let props = &function["Properties"];
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_eq!(props["Runtime"], "provided.al2023");
        assert_eq!(
            props["Code"],
            json!({"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}})
        );
        assert_eq!(props["Architectures"], json!(["x86_64"]));
    }
    let divide_by = &template["Resources"]["DivideByFunction"]["Properties"];
    assert_eq!(divide_by["Handler"], "divide_by");
    let sum_up = &template["Resources"]["SumUpFunction"]["Properties"];
    assert_eq!(sum_up["Environment"]["Variables"]["TABLE"], "sums");
    assert_eq!(sum_up["ReservedConcurrentExecutions"], 5);
}

#[test]
fn roles_are_least_privilege() {
    let template = template();
    let statements = |role: &str| {
        template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone()
    };
    // A function may write its own log group and traces, and what the task declared.
    let divide_by = statements("DivideByFunctionRole");
    assert_eq!(divide_by.len(), 2);
    assert_eq!(
        divide_by[0]["Resource"],
        json!({"Fn::GetAtt": ["DivideByFunctionLogGroup", "Arn"]})
    );
    let sum_up = statements("SumUpFunctionRole");
    assert_eq!(sum_up.len(), 3);
    assert_eq!(sum_up[2]["Action"], "dynamodb:PutItem");
    // A state machine may invoke exactly its own functions.
    let machine = statements("SwallowingExampleStateMachineRole");
    let invoke = machine
        .iter()
        .find(|s| s["Action"] == "lambda:InvokeFunction")
        .unwrap();
    let mut targets: Vec<String> = invoke["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Fn::GetAtt"][0].as_str().unwrap().to_string())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "DoubleFunction",
            "ExplodeFunction",
            "ReportFunction",
            "StartFunction"
        ]
    );
}

#[test]
fn state_machines_carry_asl_substitutions_and_settings() {
    let template = template();
    let machine = &template["Resources"]["MapExampleStateMachine"]["Properties"];
    assert_eq!(machine["StateMachineName"], "map_example");
    assert_eq!(machine["StateMachineType"], "STANDARD");
    assert!(
        machine["Definition"].is_object(),
        "a plain object, so cfn-lint checks it"
    );
    let definition = machine["Definition"].to_string();
    for (key, value) in machine["DefinitionSubstitutions"].as_object().unwrap() {
        assert!(definition.contains(&format!("${{{key}}}")), "{key} is used");
        let function = value["Fn::GetAtt"][0].as_str().unwrap();
        assert!(template["Resources"][function].is_object());
    }
    let halting = &template["Resources"]["HaltingExampleStateMachine"]["Properties"];
    assert_eq!(halting["StateMachineType"], "EXPRESS");
    let schedule = &template["Resources"]["SwallowingExampleStateMachineSchedule"];
    assert_eq!(schedule["Properties"]["ScheduleExpression"], "rate(1 hour)");
    assert_eq!(
        schedule["Properties"]["Target"]["Arn"],
        json!({"Ref": "SwallowingExampleStateMachine"})
    );
    assert!(template["Resources"]["MapExampleStateMachineSchedule"].is_null());
    assert!(template["Outputs"]["MapExampleStateMachineArn"].is_object());
}

#[test]
fn task_gives_its_state_and_arm64_is_one_setting() {
    let state = map_job::divide_by::task();
    assert_eq!(state["Type"], "Map");
    assert_eq!(state["ItemProcessor"]["StartAt"], "divide_by_item");
    assert_eq!(state["End"], true);
    let arm = Template::new()
        .workflow(&map_job::map_example())
        .architecture(Architecture::Arm64)
        .to_json()
        .unwrap();
    for (_, function) in resources_of_type(&arm, "AWS::Lambda::Function") {
        assert_eq!(function["Properties"]["Architectures"], json!(["arm64"]));
    }
}

#[test]
fn cfn_lint_finds_no_errors() {
    let Some(cfn_lint) = tool("ORKESTRA_CFN_LINT") else {
        return;
    };
    let path = write(DIR, "template.json", &template());
    let out = Command::new(&cfn_lint).arg(&path).output().unwrap();
    // cfn-lint's exit code is a bit mask: 2 = errors (warnings and notes are allowed).
    let code = out.status.code().unwrap();
    assert_eq!(
        code & 2,
        0,
        "cfn-lint errors:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The guard works: a broken ASL inside the same template is an error (rule E3601).
    let mut broken = template();
    broken["Resources"]["MapExampleStateMachine"]["Properties"]["Definition"]["States"]
        ["ones_and_zeros"]["Type"] = json!("NoSuchType");
    let out = Command::new(&cfn_lint)
        .arg(write(DIR, "broken.json", &broken))
        .output()
        .unwrap();
    assert_ne!(
        out.status.code().unwrap() & 2,
        0,
        "cfn-lint must reject a broken definition"
    );
}

#[test]
fn checkov_fails_no_check() {
    let Some(checkov) = tool("ORKESTRA_CHECKOV") else {
        return;
    };
    let path = write(DIR, "template-checkov.json", &template());
    assert_checkov_passes(&checkov, &path);
}

#[test]
fn state_data_resources_exist_only_when_a_task_uses_state_data() {
    let without = Template::new()
        .workflow(&map_job::map_example())
        .to_json()
        .unwrap();
    assert!(resources_of_type(&without, "AWS::DynamoDB::Table").is_empty());
    assert!(resources_of_type(&without, "AWS::S3::Bucket").is_empty());
    assert!(without["Outputs"]["StateTableName"].is_null());

    let template = template();
    let tables = resources_of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    let (id, table) = tables[0];
    assert_eq!(id, "OrkestraStateTable");
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        props["KeySchema"],
        json!([
            {"AttributeName": "partition_key", "KeyType": "HASH"},
            {"AttributeName": "sort_key", "KeyType": "RANGE"},
        ])
    );
    assert_eq!(
        props["AttributeDefinitions"],
        json!([
            {"AttributeName": "partition_key", "AttributeType": "S"},
            {"AttributeName": "sort_key", "AttributeType": "N"},
        ])
    );
    assert_eq!(
        props["TimeToLiveSpecification"],
        json!({"AttributeName": "expires_at", "Enabled": true})
    );

    let bucket = &template["Resources"]["OrkestraStateBucket"]["Properties"];
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"], "Enabled");
    assert!(rule["ExpirationInDays"].as_u64().unwrap() > 7, "{rule}");
    assert_eq!(
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(bucket["PublicAccessBlockConfiguration"][setting], true);
    }
    let tls = &template["Resources"]["OrkestraStateBucketPolicy"]["Properties"];
    assert_eq!(tls["Bucket"], json!({"Ref": "OrkestraStateBucket"}));
    let deny = &tls["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(
        deny["Condition"],
        json!({"Bool": {"aws:SecureTransport": "false"}})
    );
    assert_eq!(
        template["Outputs"]["StateTableName"]["Value"],
        json!({"Ref": "OrkestraStateTable"})
    );
}

#[test]
fn only_state_data_functions_get_the_table_and_bucket() {
    let template = template();
    let env = |function: &str| {
        template["Resources"][function]["Properties"]["Environment"]["Variables"].clone()
    };
    const STATE_DATA_FUNCTIONS: [&str; 5] = [
        "StoreRecordsFunction",
        "LoadRecordsFunction",
        "ProduceRecordsFunction",
        "ScoreRecordFunction",
        "AggregateFunction",
    ];
    for function in STATE_DATA_FUNCTIONS {
        assert_eq!(
            env(function)["ORKESTRA_STATE_TABLE"],
            json!({"Ref": "OrkestraStateTable"})
        );
        assert_eq!(
            env(function)["ORKESTRA_STATE_BUCKET"],
            json!({"Ref": "OrkestraStateBucket"})
        );
        let statements = statements_of(&template, &format!("{function}Role"));
        assert_eq!(statements.len(), 4, "{statements:#?}");
        assert_eq!(
            statements[2],
            json!({
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
                           "dynamodb:Query", "dynamodb:BatchWriteItem"],
                "Resource": {"Fn::GetAtt": ["OrkestraStateTable", "Arn"]},
            })
        );
        assert_eq!(
            statements[3],
            json!({
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"],
                "Resource": {"Fn::Sub": "${OrkestraStateBucket.Arn}/*"},
            })
        );
    }
    // Every other function: no state variables, no DynamoDB or S3 access to the state table.
    for (id, function) in resources_of_type(&template, "AWS::Lambda::Function") {
        if STATE_DATA_FUNCTIONS.contains(&id.as_str()) {
            continue;
        }
        let vars = &function["Properties"]["Environment"]["Variables"];
        assert!(vars["ORKESTRA_STATE_TABLE"].is_null(), "{id}");
        assert!(vars["ORKESTRA_STATE_BUCKET"].is_null(), "{id}");
        let text = serde_json::to_string(&statements_of(&template, &format!("{id}Role"))).unwrap();
        assert!(!text.contains("OrkestraState"), "{id}: {text}");
    }
    assert_eq!(statements_of(&template, "PlainStepFunctionRole").len(), 2);
}

#[test]
fn stop_execution_is_granted_on_the_machines_own_executions_only() {
    let template = template();
    let policy = &template["Resources"]["StateExampleStateMachineStopExecutionPolicy"];
    assert_eq!(policy["Type"], "AWS::IAM::Policy");
    let props = &policy["Properties"];
    let roles: BTreeSet<String> = props["Roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        roles,
        BTreeSet::from([
            "LoadRecordsFunctionRole".to_string(),
            "PlainStepFunctionRole".to_string(),
            "StoreRecordsFunctionRole".to_string(),
        ])
    );
    assert_eq!(
        props["PolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Action": "states:StopExecution",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:state_example:*"},
        }])
    );
    // Express executions cannot be stopped: no grant for the EXPRESS machine.
    assert!(template["Resources"]["HaltingExampleStateMachineStopExecutionPolicy"].is_null());
    // No other policy or role grants any `states:` action to a function.
    for (id, _) in resources_of_type(&template, "AWS::Lambda::Function") {
        let text = serde_json::to_string(&statements_of(&template, &format!("{id}Role"))).unwrap();
        assert!(!text.contains("states:"), "{id}: {text}");
    }
}

#[test]
fn a_distributed_map_machine_may_start_and_stop_its_own_child_executions_only() {
    let template = template();
    let policy = &template["Resources"]["StateDataExampleStateMachineDistributedMapPolicy"];
    assert_eq!(policy["Type"], "AWS::IAM::Policy");
    assert_eq!(
        policy["Properties"]["Roles"],
        json!([{"Ref": "StateDataExampleStateMachineRole"}])
    );
    assert_eq!(
        policy["Properties"]["PolicyDocument"]["Statement"],
        json!([
            {"Effect": "Allow", "Action": "states:StartExecution",
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:state_data_example"}},
            {"Effect": "Allow", "Action": ["states:DescribeExecution", "states:StopExecution"],
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:state_data_example/*"}},
        ])
    );
    // An inline Map needs no such grant.
    let policies: Vec<&String> = resources_of_type(&template, "AWS::IAM::Policy")
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| id.ends_with("DistributedMapPolicy"))
        .collect();
    assert_eq!(
        policies,
        ["StateDataExampleStateMachineDistributedMapPolicy"]
    );
}

/// The logical ids a resource refers to (`Ref`, `Fn::GetAtt`, `${Id}` / `${Id.Attr}` in
/// `Fn::Sub`), ignoring pseudo parameters and template parameters.
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        out.insert(parts[0].as_str().unwrap().to_string());
                    }
                    ("Fn::Sub", Value::String(text)) => {
                        for piece in text.split("${").skip(1) {
                            let name = piece.split('}').next().unwrap();
                            out.insert(name.split('.').next().unwrap().to_string());
                        }
                    }
                    _ => references(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

#[test]
fn the_template_has_no_dependency_cycle() {
    let template = template();
    let resources = template["Resources"].as_object().unwrap();
    let graph: BTreeMap<&str, BTreeSet<String>> = resources
        .iter()
        .map(|(id, resource)| {
            let mut refs = BTreeSet::new();
            references(resource, &mut refs);
            refs.retain(|r| resources.contains_key(r));
            (id.as_str(), refs)
        })
        .collect();
    // Kahn's algorithm: every resource must be placeable after its dependencies.
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    loop {
        let ready: Vec<&str> = graph
            .iter()
            .filter(|(id, deps)| {
                !placed.contains(*id) && deps.iter().all(|d| placed.contains(d.as_str()))
            })
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            break;
        }
        placed.extend(ready);
    }
    let stuck: Vec<&&str> = graph.keys().filter(|id| !placed.contains(**id)).collect();
    assert!(
        stuck.is_empty(),
        "resources in a dependency cycle: {stuck:?}"
    );
    // The stop policy depends on the roles, not the other way round.
    assert!(
        graph["StateExampleStateMachineStopExecutionPolicy"].contains("StoreRecordsFunctionRole")
    );
    assert!(graph["StateExampleStateMachine"].contains("StoreRecordsFunction"));
}
