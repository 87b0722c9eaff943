//! Weight dtypes against their references: bf16 on the tiny fixtures against transformers' f32
//! run (within a tolerance derived below), and GGUF blocks kept quantized against the same file
//! dequantized to f32 on the real models.

use crate::common::{self, fixture};
use candle_core::{DType, Device, Tensor};
use entroscope::entropy::Metric;
use entroscope::model::{LoadOptions, WeightDtype, DEQUANTIZE_FROM_ROWS};
use entroscope::prelude::*;
use entroscope::trace::Positions;
use serde_json::Value;

const DEFAULT_MODEL_FILE: &str = entroscope::model::Bundled::SmolLm2_135mInstruct.file();
const GEMMA_MODEL_FILE: &str = entroscope::model::Bundled::Gemma3_270m.file();

/// bf16 keeps 8 significant bits: every rounding is a relative error of at most u = 2⁻⁸.
const BF16_U: f32 = 1.0 / 256.0;

/// The bf16 tolerance, relative to the layer's largest |value|: a block adds two sub-block
/// outputs to the residual, each reached through about four bf16 roundings in series (normed
/// input, weights, first projection's output, second projection), so one block contributes at
/// most ≈ 4u; after `L` blocks the residual carries the embedding's rounding plus `L` such terms,
/// 4u·(L+1), and the logits one matmul more, 4u·(L+2). Measured on the fixtures: at most 6.9 u
/// (residual) and 9.3 u (logits) for L = 3, against 16 u and 20 u.
fn bf16_tolerance(n_layers: usize, logits: bool) -> f32 {
    4.0 * BF16_U * (n_layers + 1 + usize::from(logits)) as f32
}

/// Per-layer max |ours − transformers| / max |transformers| for each stored input, and the
/// number of blocks.
fn bf16_relative_errors(family: &str) -> (Vec<(f32, f32)>, usize) {
    let opts = LoadOptions::default().dtype(WeightDtype::Bf16);
    let lm = Lm::from_hf_dir_with(fixture(&format!("tiny-{family}")), &opts).unwrap();
    assert_eq!(lm.dtype(), WeightDtype::Bf16);
    let refs = candle_core::safetensors::load(
        fixture(&format!("tiny-{family}/reference.safetensors")),
        &Device::Cpu,
    )
    .unwrap();
    let spec = CaptureSpec {
        positions: Positions::All,
        sub_blocks: false,
        all_logits: true,
    };
    let mut out = vec![];
    let mut i = 0;
    while let Some(ids) = refs.get(&format!("ids_{i}")) {
        let ids = ids.to_dtype(DType::U32).unwrap().to_vec1::<u32>().unwrap();
        let tr = lm.trace(&ids, &spec, &mut NoHook).unwrap();
        assert_eq!(
            tr.resid.dtype(),
            DType::F32,
            "the trace is f32 whatever the weights"
        );
        let resid_ref: &Tensor = &refs[&format!("resid_{i}")];
        let mut worst = 0f32;
        for l in 0..=lm.n_layers() {
            let a = tr.resid.get(l).unwrap();
            let b = resid_ref.get(l).unwrap();
            worst = worst.max(common::max_abs_diff(&a, &b) / common::max_abs(&b).max(1e-6));
        }
        let lr = &refs[&format!("logits_{i}")];
        let logits = common::max_abs_diff(&tr.logits, lr) / common::max_abs(lr).max(1e-6);
        out.push((worst, logits));
        i += 1;
    }
    assert!(i >= 2, "{family}: expected at least two reference inputs");
    (out, lm.n_layers())
}

