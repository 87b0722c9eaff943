//! Information measures on next-token distributions, computed in f32 from logits with
//! log-sum-exp so that logits up to ±1e4 neither overflow nor underflow.
//!
//! Everything here reduces **one row of logits** `z` (`[vocab]`, f32 / f16 / bf16 / f64, never
//! normalised first; see [`Logit`]) to scalars, without materialising the probability vector:
//! [`reduce_row`] computes any mix of Shannon, Rényi orders ([`Renyi`]), target statistics and
//! the top-k tokens in one read of the row; [`shannon`], [`renyi`], [`cross_entropy`],
//! [`target_stats`] and [`top_k`] are single-statistic shorthands; [`kl_div`] and [`js_div`]
//! compare two rows. [`reduce_rows`], [`kl_rows`] and [`js_rows`] do the same for every row of
//! a row-major `[rows, vocab]` block in parallel, and [`Metric`] names one statistic per row for
//! the logit lens ([`Metric::eval_rows`]).
//!
//! The row is streamed once while three sums relative to its running max `m` are kept, with
//! `d = z − m ≤ 0`: `S₀ = Σ e^d`, `S₁ = Σ e^d·d`, `S₂ = Σ e^{2d}` (plus `Σ e^{αd}` per Rényi
//! order outside {0, 1, 2, ∞}). From the sums, in nats:
//! - `ln Σ e^z = m + ln S₀` (so `ln p_i = d_i − ln S₀`),
//! - Shannon `H = −Σ p ln p = ln S₀ − S₁/S₀`,
//! - Rényi-2 `−ln Σ p² = 2 ln S₀ − ln S₂`, Rényi-∞ `−ln max p = ln S₀`, Rényi-0 `ln #finite`,
//! - general Rényi `(ln Σe^{αd} − α ln S₀)/(1 − α)`; for |α − 1| < ¼ the cancellation-free
//!   `ln S₀ − ln1p(U/S₀)/(α−1)`, `U = Σ e^d·expm1((α−1)d)`, so that α → 1 tends to Shannon,
//! - cross-entropy `−ln p(t) = ln S₀ − d_t`.
//!
//! The vectorised block loops that produce the sums live in `kernels.rs` (portable, plus an
//! AVX2 + FMA copy chosen at run time on x86-64: results differ by float rounding only), and
//! the fast `exp` / `ln` polynomials they use in `fastmath.rs` (`fast_exp`, `expm1`,
//! [`fast_ln`]). Results are accurate to ~1e-6 relative.
//!
//! Conventions: values are in **nats** (convert with [`Units`]); a logit of `-inf` means a masked
//! token (probability 0, outside the support); NaN or `+inf` anywhere is [`Error::NonFinite`].
//! Probabilities below `e^-87 ≈ 1.6e-38` times the largest are treated as 0 in sums (their
//! contribution is below f32 resolution).
//!
//! ```
//! use entroscope::entropy::{reduce_row, Renyi, Request};
//! // p = [1/6, 2/6, 3/6]
//! let logits = [0.0f32, 2f32.ln(), 3f32.ln()];
//! let req = Request::new().shannon().renyi(Renyi::new(2.0)?);
//! let stats = reduce_row(&logits, &req, Some(2))?;
//! assert!(stats.shannon.is_some_and(|h| (h - 1.011404).abs() < 1e-5));
//! assert!((stats.renyi[0] - (36.0f32 / 14.0).ln()).abs() < 1e-5);
//! assert!(stats.target.is_some_and(|t| t.rank == 0 && (t.prob() - 0.5).abs() < 1e-6));
//! # Ok::<(), entroscope::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use crate::error::{Error, Result};

mod fastmath;
mod kernels;
mod tensor_ops;

pub(crate) use fastmath::{fast_exp, fast_ln};
pub use kernels::Logit;
pub(crate) use tensor_ops::{kl_rows_tensor, reduce_rows_tensor};

use kernels::{base_sums, js_sum, kl_sums, scan_row, stream_row, RowSums};

/// Units of an information quantity. Natural log (nats) is the default everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Units {
    /// Natural logarithm (`ln`): the unit every function here returns.
    #[default]
    Nats,
    /// Base-2 logarithm: `bits = nats · log₂e`.
    Bits,
}

impl Units {
    /// Factor that converts a value in nats into these units.
    pub fn from_nats(self) -> f32 {
        match self {
            Units::Nats => 1.0,
            Units::Bits => std::f32::consts::LOG2_E,
        }
    }

    /// Convert a value in nats into these units (`x · log₂e` for bits).
    ///
    /// ```
    /// use entroscope::entropy::Units;
    /// assert_eq!(Units::Bits.convert(2f32.ln()), 1.0);
    /// ```
    pub fn convert(self, nats: f32) -> f32 {
        nats * self.from_nats()
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Units::Nats => "nats",
            Units::Bits => "bits",
        })
    }
}

impl FromStr for Units {
    type Err = ParseMetricError;

    /// `"nats"` / `"nat"` or `"bits"` / `"bit"` (case-insensitive).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nats" | "nat" => Ok(Units::Nats),
            "bits" | "bit" => Ok(Units::Bits),
            _ => Err(ParseMetricError::UnknownUnits(s.to_string())),
        }
    }
}

/// A per-(layer, position) statistic of the lens distribution.
///
/// Its `Display` is the CLI / frame spelling (`shannon`, `renyi:2`, …) and `FromStr` its inverse.
///
/// ```
/// use entroscope::entropy::Metric;
/// let m = Metric::renyi(2.0)?;
/// assert_eq!(m.to_string(), "renyi:2");
/// assert_eq!(m.alpha(), Some(2.0));
/// assert_eq!("renyi:2".parse::<Metric>()?, m);
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// Shannon entropy −Σ p ln p, in nats.
    Shannon,
    /// Rényi entropy of order α ≥ 0, in nats: ln(Σ p^α)/(1−α); α=0 → ln |support|, α=1 →
    /// Shannon, α=∞ → −ln max p. Build it with [`Metric::renyi`] or from a [`Renyi`].
    Renyi(Renyi),
    /// −ln p(target) for a given target token per position, in nats.
    CrossEntropy,
    /// KL(p_layer ‖ p_final), in nats.
    KlToFinal,
    /// Rank of the target token (0 = top-1).
    TargetRank,
    /// Probability of the target token.
    TargetProb,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Shannon => f.write_str("shannon"),
            Metric::Renyi(r) => write!(f, "{r}"),
            Metric::CrossEntropy => f.write_str("cross-entropy"),
            Metric::KlToFinal => f.write_str("kl-final"),
            Metric::TargetRank => f.write_str("target-rank"),
            Metric::TargetProb => f.write_str("target-prob"),
        }
    }
}

