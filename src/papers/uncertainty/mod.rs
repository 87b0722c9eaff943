//! Reproduction of *Uncovering Uncertainty in Transformer Inference* (Brothers et al., arXiv
//! 2412.05768): idiom completion, per-layer cross-entropy through the logit lens, and the ROC AUC
//! of "the generation is wrong" against the final cross-entropy to the sampled token.
//!
//! No code was published with the paper, so every choice below is ours:
//! - **Data**: the EPIE idiom lists (`data/epie/`, one idiom per line). A line is cleaned
//!   ([`split_idiom`]): parentheses are unwrapped (`(somebody)` → `somebody`), the placeholder
//!   `[pron]` becomes `it` when it is the last word (`sleep on [pron]` → `sleep on it`) and
//!   `their` elsewhere (`make up [pron] mind` → `make up their mind`), trailing punctuation of
//!   the last word is dropped (`… uncle!` → last word `uncle`). Empty lines and one-word idioms
//!   are *skipped and counted* ([`SkipReason`]), never silently lost.
//! - **Prompt** = [`INSTRUCTION`] + `"\n"` + the idiom without its last word, encoded with
//!   [`Lm::encode`] (the tokenizer's default special tokens; Gemma adds BOS). No chat template.
//! - **Ground truth** = the first token of `" " + last word` encoded without special tokens
//!   ([`Lm::encode_plain`]); for multi-token last words only that first token counts.
//! - **Generation**: one token. Greedy (argmax of the final logits) and `n_samples` samples at
//!   T = 1 from the whole distribution ([`sample_t1`]: inverse-CDF draw from a
//!   `StdRng::seed_from_u64`), seeded per idiom and sample with `seed + 1000·idiom + sample`
//!   (so any subset of idioms reproduces the same draws).
//!   `correct` = generated token id equals the ground-truth id.
//! - **Per layer** (normed logit lens, layer 0 = embeddings … L = final logits): entropy,
//!   cross-entropy −log p(token) of the generated token and of the ground-truth token, and their
//!   0-based ranks ([`layer_stats`]).
//! - **Scores**: ROC AUC with *incorrect* as the positive class and a higher score meaning "more
//!   likely wrong", via [`crate::stats::roc_auc`] (ties count ½). AUC of the final CE to the
//!   generated token (the paper's 0.92), of the final entropy (baseline), of the final CE to
//!   the ground truth (not available at inference time; an upper reference), and of every
//!   layer's CE to the generated token ([`Summary::auc_by_layer`]). A group with no correct or
//!   no incorrect generation has AUC = NaN.
//!
//! ```no_run
//! use entroscope::papers::uncertainty::{run_reproduction, ReproductionOptions};
//! let report = run_reproduction(&ReproductionOptions { limit: Some(50), ..Default::default() })?;
//! println!("{}", report.markdown());
//! # Ok::<(), entroscope::Error>(())
//! ```

use crate::papers::output::OutputDir;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::frame::{frame_from_columns, ColumnData};
use crate::lens::LogitLens;
use crate::plot::{self, Curve};
use crate::trace::{CaptureSpec, Trace};
use crate::{Error, Lm, NoHook, Result};

/// The instruction line put before every idiom prefix.
pub const INSTRUCTION: &str = "Complete the following English idiom with its missing last word.";

/// The paper's AUC for GPT-2 XL (final cross-entropy to the sampled token).
pub const PAPER_AUC: f64 = 0.92;

/// Why an idiom line was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Blank (or whitespace-only) line.
    Empty,
    /// A single word: nothing is left for the prompt.
    OneWord,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Empty => "empty line",
            SkipReason::OneWord => "one-word idiom",
        })
    }
}

/// One idiom split into prompt prefix and last word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idiom {
    /// 1-based line number in the source file.
    pub line: usize,
    /// The cleaned idiom (placeholders filled in), e.g. `"rule of thumb"`.
    pub text: String,
    /// Everything before the last word, e.g. `"rule of"`.
    pub prefix: String,
    /// The last word without trailing punctuation, e.g. `"thumb"`.
    pub last_word: String,
}