#[test]
fn bf16_tiny_models_match_transformers_within_the_derived_tolerance() {
    for family in entroscope::model::Family::all().map(|f| f.name()) {
        let (errors, n_layers) = bf16_relative_errors(family);
        for (i, (resid, logits)) in errors.into_iter().enumerate() {
            eprintln!(
                "{family} input {i}: bf16 resid rel {resid:.3e} ({:.1} u), logits rel {logits:.3e} ({:.1} u)",
                resid / BF16_U,
                logits / BF16_U
            );
            assert!(
                resid <= bf16_tolerance(n_layers, false),
                "{family} input {i}: resid {resid}"
            );
            assert!(
                logits <= bf16_tolerance(n_layers, true),
                "{family} input {i}: logits {logits}"
            );
        }
    }
}

/// The lens test corpus: the token ids of the peer fixture (`lens_peer.py --shape 2x64`).
fn corpus(file: &str) -> Vec<Vec<u32>> {
    let stem = file.trim_end_matches(".gguf");
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("peer/{stem}.normed.json"))).unwrap(),
    )
    .unwrap();
    common::id_rows(&fx)
}

/// Per-layer mean Shannon entropy (normed lens, nats) over the corpus.
fn mean_entropy_per_layer(lm: &Lm, rows: &[Vec<u32>]) -> Vec<f64> {
    let lens = LogitLens::default();
    let mut sums = vec![0f64; lm.n_layers() + 1];
    let mut count = 0;
    for ids in rows {
        let tr = lm.trace(ids, &CaptureSpec::default(), &mut NoHook).unwrap();
        let p = &lens
            .profile(lm, &tr, &[Metric::Shannon], &Targets::None)
            .unwrap()[0];
        for (l, s) in sums.iter_mut().enumerate() {
            *s += p
                .layer_row(l)
                .unwrap()
                .iter()
                .map(|&v| v as f64)
                .sum::<f64>();
        }
        count += ids.len();
    }
    sums.iter().map(|s| s / count as f64).collect()
}

/// Quantized blocks against the same file dequantized to f32: every layer's mean entropy within
/// 0.05 nats, on whole corpus rows (dequantized per layer, see [`DEQUANTIZE_FROM_ROWS`]) and on
/// the rows' prefixes short enough for candle's quantized kernel, and the same 10 greedy tokens after "The
/// capital of France is" (the prompt and every decoding step run the kernel).
fn check_quantized(file: &str) {
    let path = common::real_model(file);
    let f32_lm = Lm::from_gguf(&path).unwrap();
    let q_lm =
        Lm::from_gguf_with(&path, &LoadOptions::default().dtype(WeightDtype::Quantized)).unwrap();
    assert_eq!(q_lm.dtype(), WeightDtype::Quantized);
    let rows = corpus(file);
    let prefixes: Vec<Vec<u32>> = rows
        .iter()
        .map(|r| r[..r.len().min(DEQUANTIZE_FROM_ROWS - 1)].to_vec())
        .collect();
    for (what, rows) in [("rows", &rows), ("kernel-sized prefixes", &prefixes)] {
        let a = mean_entropy_per_layer(&f32_lm, rows);
        let b = mean_entropy_per_layer(&q_lm, rows);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f64, f64::max);
        eprintln!(
            "{file}: quantized vs f32 on {what}: worst layer-mean Shannon diff {worst:.4} nats"
        );
        for (l, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= 0.05,
                "{file} {what} layer {l}: f32 {x:.4} vs quantized {y:.4} nats"
            );
        }
    }
    let prompt = "The capital of France is";
    let (ga, gb) = (
        common::greedy(&f32_lm, prompt, 10),
        common::greedy(&q_lm, prompt, 10),
    );
    eprintln!(
        "{file}: greedy {:?} / {:?}",
        f32_lm.decode(&ga).unwrap(),
        q_lm.decode(&gb).unwrap()
    );
    assert_eq!(ga, gb, "{file}: greedy continuations differ");
}

#[test]
fn smollm2_quantized_matches_dequantized() {
    check_quantized(DEFAULT_MODEL_FILE);
}

#[test]
fn gemma3_quantized_matches_dequantized() {
    check_quantized(GEMMA_MODEL_FILE);
}
