//! The paper-scale models (Qwen2.5-Coder 0.5B and 1.5B Instruct, Q4_K_M GGUF) against two
//! independent implementations on the same files:
//! - Hugging Face `transformers` (fixtures written by `scripts/make_fixtures.py real|peer`): token
//!   ids, every layer's statistics, final logits, greedy continuation, and the logit lens's
//!   per-layer entropies — in f32, and with the quantized kernels;
//! - candle-transformers' `quantized_qwen2`, which reads the GGUF itself: the final logits of our
//!   quantized path.
//!
//! The tests take turns (one lock): the 1.5B in f32 needs 7 GB, and two such loads at once, beside
//! the rest of the suite, would not fit a 24 GB machine.

use std::sync::{Mutex, MutexGuard};

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use entroscope::lens::Reducer;
use entroscope::model::{Bundled, WeightDtype};
use entroscope::prelude::*;

use crate::common;
use crate::lens_peer::{check_on, Tolerance};
use crate::real_models::{check_greedy_on, check_model_on};

const SMALL: Bundled = Bundled::QwenCoder0_5bInstruct;
const LARGE: Bundled = Bundled::QwenCoder1_5bInstruct;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every check against transformers on one f32 load: ids, every layer's statistics, the final
/// logits, 10 greedy tokens, and the normed and raw lenses' entropies against the peer.
fn f32_against_transformers(b: Bundled) {
    let _turn = turn();
    let lm = common::bundled(b, WeightDtype::F32);
    check_model_on(&lm, b.file());
    check_greedy_on(&lm, b.file());
    for lens in ["normed", "raw"] {
        check_on(&lm, b.file(), lens, Reducer::Auto, Tolerance::F32);
    }
}

#[test]
fn qwen_0_5b_matches_transformers_in_f32() {
    f32_against_transformers(SMALL);
}

#[test]
fn qwen_1_5b_matches_transformers_in_f32() {
    f32_against_transformers(LARGE);
}

/// `--dtype quantized`: the peer's 64-token rows dequantize each layer's blocks for one f32
/// product (so f32's tolerance holds); their 15-token prefixes run candle's q-matmul kernel
/// (activations rounded to 8 bits per block), compared with the peer's f32 entropies at the same
/// positions (causal: a prefix's cells are the row's first cells). The 0.5B stays within 0.05
/// nats per layer; on the 1.5B the kernel's rounding moves layer means by up to 0.38 nats
/// (measured), which the candle-transformers comparison below shows is the kernel's, not ours:
/// the bound there is 0.5 nats, and the README says to use f32 where that matters.
#[test]
fn qwen_quantized_lens_within_0_05_nats_of_peer() {
    for (b, kernel_bound) in [(SMALL, 0.05), (LARGE, 0.5)] {
        let _turn = turn();
        let lm = common::bundled(b, WeightDtype::Quantized);
        check_on(&lm, b.file(), "normed", Reducer::Auto, Tolerance::F32);
        let stem = b.file().trim_end_matches(".gguf");
        let fx: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture(&format!("peer/{stem}.normed.json"))).unwrap(),
        )
        .unwrap();
        let prefix = entroscope::model::DEQUANTIZE_FROM_ROWS - 1;
        let l_max = lm.n_layers();
        let (mut ours, mut peer) = (vec![0f64; l_max + 1], vec![0f64; l_max + 1]);
        let rows = common::id_rows(&fx);
        for (r, ids) in rows.iter().enumerate() {
            let tr = lm
                .trace(&ids[..prefix], &CaptureSpec::default(), &mut NoHook)
                .unwrap();
            let p = LogitLens::normed()
                .profile(&lm, &tr, &[Metric::Shannon], &Targets::None)
                .unwrap();
            for l in 0..=l_max {
                for (c, &v) in p[0].layer_row(l).unwrap().iter().enumerate() {
                    ours[l] += v as f64;
                    peer[l] += fx["shannon"][l][r][c].as_f64().unwrap();
                }
            }
        }
        let cells = (rows.len() * prefix) as f64;
        let worst = (0..=l_max)
            .map(|l| (ours[l] - peer[l]).abs() / cells)
            .fold(0f64, f64::max);
        eprintln!("{b}: q-matmul kernel on {prefix}-token prefixes: worst layer-mean diff {worst:.2e} nats");
        assert!(worst <= kernel_bound, "{b}: {worst} nats");
    }
}

/// Our quantized forward (short prompts run candle's q-matmul, as decoding does) against
/// candle-transformers' `quantized_qwen2` on the same file: the last position's logits.
#[test]
fn qwen_quantized_logits_match_candle_transformers() {
    for b in [SMALL, LARGE] {
        let _turn = turn();
        let path = common::real_model(b.file());
        let lm = common::bundled(b, WeightDtype::Quantized);
        let ids = lm.encode("The capital of France is").unwrap();
        assert!(ids.len() < entroscope::model::DEQUANTIZE_FROM_ROWS);
        let ours = lm.next_token_logits(&ids).unwrap();

        let mut file = std::fs::File::open(&path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let mut oracle = candle_transformers::models::quantized_qwen2::ModelWeights::from_gguf(
            content,
            &mut file,
            &Device::Cpu,
        )
        .unwrap();
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let theirs = oracle
            .forward(&input, 0)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(ours.len(), theirs.len(), "{b}: vocabulary");
        let scale = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, t)| (a - t).abs())
            .fold(0f32, f32::max);
        let argmax = |v: &[f32]| {
            (0..v.len())
                .max_by(|&i, &j| v[i].total_cmp(&v[j]))
                .unwrap_or(0)
        };
        eprintln!(
            "{b}: max |Δlogit| {worst:.2e} (max |logit| {scale:.1}), top-1 {} vs {}",
            argmax(&ours),
            argmax(&theirs)
        );
        assert_eq!(argmax(&ours), argmax(&theirs), "{b}: top-1 token");
        // The same blocks and q-matmul kernels in every block; their output layer is a q-matmul
        // too (the final state rounded to 8 bits per block: Q8_0's 32 values for the 0.5B's
        // output matrix, Q8_K's 256 for the 1.5B's Q6_K one, where Qwen's outlier dimensions make
        // the step coarse), ours an f32 product with the dequantized matrix. That rounding moves
        // single logits by a few % of the largest; the distributions stay within 0.02 nats of KL.
        let log_softmax = |v: &[f32]| {
            let m = v.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x)) as f64;
            let lse = m + v.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
            v.iter().map(|&x| x as f64 - lse).collect::<Vec<f64>>()
        };
        let (lo, lt) = (log_softmax(&ours), log_softmax(&theirs));
        let kl: f64 = lt.iter().zip(&lo).map(|(t, o)| t.exp() * (t - o)).sum();
        eprintln!("{b}: KL(candle-transformers ‖ ours) {kl:.2e} nats");
        assert!(kl <= 0.02, "{b}: KL {kl}");
        assert!(
            worst <= 0.05 * scale.max(1.0),
            "{b}: max |Δlogit| {worst} of {scale}"
        );
    }
}
