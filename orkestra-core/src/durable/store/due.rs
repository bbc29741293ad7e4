//! The records of the wake-up index: when each suspended execution is due, and the changes
//! the engine, workers and callers make to it (see [`CheckpointStore`](super::CheckpointStore)).

use super::{ErrorObject, InvocationStatus};

/// One execution whose due time has come (what a worker runs next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueExecution {
    /// The execution.
    pub execution_id: String,
    /// When it became due, in milliseconds since the Unix epoch.
    pub due_ms: u64,
}

/// An unfinished execution's entry in the wake-up index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DueState {
    /// When it is due (`None`: only a completion from outside, e.g. a callback, wakes it).
    pub due_ms: Option<u64>,
    /// How many completions from outside made it due so far.
    pub wakes: u64,
    /// Its execution timeout, in milliseconds since the Unix epoch, if it has one.
    pub deadline_ms: Option<u64>,
}

/// What a run saw of the wake-up index when it began (handed back when it ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WakeTicket {
    /// The due time this run serves, when it is a wake-up (it was due when the run began).
    pub woke_for: Option<u64>,
    /// [`DueState::wakes`] when the run began: a completion after that keeps it due.
    pub wakes: u64,
    /// The execution's timeout, if it has one.
    pub deadline_ms: Option<u64>,
}

/// A change to one execution's entry in the wake-up index.
#[derive(Debug, Clone, PartialEq)]
pub enum DueChange {
    /// A run begins: the execution is due from now on until the run suspends or ends, so a
    /// worker finds it if the run's process dies. Sets the timeout if it has none yet.
    Claim {
        /// Now.
        now_ms: u64,
        /// The execution timeout to keep, if any.
        deadline_ms: Option<u64>,
    },
    /// The run suspended: due at `due_ms` (or only by a completion from outside), unless a
    /// completion arrived since the run began.
    Suspend {
        /// The earliest time anything it waits for is due.
        due_ms: Option<u64>,
        /// The ticket's wake count.
        seen_wakes: u64,
        /// The due time the run served (logged as a wake-up).
        woke_for: Option<u64>,
        /// Now.
        now_ms: u64,
    },
    /// The run finished the execution: it leaves the index.
    Finish {
        /// The due time the run served (logged as a wake-up).
        woke_for: Option<u64>,
        /// Now.
        now_ms: u64,
    },
    /// Something it waits for completed from outside (a callback, a chained execution): due
    /// at once.
    Wake {
        /// Now.
        now_ms: u64,
    },
    /// Ends the execution from outside its run (`durable stop`, an execution timeout): the
    /// execution gets `status` (its operations keep theirs); its lease and entry go.
    End {
        /// STOPPED or TIMED_OUT.
        status: InvocationStatus,
        /// The execution's error.
        error: ErrorObject,
        /// Now.
        now_ms: u64,
    },
}