/// Why a string is not a [`Metric`] (or [`Units`], or [`Renyi`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseMetricError {
    /// Not one of the metric names.
    #[error("unknown metric `{0}`; expected one of: shannon, renyi:<alpha> (e.g. renyi:2, renyi:0.5, renyi:inf), cross-entropy, kl-final, target-rank, target-prob")]
    Unknown(String),
    /// `renyi:` followed by something that is not an order α ≥ 0.
    #[error("bad Rényi order in `{input}`: {reason}; write renyi:<alpha> with alpha >= 0, e.g. renyi:0.5, renyi:2 or renyi:inf")]
    BadAlpha {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not `nats` or `bits`.
    #[error("unknown units `{0}`; expected `nats` or `bits`")]
    UnknownUnits(String),
}

impl From<ParseMetricError> for Error {
    fn from(e: ParseMetricError) -> Self {
        let (name, value) = match &e {
            ParseMetricError::Unknown(s) => ("metric", s.clone()),
            ParseMetricError::BadAlpha { input, .. } => ("metric", input.clone()),
            ParseMetricError::UnknownUnits(s) => ("units", s.clone()),
        };
        Error::InvalidParameter {
            name,
            value,
            expected: e.to_string(),
        }
    }
}

impl FromStr for Metric {
    type Err = ParseMetricError;

    /// Parse the CLI / frame spelling (the inverse of `Display`): `shannon`, `renyi:<α>` (α a
    /// number ≥ 0 or `inf`), `cross-entropy`, `kl-final`, `target-rank`, `target-prob`.
    /// Case-insensitive; `_` may stand for `-`.
    ///
    /// ```
    /// use entroscope::entropy::{Metric, Renyi};
    /// assert_eq!("renyi:inf".parse::<Metric>()?, Metric::Renyi(Renyi::new(f32::INFINITY)?));
    /// assert_eq!("renyi:0.5".parse::<Metric>()?, Metric::renyi(0.5)?);
    /// assert!("renyi:-1".parse::<Metric>().is_err());
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        if norm.starts_with("renyi") {
            return s.parse::<Renyi>().map(Metric::Renyi);
        }
        match norm.as_str() {
            "shannon" => Ok(Metric::Shannon),
            "cross-entropy" | "crossentropy" => Ok(Metric::CrossEntropy),
            "kl-final" => Ok(Metric::KlToFinal),
            "target-rank" => Ok(Metric::TargetRank),
            "target-prob" => Ok(Metric::TargetProb),
            _ => Err(ParseMetricError::Unknown(s.to_string())),
        }
    }
}

impl Metric {
    /// The Rényi entropy of order `alpha` (see [`Renyi::new`]): any α ≥ 0, including
    /// `f32::INFINITY`; NaN or negative α is [`Error::InvalidParameter`].
    pub fn renyi(alpha: f32) -> Result<Metric> {
        Renyi::new(alpha).map(Metric::Renyi)
    }

    /// The Rényi order α this metric is (Shannon = 1), `None` for the non-entropy metrics
    /// (cross-entropy, KL, target rank and probability).
    ///
    /// ```
    /// use entroscope::entropy::Metric;
    /// assert_eq!(Metric::Shannon.alpha(), Some(1.0));
    /// assert_eq!(Metric::renyi(0.5)?.alpha(), Some(0.5));
    /// assert_eq!(Metric::CrossEntropy.alpha(), None);
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    pub fn alpha(&self) -> Option<f32> {
        match self {
            Metric::Shannon => Some(1.0),
            Metric::Renyi(r) => Some(r.alpha()),
            _ => None,
        }
    }

    /// Whether the value is an information quantity (nats/bits). Rank and probability are not:
    /// [`Units`] does not change them.
    pub fn is_information(&self) -> bool {
        !matches!(self, Metric::TargetRank | Metric::TargetProb)
    }

    /// Whether the metric needs one target token id per row.
    pub fn needs_target(&self) -> bool {
        matches!(
            self,
            Metric::CrossEntropy | Metric::TargetRank | Metric::TargetProb
        )
    }

    /// Whether the metric needs a reference row (the final layer's logits) per row.
    pub fn needs_reference(&self) -> bool {
        matches!(self, Metric::KlToFinal)
    }

    /// Convert a value of this metric from nats into `units` (identity for rank / probability).
    pub fn convert(&self, nats: f32, units: Units) -> f32 {
        if self.is_information() {
            units.convert(nats)
        } else {
            nats
        }
    }

    /// Evaluate the metric on one row of logits (`[vocab]`), in nats (rank as a float).
    ///
    /// `target` is needed by [`Metric::needs_target`] metrics, `reference` (the final layer's
    /// logits, `[vocab]`) by [`Metric::KlToFinal`].
    pub fn eval_row<T: Logit>(
        &self,
        logits: &[T],
        target: Option<u32>,
        reference: Option<&[T]>,
    ) -> Result<f32> {
        match self {
            Metric::KlToFinal => {
                let q = reference.ok_or_else(|| {
                    Error::invalid(
                        "reference",
                        "none",
                        "kl-final needs the final layer's logits as the reference row",
                    )
                })?;
                kl_div(logits, q)
            }
            Metric::Shannon | Metric::Renyi(_) => {
                Ok(self.value(&reduce_row(logits, &self.request(), None)?, 0, None))
            }
            Metric::CrossEntropy | Metric::TargetRank | Metric::TargetProb => {
                let t = target.ok_or_else(|| {
                    Error::invalid("target", "none", format!("{self} needs a target token id"))
                })?;
                Ok(self.value(&reduce_row(logits, &Request::new(), Some(t))?, 0, None))
            }
        }
    }

    /// The [`Request`] that computes this metric's entropy (empty for the others).
    fn request(&self) -> Request {
        match self {
            Metric::Shannon => Request::new().shannon(),
            Metric::Renyi(r) => Request::new().renyi(*r),
            _ => Request::new(),
        }
    }

