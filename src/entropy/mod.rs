//! Information measures on next-token distributions, computed in f32 from logits with
//! log-sum-exp so that logits up to ±1e4 neither overflow nor underflow.
//!
//! # The row reduction
//! Everything here reduces **one row of logits** `z` (`[vocab]`, f32 / f16 / bf16 / f64, never
//! normalised first) to scalars, without materialising the probability vector. The row is
//! streamed once, in blocks of 1024 logits (4 KiB, so each block sits in L1 while it is worked
//! on); per block:
//!
//! 1. *scan*: the block max, NaN / `-inf` detection, and (when a target is given) the number of
//!    logits above the target's — one compare-and-add loop;
//! 2. *sums* relative to the running max `m`, `d = z − m ≤ 0`: `S₀ = Σ e^d`, `S₁ = Σ e^d·d`,
//!    `S₂ = Σ e^{2d}`, one `exp` per logit (plus one per Rényi order outside {0, 1, 2, ∞}: `Σ e^{αd}`),
//!    and the top-k candidates. When a block raises `m` by δ, the sums so far are rescaled
//!    exactly (`S₀ ← e^{−δ}S₀`, `S₁ ← e^{−δ}(S₁ − δS₀)`, …; online softmax), which happens only a
//!    few times per row. This is the classic two-pass max-then-sums reduction done per block, so
//!    the row is read from memory once.
//!
//! From the sums, in nats:
//! - `ln Σ e^z = m + ln S₀` (so `ln p_i = d_i − ln S₀`),
//! - Shannon `H = −Σ p ln p = ln S₀ − S₁/S₀`,
//! - Rényi-2 `−ln Σ p² = 2 ln S₀ − ln S₂`, Rényi-∞ `−ln max p = ln S₀`, Rényi-0 `ln #finite`,
//! - general Rényi `(ln Σe^{αd} − α ln S₀)/(1 − α)`; for |α − 1| < ¼ the cancellation-free
//!   `ln S₀ − ln1p(U/S₀)/(α−1)`, `U = Σ e^d·expm1((α−1)d)`, so that α → 1 tends to Shannon,
//! - cross-entropy `−ln p(t) = ln S₀ − d_t`.
//!
//! Sums are kept in 16 f32 lanes per block and added into f64 between blocks, so that the loops
//! vectorise (no branches, `chunks_exact`) and the results are accurate to ~1e-6 relative.
//! `exp` is a Cephes-style polynomial ([`fast_exp`], < 2e-7 relative error) because std's scalar
//! `expf` would be most of the cost; on x86-64 the kernels are also compiled for AVX2 + FMA and
//! chosen at run time (results then differ from the portable path by float rounding only).
//! KL and JS need both rows' maxima (KL) and normalisers (JS) first, so they take 2 and 3 passes.
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

/// Units of an information quantity. Natural log (nats) is the default everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Units {
    #[default]
    Nats,
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
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// Shannon entropy −Σ p ln p.
    Shannon,
    /// Rényi entropy of order α ≥ 0: ln(Σ p^α)/(1−α); α=0 → ln |support|, α=1 → Shannon,
    /// α=∞ → −ln max p.
    Renyi(f32),
    /// −ln p(target) for a given target token per position.
    CrossEntropy,
    /// KL(p_layer ‖ p_final).
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
            Metric::Renyi(a) => write!(f, "renyi:{a}"),
            Metric::CrossEntropy => f.write_str("cross-entropy"),
            Metric::KlToFinal => f.write_str("kl-final"),
            Metric::TargetRank => f.write_str("target-rank"),
            Metric::TargetProb => f.write_str("target-prob"),
        }
    }
}

