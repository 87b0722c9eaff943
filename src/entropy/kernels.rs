//! The CPU row kernels behind [`reduce_row`](super::reduce_row), [`kl_div`](super::kl_div) and
//! [`js_div`](super::js_div): the element types ([`Logit`]), the vectorised block loops, and the
//! per-row accumulators they feed.
//!
//! A row of logits `z` (`[vocab]`) is streamed once, in blocks of [`BLOCK`] = 1024 logits (4 KiB,
//! so each block sits in L1 while it is worked on), converted to f32 on the fly; per block:
//!
//! 1. *scan* ([`scan_block`]): the block max, NaN / `-inf` detection, and (when a target is
//!    given) the number of logits above the target's — one compare-and-add loop;
//! 2. *sums* relative to the running max `m`, `d = z − m ≤ 0` ([`base_block`]):
//!    `S₀ = Σ e^d`, `S₁ = Σ e^d·d`, `S₂ = Σ e^{2d}`, one `exp` per logit (terms below
//!    `e^{-43}` dropped: [`NEGLIGIBLE`]), plus one more sum
//!    per Rényi order outside {0, 1, 2, ∞} (`Σ e^{αd}`, [`alpha_block`], or
//!    `U = Σ e^d·expm1((α−1)d)` near α = 1, [`near_one_block`]), and the top-k candidates
//!    ([`TopK`]). When a block raises
//!    `m` by δ, the sums so far are rescaled exactly ([`rescale`]: `S₀ ← e^{−δ}S₀`,
//!    `S₁ ← e^{−δ}(S₁ − δS₀)`, …; the online softmax), which happens only a few times per row.
//!    This is the two-pass max-then-sums reduction done per block, so the row is read from
//!    memory once ([`stream_row`]).
//!
//! KL needs both rows' maxima first and JS both rows' normalisers, so they take separate passes
//! ([`scan_row`], [`base_sums`], then [`kl_sums`] / [`js_sum`]).
//!
//! Each block loop keeps [`LANES`] = 16 independent f32 accumulators (no branches,
//! `chunks_exact`) so that it vectorises, and adds them into f64 between blocks, which keeps
//! the results accurate to ~1e-6 relative. `exp` / `ln` are the polynomials of
//! [`fastmath`](super::fastmath). On x86-64 every block loop is also compiled with AVX2 + FMA
//! enabled and chosen at run time (`kernel!`); its results differ from the portable copy's by
//! float rounding only.

use super::fastmath::{exp_g, expm1_g, ln_g, madd, EXP_LO};
use super::{Order, Renyi};
use crate::error::{Error, Result};

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
// Block kernels: each has a portable body (`#[inline(always)]`) and, on x86-64, a copy compiled
// with AVX2 + FMA enabled, chosen at run time (the feature test is a cached atomic load).
// ---------------------------------------------------------------------------------------------