    /// This metric's value in a row's statistics, in nats (rank as a float): the one map from
    /// [`RowStats`] to a metric, shared by [`Metric::eval_row`] and the lens. `renyi` is the index
    /// of this metric's order in [`RowStats::renyi`], `kl` the row's KL to the final layer; NaN
    /// where the statistic is missing (no target, no reference).
    pub fn value(&self, st: &RowStats, renyi: usize, kl: Option<f32>) -> f32 {
        let target = |f: fn(&TargetStats) -> f32| st.target.as_ref().map_or(f32::NAN, f);
        match self {
            Metric::Shannon => st.shannon.unwrap_or(f32::NAN),
            Metric::Renyi(_) => st.renyi.get(renyi).copied().unwrap_or(f32::NAN),
            Metric::KlToFinal => kl.unwrap_or(f32::NAN),
            Metric::CrossEntropy => target(TargetStats::cross_entropy),
            Metric::TargetRank => target(|t| t.rank as f32),
            Metric::TargetProb => target(TargetStats::prob),
        }
    }
    /// Evaluate the metric on every row of a row-major `[rows, vocab]` block, in parallel
    /// (rayon), returning `[rows]` values in `units` (rank and probability are unit-less).
    ///
    /// `targets`: `[rows]` token ids (for cross-entropy, rank, probability). `reference`: either
    /// `[rows, vocab]` (one reference row per row) or `[vocab]` (one row for all), for
    /// [`Metric::KlToFinal`]. Errors name the first bad row.
    ///
    /// ```
    /// use entroscope::entropy::{Metric, Units};
    /// let rows = [0.0f32, 0.0, 0.0, 0.0, /* row 2: */ 0.0, 0.0, 100.0, 0.0];
    /// let h = Metric::Shannon.eval_rows(&rows, 4, None, None, Units::Bits)?;
    /// assert!((h[0] - 2.0).abs() < 1e-6 && h[1] < 1e-6);
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    pub fn eval_rows<T: Logit>(
        &self,
        logits: &[T],
        vocab: usize,
        targets: Option<&[u32]>,
        reference: Option<&[T]>,
        units: Units,
    ) -> Result<Vec<f32>> {
        let rows = check_block(logits, vocab, "logits")?;
        let targets = check_targets(targets, rows)?;
        if self.needs_target() && targets.is_none() {
            return Err(Error::invalid(
                "targets",
                "none",
                format!("{self} needs one target token id per row"),
            ));
        }
        let reference = match reference {
            Some(q) => Some(check_reference(q, rows, vocab)?),
            None if self.needs_reference() => {
                return Err(Error::invalid(
                    "reference",
                    "none",
                    "kl-final needs the final layer's logits as the reference rows",
                ))
            }
            None => None,
        };
        let mut out = vec![0f32; rows];
        out.par_iter_mut()
            .zip(logits.par_chunks(vocab))
            .enumerate()
            .with_min_len(min_rows_per_task(vocab))
            .try_for_each(|(i, (o, row))| {
                let t = targets.map(|t| t[i]);
                let q = reference.map(|r| r.row(i));
                *o = self.convert(self.eval_row(row, t, q).map_err(|e| at_row(e, i))?, units);
                Ok::<(), Error>(())
            })?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Rényi order
// ---------------------------------------------------------------------------------------------

/// A validated Rényi order α ∈ [0, ∞]: the one type for an order everywhere (in a [`Request`]
/// and in [`Metric::Renyi`]). Build it with [`Renyi::new`] (run time, `Result`) or
/// [`Renyi::checked`] (`const`, `Option`).
///
/// `H_α(p) = ln(Σ p^α) / (1 − α)` in nats, with the exact limits α=0 → `ln |support|` (number of
/// finite logits), α=1 → Shannon, α=∞ → `−ln max p`. Non-increasing in α.
///
/// `Display` / `FromStr` spell it `renyi:<α>` (`renyi:inf` for ∞), as [`Metric`] does; serde
/// writes it as the bare number α (and checks it when reading).
///
/// ```
/// use entroscope::entropy::Renyi;
/// let r = Renyi::new(0.5)?;
/// assert_eq!((r.alpha(), r.to_string()), (0.5, "renyi:0.5".to_string()));
/// assert_eq!("renyi:0.5".parse::<Renyi>()?, r);
/// assert!(Renyi::new(-1.0).is_err() && Renyi::checked(f32::NAN).is_none());
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "f32", try_from = "f32")]
pub struct Renyi {
    alpha: f32,
    order: Order,
}

/// How an order is computed (decided once, at construction).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    Zero,
    Shannon,
    Two,
    Inf,
    /// |α − 1| < [`NEAR_ONE`]: `ln S₀ − ln1p(Σ e^d·expm1(β d) / S₀)/β`, β = α − 1, which has no
    /// cancellation as β → 0.
    NearOne(f32),
    /// `(ln Σ e^{αd} − α ln S₀)/(1 − α)`.
    General(f32),
}

/// Below this |α − 1| the near-one formula is used (see [`Order::NearOne`]).
const NEAR_ONE: f32 = 0.25;

impl Renyi {
    /// Validate α: any number ≥ 0, including `f32::INFINITY`. NaN or negative α is
    /// [`Error::InvalidParameter`].
    pub fn new(alpha: f32) -> Result<Self> {
        Self::checked(alpha).ok_or_else(|| {
            Error::invalid(
                "alpha",
                alpha,
                "a Rényi order alpha >= 0 (0, 0.5, 1, 2, inf, …)",
            )
        })
    }

    /// [`Renyi::new`] as a `const fn`: `None` for NaN or negative α. In a `const` block a
    /// literal order is checked at compile time:
    ///
    /// ```
    /// use entroscope::entropy::{Metric, Renyi};
    /// let five = Metric::Renyi(const { Renyi::checked(5.0).unwrap() }); // ok: const, checked at compile time
    /// assert_eq!(five, Metric::renyi(5.0)?);
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    pub const fn checked(alpha: f32) -> Option<Self> {
        if alpha.is_nan() || alpha < 0.0 {
            return None;
        }
        let order = if alpha == 0.0 {
            Order::Zero
        } else if alpha == 1.0 {
            Order::Shannon
        } else if alpha == 2.0 {
            Order::Two
        } else if alpha == f32::INFINITY {
            Order::Inf
        } else if (alpha - 1.0).abs() < NEAR_ONE {
            Order::NearOne(alpha - 1.0)
        } else {
            Order::General(alpha)
        };
        Some(Renyi { alpha, order })
    }

    /// The order α.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl fmt::Display for Renyi {
    /// `renyi:<α>`, e.g. `renyi:2`, `renyi:0.5`, `renyi:inf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "renyi:{}", self.alpha)
    }
}

impl FromStr for Renyi {
    type Err = ParseMetricError;

    /// `renyi:<α>` with α a number ≥ 0 or `inf` / `infinity` / `∞` (case-insensitive; the
    /// inverse of `Display`).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let bad = |reason: &str| ParseMetricError::BadAlpha {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let rest = norm
            .strip_prefix("renyi")
            .ok_or_else(|| bad("expected `renyi:<alpha>`"))?;
        let a = rest
            .strip_prefix(':')
            .ok_or_else(|| bad("missing `:<alpha>`"))?
            .trim();
        let alpha = match a {
            "inf" | "+inf" | "infinity" | "∞" => f32::INFINITY,
            "" => return Err(bad("missing alpha")),
            _ => a
                .parse::<f32>()
                .map_err(|_| bad(&format!("`{a}` is not a number")))?,
        };
        Renyi::checked(alpha).ok_or_else(|| bad("alpha must be >= 0 (not NaN)"))
    }
}

impl From<Renyi> for f32 {
    /// The order α.
    fn from(r: Renyi) -> f32 {
        r.alpha
    }
}

impl TryFrom<f32> for Renyi {
    type Error = Error;

    /// [`Renyi::new`].
    fn try_from(alpha: f32) -> Result<Self> {
        Renyi::new(alpha)
    }
}

// ---------------------------------------------------------------------------------------------
// Public API: one row
// ---------------------------------------------------------------------------------------------