/// Why a string is not a [`Metric`] (or [`Units`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseMetricError {
    /// Not one of the metric names.
    #[error("unknown metric `{0}`; expected one of: shannon, renyi:<alpha> (e.g. renyi:2, renyi:0.5, renyi:inf), cross-entropy, kl-final, target-rank, target-prob")]
    Unknown(String),
    /// `renyi:` followed by something that is not an order α ≥ 0.
    #[error("bad Rényi order in `{input}`: {reason}; write renyi:<alpha> with alpha >= 0, e.g. renyi:0.5, renyi:2 or renyi:inf")]
    BadAlpha { input: String, reason: String },
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
    /// use entroscope::entropy::Metric;
    /// assert_eq!("renyi:inf".parse::<Metric>()?, Metric::Renyi(f32::INFINITY));
    /// assert_eq!("renyi:0.5".parse::<Metric>()?, Metric::Renyi(0.5));
    /// assert!("renyi:-1".parse::<Metric>().is_err());
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        if let Some(rest) = norm.strip_prefix("renyi") {
            let bad = |reason: &str| ParseMetricError::BadAlpha {
                input: s.to_string(),
                reason: reason.to_string(),
            };
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
            Renyi::new(alpha).map_err(|_| bad("alpha must be >= 0 (not NaN)"))?;
            return Ok(Metric::Renyi(alpha));
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

    /// Check the parameters (the Rényi order) once, before a long run.
    pub fn validate(&self) -> Result<()> {
        if let Metric::Renyi(a) = self {
            Renyi::new(*a)?;
        }
        Ok(())
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
            Metric::Shannon => Ok(reduce_row(logits, &Request::new().shannon(), None)?
                .shannon
                .unwrap_or(f32::NAN)),
            Metric::Renyi(a) => {
                let r = Renyi::new(*a)?;
                Ok(reduce_row(logits, &Request::new().renyi(r), None)?.renyi[0])
            }
            Metric::CrossEntropy | Metric::TargetRank | Metric::TargetProb => {
                let t = target.ok_or_else(|| {
                    Error::invalid("target", "none", format!("{self} needs a target token id"))
                })?;
                let st = reduce_row(logits, &Request::new(), Some(t))?;
                let ts = st
                    .target
                    .ok_or_else(|| Error::invalid("target", t, "a token id"))?;
                Ok(match self {
                    Metric::CrossEntropy => ts.cross_entropy(),
                    Metric::TargetRank => ts.rank as f32,
                    _ => ts.prob(),
                })
            }
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
        self.validate()?;
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

/// A validated Rényi order α ∈ [0, ∞] (construct with [`Renyi::new`]).
///
/// `H_α(p) = ln(Σ p^α) / (1 − α)`, with the exact limits α=0 → `ln |support|` (number of
/// finite logits), α=1 → Shannon, α=∞ → `−ln max p`. Non-increasing in α.
#[derive(Debug, Clone, Copy, PartialEq)]
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
        if alpha.is_nan() || alpha < 0.0 {
            return Err(Error::invalid(
                "alpha",
                alpha,
                "a Rényi order alpha >= 0 (0, 0.5, 1, 2, inf, …)",
            ));
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
        Ok(Renyi { alpha, order })
    }

    /// The order α.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl fmt::Display for Renyi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "renyi:{}", self.alpha)
    }
}

// ---------------------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------------------

/// Logits are processed in blocks of this many elements (f32 lanes flushed into f64 between
/// blocks; f16/bf16 converted into a stack buffer of this size).
const BLOCK: usize = 1024;
/// Independent accumulators per kernel: 16 f32 = one AVX-512 / two AVX2 / four SSE registers.
const LANES: usize = 16;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// An element type logits can be stored in: `f32`, `f64`, `half::f16`, `half::bf16`.
/// Everything is converted to f32 on the fly, one block of 1024 at a time.
pub trait Logit: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The value as f32.
    fn to_f32(self) -> f32;
    /// `src` (at most 1024 elements) as f32: `src` itself for f32, else converted into `buf`.
    #[doc(hidden)]
    fn block_f32<'a>(src: &'a [Self], buf: &'a mut [f32; BLOCK]) -> &'a [f32];
}

impl Logit for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn block_f32<'a>(src: &'a [f32], _buf: &'a mut [f32; BLOCK]) -> &'a [f32] {
        src
    }
}

impl Logit for f64 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn block_f32<'a>(src: &'a [f64], buf: &'a mut [f32; BLOCK]) -> &'a [f32] {
        let dst = &mut buf[..src.len()];
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s as f32;
        }
        dst
    }
}

impl Logit for half::f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        half::f16::to_f32(self)
    }
    #[inline(always)]
    fn block_f32<'a>(src: &'a [half::f16], buf: &'a mut [f32; BLOCK]) -> &'a [f32] {
        use half::slice::HalfFloatSliceExt;
        let dst = &mut buf[..src.len()];
        src.convert_to_f32_slice(dst);
        dst
    }
}

impl Logit for half::bf16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        half::bf16::to_f32(self)
    }
    #[inline(always)]
    fn block_f32<'a>(src: &'a [half::bf16], buf: &'a mut [f32; BLOCK]) -> &'a [f32] {
        use half::slice::HalfFloatSliceExt;
        let dst = &mut buf[..src.len()];
        src.convert_to_f32_slice(dst);
        dst
    }
}

