//! Fast single-precision `exp`, `expm1` and `ln`: the Cephes polynomials (Moshier's `expf` /
//! `logf` coefficients), written branch-free so that loops over them vectorise.
//!
//! The row kernels spend one `exp` per logit, and std's scalar `expf` is a libm call that keeps
//! a loop from vectorising, so these replace it. Each function is generic over `FMA`: the AVX2 +
//! FMA copies of the kernels instantiate `FMA = true` (each `a·b + c` is one fused
//! multiply-add), the portable copies `FMA = false`; both meet the same error bounds.
//!
//! - `exp`: range reduction `x = n·ln2 + r`, `|r| ≤ ln2/2` (ln 2 split in two parts so that `r`
//!   is exact), `expm1(r) = r + r²·P(r)` with `P` of degree 5, and `2ⁿ` built in the exponent
//!   bits. Inputs below [`EXP_LO`] give exactly 0, so masked (`-inf`) logits drop out of sums.
//! - `expm1`: the same reduction, recombined as `2ⁿ·expm1(r) + (2ⁿ − 1)` so that small
//!   arguments do not cancel.
//! - `ln`: `x = 2ᵉ·m` with `m` in `[√½, √2)`, `ln m = f − f²/2 + f³·P(f)` for `f = m − 1` with
//!   `P` of degree 8, plus `e·ln 2`.

/// Inputs below this give exactly 0 (e^-87 ≈ 1.6e-38 is near the smallest normal f32).
pub(super) const EXP_LO: f32 = -87.0;
/// Inputs are clamped to this from above (e^88 ≈ 1.7e38, near the largest finite f32).
const EXP_HI: f32 = 88.0;
/// 1.5·2²³: adding it rounds an f32 of magnitude < 2²² to an integer, kept in the low bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// ln 2 = `LN2_HI + LN2_LO`; `LN2_HI` has few mantissa bits, so `n·LN2_HI` is exact.
const LN2_HI: f32 = 0.693_359_4;
/// The rest of ln 2 (see [`LN2_HI`]).
const LN2_LO: f32 = -2.121_944_4e-4;

/// `a·b + c`, fused (one rounding) in the FMA instantiation of a kernel.
#[inline(always)]
pub(super) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
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

/// `e^x`; exactly 0 below [`EXP_LO`] (see [`fast_exp`]).
#[inline(always)]
pub(super) fn exp_g<const FMA: bool>(x: f32) -> f32 {
    let (scale, em1) = exp_reduce::<FMA>(x);
    let v = madd::<FMA>(em1, scale, scale);
    if x < EXP_LO {
        0.0
    } else {
        v
    }
}

/// `e^x − 1` for `−87 ≤ x ≤ 88`, accurate near 0 (relative error < 3e-7).
#[inline(always)]
pub(super) fn expm1_g<const FMA: bool>(x: f32) -> f32 {
    let (scale, em1) = exp_reduce::<FMA>(x);
    madd::<FMA>(scale, em1, scale - 1.0)
}

/// `ln x`, finite for 0 and subnormals (see [`fast_ln`]).
#[inline(always)]
pub(super) fn ln_g<const FMA: bool>(x: f32) -> f32 {
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
#[inline]
pub fn fast_exp(x: f32) -> f32 {
    exp_g::<false>(x)
}

/// Natural log for positive normal `x` (relative error < 2e-7 away from x = 1, absolute < 1e-7
/// near it). Returns a finite value (not −inf) for 0 and subnormals: callers multiply it by 0.
#[inline]
pub fn fast_ln(x: f32) -> f32 {
    ln_g::<false>(x)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
