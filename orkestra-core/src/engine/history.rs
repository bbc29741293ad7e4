//! Execution history in Step Functions' vocabulary.
//!
//! The engine stores compact records (one per task state, eight bytes per map item) and expands
//! them into Step Functions events on read, so a million-item map keeps its full history in a
//! few megabytes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{names, CapturedError, TaskError};

/// The type of a history event, named as in Step Functions' `GetExecutionHistory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum EventKind {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    /// A task stopped the execution (`ctx.stop_execution`); `error` holds its error and cause.
    ExecutionAborted,
    /// A state's output was over the payload limit and was stored as state data; `details`
    /// gives `{"bytes":..,"limit":..}`.
    StateOutputOffloaded,
    TaskStateEntered,
    TaskStateExited,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    MapStateEntered,
    MapStateStarted,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateExited,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateExited,
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// One event of an execution's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based, in order.
    pub id: u64,
    /// When it happened (events inside one map share the map's timestamps).
    pub timestamp: SystemTime,
    /// What happened.
    pub kind: EventKind,
    /// The state it concerns.
    pub state_name: Option<Arc<str>>,
    /// The map item it concerns.
    pub map_index: Option<usize>,
    /// The error, for failures.
    pub error: Option<CapturedError>,
    /// Extra facts as JSON text: an offloaded output's size and the limit
    /// (`StateOutputOffloaded`), a map's slowest items (`MapStateSucceeded` / `MapStateFailed`:
    /// `{"slowest":[{"index":i,"micros":n},..]}`, slowest first, at most three).
    pub details: Option<String>,
}

/// A failed attempt of a task.
#[derive(Debug, Clone)]
pub(crate) struct FailedAttempt {
    pub error: TaskError,
}

/// How a map item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemOutcome {
    Succeeded,
    /// The task failed and `capture_errors` turned the failure into a value.
    Captured,
    Failed,
    Aborted,
}

/// Eight bytes per map item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemRecord {
    pub index: u32,
    pub retries: u16,
    pub outcome: ItemOutcome,
}

/// A failed attempt of a map item.
#[derive(Debug, Clone)]
pub(crate) struct ItemFailure {
    pub index: u32,
    pub error: TaskError,
}

#[derive(Debug)]
pub(crate) enum Record {
    ExecutionStarted,
    ExecutionSucceeded {
        at: Duration,
    },
    ExecutionFailed {
        at: Duration,
        error: TaskError,
    },
    ExecutionAborted {
        at: Duration,
        /// The stop request's error (name) and cause (message).
        error: TaskError,
    },
    OutputOffloaded {
        state: Arc<str>,
        at: Duration,
        bytes: usize,
        limit: usize,
    },
    Task {
        state: Arc<str>,
        entered: Duration,
        exited: Duration,
        failures: Vec<FailedAttempt>,
        succeeded: bool,
    },
    MapEntered {
        state: Arc<str>,
        at: Duration,
    },
    MapExited {
        state: Arc<str>,
        at: Duration,
        items: Box<[ItemRecord]>,
        failures: Vec<ItemFailure>,
        slowest: super::slowest::Slowest,
        succeeded: bool,
    },
    ParallelEntered {
        state: Arc<str>,
        at: Duration,
    },
    ParallelExited {
        state: Arc<str>,
        at: Duration,
        succeeded: bool,
    },
}

/// An execution's history.
#[derive(Debug)]
pub struct History {
    started: SystemTime,
    records: Vec<Record>,
}

impl History {
    pub(crate) fn new(started: SystemTime, records: Vec<Record>) -> History {
        History { started, records }
    }

    /// Every event, in Step Functions' vocabulary, expanded lazily from the compact records
    /// (a map's items one at a time, so reading a long history costs no more memory).
    pub fn events(&self) -> impl Iterator<Item = HistoryEvent> + '_ {
        let started = self.started;
        let mut id = 0;
        self.records
            .iter()
            .flat_map(move |record| expand_lazily(record, started))
            .map(move |mut event| {
                id += 1;
                event.id = id;
                event
            })
    }

    /// How many events of `kind` the history holds.
    pub fn count(&self, kind: EventKind) -> usize {
        self.events().filter(|event| event.kind == kind).count()
    }

    /// How many events the history holds.
    pub fn len(&self) -> usize {
        self.events().count()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes held by the compact records (what a long map costs to keep).
    pub fn compact_size(&self) -> usize {
        self.records
            .iter()
            .map(|record| {
                std::mem::size_of::<Record>()
                    + match record {
                        Record::MapExited {
                            items, failures, ..
                        } => {
                            std::mem::size_of_val(&**items)
                                + failures.len() * std::mem::size_of::<ItemFailure>()
                        }
                        Record::Task { failures, .. } => {
                            failures.len() * std::mem::size_of::<FailedAttempt>()
                        }
                        _ => 0,
                    }
            })
            .sum()
    }
}