/// A parsed idiom list with its skipped lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdiomSet {
    /// Set name (file stem, e.g. `Static_idioms`).
    pub name: String,
    /// Usable idioms, in file order.
    pub idioms: Vec<Idiom>,
    /// `(line, reason)` of every skipped line.
    pub skipped: Vec<(usize, SkipReason)>,
}

/// Clean and split one idiom line (see the module docs for the rules).
///
/// ```
/// use entroscope::papers::uncertainty::{split_idiom, SkipReason};
/// let i = split_idiom("make up [pron] mind", 1);
/// let parts = i.as_ref().map(|i| (i.prefix.as_str(), i.last_word.as_str()));
/// assert_eq!(parts, Ok(("make up their", "mind")));
/// assert_eq!(split_idiom("  ", 2), Err(SkipReason::Empty));
/// assert_eq!(split_idiom("carpe", 3), Err(SkipReason::OneWord));
/// ```
pub fn split_idiom(line: &str, line_no: usize) -> std::result::Result<Idiom, SkipReason> {
    let unwrapped: String = line.chars().filter(|c| *c != '(' && *c != ')').collect();
    let mut words: Vec<String> = unwrapped.split_whitespace().map(str::to_owned).collect();
    // Drop trailing words that are punctuation only ("… !").
    while words
        .last()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_punctuation()) && w != "[pron]")
    {
        words.pop();
    }
    let n = words.len();
    for (i, w) in words.iter_mut().enumerate() {
        if w.contains("[pron]") {
            *w = w.replace("[pron]", if i + 1 == n { "it" } else { "their" });
        }
    }
    let Some(last) = words.last() else {
        return Err(SkipReason::Empty);
    };
    let last_word = last
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .to_owned();
    if n < 2 || last_word.is_empty() {
        return Err(SkipReason::OneWord);
    }
    Ok(Idiom {
        line: line_no,
        text: words.join(" "),
        prefix: words[..n - 1].join(" "),
        last_word,
    })
}

/// Parse an idiom list (one idiom per line); lines that cannot be used are counted in
/// [`IdiomSet::skipped`].
pub fn parse_idioms(name: &str, text: &str) -> IdiomSet {
    let mut set = IdiomSet {
        name: name.to_owned(),
        ..Default::default()
    };
    for (i, line) in text.lines().enumerate() {
        match split_idiom(line, i + 1) {
            Ok(idiom) => set.idioms.push(idiom),
            Err(r) => set.skipped.push((i + 1, r)),
        }
    }
    set
}

/// Read and parse an idiom file. A missing file gives [`Error::FileNotFound`].
pub fn load_idioms(path: impl AsRef<Path>) -> Result<IdiomSet> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "idioms".into());
    Ok(parse_idioms(&name, &text))
}

/// The prompt text for an idiom prefix: `INSTRUCTION + "\n" + prefix` (no trailing space, so the
/// answer's first token carries its leading space).
pub fn prompt_text(prefix: &str) -> String {
    format!("{INSTRUCTION}\n{prefix}")
}

/// Prompt ids and ground-truth token of one idiom for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Prompt token ids ([`Lm::encode`] of [`prompt_text`]).
    pub prompt_ids: Vec<u32>,
    /// First token of `" " + last_word` ([`Lm::encode_plain`]).
    pub target: u32,
    /// All tokens of `" " + last_word` (more than one for multi-token words).
    pub target_ids: Vec<u32>,
}

/// Build the prompt and the ground-truth token of `idiom` for `lm`.
pub fn make_case(lm: &Lm, idiom: &Idiom) -> Result<Case> {
    let prompt_ids = lm.encode(&prompt_text(&idiom.prefix))?;
    let target_ids = lm.encode_plain(&format!(" {}", idiom.last_word))?;
    let target = *target_ids
        .first()
        .ok_or_else(|| Error::invalid("last word", &idiom.last_word, "a word that tokenizes"))?;
    Ok(Case {
        prompt_ids,
        target,
        target_ids,
    })
}

