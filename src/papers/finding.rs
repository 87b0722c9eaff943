//! [`Finding`]: a paper's claim beside what one run measured, so that every figure carries a
//! sentence a reader can check — including where the effect is absent or reversed.

use std::fmt;

/// Whether a run shows a paper's effect, judged against the run's own noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The effect is there, in the paper's direction (beyond two standard errors, or by the
    /// finding's own rule, which its text states).
    Shows,
    /// No effect beyond two standard errors either way (too few items, or none).
    Absent,
    /// The opposite of the paper's effect (beyond two standard errors, or by the finding's rule).
    Reversed,
    /// The run has no data for it (a part not run, a group without members).
    NotMeasured,
}

impl Verdict {
    /// The verdict on a difference `diff` (positive = the paper's direction) with standard
    /// error `se`: beyond ± 2 `se` it shows or is reversed, within it absent; NaN is not
    /// measured (callers give a group of fewer than two items a NaN standard error).
    ///
    /// ```
    /// use entroscope::papers::Verdict;
    /// assert_eq!(Verdict::of_difference(0.3, 0.1), Verdict::Shows);
    /// assert_eq!(Verdict::of_difference(0.15, 0.1), Verdict::Absent);
    /// assert_eq!(Verdict::of_difference(-0.3, 0.1), Verdict::Reversed);
    /// assert_eq!(Verdict::of_difference(f64::NAN, 0.1), Verdict::NotMeasured);
    /// ```
    pub fn of_difference(diff: f64, se: f64) -> Self {
        if !diff.is_finite() || !se.is_finite() {
            Verdict::NotMeasured
        } else if diff > 2.0 * se {
            Verdict::Shows
        } else if diff < -2.0 * se {
            Verdict::Reversed
        } else {
            Verdict::Absent
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Shows => "the effect shows",
            Verdict::Absent => "the effect is absent (within two standard errors)",
            Verdict::Reversed => "the effect is reversed",
            Verdict::NotMeasured => "not measured in this run",
        })
    }
}

/// A paper's claim beside what this run measured: the text a notebook shows under a figure
/// and a report's summary lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The chart it belongs to: the file name the report's `charts()` gives it, without the
    /// model or extension (e.g. `ce_layers`).
    pub figure: &'static str,
    /// Where the paper shows it (e.g. "Figure 2", "the abstract's AUC").
    pub source: &'static str,
    /// The paper's claim, in a sentence.
    pub claim: String,
    /// What this run measured, with its n and standard errors.
    pub measured: String,
    /// Whether the effect shows here.
    pub verdict: Verdict,
}

impl Finding {
    /// The finding as one Markdown paragraph.
    pub fn markdown(&self) -> String {
        format!(
            "**The paper** ({}): {} **This run:** {} — *{}*.",
            self.source, self.claim, self.measured, self.verdict
        )
    }
}

/// A report's findings as a Markdown section ("Against the paper"), empty without findings.
pub fn section(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut s = String::from("## Against the paper\n\n");
    for f in findings {
        s.push_str("- ");
        s.push_str(&f.markdown());
        s.push('\n');
    }
    s.push('\n');
    s
}

/// Each finding's chart and verdict, in order: what the reports' tests compare with hand-derived
/// verdicts.
#[cfg(test)]
pub(crate) fn figure_verdicts(findings: &[Finding]) -> Vec<(&'static str, Verdict)> {
    findings.iter().map(|f| (f.figure, f.verdict)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_names_the_claim_the_measurement_and_the_verdict() {
        let f = Finding {
            figure: "roc",
            source: "Figure 3",
            claim: "AUC 0.92.".into(),
            measured: "AUC 0.51 ± 0.04 (n = 80)".into(),
            verdict: Verdict::of_difference(0.01, 0.04),
        };
        assert_eq!(
            f.markdown(),
            "**The paper** (Figure 3): AUC 0.92. **This run:** AUC 0.51 ± 0.04 (n = 80) — \
             *the effect is absent (within two standard errors)*."
        );
        assert!(section(&[f]).starts_with("## Against the paper\n\n- **The paper**"));
        assert_eq!(section(&[]), "");
    }
}