/// Call `f` on each block of `row` as f32.
#[inline(always)]
fn for_blocks<T: Logit>(row: &[T], mut f: impl FnMut(&[f32])) {
    let mut buf = [0f32; BLOCK];
    for c in row.chunks(BLOCK) {
        f(T::block_f32(c, &mut buf));
    }
}

/// Call `f` on matching blocks of two rows of the same length.
#[inline(always)]
fn for_blocks2<T: Logit>(p: &[T], q: &[T], mut f: impl FnMut(&[f32], &[f32])) {
    let mut bp = [0f32; BLOCK];
    let mut bq = [0f32; BLOCK];
    for (cp, cq) in p.chunks(BLOCK).zip(q.chunks(BLOCK)) {
        f(T::block_f32(cp, &mut bp), T::block_f32(cq, &mut bq));
    }
}

// ---------------------------------------------------------------------------------------------
// Fast exp / expm1 / ln (Cephes single-precision polynomials, branch-free so they vectorise)
// ---------------------------------------------------------------------------------------------

/// Inputs below this give exactly 0 (e^-87 ≈ 1.6e-38 is near the smallest normal f32).
const EXP_LO: f32 = -87.0;
const EXP_HI: f32 = 88.0;
/// 1.5·2²³: adding it rounds an f32 of magnitude < 2²² to an integer, kept in the low bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `a·b + c`, fused (one rounding) in the FMA instantiation of a kernel.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Shared range reduction: x = n·ln2 + r, |r| ≤ ln2/2; returns (2^n, expm1(r)).
#[inline(always)]
fn exp_reduce<const FMA: bool>(x: f32) -> (f32, f32) {
    // two plain selects, so that they compile to one max and one min
    let xc = if x < EXP_LO { EXP_LO } else { x };
    let xc = if xc > EXP_HI { EXP_HI } else { xc };
    let t = madd::<FMA>(xc, std::f32::consts::LOG2_E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let r = madd::<FMA>(-n, LN2_HI, xc);
    let r = madd::<FMA>(-n, LN2_LO, r);
    let r2 = r * r;
    let p = madd::<FMA>(1.987_569_1e-4, r, 1.398_199_9e-3);
    let p = madd::<FMA>(p, r, 8.333_452e-3);
    let p = madd::<FMA>(p, r, 4.166_579_6e-2);
    let p = madd::<FMA>(p, r, 1.666_666_5e-1);
    let p = madd::<FMA>(p, r, 0.5);
    let em1 = madd::<FMA>(p, r2, r); // expm1(r), no cancellation for small r
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    (scale, em1)
}

#[inline(always)]
fn exp_g<const FMA: bool>(x: f32) -> f32 {
    let (scale, em1) = exp_reduce::<FMA>(x);
    let v = madd::<FMA>(em1, scale, scale);
    if x < EXP_LO {
        0.0
    } else {
        v
    }
}

#[inline(always)]
fn expm1_g<const FMA: bool>(x: f32) -> f32 {
    let (scale, em1) = exp_reduce::<FMA>(x);
    madd::<FMA>(scale, em1, scale - 1.0)
}

#[inline(always)]
fn ln_g<const FMA: bool>(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    // mantissa in [0.5, 1)
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < SQRT_HALF;
    e -= small as i32;
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let ef = e as f32;
    let z = f * f;
    let mut y = madd::<FMA>(7.037_683_6e-2, f, -1.151_461_1e-1);
    y = madd::<FMA>(y, f, 1.167_699_9e-1);
    y = madd::<FMA>(y, f, -1.242_014_1e-1);
    y = madd::<FMA>(y, f, 1.424_932_3e-1);
    y = madd::<FMA>(y, f, -1.666_805_8e-1);
    y = madd::<FMA>(y, f, 2.000_071_4e-1);
    y = madd::<FMA>(y, f, -2.499_999_4e-1);
    y = madd::<FMA>(y, f, 3.333_333e-1);
    y *= f * z;
    y = madd::<FMA>(LN2_LO, ef, y);
    y = madd::<FMA>(-0.5, z, y);
    madd::<FMA>(LN2_HI, ef, f + y)
}

/// `e^x` for `x ≤ 88`, relative error < 2e-7; exactly 0 for `x < −87` (including `-inf`),
/// exactly 1 for `x = 0`. Branch-free, so loops over it vectorise.
///
/// ```
/// use entroscope::entropy::fast_exp;
/// assert_eq!(fast_exp(0.0), 1.0);
/// assert!((fast_exp(-1.0) / (-1f32).exp() - 1.0).abs() < 2e-7);
/// assert_eq!(fast_exp(f32::NEG_INFINITY), 0.0);
/// ```
#[inline]
pub fn fast_exp(x: f32) -> f32 {
    exp_g::<false>(x)
}

/// `e^x − 1` for `−87 ≤ x ≤ 88`, accurate near 0 (relative error < 3e-7).
#[inline]
pub fn fast_expm1(x: f32) -> f32 {
    expm1_g::<false>(x)
}

/// Natural log for positive normal `x` (relative error < 2e-7 away from x = 1, absolute < 1e-7
/// near it). Returns a finite value (not −inf) for 0 and subnormals: callers multiply it by 0.
#[inline]
pub fn fast_ln(x: f32) -> f32 {
    ln_g::<false>(x)
}

// ---------------------------------------------------------------------------------------------
// Kernels: each has a portable body (`#[inline(always)]`) and, on x86-64, a copy compiled with
// AVX2 enabled, chosen at run time (the feature test is a cached atomic load).
// ---------------------------------------------------------------------------------------------

macro_rules! kernel {
    ($(#[$doc:meta])* fn $name:ident($($a:ident: $t:ty),* $(,)?) $(-> $r:ty)? $body:block) => {
        $(#[$doc])*
        fn $name($($a: $t),*) $(-> $r)? {
            #[inline(always)]
            #[allow(clippy::needless_range_loop)]
            fn body<const FMA: bool>($($a: $t),*) $(-> $r)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2_fma($($a: $t),*) $(-> $r)? {
                body::<true>($($a),*)
            }

            #[cfg(target_arch = "x86_64")]
            {
                if has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2_fma($($a),*) };
                }
            }
            body::<false>($($a),*)
        }
    };
}

/// Whether the AVX2 + FMA kernels can run here (cached by std after the first call).
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Result of the scan pass.
#[derive(Debug, Clone, Copy)]
struct Scan {
    max: f32,
    nan: bool,
    neg_inf: usize,
    /// Logits strictly greater than the target's (only when asked).
    above: usize,
}

#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn scan_lanes<const RANK: bool>(b: &[f32], zt: f32, st: &mut Scan) {
    let mut mx = [f32::NEG_INFINITY; LANES];
    let mut nan = [0u32; LANES];
    let mut ninf = [0u32; LANES];
    let mut gt = [0u32; LANES];
    let mut chunks = b.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            let z = c[j];
            mx[j] = if z > mx[j] { z } else { mx[j] };
            nan[j] |= z.is_nan() as u32;
            ninf[j] += (z == f32::NEG_INFINITY) as u32;
            if RANK {
                gt[j] += (z > zt) as u32;
            }
        }
    }
    for (j, &z) in chunks.remainder().iter().enumerate() {
        mx[j] = if z > mx[j] { z } else { mx[j] };
        nan[j] |= z.is_nan() as u32;
        ninf[j] += (z == f32::NEG_INFINITY) as u32;
        if RANK {
            gt[j] += (z > zt) as u32;
        }
    }
    for j in 0..LANES {
        st.max = if mx[j] > st.max { mx[j] } else { st.max };
        st.nan |= nan[j] != 0;
        st.neg_inf += ninf[j] as usize;
        st.above += gt[j] as usize;
    }
}