/// Per-layer statistics at the last position: `[L+1]` each (nats; ranks 0-based).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    /// Shannon entropy of the lens distribution at each layer.
    pub entropy: Vec<f32>,
    /// `ce[t][l]` = −log p_l(`targets[t]`).
    pub ce: Vec<Vec<f32>>,
    /// `rank[t][l]` = number of tokens strictly more likely than `targets[t]` at layer `l`.
    pub rank: Vec<Vec<u32>>,
}

/// Entropy, cross-entropy and rank of each of `targets` at every layer of the normed logit
/// lens, at the trace's last kept position. One lens projection per layer serves all targets.
pub fn layer_stats(lm: &Lm, trace: &Trace, targets: &[u32]) -> Result<LayerStats> {
    let vocab = lm.vocab_size();
    if let Some(&id) = targets.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::TokenOutOfVocab { id, vocab });
    }
    let lens = LogitLens::normed();
    let n = trace.n_layers();
    let mut out = LayerStats {
        entropy: Vec::with_capacity(n + 1),
        ce: vec![Vec::with_capacity(n + 1); targets.len()],
        rank: vec![Vec::with_capacity(n + 1); targets.len()],
    };
    for layer in 0..=n {
        let lp = lens.layer_log_probs(lm, trace, layer)?;
        let rows = lp.dims().first().copied().unwrap_or(0);
        if rows == 0 {
            return Err(Error::EmptyPrompt);
        }
        let lp = lp.get(rows - 1)?.to_vec1::<f32>()?;
        let h: f64 = lp
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| -f64::from(x).exp() * f64::from(x))
            .sum();
        out.entropy.push(h as f32);
        for (t, &id) in targets.iter().enumerate() {
            let v = lp[id as usize];
            out.ce[t].push(-v);
            out.rank[t].push(lp.iter().filter(|&&x| x > v).count() as u32);
        }
    }
    Ok(out)
}

/// Index of the largest logit (the first on ties, like `torch.argmax`): the decoding module's.
pub use crate::decode::argmax;

/// Draw one token from `softmax(logits)` (temperature 1, no filtering): `u ~ U[0, 1)` from
/// `StdRng::seed_from_u64(seed)` (rand 0.9), then the first token whose cumulative probability
/// exceeds `u` (probabilities by log-sum-exp, summed in f64). Deterministic per seed.
/// (A minimal sampler of our own, so this module does not depend on the decoding module.)
///
/// ```
/// use entroscope::papers::uncertainty::sample_t1;
/// // a distribution with all its mass on token 2
/// assert_eq!(sample_t1(&[f32::NEG_INFINITY, -1e30, 0.0], 7)?, 2);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn sample_t1(logits: &[f32], seed: u64) -> Result<u32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if logits.iter().any(|x| x.is_nan()) || !m.is_finite() {
        return Err(Error::NonFinite {
            what: "final logits (NaN, +inf or no finite value)".into(),
        });
    }
    let w: Vec<f64> = logits.iter().map(|&x| f64::from(x - m).exp()).collect();
    let total: f64 = w.iter().sum();
    let u: f64 = StdRng::seed_from_u64(seed).random::<f64>() * total;
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &p) in w.iter().enumerate() {
        if p > 0.0 {
            acc += p;
            last = i;
            if u < acc {
                return Ok(i as u32);
            }
        }
    }
    Ok(last as u32) // rounding: u landed past the last positive mass
}

/// One generated token for one idiom and its per-layer statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub model: String,
    pub set: String,
    /// Index of the idiom in its set.
    pub idiom: usize,
    pub text: String,
    /// `None` = greedy, `Some(s)` = sample `s`.
    pub sample: Option<usize>,
    pub generated: u32,
    pub generated_str: String,
    pub target: u32,
    pub target_str: String,
    pub correct: bool,
    /// CE to the generated token per layer `[L+1]`, nats.
    pub ce_generated: Vec<f32>,
    /// CE to the ground-truth token per layer `[L+1]`, nats.
    pub ce_truth: Vec<f32>,
    /// Entropy per layer `[L+1]`, nats.
    pub entropy: Vec<f32>,
    pub rank_generated: Vec<u32>,
    pub rank_truth: Vec<u32>,
}

