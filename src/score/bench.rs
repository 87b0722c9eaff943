//! The multiple-choice metrics (MC1/MC2/MC3) and the benchmarks that score a dataset with a
//! [`Scorer`]: TruthfulQA MC and FACTOR news / expert, each a report with a frame per question.

use std::fmt;
use std::str::FromStr;

use super::{ScoreMethod, Scorer};
use crate::data::{self, Checkpoint, FactorItem, FactorSplit, Shard, TruthfulQaItem};
use crate::frame::{self, ColumnData, DataFrame, ToFrame};
use crate::model::Lm;
use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------
// Multiple-choice metrics
// ---------------------------------------------------------------------------------------------

/// TruthfulQA's MC scores of one question.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McScores {
    /// 1 if the best correct answer scores strictly above every incorrect one, else 0.
    pub mc1: f64,
    /// Probability mass of the correct answers: `Σ_true e^s / (Σ_true e^s + Σ_false e^s)`
    /// (log-sum-exp, so very negative scores do not underflow).
    pub mc2: f64,
    /// Fraction of correct answers scoring strictly above every incorrect one.
    pub mc3: f64,
}

/// MC1 / MC2 / MC3 from the scores of the correct and incorrect answers (TruthfulQA's
/// `MC_calcs`, strict `>`); `best` indexes the best answer in `scores_true`.
///
/// ```
/// use entroscope::score::mc_scores;
/// // true: ln 0.5, ln 0.1; false: ln 0.2, ln 0.2; best = 0
/// let s = mc_scores(&[0.5f64.ln(), 0.1f64.ln()], &[0.2f64.ln(), 0.2f64.ln()], 0)?;
/// assert_eq!((s.mc1, s.mc3), (1.0, 0.5));
/// assert!((s.mc2 - 0.6).abs() < 1e-12); // 0.6 / (0.6 + 0.4)
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn mc_scores(scores_true: &[f64], scores_false: &[f64], best: usize) -> Result<McScores> {
    if scores_true.is_empty() || scores_false.is_empty() {
        return Err(Error::invalid(
            "scores",
            format!("{} true, {} false", scores_true.len(), scores_false.len()),
            "at least one correct and one incorrect answer",
        ));
    }
    let Some(&best_score) = scores_true.get(best) else {
        return Err(Error::invalid(
            "best",
            best,
            format!("an index into the {} correct answers", scores_true.len()),
        ));
    };
    if scores_true.iter().chain(scores_false).any(|x| x.is_nan()) {
        return Err(Error::NonFinite {
            what: "answer scores".into(),
        });
    }
    let max_false = scores_false
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let mc1 = if best_score > max_false { 1.0 } else { 0.0 };
    let above = scores_true.iter().filter(|&&s| s > max_false).count();
    let mc3 = above as f64 / scores_true.len() as f64;
    let lse = |v: &[f64]| {
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            m
        } else {
            m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        }
    };
    let (lt, lf) = (lse(scores_true), lse(scores_false));
    // p_true = 1 / (1 + e^(lf − lt))
    let mc2 = if lt == f64::NEG_INFINITY && lf == f64::NEG_INFINITY {
        0.0
    } else {
        1.0 / (1.0 + (lf - lt).exp())
    };
    Ok(McScores { mc1, mc2, mc3 })
}

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------

/// The multiple-choice benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bench {
    /// TruthfulQA MC1/MC2/MC3 (817 questions).
    TruthfulQaMc,
    /// FACTOR news (1036 items).
    FactorNews,
    /// FACTOR expert (236 items).
    FactorExpert,
}

impl Bench {
    /// The FACTOR benchmark of a split.
    pub fn factor(split: FactorSplit) -> Self {
        match split {
            FactorSplit::News => Bench::FactorNews,
            FactorSplit::Expert => Bench::FactorExpert,
        }
    }
}

