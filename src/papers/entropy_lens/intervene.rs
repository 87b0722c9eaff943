//! Layer-skip interventions: which blocks expand or prune the next-token distribution, and what
//! skipping them does to multiple-choice accuracy.

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;

use crate::entropy::Metric;
use crate::intervene::LayerSkip;
use crate::lens::{LogitLens, Targets};
use crate::trace::CaptureSpec;
use crate::{Error, Lm, NoHook, Result};

use super::prompts::{McQuestion, LETTERS};

/// Which blocks to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// The `k` blocks with the largest entropy increase `H_l − H_{l−1}` ("expansion").
    Expansion,
    /// The `k` blocks with the largest entropy decrease ("pruning").
    Pruning,
    /// `k` blocks drawn uniformly without replacement (seeded).
    Random,
}

impl Strategy {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Expansion => "expansion",
            Strategy::Pruning => "pruning",
            Strategy::Random => "random",
        }
    }
}

/// Entropy change of every block, `[L]`: entry `l − 1` is `H_l − H_{l−1}` of a profile
/// `[L+1]` (layer 0 = embeddings).
///
/// Errors: fewer than 2 layers.
///
/// ```
/// use entroscope::papers::entropy_lens::intervene::entropy_changes;
/// assert_eq!(entropy_changes(&[1.0, 3.0, 2.5, 0.5])?, vec![2.0, -0.5, -2.0]);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn entropy_changes(profile: &[f32]) -> Result<Vec<f32>> {
    if profile.len() < 2 {
        return Err(Error::NotEnoughData(format!(
            "entropy changes need the embeddings and at least one block (got {} layers)",
            profile.len()
        )));
    }
    Ok(profile.windows(2).map(|w| w[1] - w[0]).collect())
}

/// The blocks (1-based, ascending) a strategy skips for `k`, from the block entropy changes
/// `deltas` (`[L]`, [`entropy_changes`]), choosing among blocks `first..=L` only (`first` = 2
/// leaves out block 1, the embeddings → first block step; see
/// [`Options::skip_first_block`](super::Options::skip_first_block)). Ties go to the lower
/// block. `seed` is used by [`Strategy::Random`] only.
///
/// Errors: `first = 0`, `k = 0` or `k` more than the eligible blocks.
///
/// ```
/// use entroscope::papers::entropy_lens::intervene::{select_layers, Strategy};
/// let d = [2.0, -0.5, -2.0, 1.0];
/// assert_eq!(select_layers(&d, Strategy::Expansion, 2, 1, 0)?, vec![1, 4]);
/// assert_eq!(select_layers(&d, Strategy::Expansion, 2, 2, 0)?, vec![2, 4]);
/// assert_eq!(select_layers(&d, Strategy::Pruning, 2, 1, 0)?, vec![2, 3]);
/// assert_eq!(select_layers(&d, Strategy::Random, 3, 2, 9)?, vec![2, 3, 4]);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn select_layers(
    deltas: &[f32],
    strategy: Strategy,
    k: usize,
    first: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let n = deltas.len();
    if first == 0 {
        return Err(Error::invalid("first", 0, "a 1-based block index (1 or 2)"));
    }
    let eligible = (n + 1).saturating_sub(first);
    if k == 0 || k > eligible {
        return Err(Error::invalid(
            "k",
            k,
            format!("1..={eligible} blocks to skip (blocks {first}..={n})"),
        ));
    }
    // 0-based indices into `deltas` of the eligible blocks
    let mut idx: Vec<usize> = (first - 1..n).collect();
    let mut out: Vec<usize> = match strategy {
        Strategy::Expansion => {
            idx.sort_by(|&a, &b| deltas[b].total_cmp(&deltas[a]).then(a.cmp(&b)));
            idx[..k].to_vec()
        }
        Strategy::Pruning => {
            idx.sort_by(|&a, &b| deltas[a].total_cmp(&deltas[b]).then(a.cmp(&b)));
            idx[..k].to_vec()
        }
        Strategy::Random => sample(&mut StdRng::seed_from_u64(seed), eligible, k)
            .into_iter()
            .map(|i| idx[i])
            .collect(),
    };
    out.iter_mut().for_each(|l| *l += 1);
    out.sort_unstable();
    Ok(out)
}

