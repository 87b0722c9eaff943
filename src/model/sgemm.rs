//! The f32 product `out = A · Bᵀ` on the CPU, written straight into the caller's buffer: the
//! lens's unembedding `[rows, d] · [vocab, d]ᵀ` without a tensor in between. The `gemm` crate
//! (what candle itself calls) by default, the system OpenBLAS behind the `blas` feature for CPUs
//! where it is faster: `examples/bench_matmul.rs` compares them on the lens's product.

use crate::{Error, Result};

/// Which routine [`matmul_nt`] uses in this build: `"openblas"` or `"gemm"`.
pub const BACKEND: &str = if cfg!(feature = "blas") {
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
    check(a, b, m, n, k, out)?;
    #[cfg(feature = "blas")]
    if m > 0 && n > 0 {
        // SAFETY: `check` verified the lengths the row-major strides below address.
        unsafe {
            use cblas_sys::{cblas_sgemm, CBLAS_LAYOUT, CBLAS_TRANSPOSE};
            cblas_sgemm(
                CBLAS_LAYOUT::CblasRowMajor,
                CBLAS_TRANSPOSE::CblasNoTrans,
                CBLAS_TRANSPOSE::CblasTrans,
                m as i32,
                n as i32,
                k as i32,
                1.0,
                a.as_ptr(),
                k as i32,
                b.as_ptr(),
                k as i32,
                0.0,
                out.as_mut_ptr(),
                n as i32,
            );
        }
    }
    #[cfg(not(feature = "blas"))]
    gemm_checked(a, b, m, n, k, out);
    Ok(())
}

/// [`matmul_nt`] by the `gemm` crate whatever the build (the micro-benchmark compares both).
pub fn gemm_nt(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, out: &mut [f32]) -> Result<()> {
    check(a, b, m, n, k, out)?;
    gemm_checked(a, b, m, n, k, out);
    Ok(())
}

fn check(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, out: &[f32]) -> Result<()> {
    if a.len() != m * k || b.len() != n * k || out.len() != m * n {
        return Err(Error::invalid(
            "matmul_nt",
            format!("a {} b {} out {}", a.len(), b.len(), out.len()),
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
