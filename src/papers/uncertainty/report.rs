//! What a run measured: [`Report`] (summaries, every generation, the skipped lines), its frames
//! (`ToFrame` on the summaries and on the records), the Markdown table beside the paper's AUC,
//! and the [`papers::Report`] implementation that names every file a run writes.

use crate::data::SkipReason;
use crate::frame::{self, DataFrame, ToFrame};
use crate::papers::{self, Finding, Verdict};
use crate::plot::Chart;
use crate::stats::roc::auc_standard_error;
use crate::stats::summary::mean_se;
use crate::Result;

use super::experiment::{Record, Summary};
use super::figures;

/// The paper's AUC for GPT-2 XL (final cross-entropy to the sampled token).
pub const PAPER_AUC: f64 = 0.92;

/// Everything a reproduction measured. Its tables, charts and summary come from
/// [`papers::Report`] (`frames`, `charts`, `markdown`, `write`); runs in parts (one model each)
/// combine with [`papers::Report::merge`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// One row per model × set × mode (greedy, sampled).
    pub summaries: Vec<Summary>,
    /// Every generation.
    pub records: Vec<Record>,
    /// `(set, line, reason)` of skipped idiom lines (once per set, whatever the models).
    pub skipped: Vec<(String, usize, SkipReason)>,
}

/// One row per model × set × mode: `model, set, mode, n_idioms, n_skipped, n_generations,
/// accuracy, auc_final_ce, auc_final_entropy, auc_final_ce_truth, best_layer, best_auc,
/// paper_auc`. No rows give an empty frame.
impl ToFrame for [Summary] {
    fn to_frame(&self) -> Result<DataFrame> {
        frame::from_rows(self, |x, row| {
            row.str("model", &x.model)
                .str("set", &x.set)
                .str("mode", &x.mode)
                .usize("n_idioms", x.n_idioms)
                .usize("n_skipped", x.n_skipped)
                .usize("n_generations", x.n_generations)
                .f64("accuracy", x.accuracy)
                .f64("auc_final_ce", x.auc_final_ce)
                .f64("auc_final_entropy", x.auc_final_entropy)
                .f64("auc_final_ce_truth", x.auc_final_ce_truth)
                .usize("best_layer", x.best_layer)
                .f64("best_auc", x.best_auc)
                .f64("paper_auc", PAPER_AUC);
        })
    }
}

/// Every record at every layer, long format: `model, set, idiom, text, mode, sample (−1 =
/// greedy), generated, target, correct, layer, depth, ce_generated, ce_truth, entropy,
/// rank_generated, rank_truth` (tokens as text; CE and entropy in nats; depth = layer / L).
/// No rows give an empty frame.
impl ToFrame for [Record] {
    fn to_frame(&self) -> Result<DataFrame> {
        let cells = self
            .iter()
            .flat_map(|r| (0..r.ce_generated.len()).map(move |l| (r, l)));
        frame::from_rows(cells, |(r, l), row| {
            let n = r.ce_generated.len();
            row.str("model", &r.model)
                .str("set", &r.set)
                .usize("idiom", r.idiom)
                .str("text", &r.text)
                .str("mode", r.mode())
                .i64("sample", r.sample.map_or(-1, |s| s as i64))
                .str("generated", &r.generated_str)
                .str("target", &r.target_str)
                .bool("correct", r.correct)
                .usize("layer", l)
                .f64("depth", l as f64 / (n - 1).max(1) as f64)
                .f64("ce_generated", r.ce_generated[l])
                .f64("ce_truth", r.ce_truth[l])
                .f64("entropy", r.entropy[l])
                .i64("rank_generated", r.rank_generated[l])
                .i64("rank_truth", r.rank_truth[l]);
        })
    }
}