/// Which statistics [`reduce_row`] computes (besides the always-present max and log-norm).
///
/// ```
/// use entroscope::entropy::{Renyi, Request};
/// let req = Request::new().shannon().renyi(Renyi::new(0.5)?).renyi(Renyi::new(f32::INFINITY)?).top_k(5);
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// Compute Shannon entropy.
    pub shannon: bool,
    /// Rényi orders to compute, in this order in [`RowStats::renyi`].
    pub renyi: Vec<Renyi>,
    /// Number of most likely tokens to return (0 = none).
    pub top_k: usize,
}

impl Request {
    /// Nothing but the log-normaliser (and target statistics when a target is passed).
    pub fn new() -> Self {
        Self::default()
    }
    /// Add Shannon entropy.
    pub fn shannon(mut self) -> Self {
        self.shannon = true;
        self
    }
    /// Add a Rényi order.
    pub fn renyi(mut self, r: Renyi) -> Self {
        self.renyi.push(r);
        self
    }
    /// Ask for the `k` most likely tokens.
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = k;
        self
    }

    /// One request for the entropies of all `metrics`, and where each metric's Rényi order sits
    /// in [`RowStats::renyi`] (the `renyi` argument of [`Metric::value`]; `usize::MAX` for the
    /// others).
    pub fn for_metrics(metrics: &[Metric]) -> (Self, Vec<usize>) {
        let mut req = Self::new();
        let mut slot = vec![usize::MAX; metrics.len()];
        for (i, m) in metrics.iter().enumerate() {
            match m {
                Metric::Shannon => req.shannon = true,
                Metric::Renyi(a) => {
                    slot[i] = req.renyi.len();
                    req.renyi.push(*a);
                }
                _ => {}
            }
        }
        (req, slot)
    }
}

/// Statistics of the target token of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetStats {
    /// The target token id.
    pub id: u32,
    /// `ln p(target)` in nats (≤ 0; `-inf` if the target's logit is `-inf`).
    pub log_prob: f32,
    /// Number of tokens with a strictly larger logit (0 = top-1; ties rank optimistically).
    pub rank: usize,
}

impl TargetStats {
    /// `p(target)` ∈ [0, 1].
    pub fn prob(&self) -> f32 {
        self.log_prob.exp()
    }
    /// Cross-entropy `−ln p(target)` in nats.
    pub fn cross_entropy(&self) -> f32 {
        -self.log_prob
    }
}

/// Everything [`reduce_row`] computed for one row; entropies in nats.
#[derive(Debug, Clone, PartialEq)]
pub struct RowStats {
    /// Row length.
    pub vocab: usize,
    /// Number of finite logits (tokens with p > 0); `vocab` minus the `-inf` ones.
    pub support: usize,
    /// Largest logit `m`.
    pub max_logit: f32,
    /// `ln Σ e^(z−m)` ∈ [0, ln support]: `ln p_i = z_i − m − log_norm`. Also the Rényi-∞
    /// (min-)entropy.
    pub log_norm: f32,
    /// Shannon entropy in nats, if requested.
    pub shannon: Option<f32>,
    /// Rényi entropies in nats, `[req.renyi.len()]`, in the order of [`Request::renyi`].
    pub renyi: Vec<f32>,
    /// Target statistics, if a target was passed.
    pub target: Option<TargetStats>,
    /// The `k` most likely tokens as `(id, ln p)`, most likely first (ties: lower id first).
    pub top_k: Vec<(u32, f32)>,
}

impl RowStats {
    /// `ln Σ e^z` (log-partition function), in f64 because `m` may be large.
    pub fn log_z(&self) -> f64 {
        f64::from(self.max_logit) + f64::from(self.log_norm)
    }
    /// `ln p` of a token whose logit is `z`.
    pub fn log_prob_of_logit(&self, z: f32) -> f32 {
        ((f64::from(z) - f64::from(self.max_logit)) - f64::from(self.log_norm)) as f32
    }
    /// Largest probability `max p = e^{−log_norm}`.
    pub fn max_prob(&self) -> f32 {
        (-self.log_norm).exp()
    }
}

/// Reduce one row of logits (`[vocab]`) to the statistics in `req`, plus target statistics when
/// `target` is given, reading the row once (see the [module docs](self)).
///
/// Errors: empty row or `target ≥ vocab` ([`Error::TokenOutOfVocab`]); NaN / `+inf` / all `-inf`
/// ([`Error::NonFinite`]).
pub fn reduce_row<T: Logit>(logits: &[T], req: &Request, target: Option<u32>) -> Result<RowStats> {
    let vocab = logits.len();
    if vocab == 0 {
        return Err(Error::invalid(
            "logits",
            "[]",
            "a row of at least one logit",
        ));
    }
    let zt = match target {
        Some(t) => Some(
            logits
                .get(t as usize)
                .ok_or(Error::TokenOutOfVocab { id: t, vocab })?
                .to_f32(),
        ),
        None => None,
    };
    // One streaming pass over the row (see `kernels::stream_row`).
    let sums = stream_row(logits, zt, &req.renyi, req.top_k.min(vocab));
    finish_row(vocab, req, target, zt, sums)
}

/// The statistics of one row from its sums (see the [module docs](self)); shared by the fused
/// kernels and the tensor-op reducer.
fn finish_row(
    vocab: usize,
    req: &Request,
    target: Option<u32>,
    zt: Option<f32>,
    sums: RowSums,
) -> Result<RowStats> {
    let RowSums {
        scan,
        s,
        extra,
        top,
    } = sums;
    scan.check()?;
    let m = scan.max;
    let support = vocab - scan.neg_inf;
    let [s0, s1, s2] = s;
    let ln_s0 = s0.ln();
    let ln_support = (support as f64).ln();
    let clamp = |h: f64| h.clamp(0.0, ln_support) as f32;

    let shannon = req.shannon.then(|| clamp(ln_s0 - s1 / s0));
    let renyi = req
        .renyi
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let h = match r.order {
                Order::Zero => ln_support,
                Order::Shannon => ln_s0 - s1 / s0,
                Order::Two => 2.0 * ln_s0 - s2.ln(),
                Order::Inf => ln_s0,
                // H = ln S₀ − ln1p(U/S₀)/β with U = Σ e^d·expm1(βd)
                Order::NearOne(beta) => ln_s0 - (extra[i] / s0).ln_1p() / f64::from(beta),
                Order::General(alpha) => {
                    let a = f64::from(alpha);
                    (extra[i].ln() - a * ln_s0) / (1.0 - a)
                }
            };
            clamp(h)
        })
        .collect();

    let target = match (target, zt) {
        (Some(id), Some(z)) => Some(TargetStats {
            id,
            log_prob: ((f64::from(z) - f64::from(m)) - ln_s0) as f32,
            rank: scan.above,
        }),
        _ => None,
    };

    let top_k = top
        .into_iter()
        .map(|(z, id)| (id, ((f64::from(z) - f64::from(m)) - ln_s0) as f32))
        .collect();

    Ok(RowStats {
        vocab,
        support,
        max_logit: m,
        log_norm: ln_s0 as f32,
        shannon,
        renyi,
        target,
        top_k,
    })
}

