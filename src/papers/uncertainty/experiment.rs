//! The run: [`Options`], [`run`], and the work on one idiom — prompt and ground truth
//! ([`make_case`]), the per-layer statistics ([`layer_stats`]), the greedy and sampled tokens
//! ([`run_idiom`]) — and the scores of a group of generations ([`summarize`]).

use std::path::PathBuf;

use crate::data::{self, Idiom};
use crate::decode::{argmax, LogitsProcessor, Sampling};
use crate::lens::LogitLens;
use crate::trace::{CaptureSpec, Trace};
use crate::{Error, Lm, NoHook, Result};

use super::report::Report;

/// The instruction line put before every idiom prefix.
pub const INSTRUCTION: &str = "Complete the following English idiom with its missing last word.";

/// The prompt text for an idiom prefix: `INSTRUCTION + "\n" + prefix` (no trailing space, so the
/// answer's first token carries its leading space).
///
/// ```
/// use entroscope::papers::uncertainty::{prompt_text, INSTRUCTION};
/// assert_eq!(prompt_text("rule of"), format!("{INSTRUCTION}\nrule of"));
/// ```
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

/// One generated token for one idiom and its per-layer statistics.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Model name ([`Lm::name`]).
    pub model: String,
    /// Idiom set name ([`data::IdiomSet::name`]).
    pub set: String,
    /// Index of the idiom in its set.
    pub idiom: usize,
    /// The cleaned idiom.
    pub text: String,
    /// `None` = greedy, `Some(s)` = sample `s`.
    pub sample: Option<usize>,
    /// The generated token id.
    pub generated: u32,
    /// The generated token as text.
    pub generated_str: String,
    /// The ground-truth token id ([`Case::target`]).
    pub target: u32,
    /// The ground-truth token as text.
    pub target_str: String,
    /// `generated == target`.
    pub correct: bool,
    /// CE to the generated token per layer `[L+1]`, nats.
    pub ce_generated: Vec<f32>,
    /// CE to the ground-truth token per layer `[L+1]`, nats.
    pub ce_truth: Vec<f32>,
    /// Entropy per layer `[L+1]`, nats.
    pub entropy: Vec<f32>,
    /// Rank of the generated token per layer `[L+1]` (0 = most likely).
    pub rank_generated: Vec<u32>,
    /// Rank of the ground-truth token per layer `[L+1]` (0 = most likely).
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

/// The seed of sample `sample` of idiom `idiom_index`: `seed + 1000·idiom + sample`, so that any
/// subset of idioms reproduces the same draws.
pub fn sample_seed(seed: u64, idiom_index: usize, sample: usize) -> u64 {
    seed.wrapping_add(1000 * idiom_index as u64 + sample as u64)
}

/// Run one idiom: trace the prompt, pick the greedy token and `n_samples` tokens at T = 1 from
/// the whole distribution (the decoding module's [`LogitsProcessor`], one processor seeded with
/// [`sample_seed`] per draw), and record the per-layer statistics of each.
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
        let sd = sample_seed(seed, idiom_index, s);
        let mut p = LogitsProcessor::from_sampling(sd, Sampling::All { temperature: 1.0 })?;
        picks.push((Some(s), p.sample(&logits)?.0));
    }
    let mut targets = vec![case.target];
    targets.extend(picks.iter().map(|p| p.1));
    let stats = layer_stats(lm, &trace, &targets)?;
    let target_str = lm.token_text(case.target);
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
                generated_str: lm.token_text(tok),
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
    /// Model name.
    pub model: String,
    /// Idiom set name.
    pub set: String,
    /// `"greedy"` or `"sampled"`.
    pub mode: String,
    /// Idioms used.
    pub n_idioms: usize,
    /// Lines skipped in the set.
    pub n_skipped: usize,
    /// Generations in the group.
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
    /// The AUC of [`Summary::best_layer`] (NaN when all are NaN).
    pub best_auc: f64,
}

impl Summary {
    /// `model_set` in lower case with every other character as `-`
    /// ([`slug`](crate::papers::output::slug)): the figures' file-name tag.
    pub fn tag(&self) -> String {
        use crate::papers::output::slug;
        format!("{}_{}", slug(&self.model), slug(&self.set))
    }