/// The three findings of one model × set from its sampled generations `recs`.
fn findings_of_summary(s: &Summary, recs: &[&Record]) -> Vec<Finding> {
    let label = s.label();
    let (right, wrong) = (
        figures::final_ce(recs, true),
        figures::final_ce(recs, false),
    );
    let ((mr, ser), (mw, sew)) = (
        mean_se(right.iter().copied()),
        mean_se(wrong.iter().copied()),
    );
    // one completion in a group has no spread to judge a difference against
    let split_se = if right.len() < 2 || wrong.len() < 2 {
        f64::NAN
    } else {
        ser.hypot(sew)
    };
    let split = Finding {
        figure: "ce_layers",
        source: "Figure 2",
        claim: "correct and incorrect completions part ways in the upper layers, the incorrect \
                ones ending at a higher cross-entropy to the generated token."
            .into(),
        measured: format!(
            "{label}: final-layer CE {mw:.2} ± {sew:.2} nats for incorrect vs {mr:.2} ± {ser:.2} \
             for correct completions (mean ± standard error; n = {} / {})",
            wrong.len(),
            right.len()
        ),
        verdict: Verdict::of_difference(mw - mr, split_se),
    };
    let (n_wrong, n_right) = (wrong.len(), right.len());
    let se_final = auc_standard_error(s.auc_final_ce, n_wrong, n_right);
    let roc = Finding {
        figure: "roc",
        source: "the abstract; GPT-2 XL",
        claim: format!(
            "the final layer's CE to the sampled token separates incorrect from correct \
             completions, well above chance (ROC AUC {PAPER_AUC}); judged here against chance."
        ),
        measured: format!(
            "{label}: AUC {} ± {se_final:.3} (Hanley–McNeil standard error; n = {n_wrong} \
             incorrect, {n_right} correct; chance 0.5)",
            fmt_auc(s.auc_final_ce)
        ),
        verdict: Verdict::of_difference(s.auc_final_ce - 0.5, se_final),
    };
    let layers = s.auc_by_layer.len().saturating_sub(1);
    let mid = layers / 2;
    let auc_mid = s.auc_by_layer.get(mid).copied().unwrap_or(f64::NAN);
    let se_mid = auc_standard_error(auc_mid, n_wrong, n_right);
    let depth = Finding {
        figure: "auc_vs_layer",
        source: "Figure 2 and the iterative-inference reading",
        claim: "the separation builds up with depth: the last layers tell incorrect from \
                correct completions better than the middle of the network."
            .into(),
        measured: format!(
            "{label}: AUC {} at the last layer ({layers}) against {} at the middle ({mid}); \
             the best layer is {}/{layers} (AUC {})",
            fmt_auc(s.auc_final_ce),
            fmt_auc(auc_mid),
            s.best_layer,
            fmt_auc(s.best_auc)
        ),
        verdict: Verdict::of_difference(s.auc_final_ce - auc_mid, se_final.hypot(se_mid)),
    };
    vec![split, roc, depth]
}

fn fmt_auc(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "n/a".into()
    }
}

impl Report {
    /// The sampled generations of one model × set (what the figures show).
    pub fn sampled(&self, s: &Summary) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.model == s.model && r.set == s.set && r.sample.is_some())
            .collect()
    }

    /// The summaries of the sampled generations, one per model × set (the figures' order).
    pub fn sampled_summaries(&self) -> Vec<&Summary> {
        self.summaries
            .iter()
            .filter(|s| s.mode == "sampled")
            .collect()
    }
}

