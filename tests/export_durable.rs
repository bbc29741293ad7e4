//! Durable handlers in the CloudFormation template (`handler::aws_lambda()`, `Template::durable`,
//! `synth`): Lambda durable functions with the `DurableConfig` their attribute declares, a
//! version and alias to be invoked through, least-privilege roles, a callback policy; the real
//! `cfn-lint` and `checkov` run on a template with tasks and durable handlers (installed by
//! `.ci/setup.d/30-export.sh`; under `CI=true` a missing tool is a failure). Also the embedded
//! engine's refusal of an undeclared chained invoke.

#[allow(dead_code)]
#[path = "../examples/durable_orders.rs"]
mod durable_orders;
#[path = "support/examples.rs"]
mod examples;

use std::process::Command;
use std::sync::Arc;

use durable_orders::{charge_card, order_pipeline, place_order};
use orkestra::durable::DurableHandlerOptions;
use orkestra::durable::{
    handler_fn, registered_entry, DurableContext, DurableError, DurableExecutor, InvocationStatus,
    SqliteStore, ALIAS_VAR, FUNCTION_PREFIX_VAR,
};
use orkestra::export::durable_functions::PREFIX_PARAMETER;
use orkestra::export::{DurableFunction, Template, TemplateError};
use serde_json::{json, Value};

#[path = "support/template_checks.rs"]
mod template_checks;
use template_checks::{assert_checkov_passes, statements_of, tool, write};

/// Where the templates under test are written (per process).
const DIR: &str = "orkestra-durable-template";

/// A handler that chains `charge_card` without declaring it.
#[orkestra::durable_execution]
async fn undeclared_charge(amount: u64, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.invoke("charge_card", json!({"order": "x", "amount_cents": amount}))
        .await
}

/// The same, declared (by path, as another module's handler is named).
#[orkestra::durable_execution(invokes = [durable_orders::charge_card])]
async fn declared_charge(amount: u64, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.invoke("charge_card", json!({"order": "x", "amount_cents": amount}))
        .await
}

/// The example's tasks and durable handlers (not this file's two test handlers).
fn template() -> Value {
    Template::new()
        .workflow(&order_pipeline())
        .durable(place_order::aws_lambda())
        .durable(charge_card::aws_lambda())
        .to_json()
        .expect("valid template")
}

/// `arn:..:function:${DurableFunctionPrefix}-<handler><suffix>` as the template writes it.
fn function_arn(handler: &str, suffix: &str) -> Value {
    json!({"Fn::Sub": format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:${{{PREFIX_PARAMETER}}}-{handler}{suffix}"
    )})
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::Array(items) => items.iter().map(|a| a.as_str().unwrap().into()).collect(),
        one => vec![one.as_str().unwrap().into()],
    }
}

/// The statements of `role` that grant any `lambda:` action.
fn lambda_statements(template: &Value, role: &str) -> Vec<Value> {
    statements_of(template, role)
        .into_iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("lambda:")))
        .collect()
}