impl fmt::Display for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bench::TruthfulQaMc => "truthfulqa-mc",
            Bench::FactorNews => "factor-news",
            Bench::FactorExpert => "factor-expert",
        })
    }
}

impl FromStr for Bench {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "truthfulqa-mc" | "truthfulqa" | "tfqa" => Ok(Bench::TruthfulQaMc),
            "factor-news" | "news" => Ok(Bench::FactorNews),
            "factor-expert" | "expert" => Ok(Bench::FactorExpert),
            _ => Err(Error::invalid(
                "bench",
                s,
                "`truthfulqa-mc`, `factor-news` or `factor-expert`",
            )),
        }
    }
}

/// Options of the benchmark runners.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// Score only the first `n` items (`--quick`).
    pub limit: Option<usize>,
    /// Score only this shard of those items (`--shard i/n`; `None` = all). The per-item tables of
    /// the shards merge into the unsharded one ([`crate::data::merge_parts`]); the means of a
    /// shard are over its own items.
    pub shard: Option<Shard>,
    /// Keep each item's scores here as they are computed, and read back those a killed run of
    /// the same benchmark and method kept (one checkpoint per report; `None`: keep nothing).
    pub checkpoint: Option<Checkpoint>,
}

impl BenchOptions {
    /// One item's scores (`[methods][continuations]`, of `shape`): read back from the checkpoint
    /// when a killed run kept them whole and of that shape, else computed by `score` and kept. Scores are f64 and
    /// round-trip exactly, so a resumed report equals an uninterrupted one.
    fn load_or_score(
        &self,
        key: usize,
        shape: (usize, usize),
        score: impl FnOnce() -> Result<Vec<Vec<f64>>>,
    ) -> Result<Vec<Vec<f64>>> {
        let Some(cp) = &self.checkpoint else {
            return score();
        };
        let read = |df: DataFrame| -> Result<Vec<Vec<f64>>> {
            df.get_column_names()
                .iter()
                .map(|n| frame::column_f64(&df, n.as_str()))
                .collect()
        };
        let fits = |v: &Vec<Vec<f64>>| v.len() == shape.0 && v.iter().all(|c| c.len() == shape.1);
        if let Some(v) = cp.load(key).and_then(|df| read(df).ok()).filter(fits) {
            return Ok(v);
        }
        let v = score()?;
        let names: Vec<String> = (0..v.len()).map(|i| format!("method_{i}")).collect();
        let df = frame::frame_from_columns(
            names
                .iter()
                .zip(&v)
                .map(|(n, c)| (n.as_str(), ColumnData::F64(c.clone())))
                .collect(),
        )?;
        cp.save(key, &df)?;
        Ok(v)
    }

    /// The items to score: the first [`limit`](Self::limit), then this [`shard`](Self::shard)'s.
    /// A shard left without items is an error: the run has more shards than items.
    fn select<T: Clone>(&self, items: &[T]) -> Result<Vec<T>> {
        let first = data::take_first(items, self.limit);
        let Some(shard) = self.shard else {
            return Ok(first);
        };
        let mine: Vec<T> = shard
            .select(&first)
            .into_iter()
            .map(|(_, t)| t.clone())
            .collect();
        if mine.is_empty() && !first.is_empty() {
            return Err(Error::invalid(
                "shard",
                shard,
                format!("at most as many shards as items ({})", first.len()),
            ));
        }
        Ok(mine)
    }
}

/// One scored TruthfulQA question.
#[derive(Debug, Clone, PartialEq)]
pub struct McItem {
    /// Row index in the CSV.
    pub index: usize,
    /// The question.
    pub question: String,
    /// Scores of the correct answers (in the file's order).
    pub scores_true: Vec<f64>,
    /// Scores of the incorrect answers.
    pub scores_false: Vec<f64>,
    /// Index of the best answer among the correct ones.
    pub best_index: usize,
    /// MC1 / MC2 / MC3.
    pub mc: McScores,
}

