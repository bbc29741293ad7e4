//! Which process runs an execution: a lease kept in the store (owner, process identity,
//! expiry), renewed while the execution runs. Every checkpoint write of a leased execution is
//! fenced by it: the store refuses the writes of an owner whose lease another took over.
//!
//! A lease whose holder is provably gone (same boot and PID namespace as this process, and no
//! live process with its pid and start time; a pid alone is reused) is taken over at once, so a SIGKILLed
//! execution resumes immediately; any other lease only once it expires.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// How often a held lease is renewed (a third of [`LEASE_TTL`]).
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(10);

/// The holder of an execution's lease, as stored.
///
/// ```
/// use orkestra::durable::LeaseHolder;
/// let me = LeaseHolder::this_process(1_000);
/// assert_eq!(me.pid, std::process::id());
/// assert!(me.is_alive(), "this process is running");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    /// A fresh id per acquisition (what fences writes).
    pub owner: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder machine's boot id (`/proc/sys/kernel/random/boot_id`) followed by its PID
    /// namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`: pids mean something only
    /// within one); empty if unknown.
    pub boot_id: String,
    /// The holder process's start time (`/proc/PID/stat` field 22, clock ticks since boot),
    /// `0` if unknown.
    pub process_start: u64,
    /// When the lease was taken, in milliseconds since the Unix epoch.
    pub acquired_ms: u64,
    /// When it ends unless renewed, in milliseconds since the Unix epoch.
    pub expires_ms: u64,
}

impl LeaseHolder {
    /// A new lease for this process, taken at `now_ms` and lasting [`LEASE_TTL`].
    pub fn this_process(now_ms: u64) -> Self {
        let pid = std::process::id();
        LeaseHolder {
            owner: uuid::Uuid::new_v4().simple().to_string(),
            pid,
            boot_id: boot_id().unwrap_or_default(),
            process_start: process_start(pid).unwrap_or_default(),
            acquired_ms: now_ms,
            expires_ms: now_ms + LEASE_TTL.as_millis() as u64,
        }
    }

    /// Whether the holder may still be running: `false` only when it provably is not (this
    /// machine's boot, and no live process with its pid and start time).
    pub fn is_alive(&self) -> bool {
        let Some(ours) = boot_id() else { return true };
        if self.boot_id.is_empty() || self.boot_id != ours || self.process_start == 0 {
            return true;
        }
        process_start(self.pid) == Some(self.process_start)
    }

    /// Whether a newcomer may take the lease over at `now_ms`: expired, or its holder is
    /// provably gone.
    pub fn can_be_taken_over(&self, now_ms: u64) -> bool {
        self.expires_ms <= now_ms || !self.is_alive()
    }

    /// The lease's end as RFC 3339 UTC.
    pub fn expires_rfc3339(&self) -> String {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(self.expires_ms);
        humantime::format_rfc3339_millis(at).to_string()
    }
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {}, owner {}, whose lease ends at {} unless renewed",
            self.pid,
            self.owner,
            self.expires_rfc3339()
        )
    }
}

/// Lease owners of this process whose runs stopped on a store fault or a lost lease: their
/// leases stay in the store (it refused the release), but this process knows they are over,
/// so another run in it may take them over at once.
static ABANDONED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Marks `owner` (a lease of this process) as over.
pub(crate) fn abandon(owner: &str) {
    ABANDONED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(owner.to_string());
}

/// Whether `owner` is a lease of this process whose run stopped.
pub(crate) fn is_abandoned(owner: &str) -> bool {
    ABANDONED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|o| o == owner)
}

/// The outcome of asking for an execution's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// This process holds it now (taken fresh, or over from an expired or gone holder).
    Acquired,
    /// Another live holder has it.
    HeldBy(LeaseHolder),
}

/// This machine's boot id and this process's PID namespace, if the OS tells them: two
/// holders with equal values see the same processes under the same pids.
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{} {}", id.trim(), namespace.display())).filter(|_| !id.trim().is_empty())
}

/// The start time of live process `pid` (field 22 of `/proc/PID/stat`); `None` when no such
/// process runs (a zombie counts as gone).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is parenthesised and may hold spaces: count from its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (the state).
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_is_provably_gone_but_a_live_one_is_not() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = process_start(pid);
        child.wait().unwrap();
        let mut holder = LeaseHolder::this_process(0);
        assert!(holder.is_alive());
        holder.pid = pid;
        holder.process_start = start.unwrap_or(1);
        assert!(!holder.is_alive(), "exited child {pid} is gone");
        assert!(holder.can_be_taken_over(1));
    }

    #[test]
    fn a_reused_pid_with_another_start_time_is_gone() {
        let mut holder = LeaseHolder::this_process(0);
        holder.process_start += 1;
        assert!(!holder.is_alive());
    }

    #[test]
    fn another_boot_waits_for_expiry() {
        let mut holder = LeaseHolder::this_process(1_000);
        holder.boot_id = "another-machine".into();
        holder.pid = u32::MAX - 1;
        assert!(holder.is_alive(), "cannot tell for another boot");
        assert!(!holder.can_be_taken_over(holder.expires_ms - 1));
        assert!(holder.can_be_taken_over(holder.expires_ms));
    }
}