impl Record {
    /// `"greedy"` or `"sampled"`.
    pub fn mode(&self) -> &'static str {
        if self.sample.is_some() {
            "sampled"
        } else {
            "greedy"
        }
    }
}

/// Run one idiom: trace the prompt, pick the greedy token and `n_samples` tokens at T = 1
/// (seeds `seed + 1000·idiom_index + s`), and record the per-layer statistics of each.
pub fn run_idiom(
    lm: &Lm,
    set: &str,
    idiom_index: usize,
    idiom: &Idiom,
    n_samples: usize,
    seed: u64,
) -> Result<Vec<Record>> {
    let case = make_case(lm, idiom)?;
    let trace = lm.trace(&case.prompt_ids, &CaptureSpec::last(), &mut NoHook)?;
    let logits = trace.logits.flatten_all()?.to_vec1::<f32>()?;
    let mut picks = vec![(None, argmax(&logits)?)];
    for s in 0..n_samples {
        let sd = seed.wrapping_add(1000 * idiom_index as u64 + s as u64);
        picks.push((Some(s), sample_t1(&logits, sd)?));
    }
    let mut targets = vec![case.target];
    targets.extend(picks.iter().map(|p| p.1));
    let stats = layer_stats(lm, &trace, &targets)?;
    let target_str = lm.decode(&[case.target])?;
    picks
        .iter()
        .enumerate()
        .map(|(i, &(sample, tok))| {
            Ok(Record {
                model: lm.name().to_owned(),
                set: set.to_owned(),
                idiom: idiom_index,
                text: idiom.text.clone(),
                sample,
                generated: tok,
                generated_str: lm.decode(&[tok])?,
                target: case.target,
                target_str: target_str.clone(),
                correct: tok == case.target,
                ce_generated: stats.ce[i + 1].clone(),
                ce_truth: stats.ce[0].clone(),
                entropy: stats.entropy.clone(),
                rank_generated: stats.rank[i + 1].clone(),
                rank_truth: stats.rank[0].clone(),
            })
        })
        .collect()
}

/// ROC AUC of `incorrect` (positive class) against `scores` (higher = more likely wrong), via
/// [`crate::stats::roc_auc`]; NaN when either class is empty or a score is NaN.
///
/// ```
/// // wrong ones scored 3 and 1, right ones 2 and 0: pairs (3,2) 1, (3,0) 1, (1,2) 0, (1,0) 1 → ¾
/// let auc = entroscope::papers::uncertainty::auc_incorrect(&[true, false, false, true], &[2.0, 3.0, 1.0, 0.0]);
/// assert_eq!(auc, 0.75);
/// ```
pub fn auc_incorrect(correct: &[bool], scores: &[f64]) -> f64 {
    let incorrect: Vec<bool> = correct.iter().map(|c| !c).collect();
    crate::stats::roc_auc(&incorrect, scores).unwrap_or(f64::NAN)
}

/// Accuracy and AUCs of one group of records (one model × set × mode).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub model: String,
    pub set: String,
    /// `"greedy"` or `"sampled"`.
    pub mode: String,
    /// Idioms used / lines skipped in the set.
    pub n_idioms: usize,
    pub n_skipped: usize,
    pub n_generations: usize,
    /// Fraction of generations equal to the ground-truth token.
    pub accuracy: f64,
    /// AUC of the final-layer CE to the generated token (the paper's score).
    pub auc_final_ce: f64,
    /// AUC of the final-layer entropy (baseline).
    pub auc_final_entropy: f64,
    /// AUC of the final-layer CE to the ground truth (oracle reference).
    pub auc_final_ce_truth: f64,
    /// AUC of each layer's CE to the generated token, `[L+1]`.
    pub auc_by_layer: Vec<f64>,
    /// Layer with the highest AUC (first on ties; 0 when all are NaN).
    pub best_layer: usize,
    pub best_auc: f64,
}

