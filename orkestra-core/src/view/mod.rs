//! Human-readable views of executions, for a terminal: an indented tree with statuses,
//! durations, errors and causes, map iterations summarised instead of listed.
//!
//! - [`history_tree`] reads a local execution's history (`run --history` on a terminal or with
//!   `--pretty`).
//! - [`durable_tree`] reads a durable execution's records (`durable inspect ID` on a terminal or
//!   with `--pretty`).
//!
//! Both take the same data the machine-readable outputs print, so they never disagree.
//!
//! ```
//! use orkestra::{compose, Context};
//! #[compose]
//! fn one(n: i64, _ctx: &Context) -> i64 { n + 1 }
//! orkestra::workflow!(just_one = one);
//!
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let execution = rt.block_on(orkestra::Engine::default().run(&just_one(), 1.into()));
//! let text = orkestra::view::history_tree(&just_one(), execution.history.events());
//! assert!(text.starts_with("execution SUCCEEDED"));
//! assert!(text.contains("\n  one  SUCCEEDED"), "{text}");
//! ```

mod durable;
mod history;

pub use durable::durable_tree;
pub use history::history_tree;

/// How many map iterations (or failures) a view lists one by one before summarising.
pub const LISTED_ITEMS: usize = 3;

/// `1.234 s`, `12.3 ms`, `45 µs`.
fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.3} s")
    } else if secs >= 1e-3 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// At most `max` characters on one line, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        one_line.chars().take(max - 1).collect::<String>() + "…"
    }
}