/// TruthfulQA MC results: per question and the means.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthfulQaReport {
    /// Model name.
    pub model: String,
    /// Method name.
    pub method: String,
    /// Per question.
    pub items: Vec<McItem>,
    /// Means over the questions.
    pub mean: McScores,
}

/// Score TruthfulQA questions: each answer `a` as the continuation `" " + a` of
/// [`truthfulqa_prompt`](crate::data::truthfulqa_prompt)`(question)`.
pub fn score_truthfulqa(
    lm: &Lm,
    items: &[TruthfulQaItem],
    method: &ScoreMethod,
    opts: &BenchOptions,
) -> Result<TruthfulQaReport> {
    let scorer = Scorer::new(lm, method.clone())?;
    let items = opts.select(items)?;
    if items.is_empty() {
        return Err(Error::NotEnoughData(
            "no TruthfulQA question to score".into(),
        ));
    }
    let bar =
        crate::progress::progress_bar(items.len(), format!("truthfulqa-mc ({})", method.name()));
    let mut out = Vec::with_capacity(items.len());
    let mut sums = [0f64; 3];
    for it in &items {
        let prefix = data::truthfulqa_prompt(&it.question);
        let conts = it.continuations();
        let nt = it.correct_answers.len();
        let scores = opts
            .load_or_score(it.index, (1, conts.len()), || {
                Ok(vec![scorer
                    .score_many(&prefix, &conts)?
                    .iter()
                    .map(|c| c.total)
                    .collect()])
            })?
            .swap_remove(0);
        let (st, sf) = scores.split_at(nt);
        let mc = mc_scores(st, sf, it.best_index)?;
        sums[0] += mc.mc1;
        sums[1] += mc.mc2;
        sums[2] += mc.mc3;
        out.push(McItem {
            index: it.index,
            question: it.question.clone(),
            scores_true: st.to_vec(),
            scores_false: sf.to_vec(),
            best_index: it.best_index,
            mc,
        });
        let k = out.len() as f64;
        bar.set_message(format!(
            "MC1 {:.3} MC2 {:.3} MC3 {:.3}",
            sums[0] / k,
            sums[1] / k,
            sums[2] / k
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let k = out.len() as f64;
    Ok(TruthfulQaReport {
        model: lm.name().to_string(),
        method: method.name().to_string(),
        items: out,
        mean: McScores {
            mc1: sums[0] / k,
            mc2: sums[1] / k,
            mc3: sums[2] / k,
        },
    })
}

/// One scored FACTOR item.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorResult {
    /// Row index in the CSV.
    pub index: usize,
    /// Score of the true completion.
    pub score_true: f64,
    /// Scores of the three contradictions.
    pub scores_false: [f64; 3],
    /// The true completion scores at least as high as every contradiction (the reference counts a
    /// tie as correct).
    pub correct: bool,
}

/// FACTOR results.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorReport {
    /// Model name.
    pub model: String,
    /// Method name.
    pub method: String,
    /// Which split.
    pub split: FactorSplit,
    /// Per item.
    pub items: Vec<FactorResult>,
    /// Fraction correct.
    pub accuracy: f64,
}

/// Score FACTOR items: the completion and the three contradictions as continuations `" " + text`
/// of the prefix; correct iff no contradiction scores strictly higher.
pub fn score_factor(
    lm: &Lm,
    items: &[FactorItem],
    split: FactorSplit,
    method: &ScoreMethod,
    opts: &BenchOptions,
) -> Result<FactorReport> {
    Ok(score_factor_each(lm, items, split, std::slice::from_ref(method), opts)?.swap_remove(0))
}

/// [`score_factor`] under several methods from one pass over the items (each item's prefix and
/// continuations run through the model once for all of them: [`Scorer::with_methods`]); one
/// report per method, in order.
pub fn score_factor_each(
    lm: &Lm,
    items: &[FactorItem],
    split: FactorSplit,
    methods: &[ScoreMethod],
    opts: &BenchOptions,
) -> Result<Vec<FactorReport>> {
    let scorer = Scorer::with_methods(lm, methods.to_vec())?;
    let items = opts.select(items)?;
    if items.is_empty() {
        return Err(Error::NotEnoughData("no FACTOR item to score".into()));
    }
    let names: Vec<&str> = methods.iter().map(ScoreMethod::name).collect();
    let bar = crate::progress::progress_bar(
        items.len(),
        format!("factor-{split} ({})", names.join(", ")),
    );
    let mut out: Vec<Vec<FactorResult>> = methods.iter().map(|_| Vec::new()).collect();
    let mut right = vec![0usize; methods.len()];
    for it in &items {
        let conts = [
            format!(" {}", it.completion),
            format!(" {}", it.contradictions[0]),
            format!(" {}", it.contradictions[1]),
            format!(" {}", it.contradictions[2]),
        ];
        let scores = opts.load_or_score(it.index, (methods.len(), conts.len()), || {
            Ok(scorer
                .score_many_each(&it.prefix, &conts)?
                .iter()
                .map(|s| s.iter().map(|c| c.total).collect())
                .collect())
        })?;
        for ((s, o), r) in scores.into_iter().zip(&mut out).zip(&mut right) {
            let t = s[0];
            let f = [s[1], s[2], s[3]];
            let correct = f
                .iter()
                .all(|x| x.partial_cmp(&t) != Some(std::cmp::Ordering::Greater));
            *r += usize::from(correct);
            o.push(FactorResult {
                index: it.index,
                score_true: t,
                scores_false: f,
                correct,
            });
        }
        let n = out[0].len() as f64;
        let acc: Vec<String> = right
            .iter()
            .map(|r| format!("{:.3}", *r as f64 / n))
            .collect();
        bar.set_message(format!("acc {}", acc.join(" / ")));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(methods
        .iter()
        .zip(out)
        .zip(right)
        .map(|((m, items), right)| FactorReport {
            model: lm.name().to_string(),
            method: m.name().to_string(),
            split,
            accuracy: right as f64 / items.len() as f64,
            items,
        })
        .collect())
}

/// A benchmark's report.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchReport {
    /// TruthfulQA MC.
    TruthfulQa(TruthfulQaReport),
    /// FACTOR.
    Factor(FactorReport),
}

impl BenchReport {
    /// One line: model, bench, method, number of items and the metrics.
    pub fn summary(&self) -> String {
        match self {
            BenchReport::TruthfulQa(r) => format!(
                "{} truthfulqa-mc {} (n={}): MC1 {:.4} MC2 {:.4} MC3 {:.4}",
                r.model,
                r.method,
                r.items.len(),
                r.mean.mc1,
                r.mean.mc2,
                r.mean.mc3
            ),
            BenchReport::Factor(r) => format!(
                "{} factor-{} {} (n={}): accuracy {:.4}",
                r.model,
                r.split,
                r.method,
                r.items.len(),
                r.accuracy
            ),
        }
    }

    /// One row: `model, bench, method, n, mc1, mc2, mc3, accuracy, seconds` (MC columns are NaN
    /// for FACTOR, accuracy is NaN for TruthfulQA; `seconds` = the run's wall time, as given).
    pub fn summary_frame(&self, seconds: f64) -> Result<DataFrame> {
        let (model, bench, method, n, mc, acc) = match self {
            BenchReport::TruthfulQa(r) => (
                &r.model,
                Bench::TruthfulQaMc.to_string(),
                &r.method,
                r.items.len(),
                Some(r.mean),
                None,
            ),
            BenchReport::Factor(r) => (
                &r.model,
                format!("factor-{}", r.split),
                &r.method,
                r.items.len(),
                None,
                Some(r.accuracy),
            ),
        };
        let opt = |x: Option<f64>| ColumnData::F64(vec![x.unwrap_or(f64::NAN)]);
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![model.clone()])),
            ("bench", ColumnData::Str(vec![bench])),
            ("method", ColumnData::Str(vec![method.clone()])),
            ("n", ColumnData::I64(vec![n as i64])),
            ("mc1", opt(mc.map(|m| m.mc1))),
            ("mc2", opt(mc.map(|m| m.mc2))),
            ("mc3", opt(mc.map(|m| m.mc3))),
            ("accuracy", opt(acc)),
            ("seconds", ColumnData::F64(vec![seconds])),
        ])
    }
}

