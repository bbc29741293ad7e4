//! The scheduler in the CloudFormation template (`Template::scheduler`, `synth`): the queue's
//! tables in the DynamoDB store's layout, the orchestrator on an EventBridge schedule, and
//! least-privilege roles; the real `cfn-lint` and `checkov` run on it (installed by
//! `.ci/setup.d/30-export.sh`; under `CI=true` a missing tool is a failure).

#[path = "support/examples.rs"]
mod examples;
#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;

mod labourers {
    use orkestra::{compose, Context};

    #[compose(max_simultaneous_invocations = 4, max_attempts = 5)]
    pub fn build_report(n: u32, _ctx: &Context) -> u32 {
        n
    }

    #[compose(max_attempts = 2)]
    pub fn send_mail(n: u32, _ctx: &Context) -> u32 {
        n
    }
}

use std::process::Command;

use orkestra::export::{SchedulerExport, Template};
use orkestra::TaskDef;
use serde_json::{json, Value};

#[path = "support/template_checks.rs"]
mod template_checks;
use template_checks::{assert_checkov_passes, statements_of, tool, write};

/// Where the templates under test are written (per process).
const DIR: &str = "orkestra-sched-template";

fn template_with(rate: Option<&str>) -> Value {
    let mut scheduler = SchedulerExport::new([
        <labourers::build_report as TaskDef>::spec(),
        <labourers::send_mail as TaskDef>::spec(),
    ]);
    if let Some(rate) = rate {
        scheduler = scheduler.rate(rate);
    }
    Template::new()
        .workflow(&map_job::map_example())
        .scheduler(scheduler)
        .to_json()
        .expect("valid template")
}

fn template() -> Value {
    template_with(None)
}

fn get_att(id: &str) -> Value {
    json!({"Fn::GetAtt": [id, "Arn"]})
}

const TABLES: [&str; 5] = [
    "SchedulerTasksTable",
    "SchedulerRetryTasksTable",
    "SchedulerClosedTasksTable",
    "SchedulerLabourersTable",
    "SchedulerAuditTable",
];

/// Every resource a statement grants, flattened.
fn granted(statement: &Value) -> Vec<Value> {
    match &statement["Resource"] {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    }
}

#[test]
fn the_tables_have_the_dynamodb_stores_layout() {
    let template = template();
    let r = &template["Resources"];
    let tasks = &r["SchedulerTasksTable"]["Properties"];
    assert_eq!(
        tasks["TableName"],
        json!({"Fn::Sub": "${AWS::StackName}_tasks"})
    );
    assert_eq!(
        tasks["KeySchema"],
        json!([{"AttributeName": "task_id", "KeyType": "HASH"}])
    );
    let index = &tasks["GlobalSecondaryIndexes"][0];
    assert_eq!(
        index["IndexName"],
        json!({"Fn::Sub": "${AWS::StackName}_tasks_greenfield"})
    );
    assert_eq!(
        index["KeySchema"],
        json!([{"AttributeName": "labourer_id", "KeyType": "HASH"}, {"AttributeName": "greenfield", "KeyType": "RANGE"}])
    );
    for (id, suffix, key) in [
        ("SchedulerRetryTasksTable", "retry_tasks", "task_id"),
        ("SchedulerClosedTasksTable", "closed_tasks", "task_id"),
        ("SchedulerLabourersTable", "labourers", "labourer_id"),
        ("SchedulerAuditTable", "audit", "task_id"),
    ] {
        let props = &r[id]["Properties"];
        assert_eq!(
            props["TableName"],
            json!({"Fn::Sub": format!("${{AWS::StackName}}_{suffix}")})
        );
        assert_eq!(props["KeySchema"][0]["AttributeName"], key, "{id}");
        assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    }
    assert_eq!(
        r["SchedulerAuditTable"]["Properties"]["KeySchema"][1],
        json!({"AttributeName": "seq", "KeyType": "RANGE"})
    );
    assert_eq!(
        template["Outputs"]["SchedulerPrefix"]["Value"],
        json!({"Ref": "AWS::StackName"})
    );
}

#[test]
fn the_orchestrator_runs_on_a_schedule_one_pass_per_event() {
    let template = template();
    let r = &template["Resources"];
    let function = &r["OrkestraSchedulerFunction"]["Properties"];
    assert_eq!(function["Handler"], "orkestra-scheduler");
    let env = &function["Environment"]["Variables"];
    assert_eq!(
        env["ORKESTRA_SCHEDULER_PREFIX"],
        json!({"Ref": "AWS::StackName"})
    );
    assert_eq!(
        env["ORKESTRA_LABOURER_BuildReport"],
        get_att("BuildReportFunction")
    );
    assert_eq!(
        env["ORKESTRA_LABOURER_SendMail"],
        get_att("SendMailFunction")
    );
    let rule = &r["OrkestraSchedulerRule"];
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    assert_eq!(rule["Properties"]["ScheduleExpression"], "rate(1 minute)");
    assert_eq!(
        rule["Properties"]["Targets"][0]["Arn"],
        get_att("OrkestraSchedulerFunction")
    );
    let permission = &r["OrkestraSchedulerRulePermission"]["Properties"];
    assert_eq!(permission["Principal"], "events.amazonaws.com");
    assert_eq!(permission["SourceArn"], get_att("OrkestraSchedulerRule"));
    let custom = template_with(Some("rate(5 minutes)"));
    assert_eq!(
        custom["Resources"]["OrkestraSchedulerRule"]["Properties"]["ScheduleExpression"],
        "rate(5 minutes)"
    );
    // The scheduler, not Lambda, retries a labourer's failed asynchronous invocation.
    for function in ["BuildReportFunction", "SendMailFunction"] {
        let config = &r[format!("{function}EventInvokeConfig")]["Properties"];
        assert_eq!(config["FunctionName"], json!({"Ref": function}));
        assert_eq!(config["MaximumRetryAttempts"], 0);
    }
}