impl Summary {
    /// `model_set` in lower case with every other character as `-`: the figures' file-name tag.
    pub fn tag(&self) -> String {
        format!("{}_{}", slug(&self.model), slug(&self.set))
    }
}

/// Summarise records of one model × set × mode.
pub fn summarize(records: &[&Record], n_idioms: usize, n_skipped: usize) -> Result<Summary> {
    let first = records
        .first()
        .ok_or_else(|| Error::NotEnoughData("no records to summarise".into()))?;
    let correct: Vec<bool> = records.iter().map(|r| r.correct).collect();
    let last = |v: &[f32]| v.last().map_or(f64::NAN, |&x| f64::from(x));
    let col = |f: &dyn Fn(&Record) -> f64| records.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let n_layers = first.ce_generated.len();
    let auc_by_layer: Vec<f64> = (0..n_layers)
        .map(|l| {
            let s = col(&|r| r.ce_generated.get(l).map_or(f64::NAN, |&x| f64::from(x)));
            auc_incorrect(&correct, &s)
        })
        .collect();
    let (best_layer, best_auc) = auc_by_layer
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_finite())
        .fold((0, f64::NAN), |(bl, ba), (l, &a)| {
            if ba.is_nan() || a > ba {
                (l, a)
            } else {
                (bl, ba)
            }
        });
    Ok(Summary {
        model: first.model.clone(),
        set: first.set.clone(),
        mode: first.mode().to_owned(),
        n_idioms,
        n_skipped,
        n_generations: records.len(),
        accuracy: correct.iter().filter(|&&c| c).count() as f64 / records.len() as f64,
        auc_final_ce: auc_incorrect(&correct, &col(&|r| last(&r.ce_generated))),
        auc_final_entropy: auc_incorrect(&correct, &col(&|r| last(&r.entropy))),
        auc_final_ce_truth: auc_incorrect(&correct, &col(&|r| last(&r.ce_truth))),
        auc_by_layer,
        best_layer,
        best_auc,
    })
}

/// What [`run_reproduction`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproductionOptions {
    /// Models ([`Lm::load`] arguments). Default: SmolLM2-135M-Instruct and Gemma-3-270M GGUF.
    pub models: Vec<String>,
    /// Idiom files. Default: `data/epie/Static_idioms.txt` and `Formal_idioms.txt`.
    pub sets: Vec<PathBuf>,
    /// Use only the first `limit` idioms of each set (`--quick` = 50).
    pub limit: Option<usize>,
    /// Samples at T = 1 per idiom (besides the greedy token). Default 5.
    pub n_samples: usize,
    /// Base seed. Default 0.
    pub seed: u64,
    /// Where to write figures and tables (`None` = nothing written).
    pub out_dir: Option<PathBuf>,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Default for ReproductionOptions {
    fn default() -> Self {
        let data = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join("epie");
        Self {
            models: crate::model::bundled_models(),
            sets: vec![
                data.join("Static_idioms.txt"),
                data.join("Formal_idioms.txt"),
            ],
            limit: None,
            n_samples: 5,
            seed: 0,
            out_dir: None,
            progress: false,
        }
    }
}

/// Everything a reproduction measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// One row per model × set × mode (greedy, sampled).
    pub summaries: Vec<Summary>,
    /// Every generation.
    pub records: Vec<Record>,
    /// `(set, line, reason)` of skipped idiom lines.
    pub skipped: Vec<(String, usize, SkipReason)>,
    /// Files written (figures, tables).
    pub files: Vec<PathBuf>,
}

fn fmt_auc(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "n/a".into()
    }
}

impl Report {
    /// The results table as Markdown, with the paper's AUC for comparison.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
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