/// Shannon entropy `−Σ p ln p` of one row of logits, in nats.
pub fn shannon<T: Logit>(logits: &[T]) -> Result<f32> {
    Ok(reduce_row(logits, &Request::new().shannon(), None)?
        .shannon
        .unwrap_or(f32::NAN))
}

/// Rényi entropy of order `r` of one row of logits, in nats.
pub fn renyi<T: Logit>(logits: &[T], r: Renyi) -> Result<f32> {
    Ok(reduce_row(logits, &Request::new().renyi(r), None)?.renyi[0])
}

/// Cross-entropy `−ln p(target)` of one row of logits, in nats.
pub fn cross_entropy<T: Logit>(logits: &[T], target: u32) -> Result<f32> {
    Ok(target_stats(logits, target)?.cross_entropy())
}

/// `ln p(target)`, `p(target)` (via [`TargetStats::prob`]) and the target's rank.
pub fn target_stats<T: Logit>(logits: &[T], target: u32) -> Result<TargetStats> {
    reduce_row(logits, &Request::new(), Some(target))?
        .target
        .ok_or(Error::TokenOutOfVocab {
            id: target,
            vocab: logits.len(),
        })
}

/// The `k` most likely tokens `(id, ln p)` of one row, most likely first.
pub fn top_k<T: Logit>(logits: &[T], k: usize) -> Result<Vec<(u32, f32)>> {
    Ok(reduce_row(logits, &Request::new().top_k(k), None)?.top_k)
}

fn check_pair<T>(p: &[T], q: &[T]) -> Result<()> {
    if p.len() != q.len() {
        return Err(Error::invalid(
            "q",
            format!("a row of {} logits", q.len()),
            format!("the same vocabulary size as p ({})", p.len()),
        ));
    }
    Ok(())
}

/// `KL(p ‖ q) = Σ p ln(p/q)` between the softmaxes of two rows of logits of the same length, in
/// nats; 3 passes (max of each, then one fused pass). ≥ 0 (rounding is clamped), exactly 0 for
/// identical rows, `+inf` when a token has p > 0 and logit `-inf` in q.
///
/// ```
/// use entroscope::entropy::kl_div;
/// // p = [1/6, 2/6, 3/6], q uniform: KL = ln 3 − H(p) = 0.0872086
/// let p = [0.0f32, 2f32.ln(), 3f32.ln()];
/// assert!((kl_div(&p, &[0.0f32; 3])? - 0.0872086).abs() < 1e-6);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn kl_div<T: Logit>(p: &[T], q: &[T]) -> Result<f32> {
    check_pair(p, q)?;
    if p.is_empty() {
        return Err(Error::invalid(
            "logits",
            "[]",
            "a row of at least one logit",
        ));
    }
    let mp = scan_row(p, None).map_err(|e| rename(e, "p"))?.max;
    let mq = scan_row(q, None).map_err(|e| rename(e, "q"))?.max;
    let [sp, sq, t] = kl_sums(p, q, mp, mq);
    // KL = Σ p (dp − ln Sp − dq + ln Sq) = T/Sp − ln Sp + ln Sq
    let kl = t / sp - sp.ln() + sq.ln();
    Ok(if kl.is_nan() { kl } else { kl.max(0.0) } as f32)
}

/// Jensen–Shannon divergence `½KL(p‖M) + ½KL(q‖M)`, `M = (p+q)/2`, between the softmaxes of two
/// rows, in nats: symmetric (bit for bit), in `[0, ln 2]`; 4 passes. Computed per token as
/// `(p+q)/4 · g(|p−q|/(p+q))` with `g(r) = (1+r)ln(1+r) + (1−r)ln(1−r) ≥ 0`, so that nearly equal
/// rows give a small positive value instead of a cancellation.
///
/// ```
/// use entroscope::entropy::js_div;
/// // disjoint supports: JS = ln 2
/// let (p, q) = ([0.0f32, f32::NEG_INFINITY], [f32::NEG_INFINITY, 0.0f32]);
/// assert!((js_div(&p, &q)? - 2f32.ln()).abs() < 1e-6);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn js_div<T: Logit>(p: &[T], q: &[T]) -> Result<f32> {
    check_pair(p, q)?;
    if p.is_empty() {
        return Err(Error::invalid(
            "logits",
            "[]",
            "a row of at least one logit",
        ));
    }
    let mp = scan_row(p, None).map_err(|e| rename(e, "p"))?.max;
    let mq = scan_row(q, None).map_err(|e| rename(e, "q"))?.max;
    let sp = base_sums(p, mp)[0];
    let sq = base_sums(q, mq)[0];
    // ln p_i = (z_i − m) − ln S; m and ln S kept apart so that large logits lose nothing
    let o = [mp, sp.ln() as f32, mq, sq.ln() as f32];
    let acc = js_sum(p, q, o);
    Ok((acc / 4.0).clamp(0.0, std::f64::consts::LN_2) as f32)
}

fn rename(e: Error, which: &str) -> Error {
    match e {
        Error::NonFinite { what } => Error::NonFinite {
            what: format!("{what} of row {which}"),
        },
        e => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Public API: many rows in parallel
// ---------------------------------------------------------------------------------------------

/// Rows per rayon task: enough that a task has ≥ ~8k logits.
fn min_rows_per_task(vocab: usize) -> usize {
    (8192 / vocab.max(1)).max(1)
}

fn at_row(e: Error, i: usize) -> Error {
    match e {
        Error::NonFinite { what } => Error::NonFinite {
            what: format!("{what} in row {i}"),
        },
        e => e,
    }
}

fn check_block<T>(logits: &[T], vocab: usize, name: &'static str) -> Result<usize> {
    if vocab == 0 {
        return Err(Error::invalid("vocab", 0, "a vocabulary size ≥ 1"));
    }
    if logits.len() % vocab != 0 {
        return Err(Error::invalid(
            name,
            format!("{} values", logits.len()),
            format!("a row-major [rows, vocab] block, a multiple of vocab = {vocab}"),
        ));
    }
    Ok(logits.len() / vocab)
}

fn check_targets(targets: Option<&[u32]>, rows: usize) -> Result<Option<&[u32]>> {
    match targets {
        Some(t) if t.len() != rows => Err(Error::invalid(
            "targets",
            format!("{} ids", t.len()),
            format!("one target id per row ({rows})"),
        )),
        t => Ok(t),
    }
}

/// Reference rows: one per row, or one shared by all rows.
#[derive(Clone, Copy)]
struct RefRows<'a, T> {
    data: &'a [T],
    vocab: usize,
    broadcast: bool,
}

impl<'a, T> RefRows<'a, T> {
    fn row(&self, i: usize) -> &'a [T] {
        if self.broadcast {
            self.data
        } else {
            &self.data[i * self.vocab..(i + 1) * self.vocab]
        }
    }
}