kernel! {
    /// Scan one block: max, NaN, `-inf` count, and (if `zt` is given) the count above `zt`.
    fn scan_block(b: &[f32], zt: Option<f32>, st: &mut Scan) {
        match zt {
            Some(zt) => scan_lanes::<true>(b, zt, st),
            None => scan_lanes::<false>(b, 0.0, st),
        }
    }
}

kernel! {
    /// `[Σ e^d, Σ e^d·d, Σ e^{2d}]` over one block, `d = z − m`, added into `acc`.
    fn base_block(b: &[f32], m: f32, acc: &mut [f64; 3]) {
        let mut s0 = [0f32; LANES];
        let mut s1 = [0f32; LANES];
        let mut s2 = [0f32; LANES];
        let mut chunks = b.chunks_exact(LANES);
        for c in &mut chunks {
            for j in 0..LANES {
                let d = c[j] - m;
                let e = exp_g::<FMA>(d);
                let dc = if d < EXP_LO { EXP_LO } else { d };
                s0[j] += e;
                s1[j] += e * dc;
                s2[j] += e * e;
            }
        }
        for (j, &z) in chunks.remainder().iter().enumerate() {
            let d = z - m;
            let e = exp_g::<FMA>(d);
            let dc = if d < EXP_LO { EXP_LO } else { d };
            s0[j] += e;
            s1[j] += e * dc;
            s2[j] += e * e;
        }
        acc[0] += sum_lanes(&s0);
        acc[1] += sum_lanes(&s1);
        acc[2] += sum_lanes(&s2);
    }
}