    /// The summaries as a frame (one row per model × set × mode).
    pub fn summary_frame(&self) -> Result<DataFrame> {
        let m = &self.summaries;
        let f = |g: &dyn Fn(&Summary) -> f64| -> ColumnData {
            m.iter().map(g).collect::<Vec<f64>>().into()
        };
        let s = |g: &dyn Fn(&Summary) -> String| -> ColumnData {
            m.iter().map(g).collect::<Vec<String>>().into()
        };
        let u = |g: &dyn Fn(&Summary) -> usize| -> ColumnData {
            m.iter().map(g).collect::<Vec<usize>>().into()
        };
        frame_from_columns(vec![
            ("model", s(&|x| x.model.clone())),
            ("set", s(&|x| x.set.clone())),
            ("mode", s(&|x| x.mode.clone())),
            ("n_idioms", u(&|x| x.n_idioms)),
            ("n_skipped", u(&|x| x.n_skipped)),
            ("n_generations", u(&|x| x.n_generations)),
            ("accuracy", f(&|x| x.accuracy)),
            ("auc_final_ce", f(&|x| x.auc_final_ce)),
            ("auc_final_entropy", f(&|x| x.auc_final_entropy)),
            ("auc_final_ce_truth", f(&|x| x.auc_final_ce_truth)),
            ("best_layer", u(&|x| x.best_layer)),
            ("best_auc", f(&|x| x.best_auc)),
            ("paper_auc", f(&|_| PAPER_AUC)),
        ])
    }

    /// Every record at every layer, long format: model, set, idiom, text, mode, sample,
    /// generated, target, correct, layer, depth, ce_generated, ce_truth, entropy, rank_generated,
    /// rank_truth.
    pub fn records_frame(&self) -> Result<DataFrame> {
        let mut c: [Vec<String>; 6] = Default::default();
        let mut idx: [Vec<i64>; 5] = Default::default();
        let mut fl: [Vec<f64>; 4] = Default::default();
        let mut correct = Vec::new();
        for r in &self.records {
            let n = r.ce_generated.len();
            for l in 0..n {
                c[0].push(r.model.clone());
                c[1].push(r.set.clone());
                c[2].push(r.text.clone());
                c[3].push(r.mode().to_owned());
                c[4].push(r.generated_str.clone());
                c[5].push(r.target_str.clone());
                idx[0].push(r.idiom as i64);
                idx[1].push(r.sample.map_or(-1, |s| s as i64));
                idx[2].push(l as i64);
                idx[3].push(i64::from(r.rank_generated[l]));
                idx[4].push(i64::from(r.rank_truth[l]));
                fl[0].push(l as f64 / (n - 1).max(1) as f64);
                fl[1].push(f64::from(r.ce_generated[l]));
                fl[2].push(f64::from(r.ce_truth[l]));
                fl[3].push(f64::from(r.entropy[l]));
                correct.push(r.correct);
            }
        }
        let [model, set, text, mode, generated, target] = c;
        let [idiom, sample, layer, rank_g, rank_t] = idx;
        let [depth, ce_g, ce_t, ent] = fl;
        frame_from_columns(vec![
            ("model", model.into()),
            ("set", set.into()),
            ("idiom", idiom.into()),
            ("text", text.into()),
            ("mode", mode.into()),
            ("sample", sample.into()),
            ("generated", generated.into()),
            ("target", target.into()),
            ("correct", correct.into()),
            ("layer", layer.into()),
            ("depth", depth.into()),
            ("ce_generated", ce_g.into()),
            ("ce_truth", ce_t.into()),
            ("entropy", ent.into()),
            ("rank_generated", rank_g.into()),
            ("rank_truth", rank_t.into()),
        ])
    }
}

