//! The peer's lens workload, ours: per-layer Shannon + Rényi-2 of every position of the rows in
//! an ids file (written by `lens_peer.py --mode corpus --dump-ids`), normed lens, all layers.
//! Prints one JSON object like the peer's. Run through `scripts/bench-lens.sh` (CPU) or
//! `scripts/gpu-check.sh` (GPU), which run the peer on the same ids right after and print the ratio.
//! All rows run as one forward pass (`Lm::trace_batch`), as the peer's do by default.
//! MODEL is a GGUF file or a Hugging Face directory (`config.json`, `tokenizer.json`, safetensors).
//! `--warmup` runs the batch (and the lens of its first row) once untimed (on a GPU: kernel JIT, cuBLAS start-up).
//!
//! ```sh
//! cargo run --release --example bench_lens -- MODEL.gguf ids.json
//! cargo run --release --features cuda --example bench_lens -- MODEL_DIR ids.json --device cuda --dtype bf16 --warmup
//! ```

use std::time::Instant;

use entroscope::prelude::*;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> entroscope::Result<()> {
    entroscope::runtime::init_cpu();
    let (mut pos, mut device, mut dtype, mut precision, mut warmup) = (
        vec![],
        "cpu".to_string(),
        "f32".to_string(),
        "f32".to_string(),
        false,
    );
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => device = args.next().unwrap_or_default(),
            "--dtype" => dtype = args.next().unwrap_or_default(),
            "--lens-precision" => precision = args.next().unwrap_or_default(),
            "--warmup" => warmup = true,
            _ => pos.push(a),
        }
    }
    let (Some(model), Some(ids_path)) = (pos.first(), pos.get(1)) else {
        eprintln!("usage: bench_lens MODEL IDS.json [--device cpu|cuda[:N]] [--dtype f32|bf16|f16|quantized] [--lens-precision f32|bf16] [--warmup]");
        std::process::exit(2);
    };
    let opts = LoadOptions::parse(&device, &dtype)?;
    let text = std::fs::read_to_string(ids_path).map_err(|e| Error::io(ids_path, e))?;
    let j: serde_json::Value = serde_json::from_str(&text)?;
    let rows: Vec<Vec<u32>> = j["ids"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    r.as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|x| x.as_u64())
                                .map(|x| x as u32)
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let t_load = Instant::now();
    let lm = Lm::load_with(model, &opts)?;
    let load_s = t_load.elapsed().as_secs_f64();
    let rss_after_load = peak_rss_mib();
    let lens = LogitLens::normed().precision(precision.parse()?);
    let metrics = [Metric::Shannon, Metric::renyi(2.0)?];
    let (mut t_lens, mut t_mm) = (0.0, 0.0);
    let mut tokens = 0;
    let mut layer_means = vec![0f64; lm.n_layers() + 1];
    let matmul_only = std::env::var("BENCH_MATMUL").is_ok();
    // All rows in one forward pass, as the peer runs them (rows of one length).
    let batch: Vec<&[u32]> = rows.iter().map(|r| r.as_slice()).collect();
    if warmup {
        let traces = lm.trace_batch(&batch, &CaptureSpec::default(), &mut NoHook)?;
        if let Some(trace) = traces.first() {
            lens.profile(&lm, trace, &metrics, &Targets::None)?;
        }
    }
    let t0 = Instant::now();
    let traces = lm.trace_batch(&batch, &CaptureSpec::default(), &mut NoHook)?;
    lm.device().synchronize()?; // GPU work is asynchronous: time it to completion
    let t_fwd = t0.elapsed().as_secs_f64();
    for trace in &traces {
        let t1 = Instant::now();
        let profiles = lens.profile(&lm, trace, &metrics, &Targets::None)?;
        t_lens += t1.elapsed().as_secs_f64();
        if matmul_only {
            // The projection alone (norm + unembedding), to see where the time goes.
            let t2 = Instant::now();
            for l in 0..=trace.n_layers() {
                let z = lens.layer_logits(&lm, trace, l)?;
                std::hint::black_box(z);
            }
            t_mm += t2.elapsed().as_secs_f64();
        }
        for (l, m) in profiles[0].mean_over_positions().iter().enumerate() {
            layer_means[l] += *m as f64 * trace.ids.len() as f64;
        }
        tokens += trace.ids.len();
    }
    let total = t_fwd + t_lens;
    let layers = lm.n_layers() + 1;
    let out = serde_json::json!({
        "impl": "entroscope",
        "model": lm.name(),
        "device": entroscope::model::device_name(lm.device()),
        "dtype": lm.dtype().to_string(),
        "lens_precision": lens.precision.effective().to_string(),
        "matmul_backend": entroscope::model::MATMUL_BACKEND,
        "shape": format!("{}x{}", rows.len(), rows.first().map_or(0, |r| r.len())),
        "tokens": tokens,
        "layers": layers,
        "d_model": lm.config().hidden_size,
        "vocab": lm.vocab_size(),
        "threads": std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
        "seconds": {"load": load_s, "t_forward": t_fwd, "t_lens": t_lens,
                    "t_matmul_only": if matmul_only { Some(t_mm) } else { None }, "total": total},
        "token_layers_per_s": (tokens * layers) as f64 / total,
        "peak_rss_mib": peak_rss_mib(),
        "rss_after_load_mib": rss_after_load,
        "mean_shannon_per_layer": layer_means.iter().map(|s| s / tokens as f64).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