#[test]
fn durable_config_comes_from_the_attribute_or_the_defaults() {
    let template = template();
    let r = &template["Resources"];
    let place = &r["PlaceOrderFunction"]["Properties"];
    assert_eq!(r["PlaceOrderFunction"]["Type"], "AWS::Lambda::Function");
    assert_eq!(place["Handler"], "place_order");
    assert_eq!(place["Runtime"], "provided.al2023");
    assert_eq!(
        place["Code"],
        json!({"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}})
    );
    assert_eq!(
        place["DurableConfig"],
        json!({"ExecutionTimeout": 604_800, "RetentionPeriodInDays": 30})
    );
    assert_eq!(
        place["FunctionName"],
        json!({"Fn::Sub": "${DurableFunctionPrefix}-place_order"})
    );
    // Defaults: a day, the service's 14 days of retention, 256 MB; `timeout_secs = 30` set.
    let charge = &r["ChargeCardFunction"]["Properties"];
    assert_eq!(
        charge["DurableConfig"],
        json!({"ExecutionTimeout": 86_400, "RetentionPeriodInDays": 14})
    );
    assert_eq!(charge["Timeout"], 30);
    assert_eq!(charge["MemorySize"], 256);
    assert_eq!(place["Timeout"], 60, "the default invocation timeout");

    // The registry holds what the attribute wrote.
    let entry = registered_entry("place_order").unwrap();
    assert_eq!(entry.options.execution_timeout_secs, Some(604_800));
    assert_eq!(entry.options.retention_days, Some(30));
    assert_eq!(entry.options.invokes, &["charge_card"]);
    assert_eq!(place_order::DURABLE_HANDLER_NAME, "place_order");

    // The tasks are there too, without DurableConfig.
    let task = &r["PriceOrderFunction"]["Properties"];
    assert_eq!(task["Handler"], "price_order");
    assert!(task.get("DurableConfig").is_none());
}

#[test]
fn executions_start_on_a_published_version_through_an_alias() {
    let template = template();
    let r = &template["Resources"];
    let version = &r["PlaceOrderFunctionVersion"];
    assert_eq!(version["Type"], "AWS::Lambda::Version");
    assert_eq!(
        version["Properties"]["FunctionName"],
        json!({"Ref": "PlaceOrderFunction"})
    );
    assert_eq!(version["UpdateReplacePolicy"], "Retain");
    let alias = &r["PlaceOrderFunctionAlias"];
    assert_eq!(alias["Type"], "AWS::Lambda::Alias");
    assert_eq!(alias["Properties"]["Name"], "live");
    assert_eq!(
        alias["Properties"]["FunctionVersion"],
        json!({"Fn::GetAtt": ["PlaceOrderFunctionVersion", "Version"]})
    );
    let outputs = &template["Outputs"];
    assert_eq!(
        outputs["PlaceOrderFunctionAlias"]["Value"],
        json!({"Ref": "PlaceOrderFunctionAlias"})
    );
    assert_eq!(
        outputs["PlaceOrderCallbackPolicyArn"]["Value"],
        json!({"Ref": "PlaceOrderCallbackPolicy"})
    );
    // The binary resolves `ctx.invoke("charge_card")` to `<prefix>-charge_card:live`.
    let env = &r["PlaceOrderFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env[FUNCTION_PREFIX_VAR], json!({"Ref": PREFIX_PARAMETER}));
    assert_eq!(env[ALIAS_VAR], "live");
    // The prefix leaves room for the longest handler name within Lambda's 64 characters.
    let parameter = &template["Parameters"][PREFIX_PARAMETER];
    assert_eq!(parameter["MaxLength"], 64 - "place_order".len() - 1);
    assert_eq!(parameter["Type"], "String");
}

#[test]
fn roles_grant_checkpoints_on_themselves_and_invokes_of_declared_targets_only() {
    let template = template();
    let place = lambda_statements(&template, "PlaceOrderFunctionRole");
    assert_eq!(
        place,
        vec![
            json!({
                "Effect": "Allow",
                "Action": ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
                "Resource": function_arn("place_order", ":*"),
            }),
            json!({
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [function_arn("charge_card", ":live")],
            }),
        ]
    );
    // `charge_card` chains nothing: no invoke at all.
    let charge = lambda_statements(&template, "ChargeCardFunctionRole");
    assert_eq!(charge.len(), 1);
    assert_eq!(
        charge[0]["Resource"],
        function_arn("charge_card", ":*"),
        "its own executions only"
    );
    // Logs: its own log group; the only `*` is X-Ray's (no resource-level permissions).
    for role in ["PlaceOrderFunctionRole", "ChargeCardFunctionRole"] {
        let statements = statements_of(&template, role);
        let logs = statements
            .iter()
            .find(|s| actions(s).contains(&"logs:PutLogEvents".to_string()))
            .unwrap();
        let group = role.replace("Role", "LogGroup");
        assert_eq!(logs["Resource"], json!({"Fn::GetAtt": [group, "Arn"]}));
        for s in &statements {
            if s["Resource"] == "*" {
                assert!(
                    actions(s).iter().all(|a| a.starts_with("xray:")),
                    "{role}: `*` beyond X-Ray: {s}"
                );
            }
        }
    }
    // The callback policy external completers attach: that function's executions only.
    let policy = &template["Resources"]["PlaceOrderCallbackPolicy"];
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(
        policy["Properties"]["PolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Action": [
                "lambda:SendDurableExecutionCallbackSuccess",
                "lambda:SendDurableExecutionCallbackFailure",
                "lambda:SendDurableExecutionCallbackHeartbeat",
            ],
            "Resource": function_arn("place_order", ":*"),
        }])
    );
}

#[test]
fn bad_settings_and_missing_targets_are_template_errors() {
    let only_place = Template::new().durable(place_order::aws_lambda()).to_json();
    match only_place {
        Err(TemplateError::InvalidDurableFunction(message)) => {
            assert!(
                message.contains("`place_order` invokes `charge_card`"),
                "{message}"
            );
        }
        other => panic!("expected a missing target, got {other:?}"),
    }
    let retention = Template::new()
        .durable(charge_card::aws_lambda().retention_days(91))
        .to_json()
        .unwrap_err()
        .to_string();
    assert!(
        retention.contains("`charge_card`")
            && retention.contains("91 days")
            && retention.contains("1..=90"),
        "{retention}"
    );
    let timeout = Template::new()
        .durable(charge_card::aws_lambda().execution_timeout_secs(0))
        .to_json()
        .unwrap_err()
        .to_string();
    assert!(timeout.contains("execution timeout 0 s"), "{timeout}");
    // A durable handler and a task with one logical id cannot share a template.
    let clash = Template::new()
        .workflow(&order_pipeline())
        .durable(DurableFunction::new(
            "price-order",
            DurableHandlerOptions::DEFAULT,
        ))
        .to_json();
    assert_eq!(
        clash.unwrap_err(),
        TemplateError::LogicalIdClash("price_order".into(), "price-order".into())
    );
}

#[test]
fn cfn_lint_finds_no_errors() {
    let Some(cfn_lint) = tool("ORKESTRA_CFN_LINT") else {
        return;
    };
    let path = write(DIR, "template.json", &template());
    let out = Command::new(&cfn_lint).arg(&path).output().unwrap();
    // cfn-lint's exit code is a bit mask: 2 = errors.
    assert_eq!(
        out.status.code().unwrap() & 2,
        0,
        "cfn-lint errors:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // It does check DurableConfig: a retention over Lambda's 90 days is an error.
    let mut broken = template();
    broken["Resources"]["ChargeCardFunction"]["Properties"]["DurableConfig"]
        ["RetentionPeriodInDays"] = json!(365);
    let path = write(DIR, "broken.json", &broken);
    let out = Command::new(&cfn_lint).arg(&path).output().unwrap();
    assert_ne!(out.status.code().unwrap() & 2, 0, "cfn-lint must reject it");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("365 is greater than the maximum of 90"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn checkov_finds_no_failed_check() {
    let Some(checkov) = tool("ORKESTRA_CHECKOV") else {
        return;
    };
    let path = write(DIR, "checkov.json", &template());
    assert_checkov_passes(&checkov, &path);
}

#[test]
fn synth_exports_every_durable_handler_beside_the_workflows() {
    let out = Command::new(examples::example_binary("durable_orders"))
        .arg("synth")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let synthed: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The binary has exactly the example's handlers: the same template as built here.
    assert_eq!(synthed, template());
    let r = synthed["Resources"].as_object().unwrap();
    assert!(r.contains_key("OrderPipelineStateMachine"));
    for id in [
        "PlaceOrderFunction",
        "PlaceOrderFunctionAlias",
        "ChargeCardFunction",
        "ChargeCardFunctionAlias",
    ] {
        assert!(r.contains_key(id), "{id} missing");
    }
}

#[tokio::test]
async fn an_undeclared_chained_invoke_is_denied_locally_as_aws_would() {
    let dir = std::env::temp_dir().join(format!("orkestra-durable-export-{}", std::process::id()));
    let store = Arc::new(SqliteStore::open(dir.join("orkestra.db")).unwrap());
    let executor = DurableExecutor::new(store.clone());

    let denied = executor
        .run(
            "u-1",
            "undeclared_charge",
            &handler_fn(undeclared_charge),
            json!(5),
        )
        .await
        .unwrap();
    assert_eq!(denied.status, InvocationStatus::Failed);
    let error = denied.error.unwrap();
    assert_eq!(error.error_type, "AccessDeniedException");
    assert!(
        error
            .error_message
            .contains("durable handler `undeclared_charge` is not allowed to invoke `charge_card`"),
        "{}",
        error.error_message
    );

    let allowed = executor
        .run(
            "d-1",
            "declared_charge",
            &handler_fn(declared_charge),
            json!(5),
        )
        .await
        .unwrap();
    assert_eq!(
        allowed.status,
        InvocationStatus::Succeeded,
        "{:?}",
        allowed.error
    );
    let result: Value = serde_json::from_str(allowed.result.as_deref().unwrap()).unwrap();
    assert_eq!(result, json!({"charged_cents": 5, "order": "x"}));
    let _ = std::fs::remove_dir_all(dir);
}
