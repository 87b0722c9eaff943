//! Speed of the row reductions on a `[rows × vocab]` block of logits (default 1024 × 49152,
//! SmolLM2's vocabulary), the hot path of a logit-lens run.
//!
//! ```text
//! cargo run --release --example bench_reduce                    # 2 threads, 1024 × 49152
//! cargo run --release --example bench_reduce -- 4 256 262144    # threads rows vocab
//! ```
//! Prints the median of 7 runs per workload, in ms and ns per logit.

use std::time::Instant;

use entroscope::entropy::{js_rows, kl_rows, reduce_rows, Metric, Renyi, Request, Units};

/// Deterministic pseudo-logits: roughly normal (sum of 4 uniforms), σ ≈ 3, with one strong
/// peak per row so that distributions are neither flat nor one-hot.
fn block(rows: usize, vocab: usize, seed: u64) -> Vec<f32> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 // [0, 1)
    };
    let mut v = Vec::with_capacity(rows * vocab);
    for r in 0..rows {
        for _ in 0..vocab {
            let u = next() + next() + next() + next() - 2.0;
            v.push(u * 5.2);
        }
        let peak = (r * 7919) % vocab;
        v[r * vocab + peak] += 15.0;
    }
    v
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The same Shannon reduction with std's `exp` and one f64 accumulator: what the fused
/// kernels are measured against.
fn naive_shannon(row: &[f32]) -> f32 {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut s0, mut s1) = (0f64, 0f64);
    for &z in row {
        let d = z - m;
        let e = d.exp();
        s0 += f64::from(e);
        s1 += f64::from(e * d);
    }
    (s0.ln() - s1 / s0) as f32
}

fn main() -> entroscope::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments: threads rows vocab (integers)"))
        .collect();
    let threads = args.first().copied().unwrap_or(2);
    let rows = args.get(1).copied().unwrap_or(1024);
    let vocab = args.get(2).copied().unwrap_or(49_152);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");

    let logits = block(rows, vocab, 42);
    let fin = block(1, vocab, 7);
    let targets: Vec<u32> = (0..rows).map(|i| ((i * 31) % vocab) as u32).collect();
    let n = (rows * vocab) as f64;
    let avx2 = cfg!(target_arch = "x86_64") && {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    };
    println!("block [{rows} × {vocab}] f32, {threads} threads, AVX2+FMA kernels: {avx2}");
    let report = |name: &str, ms: f64| {
        println!("{name:<44} {ms:>9.2} ms  {:>6.3} ns/logit", ms * 1e6 / n);
    };

    let r2 = Renyi::new(2.0)?;
    let shannon = Request::new().shannon();
    let common = Request::new().shannon().renyi(r2);
    pool.install(|| -> entroscope::Result<()> {
        report(
            "shannon",
            median_ms(|| {
                reduce_rows(&logits, vocab, &shannon, None).unwrap();
            }),
        );
        report(
            "shannon + renyi-2 + target (CE, rank)",
            median_ms(|| {
                reduce_rows(&logits, vocab, &common, Some(&targets)).unwrap();
            }),
        );
        report(
            "Metric::Shannon.eval_rows (flat output)",
            median_ms(|| {
                Metric::Shannon
                    .eval_rows(&logits, vocab, None, None, Units::Nats)
                    .unwrap();
            }),
        );
        let half = Request::new().renyi(Renyi::new(0.5)?);
        report(
            "renyi-0.5 (one extra pass)",
            median_ms(|| {
                reduce_rows(&logits, vocab, &half, None).unwrap();
            }),
        );
        let near = Request::new().renyi(Renyi::new(1.01)?);
        report(
            "renyi-1.01 (near-one formula, extra pass)",
            median_ms(|| {
                reduce_rows(&logits, vocab, &near, None).unwrap();
            }),
        );
        let topk = Request::new().shannon().top_k(10);
        report(
            "shannon + top-10",
            median_ms(|| {
                reduce_rows(&logits, vocab, &topk, None).unwrap();
            }),
        );
        report(
            "KL(row ‖ final row)",
            median_ms(|| {
                kl_rows(&logits, &fin, vocab).unwrap();
            }),
        );
        report(
            "JS(row, final row)",
            median_ms(|| {
                js_rows(&logits, &fin, vocab).unwrap();
            }),
        );
        let h16: Vec<half::f16> = logits.iter().map(|&x| half::f16::from_f32(x)).collect();
        report(
            "shannon, f16 input",
            median_ms(|| {
                reduce_rows(&h16, vocab, &shannon, None).unwrap();
            }),
        );
        let b16: Vec<half::bf16> = logits.iter().map(|&x| half::bf16::from_f32(x)).collect();
        report(
            "shannon, bf16 input",
            median_ms(|| {
                reduce_rows(&b16, vocab, &shannon, None).unwrap();
            }),
        );
        Ok(())
    })?;
    // reference: scalar std exp, same thread count
    pool.install(|| {
        use rayon::prelude::*;
        report(
            "naive shannon (std exp, f64 sums)",
            median_ms(|| {
                let _: Vec<f32> = logits.par_chunks(vocab).map(naive_shannon).collect();
            }),
        );
    });
    // agreement of the fast path with the naive one on this block
    let fast = reduce_rows(&logits, vocab, &shannon, None)?;
    let worst = logits
        .chunks(vocab)
        .zip(&fast)
        .map(|(row, s)| (naive_shannon(row) - s.shannon.unwrap_or(f32::NAN)).abs())
        .fold(0f32, f32::max);
    println!("max |H_fast − H_naive| over rows: {worst:.2e} nats");
    Ok(())
}
