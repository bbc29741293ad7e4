//! Crash tests with real processes: a test binary re-runs one of its own `#[test]` functions
//! as a child process (switched on by an environment variable, so in a normal run that test
//! returns at once), and the parent SIGKILLs the child at chosen moments.

#![allow(dead_code)] // each crash test uses a part of this module

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Whether this process is a child started by [`self_as_child`] with `marker` set.
pub fn is_child(marker: &str) -> bool {
    std::env::var_os(marker).is_some()
}

/// A command running only the test `entry` of this test binary, with the environment variable
/// `marker` set to `value` (so the entry knows it is the child, and in which mode). Its output
/// is discarded; add the child's own environment with `.env(..)`.
pub fn self_as_child(entry: &str, marker: &str, value: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args([entry, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, value)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The runtime a child runs its work on: multi-threaded with two workers (the machines that
/// run these tests have two cores), timers and I/O enabled.
pub fn child_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The seed of a randomised crash test: `ORKESTRA_CRASH_SEED`, else 2026. Tests print it, so a
/// failing run can be repeated exactly.
pub fn crash_seed() -> u64 {
    std::env::var("ORKESTRA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2026)
}

/// SIGKILLs `child` and reaps it. Returns `false`, without killing, if it had already exited.
pub fn kill_unless_finished(child: &mut Child) -> bool {
    if child.try_wait().expect("child status").is_some() {
        return false;
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    true
}

/// Starts `cmd`, lets it run for `life`, then SIGKILLs it. Returns `false` if it finished first.
pub fn run_then_kill(cmd: &mut Command, life: Duration) -> bool {
    let mut child = cmd.spawn().expect("start the child");
    std::thread::sleep(life);
    kill_unless_finished(&mut child)
}
