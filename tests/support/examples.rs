//! Where cargo puts the example binaries the tests run.

use std::path::PathBuf;

/// The path of example `name`'s binary: tests run from `target/<profile>/deps/`, and cargo
/// builds examples into `target/<profile>/examples/` before running tests.
pub fn example_binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let binary = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        binary.exists(),
        "build the example first: {}",
        binary.display()
    );
    binary
}