kernel! {
    /// `Σ e^{α d}` over one block (α > 0, finite).
    fn alpha_block(b: &[f32], m: f32, alpha: f32, acc: &mut f64) {
        let mut s = [0f32; LANES];
        let mut chunks = b.chunks_exact(LANES);
        for c in &mut chunks {
            for j in 0..LANES {
                s[j] += exp_g::<FMA>(alpha * (c[j] - m));
            }
        }
        for (j, &z) in chunks.remainder().iter().enumerate() {
            s[j] += exp_g::<FMA>(alpha * (z - m));
        }
        *acc += sum_lanes(&s);
    }
}

kernel! {
    /// `Σ e^d · expm1(β d)` over one block (|β| < 1/4): `Σ e^{αd} − S₀` without cancellation.
    fn near_one_block(b: &[f32], m: f32, beta: f32, acc: &mut f64) {
        let mut s = [0f32; LANES];
        let mut chunks = b.chunks_exact(LANES);
        for c in &mut chunks {
            for j in 0..LANES {
                let d = c[j] - m;
                let dc = if d < EXP_LO { EXP_LO } else { d };
                s[j] += exp_g::<FMA>(d) * expm1_g::<FMA>(beta * dc);
            }
        }
        for (j, &z) in chunks.remainder().iter().enumerate() {
            let d = z - m;
            let dc = if d < EXP_LO { EXP_LO } else { d };
            s[j] += exp_g::<FMA>(d) * expm1_g::<FMA>(beta * dc);
        }
        *acc += sum_lanes(&s);
    }
}

kernel! {
    /// `[Σ e^{dp}, Σ e^{dq}, Σ e^{dp}·(dp − dq)]` over matching blocks of two rows.
    fn kl_block(p: &[f32], q: &[f32], mp: f32, mq: f32, acc: &mut [f64; 3]) {
        let mut sp = [0f32; LANES];
        let mut sq = [0f32; LANES];
        let mut t = [0f32; LANES];
        let mut cp = p.chunks_exact(LANES);
        let mut cq = q.chunks_exact(LANES);
        for (a, b) in (&mut cp).zip(&mut cq) {
            for j in 0..LANES {
                let dp = a[j] - mp;
                let dq = b[j] - mq;
                let ep = exp_g::<FMA>(dp);
                sp[j] += ep;
                sq[j] += exp_g::<FMA>(dq);
                // p = 0 contributes 0 whatever q is (0·ln(0/q) = 0); p > 0 = q gives +inf.
                t[j] += if ep > 0.0 { ep * (dp - dq) } else { 0.0 };
            }
        }
        for (j, (&a, &b)) in cp.remainder().iter().zip(cq.remainder()).enumerate() {
            let dp = a - mp;
            let dq = b - mq;
            let ep = exp_g::<FMA>(dp);
            sp[j] += ep;
            sq[j] += exp_g::<FMA>(dq);
            t[j] += if ep > 0.0 { ep * (dp - dq) } else { 0.0 };
        }
        acc[0] += sum_lanes(&sp);
        acc[1] += sum_lanes(&sq);
        acc[2] += sum_lanes(&t);
    }
}

