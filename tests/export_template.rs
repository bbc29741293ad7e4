//! The CloudFormation template: structure and least privilege checked here, and the real
//! `cfn-lint` and `checkov` run on it (installed by `.ci/setup.d/30-export.sh`; under `CI=true`
//! a missing tool is a failure).

#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;
#[allow(dead_code)]
#[path = "../examples/parallel_job.rs"]
mod parallel_job;

use std::path::{Path, PathBuf};
use std::process::Command;

use orkestra::export::{Architecture, Template};
use serde_json::{json, Value};

fn template() -> Value {
    Template::new()
        .workflow(&map_job::map_example())
        .workflow(&parallel_job::swallowing_example())
        .workflow(&parallel_job::halting_example())
        .function(
            map_job::sum_up::aws_lambda()
                .environment("TABLE", "sums")
                .statement(json!({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/sums"}))
                .reserved_concurrency(5),
        )
        .to_json()
        .expect("valid template")
}

fn write(name: &str, value: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

fn tool(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(path) if Path::new(&path).exists() => Some(path),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} is not set: .ci/setup.d/30-export.sh installs it")
        }
        _ => {
            eprintln!("skipping: {var} is not set");
            None
        }
    }
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
    // 5 map_job tasks + start, double, explode, report, total.
    assert_eq!(functions.len(), 10);
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
    let path = write("template.json", &template());
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
        .arg(write("broken.json", &broken))
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
    let path = write("template-checkov.json", &template());
    let out = Command::new(&checkov)
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
            "-f",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "checkov failed checks: {report:#}");
    assert!(summary["passed"].as_u64().unwrap() > 0);
    // Every skip carries its justification in the resource's metadata.
    for check in report["results"]["skipped_checks"].as_array().unwrap() {
        let comment = check["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or("");
        assert!(comment.len() > 20, "unjustified skip: {check}");
    }
}
