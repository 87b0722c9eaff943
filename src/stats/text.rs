//! Text overlap metrics for generated text: sentence BLEU (with smoothing), ROUGE-L and
//! Self-BLEU — the quality and diversity measures of the EDT paper and the open-ended TruthfulQA
//! overlap score of the END reproduction.
//!
//! Why our own module: the Rust crates we found either cover one metric only (`rougers`,
//! `bleuscore`) or are young single-maintainer projects, and our needs are small (sentence-level
//! scores over short texts). The definitions follow the Python references exactly and the tests
//! pin them to values computed with them:
//! - [`bleu`] = NLTK's `sentence_bleu` (uniform weights up to `max_n`, clipped counts over all
//!   references, brevity penalty against the reference length closest to the candidate's, ties
//!   to the shorter) with NLTK's smoothing methods 0–3 ([`Smoothing`]).
//! - [`rouge_l`] = Google's `rouge-score` `rougeL` (LCS precision, recall and F1, no stemming).
//! - [`self_bleu`] = Texygen's Self-BLEU: the mean over samples of the BLEU of each sample
//!   against all the others, NLTK smoothing method 1.
//! - [`tokenize`] = `rouge-score`'s default tokenizer on ASCII text: lower-case, every run of
//!   non-alphanumeric characters is a separator (punctuation is dropped). Unicode letters and
//!   digits are kept as word characters (rouge-score drops them).
//!
//! ```
//! use entroscope::stats::text::{bleu_text, rouge_l_text, self_bleu_text};
//! let r = rouge_l_text("the cat sat on the mat", "the cat is on the mat");
//! assert!((r.f - 5.0 / 6.0).abs() < 1e-12); // LCS "the cat on the mat" = 5 of 6 words each
//! let b = bleu_text("the cat sat on the mat", &["the cat sat on the mat"]);
//! assert!((b - 1.0).abs() < 1e-12);
//! let d = self_bleu_text(&["a b c d", "a b c d"])?; // identical samples: no diversity
//! assert!((d - 1.0).abs() < 1e-12);
//! # Ok::<(), entroscope::Error>(())
//! ```

use std::collections::HashMap;

use crate::{Error, Result};

/// Split text into lower-cased word tokens: maximal runs of alphanumeric characters; everything
/// else separates (and is dropped). `"Paris, France."` → `["paris", "france"]`.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Smoothing of zero n-gram precisions in sentence BLEU (NLTK's `SmoothingFunction` methods).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// Method 0: none; any zero precision makes BLEU 0.
    None,
    /// Method 1: a zero numerator becomes `ε` (NLTK's default ε = 0.1; what Texygen's Self-BLEU
    /// uses).
    Epsilon(f64),
    /// Method 2 (Lin & Och 2004): add 1 to numerator and denominator of every order `n ≥ 2`.
    AddOne,
    /// Method 3 (NIST geometric): the k-th zero precision becomes `1 / (2^k · denominator)`.
    Exponential,
}

impl Smoothing {
    /// NLTK's method 1 with its default ε = 0.1.
    pub const METHOD1: Smoothing = Smoothing::Epsilon(0.1);
}

/// Sentence-BLEU options: n-gram orders `1..=max_n` with uniform weights, and the smoothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BleuOptions {
    /// Highest n-gram order (≥ 1; BLEU-4 = 4).
    pub max_n: usize,
    /// Zero-precision smoothing.
    pub smoothing: Smoothing,
}

impl Default for BleuOptions {
    /// BLEU-4 with NLTK smoothing method 1 (ε = 0.1).
    fn default() -> Self {
        Self {
            max_n: 4,
            smoothing: Smoothing::METHOD1,
        }
    }
}

fn ngram_counts<S: AsRef<str>>(tokens: &[S], n: usize) -> HashMap<Vec<&str>, usize> {
    let mut m = HashMap::new();
    if n == 0 || tokens.len() < n {
        return m;
    }
    for w in tokens.windows(n) {
        let key: Vec<&str> = w.iter().map(AsRef::as_ref).collect();
        *m.entry(key).or_insert(0) += 1;
    }
    m
}