/// `(1+r)ln(1+r) + (1−r)ln(1−r)` for `r ∈ [0, 1]`; ≥ 0, = 2 ln 2 at r = 1, relative error
/// < 5e-7. Series `Σ r^{2k}/(k(2k−1))` up to r = 0.6 (the log form cancels there), logs above.
#[inline(always)]
fn js_g<const FMA: bool>(r: f32) -> f32 {
    // 1/(k(2k−1)), k = 1..=14; the first omitted term is < 1e-9 relative at r = 0.6
    const C: [f32; 14] = [
        1.0,
        1.0 / 6.0,
        1.0 / 15.0,
        1.0 / 28.0,
        1.0 / 45.0,
        1.0 / 66.0,
        1.0 / 91.0,
        1.0 / 120.0,
        1.0 / 153.0,
        1.0 / 190.0,
        1.0 / 231.0,
        1.0 / 276.0,
        1.0 / 325.0,
        1.0 / 378.0,
    ];
    let x = r * r;
    let mut series = C[13];
    for &c in C[..13].iter().rev() {
        series = madd::<FMA>(series, x, c);
    }
    series *= x;
    let a = 1.0 + r;
    let b = 1.0 - r; // ≥ 0; 0·ln_g(0) = 0 since ln_g(0) is finite
    let logs = madd::<FMA>(a, ln_g::<FMA>(a), b * ln_g::<FMA>(b));
    if r <= 0.6 {
        series
    } else {
        logs
    }
}

kernel! {
    /// `Σ (p+q)·g(|p−q|/(p+q))` over matching blocks, with `ln p = (z − m) − ln S`
    /// (`o = [m_p, ln S_p, m_q, ln S_q]`).
    fn js_block(p: &[f32], q: &[f32], o: [f32; 4], acc: &mut f64) {
        let mut s = [0f32; LANES];
        let mut cp = p.chunks_exact(LANES);
        let mut cq = q.chunks_exact(LANES);
        #[inline(always)]
        fn term<const F: bool>(a: f32, b: f32, o: [f32; 4]) -> f32 {
            let pi = exp_g::<F>((a - o[0]) - o[1]);
            let qi = exp_g::<F>((b - o[2]) - o[3]);
            let sum = pi + qi;
            let r = (pi - qi).abs() / sum;
            if sum > 0.0 { sum * js_g::<F>(r) } else { 0.0 }
        }
        for (a, b) in (&mut cp).zip(&mut cq) {
            for j in 0..LANES {
                s[j] += term::<FMA>(a[j], b[j], o);
            }
        }
        for (j, (&a, &b)) in cp.remainder().iter().zip(cq.remainder()).enumerate() {
            s[j] += term::<FMA>(a, b, o);
        }
        *acc += sum_lanes(&s);
    }
}

#[inline(always)]
fn sum_lanes(s: &[f32; LANES]) -> f64 {
    s.iter().map(|&x| f64::from(x)).sum()
}

// ---------------------------------------------------------------------------------------------
// Row-level passes
// ---------------------------------------------------------------------------------------------

impl Scan {
    fn new() -> Self {
        Scan {
            max: f32::NEG_INFINITY,
            nan: false,
            neg_inf: 0,
            above: 0,
        }
    }

    /// Error on NaN, +inf, or no finite logit.
    fn check(&self) -> Result<()> {
        let what = if self.nan {
            "logits (NaN)"
        } else if self.max == f32::INFINITY {
            "logits (+inf)"
        } else if self.max == f32::NEG_INFINITY {
            "logits (every logit is -inf: no token has probability > 0)"
        } else {
            return Ok(());
        };
        Err(Error::NonFinite { what: what.into() })
    }
}

/// Scan a row; error on NaN, +inf, or no finite logit.
fn scan_row<T: Logit>(row: &[T], zt: Option<f32>) -> Result<Scan> {
    let mut st = Scan::new();
    for_blocks(row, |b| scan_block(b, zt, &mut st));
    st.check()?;
    Ok(st)
}

