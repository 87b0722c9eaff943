//! The f32 product `out = A · Bᵀ` on the CPU, written straight into the caller's buffer: the
//! lens's unembedding `[rows, d] · [vocab, d]ᵀ` without a tensor in between, and the forward's
//! linear layers in a build with a BLAS backend. The `gemm` crate (what candle itself calls) by
//! default; OpenBLAS from PyPI behind the `openblas` feature (`scripts/setup-openblas.sh`); Intel
//! MKL behind the `mkl` feature (`scripts/setup-mkl.sh`; one backend per build). With `mkl`,
//! [`matmul_nt_bf16`] also multiplies bf16 matrices into f32 accumulators on CPUs with AMX or
//! AVX512-BF16. `examples/bench_matmul.rs` compares them on the lens's and the forward's products.

use crate::{Error, Result};
use half::bf16;

#[cfg(all(feature = "mkl", feature = "openblas"))]
compile_error!("features `mkl` and `openblas` are two matmul backends: enable one of them");

/// Which routine [`matmul_nt`] uses in this build: `"mkl"`, `"openblas"` or `"gemm"`.
pub const BACKEND: &str = if cfg!(feature = "mkl") {
    "mkl"
} else if cfg!(feature = "openblas") {
    "openblas"
} else {
    "gemm"
};

/// `out[m × n] = a[m × k] · b[n × k]ᵀ`, all row-major f32.
pub fn matmul_nt(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
) -> Result<()> {
    check(a.len(), b.len(), m, n, k, out)?;
    #[cfg(feature = "mkl")]
    mkl::sgemm_nt(a, b, m, n, k, out)?;
    #[cfg(feature = "openblas")]
    openblas::sgemm_nt(a, b, m, n, k, out)?;
    #[cfg(not(any(feature = "openblas", feature = "mkl")))]
    gemm_checked(a, b, m, n, k, out);
    Ok(())
}

/// `out[m × n] = a[m × k] · b[n × k]ᵀ` with bf16 inputs and f32 accumulation and output, by MKL's
/// `cblas_gemm_bf16bf16f32` (AMX tiles or AVX512-BF16 dot products). An error, and no product,
/// in a build without the `mkl` feature or on a CPU with neither AMX-BF16 nor AVX512-BF16
/// ([`bf16_hardware`] says which it has): the caller falls back to [`matmul_nt`] in f32.
pub fn matmul_nt_bf16(
    a: &[bf16],
    b: &[bf16],
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
) -> Result<()> {
    check(a.len(), b.len(), m, n, k, out)?;
    #[cfg(feature = "mkl")]
    {
        if !has_bf16_product() {
            return Err(Error::invalid(
                "matmul_nt_bf16",
                "a CPU without AMX-BF16 or AVX512-BF16",
                "a CPU with bf16 matrix instructions (use the f32 product here)",
            ));
        }
        mkl::gemm_bf16_nt(a, b, m, n, k, out)
    }
    #[cfg(not(feature = "mkl"))]
    Err(Error::invalid(
        "matmul_nt_bf16",
        format!("a build with matmul backend `{BACKEND}`"),
        "a build with the bf16 product: build with `--features mkl` (scripts/setup-mkl.sh)",
    ))
}

/// Whether [`matmul_nt_bf16`] runs here: a build with the `mkl` feature on a CPU with AMX-BF16
/// or AVX512-BF16. Callers pick the bf16 or the f32 path with it.
pub fn has_bf16_product() -> bool {
    cfg!(feature = "mkl") && bf16_hardware().is_some()
}

/// The bf16 matrix instructions this CPU has, best first: `Some("amx-bf16")`,
/// `Some("avx512-bf16")`, or `None` (then [`matmul_nt_bf16`] refuses). Read once from the kernel's
/// CPU flags (`/proc/cpuinfo`; Rust's feature detection has no stable name for AMX); `None` off
/// Linux/x86-64.
pub fn bf16_hardware() -> Option<&'static str> {
    static HW: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *HW.get_or_init(|| {
        if !cfg!(target_arch = "x86_64") {
            return None;
        }
        let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        let flags = info.lines().find(|l| l.starts_with("flags"))?;
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        if has("amx_bf16") && has("amx_tile") {
            Some("amx-bf16")
        } else if has("avx512_bf16") {
            Some("avx512-bf16")
        } else {
            None
        }
    })
}