/// Sentence BLEU of token sequences (NLTK `sentence_bleu` semantics), in `[0, 1]`.
///
/// Modified precision `p_n` = clipped n-gram matches (each candidate n-gram counted at most as
/// often as in the reference where it is most frequent) / candidate n-grams (at least 1);
/// `BLEU = BP · exp(Σ_n ln p_n / max_n)` with `BP = 1` if the candidate is longer than the
/// closest reference length `r`, else `exp(1 − r/c)`. An empty candidate, no reference, or no
/// unigram match gives 0 (as NLTK).
///
/// ```
/// use entroscope::stats::text::{bleu, BleuOptions, Smoothing};
/// // candidate "a b c" vs reference "a b d", BLEU-2 without smoothing:
/// // p1 = 2/3, p2 = 1/2, BP = 1 → sqrt(2/3 · 1/2) = 0.57735
/// let o = BleuOptions { max_n: 2, smoothing: Smoothing::None };
/// let b = bleu(&["a", "b", "c"], &[&["a", "b", "d"][..]], o);
/// assert!((b - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// ```
pub fn bleu<S: AsRef<str>, R: AsRef<str>>(
    candidate: &[S],
    references: &[&[R]],
    opts: BleuOptions,
) -> f64 {
    let c = candidate.len();
    if c == 0 || references.is_empty() || opts.max_n == 0 {
        return 0.0;
    }
    // (numerator, denominator) per order, as NLTK's Fraction(_normalize=False)
    let mut p: Vec<(f64, f64)> = Vec::with_capacity(opts.max_n);
    for n in 1..=opts.max_n {
        let cand = ngram_counts(candidate, n);
        let mut max_ref: HashMap<Vec<&str>, usize> = HashMap::new();
        for r in references {
            for (g, k) in ngram_counts(r, n) {
                let e = max_ref.entry(g).or_insert(0);
                *e = (*e).max(k);
            }
        }
        let num: usize = cand
            .iter()
            .map(|(g, &k)| k.min(max_ref.get(g).copied().unwrap_or(0)))
            .sum();
        let den: usize = cand.values().sum::<usize>().max(1);
        p.push((num as f64, den as f64));
    }
    if p[0].0 == 0.0 {
        return 0.0;
    }
    // closest reference length, ties to the shorter one
    let r = references
        .iter()
        .map(|r| r.len())
        .min_by_key(|&len| (len.abs_diff(c), len))
        .unwrap_or(0);
    let bp = if c > r {
        1.0
    } else {
        (1.0 - r as f64 / c as f64).exp()
    };
    let probs: Vec<f64> = match opts.smoothing {
        Smoothing::None => p
            .iter()
            .map(|&(a, b)| if a == 0.0 { 0.0 } else { a / b })
            .collect(),
        Smoothing::Epsilon(eps) => p
            .iter()
            .map(|&(a, b)| if a == 0.0 { eps / b } else { a / b })
            .collect(),
        Smoothing::AddOne => p
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| if i == 0 { a / b } else { (a + 1.0) / (b + 1.0) })
            .collect(),
        Smoothing::Exponential => {
            let mut k = 1;
            p.iter()
                .map(|&(a, b)| {
                    if a == 0.0 {
                        let v = 1.0 / (2f64.powi(k) * b);
                        k += 1;
                        v
                    } else {
                        a / b
                    }
                })
                .collect()
        }
    };
    if probs.iter().any(|&x| x <= 0.0) {
        return 0.0;
    }
    let w = 1.0 / opts.max_n as f64;
    bp * probs.iter().map(|x| w * x.ln()).sum::<f64>().exp()
}