/// `[S₀, S₁, S₂]` of a row relative to its max `m`.
fn base_sums<T: Logit>(row: &[T], m: f32) -> [f64; 3] {
    let mut acc = [0f64; 3];
    for_blocks(row, |b| base_block(b, m, &mut acc));
    acc
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
    /// `p(target)`.
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
    /// Shannon entropy, if requested.
    pub shannon: Option<f32>,
    /// Rényi entropies, in the order of [`Request::renyi`].
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
    // One streaming pass: each block (4 KiB, in L1) is scanned for its max, then summed
    // relative to the running max m; when m grows by δ the sums so far are rescaled
    // (S₀ ← e^{−δ}S₀, S₁ ← e^{−δ}(S₁ − δS₀), …), so the row is read from memory once.
    let mut scan = Scan::new();
    let mut s = [0f64; 3];
    let needs_pass = |r: &Renyi| matches!(r.order, Order::NearOne(_) | Order::General(_));
    let mut extra = if req.renyi.iter().any(needs_pass) {
        vec![0f64; req.renyi.len()]
    } else {
        Vec::new()
    };
    let mut top = TopK::new(req.top_k.min(vocab));
    let mut offset = 0usize;
    for_blocks(logits, |b| {
        let old = scan.max;
        scan_block(b, zt, &mut scan);
        let m = scan.max;
        if m > old && old > f32::NEG_INFINITY {
            rescale(
                f64::from(m) - f64::from(old),
                &mut s,
                &req.renyi,
                &mut extra,
            );
        }
        // m = −inf: every logit so far is masked and adds nothing (and z − m would be NaN)
        if m > f32::NEG_INFINITY {
            base_block(b, m, &mut s);
            for (r, e) in req.renyi.iter().zip(extra.iter_mut()) {
                match r.order {
                    Order::NearOne(beta) => near_one_block(b, m, beta, e),
                    Order::General(alpha) => alpha_block(b, m, alpha, e),
                    _ => {}
                }
            }
        }
        top.push_block(b, offset);
        offset += b.len();
    });
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
        .best
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

/// Shift the sums of [`reduce_row`] from reference max `m` to `m + δ` (δ > 0): with
/// `d' = d − δ`, `S₀' = e^{−δ}S₀`, `S₁' = e^{−δ}(S₁ − δS₀)`, `S₂' = e^{−2δ}S₂`,
/// `Σe^{αd'} = e^{−αδ}Σe^{αd}`, and for `U = Σ e^d·expm1(βd)`:
/// `U' = e^{−δ}(e^{−βδ}U + expm1(−βδ)S₀)`. The added terms have the sign of the old ones, so
/// nothing cancels.
fn rescale(delta: f64, s: &mut [f64; 3], orders: &[Renyi], extra: &mut [f64]) {
    let f = (-delta).exp();
    let s0 = s[0];
    s[0] = f * s0;
    s[1] = f * (s[1] - delta * s0);
    s[2] *= f * f;
    for (r, e) in orders.iter().zip(extra.iter_mut()) {
        match r.order {
            Order::General(alpha) => *e *= (-f64::from(alpha) * delta).exp(),
            Order::NearOne(beta) => {
                let bd = -f64::from(beta) * delta;
                *e = f * (bd.exp() * *e + bd.exp_m1() * s0);
            }
            _ => {}
        }
    }
}

/// The `k` largest logits seen so far as `(logit, id)`, largest first, ties by lower id.
struct TopK {
    k: usize,
    best: Vec<(f32, u32)>,
    thr: f32,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            best: Vec::with_capacity(if k > 0 { k + 1 } else { 0 }),
            thr: f32::NEG_INFINITY,
        }
    }

    /// Offer a block whose first element has id `offset`. NaN rows are rejected later anyway.
    fn push_block(&mut self, b: &[f32], offset: usize) {
        const CHUNK: usize = 64;
        let k = self.k;
        if k == 0 {
            return;
        }
        for (ci, c) in b.chunks(CHUNK).enumerate() {
            // Vectorised max first: most chunks hold nothing above the threshold.
            if self.best.len() == k && chunk_max(c) <= self.thr {
                continue;
            }
            for (j, &z) in c.iter().enumerate() {
                if self.best.len() < k || z > self.thr {
                    let pos = self.best.partition_point(|&(v, _)| v >= z);
                    self.best.insert(pos, (z, (offset + ci * CHUNK + j) as u32));
                    self.best.truncate(k);
                    if self.best.len() == k {
                        self.thr = self.best[k - 1].0;
                    }
                }
            }
        }
    }
}

