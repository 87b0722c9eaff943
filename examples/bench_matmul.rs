//! The lens's unembedding `[M × d] · [vocab × d]ᵀ` on SmolLM2's real unembedding (576 × 49152),
//! by each CPU path: candle's matmul plus the copy out of the tensor (what the lens did before),
//! the `gemm` crate straight into a buffer, and OpenBLAS's sgemm (build with `--features blas`).
//!
//! ```text
//! RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 cargo run --release --features blas --example bench_matmul
//! cargo run --release --example bench_matmul -- 128 341 1024     # M values (rows per call)
//! ```
//! Prints the best of 3 runs per path and M in GFLOP/s (2·M·d·vocab flops per product).

use std::time::Instant;

use candle_core::{Device, Tensor};
use entroscope::model::{default_model_path, sgemm};
use entroscope::prelude::*;

fn best_of_3(mut f: impl FnMut() -> entroscope::Result<()>) -> entroscope::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn main() -> entroscope::Result<()> {
    entroscope::runtime::init_cpu();
    let ms: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().map_err(|_| Error::invalid("M", s, "a row count")))
        .collect::<entroscope::Result<_>>()?;
    let ms = if ms.is_empty() {
        vec![128, 341, 1024]
    } else {
        ms
    };
    let lm = Lm::load(&default_model_path())?;
    let w = lm.lm_head().clone();
    let (n, k) = w.dims2()?;
    let w_flat = w.flatten_all()?.to_vec1::<f32>()?;
    println!(
        "unembedding [{n} × {k}], {} threads, matmul_nt backend {}",
        rayon::current_num_threads(),
        sgemm::BACKEND
    );
    println!(
        "| M | candle + copy | gemm into buffer | {} |",
        sgemm::BACKEND
    );
    println!("|---|---|---|---|");
    for m in ms {
        let a = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu)?;
        let a_flat = a.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; m * n];
        let flop = 2.0 * (m * n * k) as f64 / 1e9;
        let candle = best_of_3(|| {
            let z = a.broadcast_matmul(&w.t()?)?;
            std::hint::black_box(z.flatten_all()?.to_vec1::<f32>()?);
            Ok(())
        })?;
        let gemm = best_of_3(|| sgemm::gemm_nt(&a_flat, &w_flat, m, n, k, &mut out))?;
        let chosen = best_of_3(|| sgemm::matmul_nt(&a_flat, &w_flat, m, n, k, &mut out))?;
        println!(
            "| {m} | {:.1} GFLOP/s | {:.1} GFLOP/s | {:.1} GFLOP/s |",
            flop / candle,
            flop / gemm,
            flop / chosen
        );
    }
    Ok(())
}
