//! The CPU matrix products `[M × K] · [N × K]ᵀ` of the lens and the forward pass, by each path
//! compiled in: candle's matmul plus the copy out of the tensor (what the lens did before), the
//! `gemm` crate straight into a buffer, [`sgemm::matmul_nt`] (the build's backend: `gemm`,
//! OpenBLAS with `--features openblas`, Intel MKL with `--features mkl`), and with `--features mkl`
//! MKL's bf16 × bf16 → f32 product (AMX / AVX512-BF16; inputs converted to bf16 beforehand).
//!
//! ```text
//! make bench-matmul                                    # MKL: set-up, build, every shape
//! RAYON_NUM_THREADS=2 cargo run --release --example bench_matmul            # every shape
//! cargo run --release --example bench_matmul -- 128 341 1024   # the lens shape only, these M
//! cargo run --release --example bench_matmul -- --kn 1536x151936 341   # another [M × K]·[K × N]
//! ```
//! Shapes (random matrices: the rate does not depend on the values), without arguments: the
//! SmolLM2 lens `[M × 576]·[576 × 49152]` for M = 128, 341, 1024; two forward products
//! `[1024 × 576]·[576 × 1536]` (SmolLM2's MLP) and `[1024 × 1536]·[1536 × 8960]` (Qwen2.5-1.5B's
//! MLP); Qwen2.5-1.5B's unembedding `[M × 1536]·[1536 × 151936]` for M = 128, 341. Prints one
//! table per shape, the best of 3 runs per path and M in GFLOP/s (2·M·N·K flops per product).
//! Columns 2, 4 and 5 of each row (split on `|`) stay M, `gemm` and the build's backend:
//! `scripts/bench-lens.sh` reads them.

use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use entroscope::model::kernels as sgemm;
use entroscope::model::{bf16_hardware, MATMUL_BACKEND};
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

/// After an MKL or OpenBLAS product their threads spin for a while (MKL's `KMP_BLOCKTIME`,
/// 200 ms by default; OpenBLAS's `OPENBLAS_THREAD_TIMEOUT`, ~0.1 s); let them go to sleep before
/// timing a rayon path.
fn settle() {
    if cfg!(any(feature = "mkl", feature = "openblas")) {
        std::thread::sleep(Duration::from_millis(300));
    }
}

struct Shape {
    what: &'static str,
    k: usize,
    n: usize,
    ms: Vec<usize>,
}

fn main() -> entroscope::Result<()> {
    entroscope::runtime::init_cpu();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--kn KxN`: the product with that K and N (a model's unembedding) instead of SmolLM2's.
    let (mut k, mut n) = (576, 49152);
    if let Some(i) = args.iter().position(|a| a == "--kn") {
        let kn = args.get(i + 1).cloned().unwrap_or_default();
        let parsed = kn
            .split_once('x')
            .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)));
        (k, n) = parsed.ok_or_else(|| Error::invalid("--kn", &kn, "K x N, e.g. 1536x151936"))?;
        args.drain(i..(i + 2).min(args.len()));
    }
    let ms: Vec<usize> = args
        .iter()
        .map(|s| s.parse().map_err(|_| Error::invalid("M", s, "a row count")))
        .collect::<entroscope::Result<_>>()?;
    let lens = |ms| Shape {
        what: "SmolLM2 unembedding (the lens)",
        k: 576,
        n: 49152,
        ms,
    };
    let shapes = if ms.is_empty() {
        vec![
            lens(vec![128, 341, 1024]),
            Shape {
                what: "SmolLM2 MLP up/gate (forward)",
                k: 576,
                n: 1536,
                ms: vec![1024],
            },
            Shape {
                what: "Qwen2.5-1.5B MLP up/gate (forward)",
                k: 1536,
                n: 8960,
                ms: vec![1024],
            },
            Shape {
                what: "Qwen2.5-1.5B unembedding",
                k: 1536,
                n: 151936,
                ms: vec![128, 341],
            },
        ]
    } else {
        vec![Shape {
            what: "the lens's unembedding",
            k,
            n,
            ms,
        }]
    };
    // The bf16 column only where MKL's bf16 product runs (an mkl build on AMX / AVX512-BF16).
    let bf16 = entroscope::model::has_bf16_product();
    println!(
        "{} threads, matmul_nt backend {}, bf16 hardware {}",
        rayon::current_num_threads(),
        MATMUL_BACKEND,
        bf16_hardware().unwrap_or("none")
    );
    for Shape { what, k, n, ms } in shapes {
        println!();
        println!("[M × {k}]·[{k} × {n}]: {what}");
        let bf16_col = if bf16 { " mkl bf16 |" } else { "" };
        println!(
            "| M | candle + copy | gemm into buffer | {} |{bf16_col}",
            MATMUL_BACKEND
        );
        println!("|---|---|---|---|{}", if bf16 { "---|" } else { "" });
        let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu)?;
        let w_flat = w.flatten_all()?.to_vec1::<f32>()?;
        let w_bf16: Vec<half::bf16> = if bf16 {
            w_flat.iter().map(|&x| half::bf16::from_f32(x)).collect()
        } else {
            Vec::new()
        };
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
            let bf16_cell = if bf16 {
                let a_bf16: Vec<half::bf16> =
                    a_flat.iter().map(|&x| half::bf16::from_f32(x)).collect();
                let cell = match best_of_3(|| {
                    sgemm::matmul_nt_bf16(&a_bf16, &w_bf16, m, n, k, &mut out)
                }) {
                    Ok(t) => format!(" {:.1} GFLOP/s |", flop / t),
                    Err(e) => format!(" — ({e}) |"),
                };
                cell
            } else {
                String::new()
            };
            settle();
            println!(
                "| {m} | {:.1} GFLOP/s | {:.1} GFLOP/s | {:.1} GFLOP/s |{bf16_cell}",
                flop / candle,
                flop / gemm,
                flop / chosen
            );
        }
    }
    Ok(())
}
