//! The offline durable-execution conformance bed (`../shared/durable-conformance/dexbed.py`:
//! AWS's local checkpoint service `dex-local-runner` driving a binary through the Lambda
//! Runtime API). `.ci/setup.d/70-durable-conformance.sh` installs its Python packages and
//! exports `ORKESTRA_DEXBED` (the script) and `ORKESTRA_DEXBED_PYTHON`.

use std::path::PathBuf;

/// The bed's script and Python, or `None` (with the reason printed) outside CI; in CI a
/// missing bed is a failure.
pub fn bed() -> Option<(PathBuf, PathBuf)> {
    let script = std::env::var_os("ORKESTRA_DEXBED").map(PathBuf::from);
    let python = std::env::var_os("ORKESTRA_DEXBED_PYTHON").map(PathBuf::from);
    match (script, python) {
        (Some(s), Some(p)) if s.exists() && p.exists() => Some((s, p)),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "ORKESTRA_DEXBED / ORKESTRA_DEXBED_PYTHON are not set: \
             .ci/setup.d/70-durable-conformance.sh installs the bed and sets them"
        ),
        _ => {
            eprintln!(
                "skipped: ORKESTRA_DEXBED / ORKESTRA_DEXBED_PYTHON are not set (source \
                 .ci/setup.d/70-durable-conformance.sh with CI_ROOT and CI_TOOLS set)"
            );
            None
        }
    }
}