/// Run the whole reproduction: every model × idiom set, greedy and sampled, summaries, and
/// (with `out_dir`) figures and tables. A missing idiom file or model is an error before any
/// work; skipped idiom lines are counted in the report.
pub fn run_reproduction(opts: &ReproductionOptions) -> Result<Report> {
    let sets = opts
        .sets
        .iter()
        .map(load_idioms)
        .collect::<Result<Vec<_>>>()?;
    let mut report = Report::default();
    for set in &sets {
        for &(line, r) in &set.skipped {
            report.skipped.push((set.name.clone(), line, r));
        }
    }
    for model in &opts.models {
        let lm = Lm::load(model)?;
        for set in &sets {
            let n = opts.limit.unwrap_or(usize::MAX).min(set.idioms.len());
            let start = report.records.len();
            for (i, idiom) in set.idioms[..n].iter().enumerate() {
                let recs = run_idiom(&lm, &set.name, i, idiom, opts.n_samples, opts.seed)?;
                report.records.extend(recs);
                if opts.progress && (i + 1) % 50 == 0 {
                    eprintln!("{} {}: {}/{n}", lm.name(), set.name, i + 1);
                }
            }
            for mode in ["greedy", "sampled"] {
                let group: Vec<&Record> = report.records[start..]
                    .iter()
                    .filter(|r| r.mode() == mode)
                    .collect();
                if !group.is_empty() {
                    report
                        .summaries
                        .push(summarize(&group, n, set.skipped.len())?);
                }
            }
        }
    }
    if let Some(dir) = &opts.out_dir {
        report.files = write_outputs(&report, dir)?;
    }
    Ok(report)
}

/// Quantile (linear interpolation, numpy's default) of a sorted non-empty slice.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Median, 25th and 75th percentile per layer of `rows` (`[n][L+1]`).
pub fn median_iqr(rows: &[&[f32]]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n_layers = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for l in 0..n_layers {
        let mut v: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.get(l).map(|&x| f64::from(x)))
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        out.0.push(quantile(&v, 0.5));
        out.1.push(quantile(&v, 0.25));
        out.2.push(quantile(&v, 0.75));
    }
    out
}

