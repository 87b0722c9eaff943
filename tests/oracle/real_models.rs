//! The two real GGUF models against Hugging Face transformers loading the same files
//! (`tests/fixtures/real/*.json`, written by `scripts/make_fixtures.py real`): tokenization,
//! per-layer hidden-state statistics, final top-10 logits, greedy continuation, KV cache.

use crate::common;

use crate::common::real_model;
use candle_core::Tensor;
use entroscope::model::Bundled;

const DEFAULT_MODEL_FILE: &str = Bundled::SmolLm2_135mInstruct.file();
const GEMMA_MODEL_FILE: &str = Bundled::Gemma3_270m.file();
use entroscope::prelude::*;
use serde_json::Value;

fn fixture(file: &str) -> Value {
    let stem = file.trim_end_matches(".gguf");
    let p = common::fixture(&format!("real/{stem}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// |a − b| ≤ tol · max(1, |b|): the hidden states reach 1e4–1e5 (massive activations), where
/// f32 itself resolves only ~1e-3 absolute, so large values are compared relatively.
fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

fn check_model(file: &str) {
    let lm = Lm::from_gguf(real_model(file)).unwrap();
    check_model_on(&lm, file);
}

/// `lm` (loaded from `file` in f32) against its fixture: ids, every layer's statistics, the final
/// top-10 logits.
pub(crate) fn check_model_on(lm: &Lm, file: &str) {
    let fx = fixture(file);
    for (name, p) in fx["prompts"].as_object().unwrap() {
        let text = p["text"].as_str().unwrap();
        let ids = lm.encode(text).unwrap();
        assert_eq!(ids, u32s(&p["ids"]), "{file} {name}: token ids");
        let tr = lm
            .trace(&ids, &CaptureSpec::default(), &mut NoHook)
            .unwrap();
        let (mean_ref, max_ref) = (f32s(&p["hidden_mean"]), f32s(&p["hidden_max_abs"]));
        assert_eq!(tr.n_layers() + 1, mean_ref.len());
        let mut worst: (f32, f32) = (0.0, 0.0);
        for l in 0..=tr.n_layers() {
            let h = tr.layer(l).unwrap();
            let flat = h.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let mean = (flat.iter().map(|&x| x as f64).sum::<f64>() / flat.len() as f64) as f32;
            let maxabs = flat.iter().fold(0f32, |m, x| m.max(x.abs()));
            worst.0 = worst.0.max((mean - mean_ref[l]).abs());
            worst.1 = worst
                .1
                .max((maxabs - max_ref[l]).abs() / max_ref[l].max(1.0));
            assert!(
                close(mean, mean_ref[l], 1e-3),
                "{file} {name} layer {l}: mean {mean} vs {}",
                mean_ref[l]
            );
            assert!(
                close(maxabs, max_ref[l], 1e-3),
                "{file} {name} layer {l}: max|h| {maxabs} vs {}",
                max_ref[l]
            );
            let first8 = f32s(&p["hidden_last_pos_first8"][l]);
            let last = h
                .get(ids.len() - 1)
                .unwrap()
                .narrow(0, 0, 8)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for (a, b) in last.iter().zip(&first8) {
                assert!(
                    close(*a, *b, 1e-3),
                    "{file} {name} layer {l}: h[last,:8] {last:?} vs {first8:?}"
                );
            }
        }
        // final top-10 logits at the last position
        let logits = tr.logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let top_ids = u32s(&p["top10_last_pos"]["ids"]);
        let top_vals = f32s(&p["top10_last_pos"]["values"]);
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        let ours: Vec<u32> = order[..10].iter().map(|&i| i as u32).collect();
        let mut worst_logit = 0f32;
        for (id, v) in top_ids.iter().zip(&top_vals) {
            let d = (logits[*id as usize] - v).abs();
            worst_logit = worst_logit.max(d);
            assert!(
                d <= 1e-3,
                "{file} {name}: logit of {id}: {} vs {v}",
                logits[*id as usize]
            );
        }
        assert_eq!(ours[0], top_ids[0], "{file} {name}: top-1");
        eprintln!(
            "{file} {name}: max |Δmean| {:.2e}, max rel |Δmax| {:.2e}, max |Δlogit| top-10 {worst_logit:.2e}",
            worst.0, worst.1
        );
    }
}

#[test]
fn smollm2_matches_transformers() {
    check_model(DEFAULT_MODEL_FILE);
}

#[test]
fn gemma3_matches_transformers() {
    check_model(GEMMA_MODEL_FILE);
}

fn check_greedy(file: &str) {
    let lm = Lm::from_gguf(real_model(file)).unwrap();
    check_greedy_on(&lm, file);
}

/// `lm`'s 10 greedy tokens equal transformers' `generate` on the fixture's prompt.
pub(crate) fn check_greedy_on(lm: &Lm, file: &str) {
    let fx = fixture(file);
    let g = &fx["greedy"];
    let got = common::greedy(lm, g["prompt"].as_str().unwrap(), 10);
    assert_eq!(
        got,
        u32s(&g["new_ids"]),
        "{file}: {:?} vs {:?}",
        lm.decode(&got),
        g["text"]
    );
    assert_eq!(lm.decode(&got).unwrap(), g["text"].as_str().unwrap());
}

#[test]
fn smollm2_greedy_continuation() {
    check_greedy(DEFAULT_MODEL_FILE);
}

#[test]
fn gemma3_greedy_continuation() {
    check_greedy(GEMMA_MODEL_FILE);
}

/// Step-by-step logits with the KV cache equal the full-sequence logits (1e-4).
#[test]
fn kv_cache_matches_full_sequence_on_real_models() {
    for file in [DEFAULT_MODEL_FILE, GEMMA_MODEL_FILE] {
        let path = real_model(file);
        let lm = Lm::from_gguf(&path).unwrap();
        let ids = lm
            .encode("The capital of France is Paris, and the capital of Italy is")
            .unwrap();
        let mut cache = lm.new_cache();
        let full = lm.forward(&ids, &mut cache, &mut NoHook).unwrap();
        let full = lm.logits(&full).unwrap();
        let mut cache = lm.new_cache();
        let mut rows: Vec<Tensor> = vec![];
        let h = lm.forward(&ids[..4], &mut cache, &mut NoHook).unwrap();
        rows.push(lm.logits(&h).unwrap());
        for &id in &ids[4..] {
            let h = lm.forward(&[id], &mut cache, &mut NoHook).unwrap();
            rows.push(lm.logits(&h).unwrap());
        }
        let stepped = Tensor::cat(&rows, 0).unwrap();
        let d = common::max_abs_diff(&stepped, &full);
        eprintln!("{file}: cached vs full logits max diff {d:.2e}");
        assert!(d <= 1e-4 * common::max_abs(&full).max(1.0), "{file}: {d}");
    }
}