/// Load the benchmark's data from [`data::data_dir`] and score it.
pub fn run_bench(
    lm: &Lm,
    bench: Bench,
    method: &ScoreMethod,
    opts: &BenchOptions,
) -> Result<BenchReport> {
    match bench {
        Bench::TruthfulQaMc => Ok(BenchReport::TruthfulQa(score_truthfulqa(
            lm,
            &data::truthfulqa()?,
            method,
            opts,
        )?)),
        Bench::FactorNews | Bench::FactorExpert => {
            let split = if bench == Bench::FactorNews {
                FactorSplit::News
            } else {
                FactorSplit::Expert
            };
            Ok(BenchReport::Factor(score_factor(
                lm,
                &data::factor(split)?,
                split,
                method,
                opts,
            )?))
        }
    }
}

/// Per question: `model, method, index, question, mc1, mc2, mc3, n_true, n_false, best_score,
/// max_false`.
impl ToFrame for TruthfulQaReport {
    fn to_frame(&self) -> Result<DataFrame> {
        let n = self.items.len();
        let f = |g: &dyn Fn(&McItem) -> f64| ColumnData::F64(self.items.iter().map(g).collect());
        let i = |g: &dyn Fn(&McItem) -> i64| ColumnData::I64(self.items.iter().map(g).collect());
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![self.model.clone(); n])),
            ("method", ColumnData::Str(vec![self.method.clone(); n])),
            ("index", i(&|m| m.index as i64)),
            (
                "question",
                ColumnData::Str(self.items.iter().map(|m| m.question.clone()).collect()),
            ),
            ("mc1", f(&|m| m.mc.mc1)),
            ("mc2", f(&|m| m.mc.mc2)),
            ("mc3", f(&|m| m.mc.mc3)),
            ("n_true", i(&|m| m.scores_true.len() as i64)),
            ("n_false", i(&|m| m.scores_false.len() as i64)),
            (
                "best_score",
                f(&|m| m.scores_true.get(m.best_index).copied().unwrap_or(f64::NAN)),
            ),
            (
                "max_false",
                f(&|m| {
                    m.scores_false
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max)
                }),
            ),
        ])
    }
}