impl papers::Report for Report {
    /// Per model, set and mode: the best layer's AUC of the correct/incorrect split.
    fn headline(&self) -> String {
        self.summaries
            .iter()
            .map(|s| {
                format!(
                    "{} {} {}: best AUC {:.3} at layer {} (final-layer CE {:.3})",
                    crate::model::short_name(&s.model),
                    s.set,
                    s.mode,
                    s.best_auc,
                    s.best_layer,
                    s.auc_final_ce
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `summary.csv` and `records.parquet` (when the report has rows).
    fn frames(&self) -> Result<Vec<(String, DataFrame)>> {
        let mut out = Vec::new();
        if !self.summaries.is_empty() {
            out.push(("summary.csv".into(), self.summaries.to_frame()?));
        }
        if !self.records.is_empty() {
            out.push(("records.parquet".into(), self.records.to_frame()?));
        }
        Ok(out)
    }

    /// Per model × set (sampled generations) `ce_layers_<tag>.png`
    /// ([`ce_layers_chart`](figures::ce_layers_chart)), `hist_final_ce_<tag>.png`
    /// ([`final_ce_histogram`](figures::final_ce_histogram)), `roc_<tag>.png`
    /// ([`roc_chart`](figures::roc_chart), when both groups are present), with
    /// `<tag>` = [`Summary::tag`]; one `auc_vs_layer.png`
    /// ([`auc_vs_layer_chart`](figures::auc_vs_layer_chart)) when a layer AUC is defined.
    fn charts(&self) -> Result<Vec<(String, Chart)>> {
        let mut out = Vec::new();
        for s in self.sampled_summaries() {
            if self.sampled(s).is_empty() {
                continue;
            }
            let tag = s.tag();
            out.push((
                format!("ce_layers_{tag}.png"),
                figures::ce_layers_chart(self, s)?,
            ));
            out.push((
                format!("hist_final_ce_{tag}.png"),
                figures::final_ce_histogram(self, s)?,
            ));
            if s.auc_final_ce.is_finite() {
                out.push((format!("roc_{tag}.png"), figures::roc_chart(self, s)?));
            }
        }
        if self
            .sampled_summaries()
            .iter()
            .any(|s| s.auc_by_layer.iter().any(|a| a.is_finite()))
        {
            out.push((
                "auc_vs_layer.png".into(),
                figures::auc_vs_layer_chart(self)?,
            ));
        }
        Ok(out)
    }

    /// Per model × set (sampled generations): Figure 2's split of the upper layers' CE, the
    /// final CE's AUC (the paper's 0.92) and where across depth the separation appears.
    fn findings(&self) -> Vec<Finding> {
        self.sampled_summaries()
            .into_iter()
            .flat_map(|s| findings_of_summary(s, &self.sampled(s)))
            .collect()
    }

    /// The findings, then the results table, one row per model × set × mode, with the paper's
    /// AUC for comparison.
    fn markdown(&self) -> String {
        let mut s = papers::finding::section(&papers::Report::findings(self));
        s.push_str(
            "| model | set | mode | idioms (skipped) | generations | accuracy | AUC final CE | AUC final entropy | AUC final CE to truth | best layer (AUC) | paper (GPT-2 XL) |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for m in &self.summaries {
            s += &format!(
                "| {} | {} | {} | {} ({}) | {} | {:.3} | {} | {} | {} | {}/{} ({}) | {PAPER_AUC} |\n",
                m.model,
                m.set,
                m.mode,
                m.n_idioms,
                m.n_skipped,
                m.n_generations,
                m.accuracy,
                fmt_auc(m.auc_final_ce),
                fmt_auc(m.auc_final_entropy),
                fmt_auc(m.auc_final_ce_truth),
                m.best_layer,
                m.auc_by_layer.len().saturating_sub(1),
                fmt_auc(m.best_auc),
            );
        }
        s
    }

    /// `results.md`.
    fn markdown_name(&self) -> &'static str {
        "results.md"
    }

    /// Appends the other run's summaries and records; a skipped line already listed (the same
    /// set read by both runs) is kept once.
    fn merge(&mut self, other: Self) {
        self.summaries.extend(other.summaries);
        self.records.extend(other.records);
        for s in other.skipped {
            if !self.skipped.contains(&s) {
                self.skipped.push(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::papers::finding::figure_verdicts;
    use crate::papers::uncertainty::summarize;
    use crate::papers::Report as _;

    /// A sampled completion over layers 0, 1, 2: CE 9 at the embeddings, 3 at layer 1 for
    /// every record (no separation in the middle), `last` at the final layer.
    fn record(set: &str, correct: bool, last: f32) -> Record {
        Record {
            model: "SmolLM2-135M-Instruct.Q4_1".into(),
            set: set.into(),
            idiom: 0,
            text: "rule of thumb".into(),
            sample: Some(0),
            generated: u32::from(!correct),
            generated_str: " thumb".into(),
            target: 0,
            target_str: " thumb".into(),
            correct,
            ce_generated: vec![9.0, 3.0, last],
            ce_truth: vec![9.0, 3.0, last],
            entropy: vec![5.0, 3.0, last],
            rank_generated: vec![9, 3, 0],
            rank_truth: vec![9, 3, 0],
        }
    }

    fn report(sets: &[(&str, [f32; 4], [f32; 4])]) -> Report {
        let mut r = Report::default();
        for (set, right, wrong) in sets {
            let recs: Vec<Record> = right
                .iter()
                .map(|&c| record(set, true, c))
                .chain(wrong.iter().map(|&c| record(set, false, c)))
                .collect();
            let refs: Vec<&Record> = recs.iter().collect();
            r.summaries
                .push(summarize(&refs, 8, 0).unwrap_or_else(|e| panic!("{e}"))); // ok: test-only
            r.records.extend(recs);
        }
        r
    }

    #[test]
    fn findings_by_hand() {
        // "static": incorrect completions end at CE 6–9, correct ones at 1–4.
        //   split: means 7.5 vs 2.5, sample std √(5/3) each → se √(5/12) per group, hypot 0.91;
        //          5 > 2 × 0.91 → shows.
        //   roc: AUC 1 (every incorrect above every correct) → Hanley–McNeil se 0 → shows.
        //   depth: layer 1 (the middle of 2) ties everything → AUC ½, se √(0.75/16) = 0.217;
        //          1 − ½ = 0.5 > 0.433 → shows.
        // "formal": the same with the groups swapped → all three reversed.
        let r = report(&[
            ("static", [1.0, 2.0, 3.0, 4.0], [6.0, 7.0, 8.0, 9.0]),
            ("formal", [6.0, 7.0, 8.0, 9.0], [1.0, 2.0, 3.0, 4.0]),
        ]);
        let got = figure_verdicts(&r.findings());
        assert_eq!(
            got,
            [
                ("ce_layers", Verdict::Shows),
                ("roc", Verdict::Shows),
                ("auc_vs_layer", Verdict::Shows),
                ("ce_layers", Verdict::Reversed),
                ("roc", Verdict::Reversed),
                ("auc_vs_layer", Verdict::Reversed),
            ]
        );
        let f = r.findings();
        assert!(
            f[0].measured
                .contains("7.50 ± 0.65 nats for incorrect vs 2.50 ± 0.65"),
            "{}",
            f[0].measured
        );
        assert!(f[0].measured.contains("n = 4 / 4"), "{}", f[0].measured);
        assert!(
            f[2].measured
                .contains("AUC 1.000 at the last layer (2) against 0.500 at the middle (1)"),
            "{}",
            f[2].measured
        );
        // every finding names a chart the report writes, and the summary opens with them
        let charts: Vec<String> = r
            .charts()
            .unwrap_or_else(|e| panic!("{e}")) // ok: test-only
            .into_iter()
            .map(|c| c.0)
            .collect();
        for f in &f {
            assert!(
                charts.iter().any(|c| c.starts_with(f.figure)),
                "{} not in {charts:?}",
                f.figure
            );
        }
        assert!(r.markdown().starts_with("## Against the paper"));
    }

    #[test]
    fn a_group_of_one_is_not_judged() {
        let r = report(&[("static", [1.0, 1.0, 1.0, 1.0], [6.0, 7.0, 8.0, 9.0])]);
        let mut one = r.clone();
        // keep one correct completion only
        let mut seen = false;
        one.records
            .retain(|x| !x.correct || !std::mem::replace(&mut seen, true));
        let refs: Vec<&Record> = one.records.iter().collect();
        one.summaries = vec![summarize(&refs, 5, 0).unwrap_or_else(|e| panic!("{e}"))]; // ok: test-only
        let v: Vec<Verdict> = one.findings().iter().map(|f| f.verdict).collect();
        assert_eq!(
            v,
            [
                Verdict::NotMeasured,
                Verdict::NotMeasured,
                Verdict::NotMeasured
            ]
        );
    }
}
