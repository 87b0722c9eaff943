//! Speed of the row reductions on a `[rows × vocab]` block of logits (default 1024 × 49152,
//! SmolLM2's vocabulary), the hot path of a logit-lens run.
//!
//! ```text
//! cargo run --release --example bench_reduce                    # 2 threads, 1024 × 49152
//! cargo run --release --example bench_reduce -- 4 256 262144    # threads rows vocab
//! ```
//! Prints the median wall time of 7 runs per workload (ms, and ns per logit), and the CPU time
//! per run summed over threads (from `/proc/self/stat`, Linux only): on a busy machine the wall
//! time includes waiting for a core, while CPU time / threads estimates the unloaded wall time.

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

/// CPU time (user + system) of this process so far, in ms; `None` off Linux.
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0) // USER_HZ = 100 on Linux
}

/// (median wall ms, CPU ms per run) over 7 runs after a warm-up.
fn measure(mut f: impl FnMut()) -> (f64, Option<f64>) {
    f(); // warm-up
    let c0 = cpu_ms();
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let cpu = match (c0, cpu_ms()) {
        (Some(a), Some(b)) => Some((b - a) / 7.0),
        _ => None,
    };
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], cpu)
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
    println!(
        "{:<44} {:>12} {:>15} {:>16}",
        "workload", "wall (med)", "wall ns/logit", "CPU ms/run"
    );
    let report = |name: &str, (ms, cpu): (f64, Option<f64>)| {
        let cpu = cpu.map_or("n/a".to_string(), |c| format!("{c:.1}"));
        println!("{name:<44} {ms:>9.2} ms {:>15.3} {cpu:>16}", ms * 1e6 / n);
    };

    let r2 = Renyi::new(2.0)?;
    let shannon = Request::new().shannon();
    let common = Request::new().shannon().renyi(r2);
    pool.install(|| -> entroscope::Result<()> {
        report(
            "shannon",
            measure(|| {
                reduce_rows(&logits, vocab, &shannon, None).unwrap();
            }),
        );
        report(
            "shannon + renyi-2 + target (CE, rank)",
            measure(|| {
                reduce_rows(&logits, vocab, &common, Some(&targets)).unwrap();
            }),
        );
        report(
            "Metric::Shannon.eval_rows (flat output)",
            measure(|| {
                Metric::Shannon
                    .eval_rows(&logits, vocab, None, None, Units::Nats)
                    .unwrap();
            }),
        );
        // Lens rows span more than 43 nats: without the cut of the negligible terms their
        // squares would be subnormal (twice the time on x86).
        let wide: Vec<f32> = logits.iter().map(|&x| 3.0 * x).collect();
        report(
            "shannon + renyi-2, logits ×3 (span > 43 nats)",
            measure(|| {
                reduce_rows(&wide, vocab, &common, None).unwrap();
            }),
        );
        let half = Request::new().renyi(Renyi::new(0.5)?);
        report(
            "renyi-0.5 (one more exp per logit)",
            measure(|| {
                reduce_rows(&logits, vocab, &half, None).unwrap();
            }),
        );
        let near = Request::new().renyi(Renyi::new(1.01)?);
        report(
            "renyi-1.01 (near-one formula, exp + expm1)",
            measure(|| {
                reduce_rows(&logits, vocab, &near, None).unwrap();
            }),
        );
        let topk = Request::new().shannon().top_k(10);
        report(
            "shannon + top-10",
            measure(|| {
                reduce_rows(&logits, vocab, &topk, None).unwrap();
            }),
        );
        report(
            "KL(row ‖ final row)",
            measure(|| {
                kl_rows(&logits, &fin, vocab).unwrap();
            }),
        );
        report(
            "JS(row, final row)",
            measure(|| {
                js_rows(&logits, &fin, vocab).unwrap();
            }),
        );
        let h16: Vec<half::f16> = logits.iter().map(|&x| half::f16::from_f32(x)).collect();
        report(
            "shannon, f16 input",
            measure(|| {
                reduce_rows(&h16, vocab, &shannon, None).unwrap();
            }),
        );
        let b16: Vec<half::bf16> = logits.iter().map(|&x| half::bf16::from_f32(x)).collect();
        report(
            "shannon, bf16 input",
            measure(|| {
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
            measure(|| {
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
