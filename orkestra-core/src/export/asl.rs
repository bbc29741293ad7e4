//! Amazon States Language as serde types (only what Orkestra emits).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// A state machine or a branch / item processor: `StartAt` and `States`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    /// The `Comment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The first state.
    pub start_at: String,
    /// The states, in flow order.
    pub states: States,
}

/// States in flow order; serialises as a JSON object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct States(pub Vec<(String, State)>);

impl States {
    /// The state named `name`.
    pub fn get(&self, name: &str) -> Option<&State> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

impl Serialize for States {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, state) in &self.0 {
            map.serialize_entry(name, state)?;
        }
        map.end()
    }
}

/// One state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    /// Runs a Lambda function.
    Task(TaskState),
    /// Runs an item processor per item of a list.
    Map(MapState),
    /// Runs branches at once.
    Parallel(ParallelState),
    /// Passes its input on (ends a branch whose error was caught).
    Pass(PassState),
}

impl State {
    /// Where the state goes next.
    pub fn transition(&self) -> &Transition {
        match self {
            State::Task(s) => &s.transition,
            State::Map(s) => &s.transition,
            State::Parallel(s) => &s.transition,
            State::Pass(s) => &s.transition,
        }
    }

    pub(crate) fn transition_mut(&mut self) -> &mut Transition {
        match self {
            State::Task(s) => &mut s.transition,
            State::Map(s) => &mut s.transition,
            State::Parallel(s) => &mut s.transition,
            State::Pass(s) => &mut s.transition,
        }
    }

    /// The state's catchers (none for Pass).
    pub fn catchers(&self) -> &[Catcher] {
        match self {
            State::Task(s) => &s.catch,
            State::Map(s) => &s.catch,
            State::Parallel(s) => &s.catch,
            State::Pass(_) => &[],
        }
    }

    pub(crate) fn catchers_mut(&mut self) -> Option<&mut Vec<Catcher>> {
        match self {
            State::Task(s) => Some(&mut s.catch),
            State::Map(s) => Some(&mut s.catch),
            State::Parallel(s) => Some(&mut s.catch),
            State::Pass(_) => None,
        }
    }

    /// The state's retriers (none for Pass).
    pub fn retriers(&self) -> &[Retrier] {
        match self {
            State::Task(s) => &s.retry,
            State::Map(s) => &s.retry,
            State::Parallel(s) => &s.retry,
            State::Pass(_) => &[],
        }
    }
}

/// `Next` or `End`.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// `"Next": name`.
    Next(String),
    /// `"End": true`.
    End,
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Transition::Next(next) => map.serialize_entry("Next", next)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

/// A `Task` state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    /// The Lambda function's ARN (a `${..}` definition substitution).
    pub resource: String,
    /// The task envelope.
    pub parameters: Value,
    /// `TimeoutSeconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// `Retry`, tried in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    /// `Catch`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    /// `Next` / `End`.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A `Map` state (inline, or distributed for a map over a `put_items` pointer).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    /// `ItemsPath`: where the list is in the state's input (`$` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_path: Option<String>,
    /// What each item's processor receives.
    pub item_selector: Value,
    /// The per-item states.
    pub item_processor: ItemProcessor,
    /// `MaxConcurrency` (0 = no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// `Retry`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    /// `Catch`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    /// `Next` / `End`.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A Map state's `ItemProcessor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemProcessor {
    /// `{"Mode": "INLINE"}`, or `{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}`.
    pub processor_config: Value,
    /// The first state.
    pub start_at: String,
    /// The states.
    pub states: States,
}

/// A `Parallel` state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelState {
    /// Each branch.
    pub branches: Vec<StateMachine>,
    /// `Retry`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    /// `Catch`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    /// `Next` / `End`.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A `Pass` state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PassState {
    /// `Comment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `Next` / `End`.
    #[serde(flatten)]
    pub transition: Transition,
}

/// One `Retry` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds`.
    pub interval_seconds: u32,
    /// `MaxAttempts`.
    pub max_attempts: u32,
    /// `BackoffRate` (at least 1).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
}

/// One `Catch` rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// Where to go with the error output `{"Error","Cause"}`.
    pub next: String,
}
