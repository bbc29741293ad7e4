//! The seed's tests for the map-job example (pytest + Hypothesis there, proptest here),
//! run against the example's own functions, plus the workflow end to end.

#[allow(dead_code)]
#[path = "../examples/map_job.rs"]
mod map_job;

use map_job::{divide_by, filter_division_errors, ones_and_zeros, sum_up, times_3, Event};
use orkestra::{Captured, CapturedError, Context, Engine, ExecutionStatus, TaskError};
use proptest::prelude::*;
use serde_json::json;

fn generic_context() -> Context {
    Context::for_tests()
}

#[test]
fn test_ones_and_zeros() {
    let result = ones_and_zeros(Event::default(), &generic_context());
    assert!(result.len() > 5);
    assert!(result.iter().all(|n| *n == 0 || *n == 1));
}

#[test]
fn a_seed_makes_ones_and_zeros_repeatable() {
    let seeded = |seed| ones_and_zeros(Event { seed: Some(seed) }, &generic_context());
    assert_eq!(seeded(7), seeded(7));
    assert!((0..20).any(|seed| seeded(seed) != seeded(7)));
}

#[test]
fn test_divide_by() {
    let ctx = generic_context();
    for n in ones_and_zeros(Event::default(), &ctx) {
        match n {
            0 => assert_eq!(
                divide_by(n, &ctx).unwrap_err().to_string(),
                "division by zero"
            ),
            _ => assert!(divide_by(n, &ctx).unwrap() != 0.0),
        }
    }
    let err = TaskError::from_error(&divide_by(0, &ctx).unwrap_err());
    assert_eq!(err.name(), "DivideByZero");
}

fn captured_error() -> impl Strategy<Value = CapturedError> {
    (any::<String>(), any::<String>())
        .prop_map(|(error, message)| TaskError::new(error, message).to_captured())
}

proptest! {
    #[test]
    fn test_times_3(n in any::<f64>().prop_filter("not NaN", |n| !n.is_nan())) {
        prop_assert_eq!(times_3(n, &generic_context()), n * 3.0);
    }

    #[test]
    fn test_sum_up(numbers in proptest::collection::vec(0.0f64..=f64::MAX, 0..50)) {
        prop_assert_eq!(sum_up(numbers.clone(), &generic_context()), numbers.iter().sum::<f64>());
    }

    #[test]
    fn test_division_error_filter_passes_floats(event in any::<f64>().prop_filter("not NaN", |n| !n.is_nan())) {
        prop_assert_eq!(filter_division_errors(Captured::Ok(event), &generic_context()), event);
    }

    #[test]
    fn test_division_error_filter_zeroes_errors(error in captured_error()) {
        prop_assert_eq!(filter_division_errors(Captured::Err(error), &generic_context()), 0.0);
    }

    #[test]
    fn captured_values_survive_json(error in captured_error(), value in any::<f64>().prop_filter("finite", |n| n.is_finite())) {
        for captured in [Captured::Ok(value), Captured::Err(error.clone())] {
            let text = serde_json::to_string(&captured).unwrap();
            let back: Captured<f64> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, captured);
        }
    }
}

#[tokio::test]
async fn the_workflow_runs_end_to_end_and_matches_a_direct_computation() {
    let workflow = map_job::map_example();
    for seed in 0..10u64 {
        let execution = Engine::default()
            .run(&workflow, json!({ "seed": seed }))
            .await;
        assert_eq!(execution.status, ExecutionStatus::Succeeded);
        // The same functions called by hand give the same answer.
        let ctx = generic_context();
        let ones = ones_and_zeros(Event { seed: Some(seed) }, &ctx)
            .into_iter()
            .filter(|n| *n == 1)
            .count();
        assert_eq!(execution.output.unwrap(), json!(ones as f64 * 3.0));
    }
}

#[tokio::test]
async fn divide_by_zero_is_captured_with_its_stable_name() {
    let workflow = orkestra::Workflow::new("captures", divide_by {});
    let execution = Engine::default().run(&workflow, json!([1, 0])).await;
    let output = execution.output.unwrap();
    assert_eq!(output[0], json!(1.0));
    assert_eq!(output[1]["Error"], json!("DivideByZero"));
    assert_eq!(
        output[1]["Cause"],
        json!(r#"{"errorType":"DivideByZero","errorMessage":"division by zero"}"#)
    );
}