struct Emitter<'a> {
    started: SystemTime,
    out: &'a mut Vec<HistoryEvent>,
}

impl Emitter<'_> {
    fn push(
        &mut self,
        at: Duration,
        kind: EventKind,
        state: Option<&Arc<str>>,
        map_index: Option<usize>,
        error: Option<&TaskError>,
    ) {
        self.out.push(HistoryEvent {
            id: 0,
            timestamp: self.started + at,
            kind,
            state_name: state.cloned(),
            map_index,
            error: error.map(TaskError::to_captured),
            details: None,
        });
    }

    fn attempts(
        &mut self,
        at: Duration,
        state: &Arc<str>,
        index: Option<usize>,
        failures: &[&TaskError],
        succeeded: bool,
    ) {
        use EventKind::*;
        for error in failures {
            self.push(at, LambdaFunctionScheduled, Some(state), index, None);
            self.push(at, LambdaFunctionStarted, Some(state), index, None);
            let kind = if error.name() == names::TIMEOUT {
                LambdaFunctionTimedOut
            } else {
                LambdaFunctionFailed
            };
            self.push(at, kind, Some(state), index, Some(error));
        }
        if succeeded {
            self.push(at, LambdaFunctionScheduled, Some(state), index, None);
            self.push(at, LambdaFunctionStarted, Some(state), index, None);
            self.push(at, LambdaFunctionSucceeded, Some(state), index, None);
        }
    }
}

fn expand_lazily(
    record: &Record,
    started: SystemTime,
) -> Box<dyn Iterator<Item = HistoryEvent> + '_> {
    let mut head = Vec::new();
    match record {
        Record::MapExited {
            state,
            at,
            items,
            failures,
            ..
        } => {
            // Failures sorted by item (a stable sort keeps each item's attempts in order), so
            // an item finds its own with a binary search instead of scanning them all.
            let mut by_item: Vec<&ItemFailure> = failures.iter().collect();
            by_item.sort_by_key(|failure| failure.index);
            let per_item = items.iter().flat_map(move |item| {
                let mut events = Vec::with_capacity(8);
                let mut emit = Emitter {
                    started,
                    out: &mut events,
                };
                expand_item(&mut emit, *at, state, item, &by_item);
                events
            });
            let mut tail = Vec::new();
            expand(record, started, &mut tail);
            Box::new(per_item.chain(tail))
        }
        _ => {
            expand(record, started, &mut head);
            Box::new(head.into_iter())
        }
    }
}

