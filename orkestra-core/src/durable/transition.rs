//! The allowed status transitions of an operation record, by operation type: what the Lambda
//! durable checkpoint API accepts from a handler (PROTOCOL.md §4) plus the transitions its
//! service side makes (a due retry PENDING → READY, a wait's timer, a callback's completion or
//! timeout, a chained execution's end). The engine checks each write against it, and
//! `durable check` checks every stored row.

use super::store::{OperationStatus, OperationType};
use OperationStatus::*;

/// A status change the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "illegal transition of {op_type} operation {operation}: {} -> {} ({why})",
    from.map_or("(new)", OperationStatus::as_str),
    to.as_str()
)]
pub struct IllegalTransition {
    /// The operation's type.
    pub op_type: &'static str,
    /// The operation (its name, or its id when unnamed).
    pub operation: String,
    /// Its status before (`None`: no record yet).
    pub from: Option<OperationStatus>,
    /// The status that was to be written.
    pub to: OperationStatus,
    /// Why it is refused.
    pub why: &'static str,
}

/// Whether an operation of type `op_type` may go from `from` (`None`: no record yet) to `to`;
/// `Err` says why not.
///
/// ```
/// use orkestra::durable::{transition, OperationStatus::*, OperationType::*};
/// assert!(transition::allowed(Step, Some(Ready), Started).is_ok());
/// assert!(transition::allowed(Step, Some(Pending), Started).is_err());
/// assert!(transition::allowed(Wait, Some(Succeeded), Succeeded).is_err());
/// ```
pub fn allowed(
    op_type: OperationType,
    from: Option<OperationStatus>,
    to: OperationStatus,
) -> Result<(), &'static str> {
    if from.is_some_and(OperationStatus::is_finished) {
        return Err("a finished operation does not change");
    }
    let ok = match op_type {
        OperationType::Step => match (from, to) {
            // START only on a new step or a due retry; a re-run of an interrupted
            // at-least-once attempt writes no second START.
            (None | Some(Ready), Started) => true,
            (Some(Started), Started) => return Err("a started step is not started again"),
            (Some(Pending), Started) => return Err("a retry starts only once it is READY"),
            // RETRY (PENDING), SUCCEED, FAIL: on a new, started or ready step.
            (None | Some(Started | Ready), Pending | Succeeded | Failed) => true,
            // The service's: a pending retry falls due.
            (Some(Pending), Ready) => true,
            _ => false,
        },
        OperationType::Context => matches!(
            (from, to),
            (None, Started | Succeeded | Failed) | (Some(Started), Succeeded | Failed)
        ),
        OperationType::Wait => matches!(
            (from, to),
            (None, Started) | (Some(Started), Succeeded | Cancelled)
        ),
        OperationType::Callback => matches!(
            (from, to),
            (None, Started) | (Some(Started), Succeeded | Failed | TimedOut)
        ),
        OperationType::ChainedInvoke => matches!(
            (from, to),
            (None, Started) | (Some(Started), Succeeded | Failed | TimedOut | Stopped)
        ),
    };
    if ok {
        Ok(())
    } else {
        Err("not a transition of the protocol")
    }
}

/// Whether a stored change the engine no longer makes was written by an older Orkestra
/// (`durable check` accepts these in existing stores): a second START of a re-run
/// at-least-once step or an interrupted context, a retry's READY folded into the next START
/// (PENDING → STARTED), and the open operations of a stopped or timed-out execution
/// ended STOPPED.
pub fn written_by_older_versions(
    op_type: OperationType,
    from: Option<OperationStatus>,
    to: OperationStatus,
) -> bool {
    let Some(from) = from.filter(|f| !f.is_finished()) else {
        return false;
    };
    matches!(
        (op_type, from, to),
        (
            OperationType::Step | OperationType::Context,
            Started,
            Started
        ) | (OperationType::Step, Pending, Started)
            | (_, _, Stopped)
    )
}

/// [`allowed`], as an error naming the operation.
pub fn check(
    op_type: OperationType,
    operation: &str,
    from: Option<OperationStatus>,
    to: OperationStatus,
) -> Result<(), IllegalTransition> {
    allowed(op_type, from, to).map_err(|why| IllegalTransition {
        op_type: op_type.as_str(),
        operation: operation.to_string(),
        from,
        to,
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperationType::*;

    #[test]
    fn retries_go_pending_ready_started() {
        let path = [
            None,
            Some(Started),
            Some(Pending),
            Some(Ready),
            Some(Started),
        ];
        let to = [Started, Pending, Ready, Started, Succeeded];
        for (from, to) in path.into_iter().zip(to) {
            assert_eq!(allowed(Step, from, to), Ok(()), "{from:?} -> {to:?}");
        }
        assert!(allowed(Step, Some(Pending), Started).is_err());
        assert!(allowed(Step, Some(Started), Started).is_err());
        assert!(allowed(Step, Some(Started), Ready).is_err());
        assert!(allowed(Step, None, Ready).is_err());
        assert!(written_by_older_versions(Step, Some(Pending), Started));
        assert!(!written_by_older_versions(Step, Some(Succeeded), Started));
    }

    #[test]
    fn nothing_follows_a_finished_operation() {
        for op_type in [Step, Context, Wait, Callback, ChainedInvoke] {
            for done in [Succeeded, Failed, Cancelled, TimedOut, Stopped] {
                for to in OperationStatus::ALL {
                    assert!(
                        allowed(op_type, Some(done), to).is_err(),
                        "{op_type:?} {done:?} {to:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn service_owned_completions_only_from_started() {
        assert!(allowed(Wait, Some(Started), Succeeded).is_ok());
        assert!(allowed(Wait, None, Succeeded).is_err());
        assert!(allowed(Callback, Some(Started), TimedOut).is_ok());
        assert!(allowed(Callback, Some(Started), Started).is_err());
        assert!(allowed(Context, Some(Started), Started).is_err());
        let e = check(Step, "poll", Some(Pending), Started).unwrap_err();
        assert_eq!(
            e.to_string(),
            "illegal transition of STEP operation poll: PENDING -> STARTED (a retry starts only \
             once it is READY)"
        );
    }
}
