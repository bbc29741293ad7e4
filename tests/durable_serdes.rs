//! Per-operation codecs on the embedded SQLite store: a child context whose custom `Serdes`
//! writes a non-JSON payload, stored as it is, replayed and decoded by that codec.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};

static BODY_RUNS: AtomicU32 = AtomicU32::new(0);
static DECODES: AtomicU32 = AtomicU32::new(0);

/// Checkpoints a string upper-cased as plain text; decodes it as it is.
struct Upper;

impl Serdes<String> for Upper {
    fn serialize(&self, value: &String) -> Result<String, String> {
        Ok(value.to_uppercase())
    }
    fn deserialize(&self, text: &str) -> Result<String, String> {
        DECODES.fetch_add(1, Ordering::SeqCst);
        Ok(text.to_string())
    }
}

async fn shout(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context_with(
        "shout",
        ChildConfig::default().serdes(Upper),
        |child| async move {
            BODY_RUNS.fetch_add(1, Ordering::SeqCst);
            child
                .step(move |_s: StepContext| {
                    let input = input.clone();
                    async move { Ok::<_, String>(input) }
                })
                .name("echo")
                .await
        },
    )
    .await
}

#[tokio::test]
async fn a_child_codec_stores_plain_text_and_decodes_it_on_replay() {
    let runner = DurableTestRunner::new(shout);
    let first = runner.run_with_id("s", "hello child").await;
    assert_eq!(
        first.result::<String>(),
        "HELLO CHILD",
        "the first run returns the value as the codec reads it back"
    );
    let ctx = first.get_context("shout").unwrap();
    assert_eq!(ctx.record.result.as_deref(), Some("HELLO CHILD"));
    assert!(
        serde_json::from_str::<serde_json::Value>("HELLO CHILD").is_err(),
        "the stored payload is not JSON"
    );
    // The step inside stays JSON.
    assert_eq!(
        first.get_step("echo").unwrap().record.result.as_deref(),
        Some("\"hello child\"")
    );
    let stored = runner
        .store()
        .load_operation("s", &ctx.record.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.result.as_deref(), Some("HELLO CHILD"));

    let runs = BODY_RUNS.load(Ordering::SeqCst);
    let decodes = DECODES.load(Ordering::SeqCst);
    let again = runner.replay("s").await;
    assert_eq!(again.result::<String>(), "HELLO CHILD");
    assert_eq!(
        BODY_RUNS.load(Ordering::SeqCst),
        runs,
        "a finished child is not re-run"
    );
    assert!(
        DECODES.load(Ordering::SeqCst) > decodes,
        "the replay decoded the stored text with the codec"
    );
}

/// A codec that cannot read what it wrote.
struct Forgetful;

impl Serdes<u32> for Forgetful {
    fn serialize(&self, value: &u32) -> Result<String, String> {
        Ok(format!("n={value}"))
    }
    fn deserialize(&self, text: &str) -> Result<u32, String> {
        Err(format!("cannot read {text:?}"))
    }
}

async fn forgetful(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.run_in_child_context_with(
        "counted",
        ChildConfig::default().serdes(Forgetful),
        |_child| async move { Ok::<_, String>(7) },
    )
    .await
}

#[tokio::test]
async fn a_codec_that_cannot_decode_is_named_in_the_error() {
    let runner = DurableTestRunner::new(forgetful);
    let run = runner.run_with_id("f", ()).await;
    assert_eq!(run.status(), InvocationStatus::Failed);
    let error = run.error().expect("an error").error_message.clone();
    assert!(
        error.contains("child context \"counted\"") && error.contains("cannot read \"n=7\""),
        "{error}"
    );
}