/// Max of a short slice with explicit lanes (an f32 `fold(max)` does not vectorise).
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn chunk_max(c: &[f32]) -> f32 {
    let mut mx = [f32::NEG_INFINITY; LANES];
    let mut it = c.chunks_exact(LANES);
    for v in &mut it {
        for j in 0..LANES {
            mx[j] = if v[j] > mx[j] { v[j] } else { mx[j] };
        }
    }
    for (j, &z) in it.remainder().iter().enumerate() {
        mx[j] = if z > mx[j] { z } else { mx[j] };
    }
    mx.iter()
        .fold(f32::NEG_INFINITY, |a, &x| if x > a { x } else { a })
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
    let mut acc = [0f64; 3];
    for_blocks2(p, q, |a, b| kl_block(a, b, mp, mq, &mut acc));
    let [sp, sq, t] = acc;
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
    let mut acc = 0f64;
    for_blocks2(p, q, |a, b| js_block(a, b, o, &mut acc));
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

    // Both instantiations are checked: the portable one and the fused one the AVX2 + FMA
    // kernels use (here `mul_add` may go through libm, which gives the same values).
    #[test]
    fn fast_exp_matches_f64() {
        for fused in [false, true] {
            let f = |x| {
                if fused {
                    exp_g::<true>(x)
                } else {
                    exp_g::<false>(x)
                }
            };
            let mut worst = 0f64;
            let mut x = -87.0f32;
            while x <= 88.0 {
                let want = f64::from(x).exp();
                worst = worst.max(((f64::from(f(x)) - want) / want).abs());
                x += 0.001_37;
            }
            assert!(worst < 2e-7, "fused {fused}: worst relative error {worst}");
            assert_eq!(f(0.0), 1.0);
            assert_eq!(f(-87.5), 0.0);
            assert_eq!(f(f32::NEG_INFINITY), 0.0);
        }
    }

    #[test]
    fn fast_expm1_matches_f64() {
        for fused in [false, true] {
            let f = |x| {
                if fused {
                    expm1_g::<true>(x)
                } else {
                    expm1_g::<false>(x)
                }
            };
            let mut worst = 0f64;
            let mut x = -30.0f32;
            while x <= 30.0 {
                let want = f64::from(x).exp_m1();
                if want != 0.0 {
                    worst = worst.max(((f64::from(f(x)) - want) / want).abs());
                }
                x += 0.000_731;
            }
            assert!(worst < 3e-7, "fused {fused}: worst relative error {worst}");
            // tiny arguments: expm1(x) ≈ x, where exp(x) − 1 would cancel
            assert!(close(f(1e-6), 1e-6f64.exp_m1(), 1e-7));
            assert!(close(f(-3e-5), (-3e-5f64).exp_m1(), 1e-7));
        }
    }

    #[test]
    fn fast_ln_matches_f64() {
        for fused in [false, true] {
            let f = |x| {
                if fused {
                    ln_g::<true>(x)
                } else {
                    ln_g::<false>(x)
                }
            };
            let mut worst = 0f64;
            let mut x = 1e-37f32;
            while x < 1e37 {
                let want = f64::from(x).ln();
                worst = worst.max((f64::from(f(x)) - want).abs() / want.abs().max(1.0));
                x *= 1.000_37;
            }
            assert!(worst < 2e-7, "fused {fused}: worst error {worst}");
            assert!(f(0.0).is_finite());
            assert_eq!(f(1.0), 0.0);
        }
    }

    #[test]
    fn js_g_matches_f64() {
        // g(r) = (1+r)ln(1+r) + (1−r)ln(1−r), both branches and the switch at r = 0.6
        for fused in [false, true] {
            let g = |r| {
                if fused {
                    js_g::<true>(r)
                } else {
                    js_g::<false>(r)
                }
            };
            for i in 0..=2000 {
                let r = i as f32 / 2000.0;
                let r64 = f64::from(r);
                let want = if r == 1.0 {
                    2.0 * 2f64.ln()
                } else {
                    (1.0 + r64) * r64.ln_1p() + (1.0 - r64) * (-r64).ln_1p()
                };
                let got = f64::from(g(r));
                assert!(
                    (got - want).abs() <= 5e-7 * want + 1e-12,
                    "r {r}: {got} vs {want}"
                );
            }
        }
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
        assert!((js_div(&[0.0f32, -1e4], &[-1e4f32, 0.0]).unwrap() - LN2).abs() < 1e-6);
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
        assert!(Metric::Renyi(-2.0)
            .eval_rows(&[0f32; 4], 4, None, None, Units::Nats)
            .is_err());
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
            Metric::Renyi(0.0),
            Metric::Renyi(0.5),
            Metric::Renyi(2.0),
            Metric::Renyi(f32::INFINITY),
            Metric::CrossEntropy,
            Metric::KlToFinal,
            Metric::TargetRank,
            Metric::TargetProb,
        ] {
            assert_eq!(m.to_string().parse::<Metric>().unwrap(), m); // ok: test-only
        }
        assert_eq!(
            "Renyi:INF".parse::<Metric>().unwrap(), // ok: test-only
            Metric::Renyi(f32::INFINITY)
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
    fn eval_rows_matches_eval_row() {
        let vocab = 37;
        let block: Vec<f32> = (0..vocab * 5)
            .map(|i| ((i * 31) % 17) as f32 * 0.3)
            .collect();
        let targets = [0u32, 5, 36, 2, 9];
        for m in [
            Metric::Shannon,
            Metric::Renyi(0.7),
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