fn check_reference<T>(q: &[T], rows: usize, vocab: usize) -> Result<RefRows<'_, T>> {
    if q.len() == vocab {
        Ok(RefRows {
            data: q,
            vocab,
            broadcast: true,
        })
    } else if q.len() == rows * vocab {
        Ok(RefRows {
            data: q,
            vocab,
            broadcast: false,
        })
    } else {
        Err(Error::invalid(
            "reference",
            format!("{} values", q.len()),
            format!(
                "[{rows}, {vocab}] (one reference row per row) or [{vocab}] (one for all rows)"
            ),
        ))
    }
}

/// [`reduce_row`] on every row of a row-major `[rows, vocab]` block, in parallel (rayon's global
/// pool; set `RAYON_NUM_THREADS` to limit it). `targets`, if given, holds one id per row.
///
/// ```
/// use entroscope::entropy::{reduce_rows, Request};
/// let block = [0.0f32; 2 * 8]; // two uniform rows over 8 tokens
/// let stats = reduce_rows(&block, 8, &Request::new().shannon(), Some(&[3, 5]))?;
/// assert!(stats[1].shannon.is_some_and(|h| (h - 8f32.ln()).abs() < 1e-6));
/// assert!(stats[1].target.is_some_and(|t| t.rank == 0));
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn reduce_rows<T: Logit>(
    logits: &[T],
    vocab: usize,
    req: &Request,
    targets: Option<&[u32]>,
) -> Result<Vec<RowStats>> {
    let rows = check_block(logits, vocab, "logits")?;
    let targets = check_targets(targets, rows)?;
    logits
        .par_chunks(vocab)
        .enumerate()
        .with_min_len(min_rows_per_task(vocab))
        .map(|(i, row)| reduce_row(row, req, targets.map(|t| t[i])).map_err(|e| at_row(e, i)))
        .collect()
}

/// `KL(p_i ‖ q_i)` for every row of `p` (`[rows, vocab]`), in parallel; `q` is `[rows, vocab]`
/// or a single `[vocab]` row compared with every row of `p`.
pub fn kl_rows<T: Logit>(p: &[T], q: &[T], vocab: usize) -> Result<Vec<f32>> {
    pair_rows(p, q, vocab, kl_div)
}

/// `JS(p_i, q_i)` for every row of `p` (`[rows, vocab]`), in parallel; `q` is `[rows, vocab]`
/// or a single `[vocab]` row (e.g. DoLa: every candidate layer against the final layer).
pub fn js_rows<T: Logit>(p: &[T], q: &[T], vocab: usize) -> Result<Vec<f32>> {
    pair_rows(p, q, vocab, js_div)
}