/// Token ids of `" A"`, `" B"`, `" C"`, `" D"`: the last token of each (the letter itself when
/// a tokenizer splits off the space).
///
/// Errors: a letter that does not tokenize, or two letters sharing a token.
pub fn letter_ids(lm: &Lm) -> Result<Vec<u32>> {
    let mut ids = Vec::with_capacity(LETTERS.len());
    for l in LETTERS {
        let t = lm.encode_plain(&format!(" {l}"))?;
        let id = *t
            .last()
            .ok_or_else(|| Error::invalid("letter", l, "a letter the tokenizer encodes"))?;
        if ids.contains(&id) {
            return Err(Error::invalid("letter", l, "letters with distinct tokens"));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Mean Shannon entropy profile (`[L+1]`, nats) of the last prompt position over the questions:
/// the profile whose block changes pick the expansion and pruning layers.
pub fn prompt_profile(lm: &Lm, prompts: &[Vec<u32>]) -> Result<Vec<f32>> {
    if prompts.is_empty() {
        return Err(Error::NotEnoughData("no prompts to profile".into()));
    }
    let lens = LogitLens::normed();
    let mut sum = vec![0.0f64; lm.n_layers() + 1];
    let bar = crate::progress::progress_bar(
        prompts.len(),
        format!("interventions: entropy profile {}", lm.short_name()),
    );
    for p in prompts {
        let t = lm.trace(p, &CaptureSpec::last(), &mut NoHook)?;
        let prof = lens.profile(lm, &t, &[Metric::Shannon], &Targets::None)?;
        for (s, v) in sum.iter_mut().zip(prof[0].mean_over_positions()) {
            *s += f64::from(v);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(sum
        .into_iter()
        .map(|s| (s / prompts.len() as f64) as f32)
        .collect())
}

/// Accuracy and mean probability of the correct letter (softmax over the four letters).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McScore {
    /// Fraction of questions whose highest-logit letter is the correct one.
    pub accuracy: f64,
    /// Mean over questions of `p(correct letter)` renormalised over the four letters.
    pub p_correct: f64,
    /// Standard error of that mean (sample std / √n; 0 for one question).
    pub p_correct_se: f64,
}

/// Answer every question with `skip` blocks skipped (empty = the plain model): the letter whose
/// token has the largest final logit at the position after `"Answer:"` (greedy, restricted to
/// the four letters).
pub fn mc_score(
    lm: &Lm,
    prompts: &[Vec<u32>],
    questions: &[McQuestion],
    letters: &[u32],
    skip: &[usize],
) -> Result<McScore> {
    if prompts.is_empty() || prompts.len() != questions.len() {
        return Err(Error::invalid(
            "prompts",
            prompts.len(),
            format!("one encoded prompt per question ({})", questions.len()),
        ));
    }
    let mut correct = 0usize;
    let mut ps = Vec::with_capacity(questions.len());
    for (ids, q) in prompts.iter().zip(questions) {
        let mut cache = lm.new_cache();
        let mut hook = LayerSkip::new(skip.to_vec());
        let h = lm.forward(ids, &mut cache, &mut hook)?;
        let last = h.narrow(0, ids.len() - 1, 1)?;
        let z = lm.logits(&last)?.flatten_all()?.to_vec1::<f32>()?;
        let zl: Vec<f32> = letters
            .iter()
            .map(|&i| z.get(i as usize).copied().unwrap_or(f32::NEG_INFINITY))
            .collect();
        let best = (0..zl.len()).fold(0, |b, i| if zl[i] > zl[b] { i } else { b });
        if best == q.correct {
            correct += 1;
        }
        let m = zl.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let denom: f64 = zl.iter().map(|&v| f64::from(v - m).exp()).sum();
        let pc = zl.get(q.correct).map_or(0.0, |&v| f64::from(v - m).exp()) / denom;
        ps.push(if pc.is_finite() { pc } else { 0.0 });
    }
    let n = questions.len() as f64;
    let (mean, se) = crate::stats::summary::mean_se(ps.iter().copied());
    Ok(McScore {
        accuracy: correct as f64 / n,
        p_correct: mean,
        p_correct_se: se,
    })
}