/// Per item: `model, method, split, index, score_true, score_false_0..2, correct`.
impl ToFrame for FactorReport {
    fn to_frame(&self) -> Result<DataFrame> {
        let n = self.items.len();
        let f =
            |g: &dyn Fn(&FactorResult) -> f64| ColumnData::F64(self.items.iter().map(g).collect());
        frame::frame_from_columns(vec![
            (frame::MODEL, ColumnData::Str(vec![self.model.clone(); n])),
            ("method", ColumnData::Str(vec![self.method.clone(); n])),
            ("split", ColumnData::Str(vec![self.split.to_string(); n])),
            (
                "index",
                ColumnData::I64(self.items.iter().map(|r| r.index as i64).collect()),
            ),
            ("score_true", f(&|r| r.score_true)),
            ("score_false_0", f(&|r| r.scores_false[0])),
            ("score_false_1", f(&|r| r.scores_false[1])),
            ("score_false_2", f(&|r| r.scores_false[2])),
            (
                "correct",
                ColumnData::Bool(self.items.iter().map(|r| r.correct).collect()),
            ),
        ])
    }
}

impl ToFrame for BenchReport {
    fn to_frame(&self) -> Result<DataFrame> {
        match self {
            BenchReport::TruthfulQa(r) => r.to_frame(),
            BenchReport::Factor(r) => r.to_frame(),
        }
    }
}