/// Expands a record; for a map, only the events after its items (the items are expanded lazily).
fn expand(record: &Record, started: SystemTime, out: &mut Vec<HistoryEvent>) {
    use EventKind::*;
    let mut emit = Emitter { started, out };
    match record {
        Record::ExecutionStarted => emit.push(Duration::ZERO, ExecutionStarted, None, None, None),
        Record::ExecutionSucceeded { at } => emit.push(*at, ExecutionSucceeded, None, None, None),
        Record::ExecutionFailed { at, error } => {
            emit.push(*at, ExecutionFailed, None, None, Some(error))
        }
        Record::ExecutionAborted { at, error } => {
            emit.push(*at, ExecutionAborted, None, None, None);
            if let Some(event) = emit.out.last_mut() {
                event.error = Some(CapturedError {
                    error: error.name().to_string(),
                    cause: error.message().to_string(),
                });
            }
        }
        Record::OutputOffloaded {
            state,
            at,
            bytes,
            limit,
        } => {
            emit.push(*at, StateOutputOffloaded, Some(state), None, None);
            if let Some(event) = emit.out.last_mut() {
                event.details = Some(format!(r#"{{"bytes":{bytes},"limit":{limit}}}"#));
            }
        }
        Record::Task {
            state,
            entered,
            exited,
            failures,
            succeeded,
        } => {
            emit.push(*entered, TaskStateEntered, Some(state), None, None);
            let errors: Vec<&TaskError> = failures.iter().map(|f| &f.error).collect();
            emit.attempts(*exited, state, None, &errors, *succeeded);
            if *succeeded {
                emit.push(*exited, TaskStateExited, Some(state), None, None);
            }
        }
        Record::MapEntered { state, at } => {
            emit.push(*at, MapStateEntered, Some(state), None, None);
            emit.push(*at, MapStateStarted, Some(state), None, None);
        }
        Record::MapExited {
            state,
            at,
            succeeded,
            slowest,
            ..
        } => {
            let kind = if *succeeded {
                MapStateSucceeded
            } else {
                MapStateFailed
            };
            emit.push(*at, kind, Some(state), None, None);
            if let Some(event) = emit.out.last_mut() {
                event.details = slowest.details();
            }
            if *succeeded {
                emit.push(*at, MapStateExited, Some(state), None, None);
            }
        }
        Record::ParallelEntered { state, at } => {
            emit.push(*at, ParallelStateEntered, Some(state), None, None);
            emit.push(*at, ParallelStateStarted, Some(state), None, None);
        }
        Record::ParallelExited {
            state,
            at,
            succeeded,
        } => {
            let kind = if *succeeded {
                ParallelStateSucceeded
            } else {
                ParallelStateFailed
            };
            emit.push(*at, kind, Some(state), None, None);
            if *succeeded {
                emit.push(*at, ParallelStateExited, Some(state), None, None);
            }
        }
    }
}

fn expand_item(
    emit: &mut Emitter<'_>,
    at: Duration,
    state: &Arc<str>,
    item: &ItemRecord,
    failures: &[&ItemFailure],
) {
    use EventKind::*;
    let index = Some(item.index as usize);
    emit.push(at, MapIterationStarted, Some(state), index, None);
    if item.outcome == ItemOutcome::Aborted {
        emit.push(at, MapIterationAborted, Some(state), index, None);
        return;
    }
    emit.push(at, TaskStateEntered, Some(state), index, None);
    // `failures` is sorted by item index: this item's attempts are one contiguous run.
    let errors: Vec<&TaskError> = if item.retries > 0 || item.outcome != ItemOutcome::Succeeded {
        let first = failures.partition_point(|f| f.index < item.index);
        failures[first..]
            .iter()
            .take_while(|f| f.index == item.index)
            .map(|f| &f.error)
            .collect()
    } else {
        Vec::new()
    };
    let succeeded = item.outcome == ItemOutcome::Succeeded;
    emit.attempts(at, state, index, &errors, succeeded);
    match item.outcome {
        ItemOutcome::Succeeded => {
            emit.push(at, TaskStateExited, Some(state), index, None);
            emit.push(at, MapIterationSucceeded, Some(state), index, None);
        }
        ItemOutcome::Captured => emit.push(at, MapIterationSucceeded, Some(state), index, None),
        ItemOutcome::Failed => {
            let last = errors.last().copied();
            emit.push(at, MapIterationFailed, Some(state), index, last);
        }
        ItemOutcome::Aborted => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_records_stay_eight_bytes() {
        assert_eq!(std::mem::size_of::<ItemRecord>(), 8);
    }

    #[test]
    fn a_retried_map_item_expands_into_each_attempt() {
        let state: Arc<str> = Arc::from("divide_by");
        let records = vec![Record::MapExited {
            state: state.clone(),
            at: Duration::ZERO,
            items: vec![ItemRecord {
                index: 0,
                retries: 1,
                outcome: ItemOutcome::Succeeded,
            }]
            .into_boxed_slice(),
            failures: vec![ItemFailure {
                index: 0,
                error: TaskError::new("Flaky", "once"),
            }],
            slowest: Default::default(),
            succeeded: true,
        }];
        let history = History::new(SystemTime::UNIX_EPOCH, records);
        let kinds: Vec<EventKind> = history.events().map(|e| e.kind).collect();
        use EventKind::*;
        assert_eq!(
            kinds,
            vec![
                MapIterationStarted,
                TaskStateEntered,
                LambdaFunctionScheduled,
                LambdaFunctionStarted,
                LambdaFunctionFailed,
                LambdaFunctionScheduled,
                LambdaFunctionStarted,
                LambdaFunctionSucceeded,
                TaskStateExited,
                MapIterationSucceeded,
                MapStateSucceeded,
                MapStateExited,
            ]
        );
        let ids: Vec<u64> = history.events().map(|e| e.id).collect();
        assert_eq!(ids, (1..=12).collect::<Vec<_>>());
    }

    #[test]
    fn failures_recorded_out_of_order_reach_their_items_in_attempt_order() {
        let state: Arc<str> = Arc::from("work");
        let failure = |index, name: &str| ItemFailure {
            index,
            error: TaskError::new(name, "x"),
        };
        let item = |index, retries, outcome| ItemRecord {
            index,
            retries,
            outcome,
        };
        let records = vec![Record::MapExited {
            state,
            at: Duration::ZERO,
            items: vec![
                item(0, 0, ItemOutcome::Succeeded),
                item(1, 1, ItemOutcome::Captured),
                item(2, 0, ItemOutcome::Captured),
                item(3, 0, ItemOutcome::Succeeded),
            ]
            .into_boxed_slice(),
            // Completion order, as concurrent items record them.
            failures: vec![
                failure(2, "Second"),
                failure(1, "FirstTry"),
                failure(1, "FirstAgain"),
            ],
            slowest: Default::default(),
            succeeded: true,
        }];
        let history = History::new(SystemTime::UNIX_EPOCH, records);
        let failed: Vec<(usize, String)> = history
            .events()
            .filter(|e| e.kind == EventKind::LambdaFunctionFailed)
            .map(|e| (e.map_index.unwrap(), e.error.unwrap().error))
            .collect();
        assert_eq!(
            failed,
            vec![
                (1, "FirstTry".to_string()),
                (1, "FirstAgain".to_string()),
                (2, "Second".to_string()),
            ]
        );
    }
}