fn pair_rows<T: Logit>(
    p: &[T],
    q: &[T],
    vocab: usize,
    f: fn(&[T], &[T]) -> Result<f32>,
) -> Result<Vec<f32>> {
    let rows = check_block(p, vocab, "p")?;
    let q = check_reference(q, rows, vocab)?;
    p.par_chunks(vocab)
        .enumerate()
        .with_min_len(min_rows_per_task(vocab))
        .map(|(i, row)| f(row, q.row(i)).map_err(|e| at_row(e, i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LN2: f32 = std::f32::consts::LN_2;

    fn close(a: f32, b: f64, tol: f64) -> bool {
        (f64::from(a) - b).abs() <= tol * (1.0 + b.abs())
    }

    /// p = [1/6, 2/6, 3/6] from logits [0, ln 2, ln 3] (softmax: e^z = [1, 2, 3] / 6).
    fn golden() -> [f32; 3] {
        [0.0, 2f32.ln(), 3f32.ln()]
    }

    #[test]
    fn golden_entropies() {
        // H = (1/6)ln 6 + (2/6)ln 3 + (3/6)ln 2
        //   = 0.298627 + 0.366204 + 0.346574 = 1.011404
        let h = (6f64.ln() + 2.0 * 3f64.ln() + 3.0 * 2f64.ln()) / 6.0;
        // H₂ = −ln Σp² = −ln((1+4+9)/36) = ln(36/14) = 0.944462
        let h2 = (36f64 / 14.0).ln();
        // H∞ = −ln(1/2) = ln 2;  H₀ = ln 3 (three tokens with p > 0)
        // H_½ = 2 ln Σ √p = 2 ln((1 + √2 + √3)/√6) = 1.061695
        let h_half = 2.0 * ((1.0 + 2f64.sqrt() + 3f64.sqrt()) / 6f64.sqrt()).ln();
        // H₃ = −½ ln Σ p³ = −½ ln((1+8+27)/216) = ½ ln 6 = 0.895880
        let h3 = 0.5 * 6f64.ln();
        let req = Request::new()
            .shannon()
            .renyi(Renyi::new(0.0).unwrap()) // ok: test-only
            .renyi(Renyi::new(0.5).unwrap()) // ok: test-only
            .renyi(Renyi::new(1.0).unwrap()) // ok: test-only
            .renyi(Renyi::new(2.0).unwrap()) // ok: test-only
            .renyi(Renyi::new(3.0).unwrap()) // ok: test-only
            .renyi(Renyi::new(f32::INFINITY).unwrap()); // ok: test-only
        let s = reduce_row(&golden(), &req, Some(0)).unwrap(); // ok: test-only
        assert!(close(s.shannon.unwrap(), h, 1e-6), "{s:?}"); // ok: test-only
        let want = [3f64.ln(), h_half, h, h2, h3, 2f64.ln()];
        for (got, want) in s.renyi.iter().zip(want) {
            assert!(close(*got, want, 1e-6), "{got} vs {want}");
        }
        // target 0: p = 1/6, CE = ln 6 = 1.791759, two tokens above it
        let t = s.target.unwrap(); // ok: test-only
        assert!(close(t.cross_entropy(), 6f64.ln(), 1e-6));
        assert!(close(t.prob(), 1.0 / 6.0, 1e-6));
        assert_eq!(t.rank, 2);
        assert!(close(s.log_norm, 2f64.ln(), 1e-6)); // Σ e^{z−m} = (1+2+3)/3 = 2
        assert_eq!(s.support, 3);
    }

    #[test]
    fn golden_in_half_precision_and_bits() {
        // Same row stored as f16/bf16 (rounded): compare with the f32 path on the rounded values.
        let g16: Vec<half::f16> = golden().iter().map(|&x| half::f16::from_f32(x)).collect();
        let r16: Vec<f32> = g16.iter().map(|x| x.to_f32()).collect();
        assert_eq!(shannon(&g16).unwrap(), shannon(&r16).unwrap()); // ok: test-only
        let gb: Vec<half::bf16> = golden().iter().map(|&x| half::bf16::from_f32(x)).collect();
        let rb: Vec<f32> = gb.iter().map(|x| x.to_f32()).collect();
        assert_eq!(shannon(&gb).unwrap(), shannon(&rb).unwrap()); // ok: test-only
                                                                  // uniform over 4 tokens: exactly 2 bits
        let h = Metric::Shannon
            .eval_rows(&[1.0f32; 4], 4, None, None, Units::Bits)
            .unwrap(); // ok: test-only
        assert!((h[0] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn golden_divergences() {
        let p = golden();
        let u = [0f32; 3];
        // KL(p‖u) = Σ p ln(3p) = ln 3 − H(p) = 1.098612 − 1.011404 = 0.087208
        let h = (6f64.ln() + 2.0 * 3f64.ln() + 3.0 * 2f64.ln()) / 6.0;
        assert!(close(kl_div(&p, &u).unwrap(), 3f64.ln() - h, 1e-6)); // ok: test-only
                                                                      // KL(u‖p) = Σ (1/3) ln((1/3)/p_i) = (1/3)(ln(6/3) + ln(6/6) + ln(6/9)) = (1/3) ln(4/3)
        assert!(close(
            kl_div(&u, &p).unwrap(), // ok: test-only
            (4f64 / 3.0).ln() / 3.0,
            1e-6
        ));
        // JS(p, u) = H(M) − (H(p) + H(u))/2, M = (p + u)/2 = [3/12, 4/12, 5/12]
        let hm = -[3.0f64, 4.0, 5.0]
            .iter()
            .map(|&c| c / 12.0 * (c / 12.0).ln())
            .sum::<f64>();
        let js = hm - (h + 3f64.ln()) / 2.0;
        assert!(close(js_div(&p, &u).unwrap(), js, 1e-6), "{js}"); // ok: test-only
        assert_eq!(js_div(&p, &u).unwrap(), js_div(&u, &p).unwrap()); // ok: test-only
        assert_eq!(kl_div(&p, &p).unwrap(), 0.0); // ok: test-only
                                                  // q masks a token p uses: KL = +inf; the reverse only needs q's support
        let q = [0.0f32, f32::NEG_INFINITY, 0.0];
        assert_eq!(kl_div(&p, &q).unwrap(), f32::INFINITY); // ok: test-only
                                                            // KL(q‖p) = ½ ln((1/2)/(1/6)) + ½ ln((1/2)/(1/2)) = ½ ln 3
        assert!(close(kl_div(&q, &p).unwrap(), 0.5 * 3f64.ln(), 1e-6)); // ok: test-only
        let js = js_div(&[0.0f32, -1e4], &[-1e4f32, 0.0]).unwrap(); // ok: test-only
        assert!((js - LN2).abs() < 1e-6);
        // ok: test-only
    }

    #[test]
    fn masked_tokens_and_extremes() {
        // −inf = masked: uniform over the 2 finite tokens
        let z = [5.0f32, f32::NEG_INFINITY, 5.0, f32::NEG_INFINITY];
        let req = Request::new()
            .shannon()
            .renyi(Renyi::new(0.0).unwrap()) // ok: test-only
            .renyi(Renyi::new(0.3).unwrap()) // ok: test-only
            .renyi(Renyi::new(1.1).unwrap()); // ok: test-only
        let s = reduce_row(&z, &req, Some(1)).unwrap(); // ok: test-only
        assert!(close(s.shannon.unwrap(), 2f64.ln(), 1e-6)); // ok: test-only
        for h in &s.renyi {
            assert!(close(*h, 2f64.ln(), 1e-6), "{s:?}");
        }
        assert_eq!(s.support, 2);
        let t = s.target.unwrap(); // ok: test-only
        assert_eq!(t.log_prob, f32::NEG_INFINITY);
        assert_eq!(t.rank, 2);
        // ±1e4: one token dominates completely
        let z = [1e4f32, -1e4, 0.0, 1e4 - 1.0];
        let s = reduce_row(&z, &Request::new().shannon(), Some(1)).unwrap(); // ok: test-only
                                                                             // p ≈ [1/(1+e⁻¹), 0, 0, e⁻¹/(1+e⁻¹)]: H = ln(1+e⁻¹) + e⁻¹/(1+e⁻¹) = 0.582203
        let e1 = (-1f64).exp();
        assert!(close(
            s.shannon.unwrap(), // ok: test-only
            (1.0 + e1).ln() + e1 / (1.0 + e1),
            1e-6
        ));
        // ln p(1) = −2e4 − ln(1 + e⁻¹), representable
        assert!(close(
            s.target.unwrap().log_prob, // ok: test-only
            -2e4 - (1.0 + e1).ln(),
            1e-6
        ));
    }

    #[test]
    fn terms_below_the_negligible_cut_leave_the_sums_exact() {
        // Two tokens at 0, 1000 at −10 (kept: e^−10 ≈ 4.5e-5 each, 4.5 % of the mass) and
        // 4096 at −50 (e^−50 ≈ 2e-22 each, below the kernels' cut at e^−43; 7.9e-19 of the
        // mass together). With S = 2 + 1000e^−10: H = ln S + 10·1000e^−10/S and
        // H₂ = 2 ln S − ln(2 + 1000e^−20), the −50 tokens changing neither at f32 precision.
        let mut z = vec![-50.0f32; 5098];
        z[0] = 0.0;
        z[3000] = 0.0;
        for x in &mut z[1..1001] {
            *x = -10.0;
        }
        let e10 = (-10f64).exp();
        let s = 2.0 + 1000.0 * e10;
        let req = Request::new().shannon().renyi(Renyi::new(2.0).unwrap()); // ok: test-only
        let r = reduce_row(&z, &req, Some(5000)).unwrap(); // ok: test-only
        let h = r.shannon.unwrap(); // ok: test-only
        assert!(close(h, s.ln() + 10.0 * 1000.0 * e10 / s, 1e-6));
        let h2 = 2.0 * s.ln() - (2.0 + 1000.0 * (-20f64).exp()).ln();
        assert!(close(r.renyi[0], h2, 1e-6));
        // a target below the cut still gets its exact log-probability, −50 − ln S
        assert!(close(r.target.unwrap().log_prob, -50.0 - s.ln(), 1e-6)); // ok: test-only
        assert!(kl_div(&z, &z).unwrap().abs() < 1e-6); // ok: test-only
                                                       // KL keeps every term: p = e^−50/S > 0 where q = 0 still gives +inf
        let mut q = z.clone();
        q[5000] = f32::NEG_INFINITY;
        assert_eq!(kl_div(&z, &q).unwrap(), f32::INFINITY); // ok: test-only
    }

    #[test]
    fn errors() {
        assert!(matches!(
            shannon(&[0.0f32, f32::NAN]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            shannon(&[0.0f32, f32::INFINITY]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            shannon(&[f32::NEG_INFINITY; 3]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            shannon::<f32>(&[]),
            Err(Error::InvalidParameter { .. })
        ));
        for a in [-1.0, -f32::MIN_POSITIVE, f32::NAN, f32::NEG_INFINITY] {
            assert!(matches!(Renyi::new(a), Err(Error::InvalidParameter { .. })));
        }
        assert!(matches!(
            cross_entropy(&[0.0f32; 4], 4),
            Err(Error::TokenOutOfVocab { id: 4, vocab: 4 })
        ));
        assert!(matches!(
            kl_div(&[0.0f32; 4], &[0.0f32; 3]),
            Err(Error::InvalidParameter { .. })
        ));
        // batch errors name the row
        let mut block = vec![0f32; 3 * 5];
        block[2 * 5 + 1] = f32::NAN;
        match reduce_rows(&block, 5, &Request::new().shannon(), None) {
            Err(Error::NonFinite { what }) => assert!(what.contains("row 2"), "{what}"),
            other => panic!("{other:?}"), // ok: test-only
        }
        assert!(reduce_rows(&block, 4, &Request::new(), None).is_err());
        assert!(Metric::CrossEntropy
            .eval_rows(&[0f32; 4], 4, None, None, Units::Nats)
            .is_err());
        assert!(Metric::KlToFinal
            .eval_rows(&[0f32; 4], 4, None, None, Units::Nats)
            .is_err());
        // a bad Rényi order cannot be built, so it never reaches a reduction
        for a in [-2.0, f32::NAN] {
            assert!(matches!(
                Metric::renyi(a),
                Err(Error::InvalidParameter { .. })
            ));
            assert!(Renyi::checked(a).is_none());
        }
    }

    #[test]
    fn top_k_order_and_ties() {
        // two equal maxima at ids 1 and 3: lower id first
        let z = [0.0f32, 2.0, -1.0, 2.0, 1.0];
        let t = top_k(&z, 3).unwrap(); // ok: test-only
        let ids: Vec<u32> = t.iter().map(|x| x.0).collect();
        assert_eq!(ids, vec![1, 3, 4]);
        // ln p(1) = 2 − ln(e⁰ + 2e² + e⁻¹ + e¹)
        let lz = (1.0f64 + 2.0 * 2f64.exp() + (-1f64).exp() + 1f64.exp()).ln();
        assert!(close(t[0].1, 2.0 - lz, 1e-6));
        assert_eq!(top_k(&z, 10).unwrap().len(), 5); // ok: test-only
                                                     // across block boundaries (vocab > 1024)
        let big: Vec<f32> = (0..3000).map(|i| ((i * 7919) % 3001) as f32).collect();
        let mut want: Vec<(u32, f32)> = big
            .iter()
            .enumerate()
            .map(|(i, &z)| (i as u32, z))
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let got: Vec<u32> = top_k(&big, 7).unwrap().iter().map(|x| x.0).collect(); // ok: test-only
        assert_eq!(got, want[..7].iter().map(|x| x.0).collect::<Vec<_>>());
    }

    #[test]
    fn metric_parse_roundtrip() {
        for m in [
            Metric::Shannon,
            Metric::renyi(0.0).unwrap(),           // ok: test-only
            Metric::renyi(0.5).unwrap(),           // ok: test-only
            Metric::renyi(2.0).unwrap(),           // ok: test-only
            Metric::renyi(f32::INFINITY).unwrap(), // ok: test-only
            Metric::CrossEntropy,
            Metric::KlToFinal,
            Metric::TargetRank,
            Metric::TargetProb,
        ] {
            assert_eq!(m.to_string().parse::<Metric>().unwrap(), m); // ok: test-only
        }
        assert_eq!(
            "Renyi:INF".parse::<Metric>().unwrap(), // ok: test-only
            Metric::renyi(f32::INFINITY).unwrap()   // ok: test-only
        );
        assert_eq!(
            "cross_entropy".parse::<Metric>().unwrap(), // ok: test-only
            Metric::CrossEntropy
        );
        assert!(matches!(
            "entropy".parse::<Metric>(),
            Err(ParseMetricError::Unknown(_))
        ));
        for bad in ["renyi", "renyi:", "renyi:x", "renyi:-0.5", "renyi:nan"] {
            assert!(
                matches!(
                    bad.parse::<Metric>(),
                    Err(ParseMetricError::BadAlpha { .. })
                ),
                "{bad}"
            );
        }
        let e: Error = "nope".parse::<Metric>().unwrap_err().into();
        assert!(matches!(e, Error::InvalidParameter { name: "metric", .. }));
        assert_eq!("bits".parse::<Units>().unwrap(), Units::Bits); // ok: test-only
        assert!("nits".parse::<Units>().is_err());
    }

    #[test]
    fn renyi_is_one_validated_type() {
        let two = Renyi::new(2.0).unwrap(); // ok: test-only
        assert_eq!(Renyi::checked(2.0), Some(two));
        assert_eq!(Metric::renyi(2.0).unwrap(), Metric::Renyi(two)); // ok: test-only
        assert_eq!(Metric::Renyi(two).alpha(), Some(2.0));
        assert_eq!(Metric::Shannon.alpha(), Some(1.0));
        assert_eq!(Metric::KlToFinal.alpha(), None);
        assert_eq!(Metric::Renyi(two).to_string(), "renyi:2");
        assert_eq!("renyi:2".parse::<Renyi>().unwrap(), two); // ok: test-only
        assert!(matches!(
            "shannon".parse::<Renyi>(),
            Err(ParseMetricError::BadAlpha { .. })
        ));
        const FIVE: Option<Renyi> = Renyi::checked(5.0);
        assert_eq!(FIVE.map(|r| r.alpha()), Some(5.0));
        // serde keeps the old wire format: the variant with a bare number, checked on reading
        let json = serde_json::to_string(&Metric::Renyi(two)).unwrap(); // ok: test-only
        assert_eq!(json, r#"{"Renyi":2.0}"#);
        let back: Metric = serde_json::from_str(&json).unwrap(); // ok: test-only
        assert_eq!(back, Metric::Renyi(two));
        assert!(serde_json::from_str::<Metric>(r#"{"Renyi":-1.0}"#).is_err());
    }

    #[test]
    fn eval_rows_matches_eval_row() {
        let vocab = 37;
        let block: Vec<f32> = (0..vocab * 5)
            .map(|i| ((i * 31) % 17) as f32 * 0.3)
            .collect();
        let targets = [0u32, 5, 36, 2, 9];
        for m in [
            Metric::Shannon,
            Metric::renyi(0.7).unwrap(), // ok: test-only
            Metric::CrossEntropy,
            Metric::TargetRank,
            Metric::TargetProb,
            Metric::KlToFinal,
        ] {
            let fin = &block[4 * vocab..];
            let got = m
                .eval_rows(&block, vocab, Some(&targets), Some(fin), Units::Bits)
                .unwrap(); // ok: test-only
            for (i, row) in block.chunks(vocab).enumerate() {
                let want = m.eval_row(row, Some(targets[i]), Some(fin)).unwrap(); // ok: test-only
                assert_eq!(got[i], m.convert(want, Units::Bits), "{m} row {i}");
            }
        }
        // broadcast vs full reference
        let fin = &block[4 * vocab..];
        let full: Vec<f32> = (0..5).flat_map(|_| fin.iter().copied()).collect();
        assert_eq!(
            kl_rows(&block, fin, vocab).unwrap(),   // ok: test-only
            kl_rows(&block, &full, vocab).unwrap()  // ok: test-only
        );
        assert_eq!(js_rows(&block, fin, vocab).unwrap()[4], 0.0); // ok: test-only
    }
}