/// Define a block kernel: the body is compiled twice (portable, and with AVX2 + FMA on
/// x86-64) as `body::<FMA>`, and the caller is dispatched on the CPU's features at run time.
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
pub(super) struct Scan {
    /// Largest logit (`-inf` if every logit is masked).
    pub(super) max: f32,
    /// Whether a logit is NaN.
    nan: bool,
    /// Number of `-inf` (masked) logits.
    pub(super) neg_inf: usize,
    /// Logits strictly greater than the target's (only when asked).
    pub(super) above: usize,
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

/// Terms `e^d` with `d` below this are dropped from [`base_block`]'s sums (`e^{-43} ≈ 2e-19` of
/// the row's largest term, which is 1): together they stay under 1e-13 of `S₀` for any
/// vocabulary, while their squares (`S₂`) would be subnormal floats, which x86 cores compute up
/// to twice as slowly. Logit-lens rows routinely span more than 43 nats. KL keeps every term
/// (a tiny `p` where `q = 0` must still give +inf).
const NEGLIGIBLE: f32 = -43.0;

/// `e^d` for a sum term, exactly 0 below [`NEGLIGIBLE`].
#[inline(always)]
fn term_exp<const FMA: bool>(d: f32) -> f32 {
    let e = exp_g::<FMA>(d);
    if d < NEGLIGIBLE {
        0.0
    } else {
        e
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
                let e = term_exp::<FMA>(d);
                let dc = if d < EXP_LO { EXP_LO } else { d };
                s0[j] += e;
                s1[j] += e * dc;
                s2[j] += e * e;
            }
        }
        for (j, &z) in chunks.remainder().iter().enumerate() {
            let d = z - m;
            let e = term_exp::<FMA>(d);
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
    /// A scan computed elsewhere (the tensor-op reducer's column sums).
    pub(super) fn from_parts(max: f32, nan: bool, neg_inf: usize, above: usize) -> Self {
        Scan {
            max,
            nan,
            neg_inf,
            above,
        }
    }

    fn new() -> Self {
        Scan {
            max: f32::NEG_INFINITY,
            nan: false,
            neg_inf: 0,
            above: 0,
        }
    }

    /// Error on NaN, +inf, or no finite logit.
    pub(super) fn check(&self) -> Result<()> {
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
pub(super) fn scan_row<T: Logit>(row: &[T], zt: Option<f32>) -> Result<Scan> {
    let mut st = Scan::new();
    for_blocks(row, |b| scan_block(b, zt, &mut st));
    st.check()?;
    Ok(st)
}

/// `[S₀, S₁, S₂]` of a row relative to its max `m`.
pub(super) fn base_sums<T: Logit>(row: &[T], m: f32) -> [f64; 3] {
    let mut acc = [0f64; 3];
    for_blocks(row, |b| base_block(b, m, &mut acc));
    acc
}

/// `[Σ e^{dp}, Σ e^{dq}, Σ e^{dp}·(dp − dq)]` of two rows of the same length relative to their
/// maxima `mp`, `mq`: one fused pass.
pub(super) fn kl_sums<T: Logit>(p: &[T], q: &[T], mp: f32, mq: f32) -> [f64; 3] {
    let mut acc = [0f64; 3];
    for_blocks2(p, q, |a, b| kl_block(a, b, mp, mq, &mut acc));
    acc
}

/// `Σ (p+q)·g(|p−q|/(p+q))` of two rows of the same length (see [`js_block`] for `o`).
pub(super) fn js_sum<T: Logit>(p: &[T], q: &[T], o: [f32; 4]) -> f64 {
    let mut acc = 0f64;
    for_blocks2(p, q, |a, b| js_block(a, b, o, &mut acc));
    acc
}

/// The sums of one row after [`stream_row`], relative to its max `scan.max`.
pub(super) struct RowSums {
    /// Max, NaN / `-inf` detection, and the count above the target's logit.
    pub(super) scan: Scan,
    /// `[S₀, S₁, S₂] = [Σ e^d, Σ e^d·d, Σ e^{2d}]`.
    pub(super) s: [f64; 3],
    /// Per requested Rényi order: `Σ e^{αd}` ([`Order::General`]) or `Σ e^d·expm1(βd)`
    /// ([`Order::NearOne`]), 0 for the others; empty when no order needs its own sum.
    pub(super) extra: Vec<f64>,
    /// The `k` largest logits as `(logit, id)`, largest first, ties by lower id.
    pub(super) top: Vec<(f32, u32)>,
}

/// Stream one row once: each block (4 KiB, in L1) is scanned for its max, then summed relative
/// to the running max `m`; when `m` grows by δ the sums so far are [`rescale`]d. `zt` is the
/// target's logit (to count the logits above it), `orders` the Rényi orders, `k` the number of
/// top tokens to keep (≤ the row length). Check `scan` for NaN / `+inf` / all `-inf` before
/// using the sums.
pub(super) fn stream_row<T: Logit>(
    logits: &[T],
    zt: Option<f32>,
    orders: &[Renyi],
    k: usize,
) -> RowSums {
    let mut scan = Scan::new();
    let mut s = [0f64; 3];
    let needs_pass = |r: &Renyi| matches!(r.order, Order::NearOne(_) | Order::General(_));
    let mut extra = if orders.iter().any(needs_pass) {
        vec![0f64; orders.len()]
    } else {
        Vec::new()
    };
    let mut top = TopK::new(k);
    let mut offset = 0usize;
    for_blocks(logits, |b| {
        let old = scan.max;
        scan_block(b, zt, &mut scan);
        let m = scan.max;
        if m > old && old > f32::NEG_INFINITY {
            rescale(f64::from(m) - f64::from(old), &mut s, orders, &mut extra);
        }
        // m = −inf: every logit so far is masked and adds nothing (and z − m would be NaN)
        if m > f32::NEG_INFINITY {
            base_block(b, m, &mut s);
            for (r, e) in orders.iter().zip(extra.iter_mut()) {
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
    RowSums {
        scan,
        s,
        extra,
        top: top.best,
    }
}

/// Shift the sums of [`stream_row`] from reference max `m` to `m + δ` (δ > 0): with
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