/// [`matmul_nt`] by the `gemm` crate whatever the build (the micro-benchmark compares both).
pub fn gemm_nt(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, out: &mut [f32]) -> Result<()> {
    check(a.len(), b.len(), m, n, k, out)?;
    gemm_checked(a, b, m, n, k, out);
    Ok(())
}

fn check(a: usize, b: usize, m: usize, n: usize, k: usize, out: &[f32]) -> Result<()> {
    let (mk, nk, mn) = (m.checked_mul(k), n.checked_mul(k), m.checked_mul(n));
    if (Some(a), Some(b), Some(out.len())) != (mk, nk, mn) {
        return Err(Error::invalid(
            "matmul_nt",
            format!("a {a} b {b} out {}", out.len()),
            format!("a = {m}×{k}, b = {n}×{k}, out = {m}×{n} elements"),
        ));
    }
    Ok(())
}

/// The `gemm` crate's product, on lengths [`check`] accepted.
fn gemm_checked(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, out: &mut [f32]) {
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: dst is m×n row-major (col stride 1, row stride n); lhs m×k row-major; rhs = bᵀ,
    // k×n, read from b (n×k row-major): row stride 1, column stride k. Lengths: `check`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// What the two CBLAS backends share: the row-major `a · bᵀ` call on sizes checked to fit
/// CBLAS's 32-bit integers.
#[cfg(any(feature = "mkl", feature = "openblas"))]
mod cblas {
    use super::{Error, Result};
    use std::ffi::c_int;

    pub(super) const ROW_MAJOR: c_int = 101;
    pub(super) const NO_TRANS: c_int = 111;
    pub(super) const TRANS: c_int = 112;

    extern "C" {
        /// The one `cblas_sgemm` of the build's library: MKL's under its own name, the
        /// scipy-openblas wheel's under its `scipy_` prefix (the features exclude each other).
        #[cfg_attr(feature = "openblas", link_name = "scipy_cblas_sgemm")]
        fn cblas_sgemm(
            layout: c_int,
            trans_a: c_int,
            trans_b: c_int,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: f32,
            a: *const f32,
            lda: c_int,
            b: *const f32,
            ldb: c_int,
            beta: f32,
            c: *mut f32,
            ldc: c_int,
        );
    }

    /// The sizes as CBLAS's 32-bit integers (`m`, `n`, `k`: the leading dimensions are `k` and `n`).
    pub(super) fn dims(m: usize, n: usize, k: usize) -> Result<(c_int, c_int, c_int)> {
        match (c_int::try_from(m), c_int::try_from(n), c_int::try_from(k)) {
            (Ok(m), Ok(n), Ok(k)) => Ok((m, n, k)),
            _ => Err(Error::invalid(
                "matmul_nt",
                format!("m {m} n {n} k {k}"),
                "sizes below 2³¹ (CBLAS's 32-bit integers): split the product",
            )),
        }
    }

    /// `cblas_sgemm` on `a · bᵀ`, on lengths `check` accepted.
    pub(super) fn sgemm_nt(
        a: &[f32],
        b: &[f32],
        m: usize,
        n: usize,
        k: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let (mi, ni, ki) = dims(m, n, k)?;
        if m == 0 || n == 0 {
            return Ok(());
        }
        // SAFETY: a is m×k (lda = k), b is n×k (ldb = k, read transposed), out is m×n (ldc = n),
        // all row-major, lengths checked by `check`; every size fits a C int (`dims`).
        unsafe {
            cblas_sgemm(
                ROW_MAJOR,
                NO_TRANS,
                TRANS,
                mi,
                ni,
                ki,
                1.0,
                a.as_ptr(),
                ki.max(1),
                b.as_ptr(),
                ki.max(1),
                0.0,
                out.as_mut_ptr(),
                ni,
            );
        }
        Ok(())
    }
}

/// OpenBLAS as the `scipy-openblas32` wheel ships it (build.rs links `libscipy_openblas.so`):
/// every symbol prefixed with `scipy_`, 32-bit integers, its own threads. Unless
/// `OPENBLAS_NUM_THREADS` is set, their count follows the rayon pool of the first product
/// (`RAYON_NUM_THREADS`, by default the cores), so one setting sizes every parallel part of a run.
#[cfg(feature = "openblas")]
mod openblas {
    use super::{cblas, Result};
    use std::ffi::c_int;

    extern "C" {
        fn scipy_openblas_set_num_threads(threads: c_int);
    }

    pub(super) fn sgemm_nt(
        a: &[f32],
        b: &[f32],
        m: usize,
        n: usize,
        k: usize,
        out: &mut [f32],
    ) -> Result<()> {
        static THREADS: std::sync::Once = std::sync::Once::new();
        THREADS.call_once(|| {
            if std::env::var_os("OPENBLAS_NUM_THREADS").is_some() {
                return;
            }
            let threads = c_int::try_from(rayon::current_num_threads()).unwrap_or(c_int::MAX);
            // SAFETY: a plain OpenBLAS service call with an integer argument.
            unsafe { scipy_openblas_set_num_threads(threads) }
        });
        cblas::sgemm_nt(a, b, m, n, k, out)
    }
}

/// Intel MKL through its single dynamic library `libmkl_rt.so.3` (build.rs links it), LP64
/// interface (32-bit `MKL_INT`), its default threading (Intel OpenMP; `MKL_NUM_THREADS` sets the
/// thread count, by default the physical cores).
#[cfg(feature = "mkl")]
mod mkl {
    use super::cblas::{self, dims, NO_TRANS, ROW_MAJOR, TRANS};
    use super::{bf16, Error, Result};
    use std::ffi::c_int;

    const INTERFACE_LP64: c_int = 0;

    extern "C" {
        fn MKL_Set_Interface_Layer(code: c_int) -> c_int;
        fn cblas_gemm_bf16bf16f32(
            layout: c_int,
            trans_a: c_int,
            trans_b: c_int,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: f32,
            a: *const u16,
            lda: c_int,
            b: *const u16,
            ldb: c_int,
            beta: f32,
            c: *mut f32,
            ldc: c_int,
        );
    }

    /// The LP64 interface pinned once, before the first product (`MKL_INTERFACE_LAYER=ILP64` in
    /// the environment would otherwise make MKL read our 32-bit sizes as 64-bit ones).
    fn init() -> Result<()> {
        static LAYER: std::sync::OnceLock<c_int> = std::sync::OnceLock::new();
        // SAFETY: a plain MKL service call with an integer argument.
        let layer = *LAYER.get_or_init(|| unsafe { MKL_Set_Interface_Layer(INTERFACE_LP64) });
        if layer != INTERFACE_LP64 {
            return Err(Error::invalid(
                "MKL interface layer",
                layer,
                "LP64 (0): unset MKL_INTERFACE_LAYER",
            ));
        }
        Ok(())
    }

    pub(super) fn sgemm_nt(
        a: &[f32],
        b: &[f32],
        m: usize,
        n: usize,
        k: usize,
        out: &mut [f32],
    ) -> Result<()> {
        init()?;
        cblas::sgemm_nt(a, b, m, n, k, out)
    }

    /// `cblas_gemm_bf16bf16f32` on lengths `check` accepted (`bf16` is a transparent `u16`, the
    /// layout of `MKL_BF16`).
    pub(super) fn gemm_bf16_nt(
        a: &[bf16],
        b: &[bf16],
        m: usize,
        n: usize,
        k: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let (mi, ni, ki) = dims(m, n, k)?;
        if m == 0 || n == 0 {
            return Ok(());
        }
        init()?;
        // SAFETY: as in `cblas::sgemm_nt`, with 2-byte elements.
        unsafe {
            cblas_gemm_bf16bf16f32(
                ROW_MAJOR,
                NO_TRANS,
                TRANS,
                mi,
                ni,
                ki,
                1.0,
                a.as_ptr().cast::<u16>(),
                ki.max(1),
                b.as_ptr().cast::<u16>(),
                ki.max(1),
                0.0,
                out.as_mut_ptr(),
                ni,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform values in [-1, 1) from a fixed-seed LCG (no test depends on the platform's RNG).
    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The hand reference, in f64: `(a · bᵀ, |a| · |b|ᵀ)`, the second for the error bounds.
    fn naive(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
        let (mut c, mut abs) = (vec![0f64; m * n], vec![0f64; m * n]);
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let x = f64::from(a[i * k + p]) * f64::from(b[j * k + p]);
                    c[i * n + j] += x;
                    abs[i * n + j] += x.abs();
                }
            }
        }
        (c, abs)
    }

    const CASES: [(usize, usize, usize); 4] =
        [(1, 1, 1), (3, 5, 7), (37, 70, 576), (130, 96, 1536)];

    /// The build's backend ([`BACKEND`]) against the hand reference.
    #[test]
    fn sgemm_matches_naive() -> Result<()> {
        for (i, &(m, n, k)) in CASES.iter().enumerate() {
            let (a, b) = (random(m * k, 2 * i as u64), random(n * k, 2 * i as u64 + 1));
            let mut out = vec![f32::NAN; m * n];
            matmul_nt(&a, &b, m, n, k, &mut out)?;
            let (c, abs) = naive(&a, &b, m, n, k);
            // Any order of k f32 multiply-adds errs by at most k·u·Σ|a_p b_p| (u = 2⁻²⁴, the f32
            // unit roundoff; fused or not, blocked or not), plus one rounding of the result.
            let u = f64::from(f32::EPSILON) / 2.0;
            for ((&got, &want), &s) in out.iter().zip(&c).zip(&abs) {
                let tol = (k + 2) as f64 * u * s;
                assert!(
                    (f64::from(got) - want).abs() <= tol,
                    "{m}×{n}×{k}: {got} vs {want}"
                );
            }
        }
        Ok(())
    }

    #[cfg(feature = "mkl")]
    #[test]
    fn mkl_bf16_matches_naive() -> Result<()> {
        if bf16_hardware().is_none() {
            let mut out = [0f32; 1];
            let one = [bf16::ONE];
            assert!(matmul_nt_bf16(&one, &one, 1, 1, 1, &mut out).is_err());
            return Ok(());
        }
        for (i, &(m, n, k)) in CASES.iter().enumerate() {
            let (a, b) = (random(m * k, 2 * i as u64), random(n * k, 2 * i as u64 + 1));
            let to_bf16 = |v: &[f32]| v.iter().map(|&x| bf16::from_f32(x)).collect::<Vec<_>>();
            let (ab, bb) = (to_bf16(&a), to_bf16(&b));
            let mut out = vec![f32::NAN; m * n];
            matmul_nt_bf16(&ab, &bb, m, n, k, &mut out)?;
            let u = f64::from(f32::EPSILON) / 2.0;
            // Against the product of the bf16-rounded inputs: a bf16×bf16 product is exact in
            // f32 (8 + 8 significant bits), so only the f32 accumulation errs, by k·u·Σ|a b| as
            // for sgemm. This checks MKL's kernel itself, tightly.
            let back = |v: &[bf16]| v.iter().map(|x| x.to_f32()).collect::<Vec<_>>();
            let (c_r, abs_r) = naive(&back(&ab), &back(&bb), m, n, k);
            // Against the f32 inputs: rounding each input to bf16 (8 significant bits, round to
            // nearest: unit roundoff 2⁻⁸) moves it by at most 2⁻⁸ relatively, so each product by
            // at most (2·2⁻⁸ + 2⁻¹⁶)·|a b| and the sum by that times Σ|a b|, on top of the
            // accumulation.
            let (c, abs) = naive(&a, &b, m, n, k);
            let rounding = 2f64.powi(-7) + 2f64.powi(-16);
            for (j, &got) in out.iter().enumerate() {
                let got = f64::from(got);
                let tol_r = (k + 2) as f64 * u * abs_r[j];
                assert!(
                    (got - c_r[j]).abs() <= tol_r,
                    "{m}×{n}×{k}: {got} vs {}",
                    c_r[j]
                );
                let tol = rounding * abs[j] + (k + 2) as f64 * u * abs_r[j];
                assert!((got - c[j]).abs() <= tol, "{m}×{n}×{k}: {got} vs {}", c[j]);
            }
        }
        Ok(())
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut out = vec![0f32; 6];
        assert!(matmul_nt(&[0.0; 5], &[0.0; 6], 2, 3, 2, &mut out).is_err());
        let bb = vec![bf16::ZERO; 6];
        assert!(matmul_nt_bf16(&bb[..5], &bb, 2, 3, 2, &mut out).is_err());
        assert!(matmul_nt(&[], &[], 0, 0, 3, &mut []).is_ok());
    }
}