    /// The chart label: the [short model name](crate::model::short_name) and the set without
    /// `_idioms`, lower-cased (`"SmolLM2-135M-Instruct · static"`).
    pub fn label(&self) -> String {
        let set = self.set.strip_suffix("_idioms").unwrap_or(&self.set);
        format!(
            "{} · {}",
            crate::model::short_name(&self.model),
            set.to_lowercase()
        )
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

/// What [`run`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Models ([`Lm::load`] arguments): both bundled GGUF models at the full and paper sizes,
    /// SmolLM2 alone below.
    pub models: Vec<String>,
    /// Idiom files. Default: [`data::epie_paths`] (static and formal EPIE lists, under
    /// `$ENTROSCOPE_DATA`).
    pub sets: Vec<PathBuf>,
    /// Use only the first `limit` idioms of each set (`None` = all).
    pub limit: Option<usize>,
    /// Samples at T = 1 per idiom (besides the greedy token). Default 5.
    pub n_samples: usize,
    /// Base seed ([`sample_seed`]). Default 0.
    pub seed: u64,
    /// Device and weight dtype of every model ([`Lm::load_with`]).
    pub load: crate::model::LoadOptions,
    /// Keep each idiom's records in this directory as it is finished, and read back those a killed run with the same options kept
    /// ([`crate::data::Checkpoint`]). `None` (the presets): keep nothing. Delete it once the
    /// report is written; the CLI keeps it in `<out>/.checkpoint` and does.
    pub checkpoint: Option<std::path::PathBuf>,
}

impl Options {
    /// Both bundled models, every idiom of both EPIE lists, 5 samples per idiom, seed 0.
    pub fn full() -> Self {
        Self {
            load: crate::model::LoadOptions::default(),
            checkpoint: None,
            models: crate::model::bundled_models(),
            sets: data::epie_paths(),
            limit: None,
            n_samples: 5,
            seed: 0,
        }
    }

    /// The default size: the default model, the first 150 idioms of each list.
    pub fn standard() -> Self {
        Self {
            models: vec![crate::model::default_model_path()],
            limit: Some(150),
            ..Self::full()
        }
    }

    /// The first 50 idioms of each list (`--quick`); otherwise [`Options::full`].
    pub fn quick() -> Self {
        Self {
            limit: Some(50),
            ..Self::full()
        }
    }

    /// The paper's protocol on our models: every idiom of both lists, as [`Options::full`]
    /// (the full run already uses every idiom).
    pub fn paper() -> Self {
        Self::full()
    }
}

/// Run the whole reproduction: every model × idiom set, greedy and sampled, and the summaries
/// of each model × set × mode. A missing idiom file or model is an error before any work;
/// skipped idiom lines are counted in the report. Write it with
/// [`papers::Report::write`](crate::papers::Report::write).
pub fn run(opts: &Options) -> Result<Report> {
    let sets = opts
        .sets
        .iter()
        .map(data::load_idioms)
        .collect::<Result<Vec<_>>>()?;
    let checkpoint = crate::papers::open_checkpoint("uncertainty", opts)?;
    let mut report = Report::default();
    for set in &sets {
        for &(line, r) in &set.skipped {
            report.skipped.push((set.name.clone(), line, r));
        }
    }
    for (mi, model) in opts.models.iter().enumerate() {
        let lm = Lm::load_with(model, &opts.load)?;
        let cp = crate::papers::model_part(checkpoint.as_ref(), mi)?;
        for (si, set) in sets.iter().enumerate() {
            let n = opts.limit.unwrap_or(usize::MAX).min(set.idioms.len());
            let bar = crate::progress::progress_bar(n, format!("{} {}", lm.short_name(), set.name));
            let start = report.records.len();
            for (i, idiom) in set.idioms[..n].iter().enumerate() {
                let key = format!("set {si} idiom {i}");
                let recs = crate::papers::keep(cp.as_ref(), &key, || {
                    run_idiom(&lm, &set.name, i, idiom, opts.n_samples, opts.seed)
                })?;
                report.records.extend(recs);
                bar.inc(1);
            }
            bar.finish_and_clear();
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
    Ok(report)
}

crate::papers::preset::impl_sizes!(Options);
