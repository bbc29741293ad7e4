//! Orkestra's own checks of generated ASL: every `Next` exists, no state is unreachable, names
//! are unique and short enough, retry rules are valid.

use std::collections::{HashMap, HashSet};

use super::asl::{State, StateMachine, Transition};
use crate::error::names;

/// A problem in a state machine, naming the state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AslError {
    /// `StartAt` names no state.
    #[error("StartAt `{0}` names no state")]
    MissingStart(String),
    /// A `Next` (or a catcher's `Next`) names no state in its scope.
    #[error("state `{state}` goes to `{next}`, which does not exist")]
    MissingNext {
        /// The state.
        state: String,
        /// The missing target.
        next: String,
    },
    /// A state cannot be reached from `StartAt`.
    #[error("state `{0}` is unreachable")]
    Unreachable(String),
    /// Two states share a name.
    #[error("state name `{0}` is used twice")]
    DuplicateName(String),
    /// A state name is longer than ASL allows.
    #[error("state name `{0}` is longer than 80 characters")]
    NameTooLong(String),
    /// A retrier's `BackoffRate` is below 1.
    #[error("state `{state}` has a retry BackoffRate of {rate}, below 1.0")]
    BackoffRate {
        /// The state.
        state: String,
        /// The rate.
        rate: f64,
    },
    /// `States.ALL` is not alone in the last rule.
    #[error("state `{0}`: States.ALL must be alone in the last Retry/Catch rule")]
    StatesAllNotLast(String),
}

