//! Progress of long runs (scoring a benchmark, generating a batch, a paper's experiments).
//!
//! On a terminal this is an indicatif bar. Elsewhere (a log file, `nohup`, a SLURM job, CI)
//! indicatif would draw nothing, so the same bar prints plain lines instead: the first one, then at
//! most one every [`LOG_EVERY`], and the last one when the count is complete.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// The least time between two progress lines in a log.
pub const LOG_EVERY: Duration = Duration::from_secs(15);

/// The one progress setting: 0 = not set (the environment decides), 1 = on, 2 = off.
static SETTING: AtomicU8 = AtomicU8::new(0);

/// Show (or hide) the progress of every long run in this process. The default is on, unless
/// the environment sets `ENTROSCOPE_PROGRESS=0` (or `false`, `off`, `no`).
pub fn set_enabled(on: bool) {
    SETTING.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// Whether long runs show their progress (see [`set_enabled`]).
pub fn enabled() -> bool {
    match SETTING.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => std::env::var("ENTROSCOPE_PROGRESS").map_or(true, |v| {
            !matches!(v.as_str(), "0" | "false" | "off" | "no")
        }),
    }
}

/// A progress bar over `n` steps on stderr, labelled `label`; hidden when progress is off
/// ([`enabled`]), so callers need no branches. `set_message` adds a running status after the
/// counts (e.g. the accuracy so far). A bar on a terminal, progress lines in a log (see the
/// module docs).
pub fn progress_bar(n: usize, label: impl Into<String>) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    if std::io::stderr().is_terminal() {
        styled(ProgressBar::new(n as u64), BAR_TEMPLATE, label)
    } else {
        log_bar(n, label, Box::new(std::io::stderr()))
    }
}

const BAR_TEMPLATE: &str = "{prefix} {bar:30} {pos}/{len} [{elapsed_precise} < {eta}] {msg}";
const LOG_TEMPLATE: &str = "{prefix}: {pos}/{len} ({percent}%), {elapsed} elapsed, eta {eta} {msg}";

fn styled(b: ProgressBar, template: &str, label: impl Into<String>) -> ProgressBar {
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b.set_prefix(label.into());
    b
}

/// A bar whose draws become lines on `out` (what [`progress_bar`] uses off a terminal).
fn log_bar(n: usize, label: impl Into<String>, out: Box<dyn Write + Send>) -> ProgressBar {
    let lines = LogLines {
        state: Mutex::new(LogState {
            out,
            line: String::new(),
            last_time: None,
            last_text: String::new(),
        }),
    };
    let target = ProgressDrawTarget::term_like_with_hz(Box::new(lines), 1);
    styled(
        ProgressBar::with_draw_target(Some(n as u64), target),
        LOG_TEMPLATE,
        label,
    )
}

/// A `TermLike` that ignores cursor moves and turns each draw into one throttled line.
struct LogLines {
    state: Mutex<LogState>,
}

struct LogState {
    out: Box<dyn Write + Send>,
    /// The draw being assembled (indicatif writes it in pieces, then flushes).
    line: String,
    last_time: Option<Instant>,
    last_text: String,
}

impl std::fmt::Debug for LogLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogLines")
    }
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        // Wide enough that indicatif never wraps a line.
        500
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)?;
        self.flush()
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        if let Ok(mut st) = self.state.lock() {
            st.line.push_str(s);
        }
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let Ok(mut st) = self.state.lock() else {
            return Ok(());
        };
        let text = std::mem::take(&mut st.line).trim().to_string();
        if text.is_empty() || text == st.last_text {
            return Ok(());
        }
        let done = text.contains("(100%)");
        let due = st.last_time.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if done || due {
            writeln!(st.out, "{text}")?;
            st.out.flush()?;
            st.last_time = Some(Instant::now());
            st.last_text = text;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_gets_the_first_and_the_last_line_and_little_between() {
        let out = Shared::default();
        let bar = log_bar(1000, "score", Box::new(out.clone()));
        bar.tick();
        for _ in 0..1000 {
            bar.inc(1);
        }
        bar.finish();
        drop(bar);
        let text = String::from_utf8(out.0.lock().map(|v| v.clone()).unwrap_or_default())
            .unwrap_or_default(); // ok: test-only
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 2 && lines.len() <= 3, "{lines:?}");
        assert!(lines[0].starts_with("score: 0/1000 (0%)"), "{lines:?}");
        assert!(
            lines[lines.len() - 1].starts_with("score: 1000/1000 (100%)"),
            "{lines:?}"
        );
    }
}