/// `"SmolLM2-135M-Instruct.Q4_1", "Static_idioms"` → `"SmolLM2-135M-Instruct · static"`.
fn short_name(model: &str, set: &str) -> String {
    let m = model.split('.').next().unwrap_or(model);
    let m = m.strip_suffix("-q4_k_m").unwrap_or(m);
    let set = set.strip_suffix("_idioms").unwrap_or(set).to_lowercase();
    format!("{m} · {set}")
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

impl Report {
    /// The sampled generations of one model × set (what the figures show).
    fn sampled(&self, s: &Summary) -> Vec<&Record> {
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

/// Cross-entropy to the sampled token against the layer, median and quartiles per layer, for
/// correct and incorrect generations of one model × set.
///
/// Layers 0 and 1 read through the final norm are often > 100 nats (Gemma: ~190 and ~170); the
/// y axis is clipped to the upper quartiles from layer 2 on so that the layers where correct and
/// incorrect part ways stay readable.
pub fn ce_layers_chart(report: &Report, summary: &Summary) -> Result<plot::Chart> {
    let recs = report.sampled(summary);
    let mut series = Vec::new();
    for (name, ok) in [("correct", true), ("incorrect", false)] {
        let rows: Vec<&[f32]> = recs
            .iter()
            .filter(|r| r.correct == ok)
            .map(|r| r.ce_generated.as_slice())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let (med, q1, q3) = median_iqr(&rows);
        series.push(Curve::from_y(
            format!("{name} median (n={})", rows.len()),
            med,
        ));
        series.push(Curve::from_y(format!("{name} 25%"), q1));
        series.push(Curve::from_y(format!("{name} 75%"), q3));
    }
    if series.is_empty() {
        return Err(Error::NotEnoughData(format!(
            "no sampled generations of {} on {}",
            summary.model, summary.set
        )));
    }
    let top = series
        .iter()
        .flat_map(|s| s.y.iter().skip(2))
        .filter(|y| y.is_finite())
        .fold(0.0f64, |a, &b| a.max(b));
    Ok(plot::lines(&series)?
        .y_range(0.0, (top * 1.15).max(1.0))
        .title(format!(
            "{}: CE to sampled token (layers 0–1 clipped)",
            short_name(&summary.model, &summary.set)
        ))
        .x_label("layer")
        .y_label("cross-entropy (nats)"))
}

/// Histograms of the final-layer cross-entropy to the sampled token, correct vs incorrect.
pub fn final_ce_histogram(report: &Report, summary: &Summary) -> Result<plot::Chart> {
    let recs = report.sampled(summary);
    let fin = |ok: bool| -> Vec<f64> {
        recs.iter()
            .filter(|r| r.correct == ok)
            .filter_map(|r| r.ce_generated.last().map(|&x| f64::from(x)))
            .collect()
    };
    let (c, w) = (fin(true), fin(false));
    Ok(plot::histogram(
        &[("correct", c.as_slice()), ("incorrect", w.as_slice())],
        30,
    )?
    .title(format!(
        "{}: final CE to sampled token",
        short_name(&summary.model, &summary.set)
    ))
    .x_label("cross-entropy (nats)"))
}

/// ROC curves of "incorrect" against the final CE and the final entropy. Errors when the group
/// has no correct or no incorrect generation (the AUC is undefined).
pub fn roc_chart(report: &Report, summary: &Summary) -> Result<plot::Chart> {
    let recs = report.sampled(summary);
    let incorrect: Vec<bool> = recs.iter().map(|r| !r.correct).collect();
    let score = |f: &dyn Fn(&Record) -> f64| recs.iter().map(|r| f(r)).collect::<Vec<_>>();
    let last = |v: &[f32]| v.last().map_or(f64::NAN, |&x| f64::from(x));
    let curves = vec![
        Curve::roc("final CE", &score(&|r| last(&r.ce_generated)), &incorrect)?,
        Curve::roc("final entropy", &score(&|r| last(&r.entropy)), &incorrect)?,
    ];
    Ok(plot::roc(&curves)?
        .title(format!(
            "{}: ROC, incorrect vs score",
            short_name(&summary.model, &summary.set)
        ))
        .size(640, 560))
}

/// AUC of every layer's CE to the sampled token against relative depth (layer / L), one line
/// per model × set, so models of different depth share the axis.
pub fn auc_vs_layer_chart(report: &Report) -> Result<plot::Chart> {
    let lines: Vec<Curve> = report
        .sampled_summaries()
        .into_iter()
        .filter(|s| s.auc_by_layer.iter().any(|a| a.is_finite()))
        .map(|s| {
            let l = s.auc_by_layer.len().saturating_sub(1).max(1) as f64;
            Curve::new(
                short_name(&s.model, &s.set),
                (0..s.auc_by_layer.len()).map(|i| i as f64 / l).collect(),
                s.auc_by_layer.clone(),
            )
        })
        .collect();
    if lines.is_empty() {
        return Err(Error::NotEnoughData(
            "no model × set with both correct and incorrect generations".into(),
        ));
    }
    Ok(plot::lines(&lines)?
        .title("AUC of per-layer CE to the sampled token")
        .x_label("relative depth (layer / L)")
        .y_label("ROC AUC (incorrect)")
        .markers(true))
}

/// Write the figures and tables of a report into `dir`: per model × set (sampled generations)
/// `ce_layers_*.png` ([`ce_layers_chart`]), `hist_final_ce_*.png` ([`final_ce_histogram`]),
/// `roc_*.png` ([`roc_chart`], when both groups are present); one `auc_vs_layer.png`;
/// `summary.csv`, `results.md`, `records.parquet`. Returns the paths written.
pub fn write_outputs(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = OutputDir::create(dir)?;
    for s in report.sampled_summaries() {
        if report.sampled(s).is_empty() {
            continue;
        }
        let tag = s.tag();
        out.chart(
            &format!("ce_layers_{tag}.png"),
            &ce_layers_chart(report, s)?,
        )?;
        out.chart(
            &format!("hist_final_ce_{tag}.png"),
            &final_ce_histogram(report, s)?,
        )?;
        if s.auc_final_ce.is_finite() {
            out.chart(&format!("roc_{tag}.png"), &roc_chart(report, s)?)?;
        }
    }
    if report
        .sampled_summaries()
        .iter()
        .any(|s| s.auc_by_layer.iter().any(|a| a.is_finite()))
    {
        out.chart("auc_vs_layer.png", &auc_vs_layer_chart(report)?)?;
    }
    out.table("summary.csv", &report.summary_frame()?)?;
    out.text("results.md", &report.markdown())?;
    out.table("records.parquet", &report.records_frame()?)?;
    Ok(out.into_files())
}