/// Checks `machine` and all its branches; returns every problem found.
pub fn check(machine: &StateMachine) -> Result<(), Vec<AslError>> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    check_scope(machine, &mut seen, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_scope(machine: &StateMachine, seen: &mut HashSet<String>, errors: &mut Vec<AslError>) {
    let names: HashMap<&str, &State> = machine
        .states
        .0
        .iter()
        .map(|(name, state)| (name.as_str(), state))
        .collect();
    for (name, state) in &machine.states.0 {
        if !seen.insert(name.clone()) {
            errors.push(AslError::DuplicateName(name.clone()));
        }
        if name.chars().count() > 80 {
            errors.push(AslError::NameTooLong(name.clone()));
        }
        for next in targets(state) {
            if !names.contains_key(next) {
                errors.push(AslError::MissingNext {
                    state: name.clone(),
                    next: next.to_string(),
                });
            }
        }
        check_rules(name, state, errors);
        match state {
            State::Parallel(parallel) => parallel
                .branches
                .iter()
                .for_each(|branch| check_scope(branch, seen, errors)),
            State::Map(map) => {
                let processor = StateMachine {
                    comment: None,
                    start_at: map.item_processor.start_at.clone(),
                    states: map.item_processor.states.clone(),
                };
                check_scope(&processor, seen, errors);
            }
            _ => {}
        }
    }
    if !names.contains_key(machine.start_at.as_str()) {
        errors.push(AslError::MissingStart(machine.start_at.clone()));
        return;
    }
    let mut reached = HashSet::new();
    let mut stack = vec![machine.start_at.as_str()];
    while let Some(name) = stack.pop() {
        if !reached.insert(name) {
            continue;
        }
        if let Some(state) = names.get(name) {
            stack.extend(targets(state).filter(|next| names.contains_key(next)));
        }
    }
    for (name, _) in &machine.states.0 {
        if !reached.contains(name.as_str()) {
            errors.push(AslError::Unreachable(name.clone()));
        }
    }
}

fn targets(state: &State) -> impl Iterator<Item = &str> {
    let next = match state.transition() {
        Transition::Next(next) => Some(next.as_str()),
        Transition::End => None,
    };
    next.into_iter()
        .chain(state.catchers().iter().map(|c| c.next.as_str()))
}

fn check_rules(name: &str, state: &State, errors: &mut Vec<AslError>) {
    for retrier in state.retriers() {
        if retrier.backoff_rate < 1.0 {
            errors.push(AslError::BackoffRate {
                state: name.to_string(),
                rate: retrier.backoff_rate,
            });
        }
    }
    let retry_lists = state.retriers().iter().map(|r| &r.error_equals);
    let catch_lists = state.catchers().iter().map(|c| &c.error_equals);
    for lists in [retry_lists.collect::<Vec<_>>(), catch_lists.collect()] {
        for (i, list) in lists.iter().enumerate() {
            let has_all = list.iter().any(|e| e == names::ALL);
            if has_all && (list.len() > 1 || i + 1 != lists.len()) {
                errors.push(AslError::StatesAllNotLast(name.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::asl::*;
    use serde_json::json;

    fn pass(next: Option<&str>) -> State {
        State::Pass(PassState {
            comment: None,
            transition: next.map_or(Transition::End, |n| Transition::Next(n.into())),
        })
    }

    fn task(retry: Vec<Retrier>) -> State {
        State::Task(TaskState {
            resource: "arn".into(),
            parameters: json!({}),
            timeout_seconds: None,
            retry,
            catch: vec![],
            transition: Transition::End,
        })
    }

    fn retrier(errors: &[&str], backoff_rate: f64) -> Retrier {
        Retrier {
            error_equals: errors.iter().map(|e| e.to_string()).collect(),
            interval_seconds: 1,
            max_attempts: 1,
            backoff_rate,
            max_delay_seconds: None,
        }
    }

    fn machine(start: &str, states: Vec<(&str, State)>) -> StateMachine {
        StateMachine {
            comment: None,
            start_at: start.into(),
            states: States(states.into_iter().map(|(n, s)| (n.into(), s)).collect()),
        }
    }

    #[test]
    fn a_valid_machine_passes() {
        let m = machine("a", vec![("a", pass(Some("b"))), ("b", pass(None))]);
        assert_eq!(check(&m), Ok(()));
    }

    #[test]
    fn a_missing_next_is_reported() {
        let m = machine("a", vec![("a", pass(Some("nowhere")))]);
        assert_eq!(
            check(&m).unwrap_err(),
            vec![AslError::MissingNext {
                state: "a".into(),
                next: "nowhere".into()
            }]
        );
    }

    #[test]
    fn orphans_and_a_bad_start_are_reported() {
        let m = machine("a", vec![("a", pass(None)), ("orphan", pass(None))]);
        assert_eq!(
            check(&m).unwrap_err(),
            vec![AslError::Unreachable("orphan".into())]
        );
        let m = machine("z", vec![("a", pass(None))]);
        assert_eq!(
            check(&m).unwrap_err(),
            vec![AslError::MissingStart("z".into())]
        );
    }

    #[test]
    fn duplicate_names_across_branches_are_reported() {
        let branch = machine("a", vec![("a", pass(None))]);
        let parallel = State::Parallel(ParallelState {
            branches: vec![branch],
            retry: vec![],
            catch: vec![],
            transition: Transition::End,
        });
        let m = machine("a", vec![("a", parallel)]);
        assert_eq!(
            check(&m).unwrap_err(),
            vec![AslError::DuplicateName("a".into())]
        );
    }

    #[test]
    fn retry_rules_are_checked() {
        let m = machine("t", vec![("t", task(vec![retrier(&["X"], 0.5)]))]);
        assert!(matches!(
            check(&m).unwrap_err()[0],
            AslError::BackoffRate { rate, .. } if rate == 0.5
        ));
        let m = machine(
            "t",
            vec![(
                "t",
                task(vec![retrier(&["States.ALL"], 2.0), retrier(&["X"], 2.0)]),
            )],
        );
        assert_eq!(
            check(&m).unwrap_err(),
            vec![AslError::StatesAllNotLast("t".into())]
        );
        let long = "x".repeat(81);
        let m = machine(&long, vec![(long.as_str(), pass(None))]);
        assert_eq!(
            check(&m).unwrap_err(),
            vec![AslError::NameTooLong(long.clone())]
        );
    }
}