#[test]
fn the_orchestrator_may_invoke_only_the_labourers_and_use_only_the_scheduler_tables() {
    let template = template();
    let statements = statements_of(&template, "OrkestraSchedulerFunctionRole");
    let invoke: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Action"] == "lambda:InvokeFunction")
        .collect();
    assert_eq!(invoke.len(), 1);
    assert_eq!(
        granted(invoke[0]),
        vec![get_att("BuildReportFunction"), get_att("SendMailFunction")],
        "not the workflow's functions, not `*`"
    );
    let mut table_resources: Vec<Value> = TABLES.iter().map(|t| get_att(t)).collect();
    table_resources.push(json!({"Fn::Sub": "${SchedulerTasksTable.Arn}/index/*"}));
    for statement in &statements {
        let actions: Vec<String> = match &statement["Action"] {
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            one => vec![one.as_str().unwrap().to_string()],
        };
        if actions.iter().any(|a| a.starts_with("dynamodb:")) {
            assert!(actions.iter().all(|a| !a.contains('*')), "{statement}");
            assert_eq!(granted(statement), table_resources, "{statement}");
        }
    }
}

#[test]
fn a_labourer_may_only_report_on_the_scheduler_tables_and_update_its_own_count() {
    let template = template();
    let statements = statements_of(&template, "BuildReportFunctionRole");
    let dynamo: Vec<&Value> = statements
        .iter()
        .filter(|s| s.to_string().contains("dynamodb:"))
        .collect();
    assert_eq!(
        dynamo
            .iter()
            .map(|s| s["Action"].clone())
            .collect::<Vec<_>>(),
        vec![
            json!(["dynamodb:GetItem", "dynamodb:DeleteItem"]),
            json!("dynamodb:PutItem"),
            json!("dynamodb:UpdateItem"),
        ]
    );
    assert_eq!(granted(dynamo[0]), vec![get_att("SchedulerTasksTable")]);
    assert_eq!(
        granted(dynamo[1]),
        vec![
            get_att("SchedulerRetryTasksTable"),
            get_att("SchedulerClosedTasksTable"),
            get_att("SchedulerAuditTable")
        ]
    );
    assert_eq!(granted(dynamo[2]), vec![get_att("SchedulerLabourersTable")]);
    assert_eq!(
        dynamo[2]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"],
        json!(["build_report"]),
        "only its own labourer's running count"
    );
    assert!(
        !statements.iter().any(|s| s.to_string().contains("lambda:")),
        "a labourer invokes nothing"
    );
    assert_eq!(
        template["Resources"]["BuildReportFunction"]["Properties"]["Environment"]["Variables"]
            ["ORKESTRA_SCHEDULER_PREFIX"],
        json!({"Ref": "AWS::StackName"})
    );
    // A workflow task that is no labourer gets no scheduler access.
    let plain = statements_of(&template, "SumUpFunctionRole");
    assert!(
        !plain.iter().any(|s| s.to_string().contains("Scheduler")),
        "{plain:?}"
    );
}

#[test]
fn without_labourers_there_are_no_scheduler_resources() {
    let template = Template::new()
        .workflow(&map_job::map_example())
        .to_json()
        .unwrap();
    let text = template.to_string();
    assert!(!text.contains("Scheduler"), "{text}");
}

#[test]
fn cfn_lint_finds_no_errors() {
    let Some(cfn_lint) = tool("ORKESTRA_CFN_LINT") else {
        return;
    };
    let out = Command::new(&cfn_lint)
        .arg(write(DIR, "template.json", &template()))
        .output()
        .unwrap();
    // cfn-lint's exit code is a bit mask: 2 = errors.
    assert_eq!(
        out.status.code().unwrap() & 2,
        0,
        "cfn-lint errors:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The guard works: a table without its key is an error.
    let mut broken = template();
    broken["Resources"]["SchedulerTasksTable"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("KeySchema");
    let out = Command::new(&cfn_lint)
        .arg(write(DIR, "broken.json", &broken))
        .output()
        .unwrap();
    assert_ne!(out.status.code().unwrap() & 2, 0, "cfn-lint must reject it");
}

#[test]
fn checkov_fails_no_check() {
    let Some(checkov) = tool("ORKESTRA_CHECKOV") else {
        return;
    };
    let path = write(DIR, "template-checkov.json", &template());
    assert_checkov_passes(&checkov, &path);
}

/// `synth` on the `scheduler` example: its `report_worker` (with scheduler options) becomes a
/// labourer; `--schedule-rate` sets the rule; a bad expression or labourer is a usage error.
#[test]
fn synth_exports_the_binarys_labourers() {
    let synth = |args: &[&str]| {
        Command::new(examples::example_binary("scheduler"))
            .arg("synth")
            .args(args)
            .output()
            .unwrap()
    };
    let out = synth(&["--schedule-rate", "rate(2 minutes)"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let template: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &template["Resources"];
    assert_eq!(
        r["OrkestraSchedulerRule"]["Properties"]["ScheduleExpression"],
        "rate(2 minutes)"
    );
    assert_eq!(
        r["ReportWorkerFunction"]["Properties"]["Handler"],
        "report_worker"
    );
    assert!(r["SchedulerTasksTable"].is_object());

    let bad = synth(&["--schedule-rate", "every minute"]);
    assert_eq!(bad.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert!(
        error
            .to_string()
            .contains("--schedule-rate: `every minute`"),
        "{error}"
    );
    let unknown = synth(&["--labourer", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stdout).contains("no task named `nope`"),
        "{}",
        String::from_utf8_lossy(&unknown.stdout)
    );
}