/// [`bleu`] of texts after [`tokenize`], with the default options (BLEU-4, method 1).
pub fn bleu_text<R: AsRef<str>>(candidate: &str, references: &[R]) -> f64 {
    let c = tokenize(candidate);
    let refs: Vec<Vec<String>> = references.iter().map(|r| tokenize(r.as_ref())).collect();
    let refs: Vec<&[String]> = refs.iter().map(Vec::as_slice).collect();
    bleu(&c, &refs, BleuOptions::default())
}

/// ROUGE-L of a candidate against one reference: LCS-based precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RougeL {
    /// LCS / candidate length.
    pub precision: f64,
    /// LCS / reference length.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f: f64,
}

/// Length of the longest common subsequence of two token sequences (O(|a|·|b|) time,
/// O(|b|) memory).
pub fn lcs_len<S: AsRef<str>, R: AsRef<str>>(a: &[S], b: &[R]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x.as_ref() == y.as_ref() {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE-L of token sequences (rouge-score's `rougeL`): an empty candidate or reference scores 0.
///
/// ```
/// use entroscope::stats::text::rouge_l;
/// // LCS("a b c d", "a c e") = "a c" = 2: P = 2/4, R = 2/3, F = 2·P·R/(P+R) = 4/7
/// let r = rouge_l(&["a", "b", "c", "d"], &["a", "c", "e"]);
/// assert!((r.f - 4.0 / 7.0).abs() < 1e-12);
/// ```
pub fn rouge_l<S: AsRef<str>, R: AsRef<str>>(candidate: &[S], reference: &[R]) -> RougeL {
    if candidate.is_empty() || reference.is_empty() {
        return RougeL::default();
    }
    let l = lcs_len(candidate, reference) as f64;
    let precision = l / candidate.len() as f64;
    let recall = l / reference.len() as f64;
    let f = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    RougeL {
        precision,
        recall,
        f,
    }
}

/// [`rouge_l`] of texts after [`tokenize`].
pub fn rouge_l_text(candidate: &str, reference: &str) -> RougeL {
    rouge_l(&tokenize(candidate), &tokenize(reference))
}

/// The highest ROUGE-L F1 of a candidate against several references (0 for none).
pub fn max_rouge_l_text<R: AsRef<str>>(candidate: &str, references: &[R]) -> f64 {
    let c = tokenize(candidate);
    references
        .iter()
        .map(|r| rouge_l(&c, &tokenize(r.as_ref())).f)
        .fold(0.0, f64::max)
}

/// Self-BLEU of a set of samples (Texygen): the mean over samples of the BLEU of each sample
/// against all the others as references. 1 = all samples identical; lower = more diverse.
///
/// Errors: fewer than two samples ([`Error::NotEnoughData`]).
pub fn self_bleu<S: AsRef<str>>(samples: &[Vec<S>], opts: BleuOptions) -> Result<f64> {
    if samples.len() < 2 {
        return Err(Error::NotEnoughData(format!(
            "Self-BLEU needs at least 2 samples per prompt, got {}",
            samples.len()
        )));
    }
    let mut sum = 0.0;
    for (i, s) in samples.iter().enumerate() {
        let refs: Vec<&[S]> = samples
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, r)| r.as_slice())
            .collect();
        sum += bleu(s, &refs, opts);
    }
    Ok(sum / samples.len() as f64)
}

/// [`self_bleu`] of texts after [`tokenize`], BLEU-4 with smoothing method 1.
pub fn self_bleu_text<S: AsRef<str>>(samples: &[S]) -> Result<f64> {
    let toks: Vec<Vec<String>> = samples.iter().map(|s| tokenize(s.as_ref())).collect();
    self_bleu(&toks, BleuOptions::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_small() {
        assert_eq!(
            lcs_len(
                &["a", "b", "c", "b", "d", "a", "b"],
                &["b", "d", "c", "a", "b", "a"]
            ),
            4
        );
        assert_eq!(lcs_len::<&str, &str>(&[], &["a"]), 0);
    }

    #[test]
    fn tokenizer_drops_punctuation() {
        assert_eq!(
            tokenize("Paris, France. It's 1969!"),
            vec!["paris", "france", "it", "s", "1969"]
        );
    }
}
