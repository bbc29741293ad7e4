//! What the template tests share: the validators `.ci/setup.d/30-export.sh` installs (cfn-lint,
//! checkov), writing a template where they can read it, and a role's policy statements.

#![allow(dead_code)] // each template test uses a part of this module

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The validator whose path `var` holds; `None` (skip) outside CI, a panic in CI.
pub fn tool(var: &str) -> Option<String> {
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

/// Writes `value` as pretty JSON to `name` in a per-process directory called `dir`.
pub fn write(dir: &str, name: &str, value: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{dir}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

/// Runs checkov on the template at `path`: no failed check, some passed, and every skip
/// carries its justification (the resource metadata's comment).
pub fn assert_checkov_passes(checkov: &str, path: &Path) {
    let out = Command::new(checkov)
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "checkov failed checks: {report:#}");
    assert!(summary["passed"].as_u64().unwrap() > 0);
    for check in report["results"]["skipped_checks"].as_array().unwrap() {
        let comment = check["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or("");
        assert!(comment.len() > 20, "unjustified skip: {check}");
    }
}

/// The policy statements of IAM role `role`.
pub fn statements_of(template: &Value, role: &str) -> Vec<Value> {
    template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("no role {role}"))
        .clone()
}
