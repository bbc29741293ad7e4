//! `scripts/package-lambda.sh` builds a zipped `bootstrap` with cargo-lambda and zig, and that
//! very `bootstrap` serves invocations against a Lambda Runtime API on 127.0.0.1.
//!
//! Needs `cargo lambda` (`pip install cargo-lambda ziglang`, done in CI by
//! `.ci/setup.d/40-lambda.sh`). Without it the test says so and passes, except in CI (`CI` set),
//! where a missing install is a failure.
#![cfg(feature = "lambda")]

#[path = "support/runtime_api.rs"]
mod runtime_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use runtime_api::{Kind, RuntimeApi};
use serde_json::json;

fn has_cargo_lambda() -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["lambda", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn unzip(zip: &Path, into: &Path) {
    let status = Command::new("python3")
        .args([
            "-c",
            // Extracts keeping each entry's Unix mode, as Lambda does (bootstrap must be 0755).
            "import os, sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
             [os.chmod(z.extract(i, sys.argv[2]), (i.external_attr >> 16) & 0o777) \
             for i in z.infolist()]",
        ])
        .arg(zip)
        .arg(into)
        .status()
        .expect("run python3");
    assert!(status.success(), "cannot unzip {}", zip.display());
}

#[test]
fn the_packaged_bootstrap_serves_tasks() {
    if !has_cargo_lambda() {
        assert!(
            std::env::var_os("CI").is_none(),
            "cargo-lambda is missing in CI; .ci/setup.d/40-lambda.sh should install it"
        );
        eprintln!("skipped: cargo-lambda is not installed (pip install cargo-lambda ziglang)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("bash")
        .arg(root.join("scripts/package-lambda.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/package-lambda.sh");
    assert!(output.status.success(), "package-lambda.sh failed");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let zip = root.join(stdout.lines().last().expect("the zip's path").trim());
    assert!(
        zip.ends_with("target/lambda/lambda_tasks/bootstrap.zip"),
        "{}",
        zip.display()
    );

    let dir = std::env::temp_dir().join(format!("orkestra-bootstrap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    unzip(&zip, &dir);
    let bootstrap = dir.join("bootstrap");

    let api = RuntimeApi::start();
    let mut child = Command::new(&bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("_HANDLER", "divide")
        .env("AWS_LAMBDA_FUNCTION_NAME", "orkestra-divide")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(Stdio::null())
        .spawn()
        .expect("start bootstrap");
    let ok = api.invoke(br#"{"input":{"a":3,"b":4},"meta":{"execution_id":"e-1"}}"#);
    let error = api.invoke(br#"{"a":1,"b":0}"#);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!((ok.kind, ok.json()), (Kind::Response, json!(0.75)));
    assert_eq!(error.kind, Kind::Error);
    assert_eq!(
        error.text(),
        r#"{"errorType":"DivideByZero","errorMessage":"division by zero"}"#
    );
}
