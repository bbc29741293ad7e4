//! Progress bars on stderr (`indicatif`), shown only when stderr is a terminal.
//!
//! [`TerminalProgress`] implements the local engine's [`Progress`] hook (one bar per map
//! state: items done / total, failures, rate, ETA) and, given to
//! [`DurableExecutor::with_progress`](crate::durable::DurableExecutor::with_progress), the
//! draws the durable maps' bars too.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{MapProgress, Progress};

/// The bar's look: `divide_by [=====>    ] 6/10 (60%) · 1 failed · 12/s · ETA 0s`.
fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>20} [{bar:30}] {pos}/{len} ({percent}%) · {msg} · {rate} · ETA {eta}",
    )
    .expect("the template is valid")
    .with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        },
    )
    .progress_chars("=> ")
}

/// Whether bars should be drawn: stderr is a terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Progress bars on stderr for the local engine's map states.
///
/// ```
/// use orkestra::progress::TerminalProgress;
/// // Draws only when stderr is a terminal; otherwise `None` and nothing is printed.
/// let engine = match TerminalProgress::if_terminal() {
///     Some(bars) => orkestra::Engine::default().with_progress(std::sync::Arc::new(bars)),
///     None => orkestra::Engine::default(),
/// };
/// # let _ = engine;
/// ```
#[derive(Debug, Clone)]
pub struct TerminalProgress {
    bars: MultiProgress,
}

impl TerminalProgress {
    /// Bars drawn on stderr, whatever stderr is (tests use [`if_terminal`](Self::if_terminal)).
    pub fn new() -> TerminalProgress {
        TerminalProgress {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
        }
    }

    /// Bars when stderr is a terminal, else `None`.
    pub fn if_terminal() -> Option<TerminalProgress> {
        stderr_is_terminal().then(TerminalProgress::new)
    }

    /// A bar for `total` items named `name`.
    pub fn bar(&self, name: &str, total: usize) -> ItemBar {
        let bar = ProgressBar::hidden();
        bar.set_length(total as u64);
        bar.set_style(style());
        bar.set_prefix(name.to_string());
        bar.set_message("0 failed");
        let bar = self.bars.add(bar);
        bar.enable_steady_tick(Duration::from_millis(200));
        ItemBar {
            bar,
            failed: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl TerminalProgress {
    /// A spinner among the bars, for work without a known total (e.g. `durable worker`'s
    /// counts of executions run).
    ///
    /// ```
    /// let bars = orkestra::progress::TerminalProgress::new();
    /// let spinner = bars.spinner();
    /// spinner.set_message("3 runs, 2 finished");
    /// spinner.finish_and_clear();
    /// ```
    pub fn spinner(&self) -> ProgressBar {
        let spinner = self.bars.add(ProgressBar::new_spinner());
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        TerminalProgress::new()
    }
}

/// One map's bar.
#[derive(Debug, Clone)]
pub struct ItemBar {
    bar: ProgressBar,
    failed: Arc<AtomicU64>,
}

impl ItemBar {
    /// Counts `n` more items done, `failed` of them failures.
    pub fn advance(&self, n: u64, failed: u64) {
        if failed > 0 {
            let total = self.failed.fetch_add(failed, Ordering::Relaxed) + failed;
            self.bar.set_message(format!("{total} failed"));
        }
        self.bar.inc(n);
    }

    /// Sets the position (items done so far) and failures, e.g. on resume.
    pub fn set(&self, done: u64, failed: u64) {
        self.failed.store(failed, Ordering::Relaxed);
        self.bar.set_message(format!("{failed} failed"));
        self.bar.set_position(done);
    }

    /// Draws the final state and leaves the bar on screen.
    pub fn finish(&self, succeeded: bool) {
        if !succeeded {
            let failed = self.failed.load(Ordering::Relaxed);
            self.bar
                .set_message(format!("{failed} failed · map failed"));
        }
        self.bar.finish();
    }
}

impl Progress for TerminalProgress {
    fn map_started(&self, state: &str, total: usize) -> Box<dyn MapProgress> {
        Box::new(self.bar(state, total))
    }
}

impl MapProgress for ItemBar {
    fn item_done(&self, failed: bool) {
        self.advance(1, u64::from(failed));
    }

    fn finished(&self, succeeded: bool) {
        self.finish(succeeded);
    }
}
