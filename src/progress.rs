//! Progress of long runs (scoring a benchmark, generating a batch, a paper's experiments).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar over `n` steps on stderr, labelled `label` (`on = false`: a hidden one, so
/// callers need no branches). `set_message` adds a running status after the counts (e.g. the
/// accuracy so far). Drawn only when stderr is a terminal.
pub fn progress_bar(on: bool, n: usize, label: impl Into<String>) -> ProgressBar {
    if !on {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} {bar:30} {pos}/{len} [{elapsed_precise} < {eta}] {msg}",
    ) {
        b.set_style(style);
    }
    b.set_prefix(label.into());
    b
}
