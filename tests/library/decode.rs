//! Decoding against Hugging Face transformers and hand computations.
//!
//! References (tests/fixtures/decode/, written by scripts/fixtures_decode.py):
//! - processors.json: HF's repetition-penalty / temperature / top-k / top-p processors on a
//!   hand-made logits vector;
//! - tiny.json: HF greedy (with and without repetition penalty) and HF 4.55.4 DoLa (ids, step-0
//!   divergences, selected layer, contrast scores) on tiny random models;
//! - smollm2.json: HF greedy and DoLa ids on the real SmolLM2 GGUF (the test fails when the model is missing).

use crate::common::{fixture, real_model};
use candle_core::DType;
use entroscope::decode::*;
use entroscope::frame::ToFrame;
use entroscope::prelude::*;
use entroscope::trace::Positions;
use serde_json::Value;

fn json(rel: &str) -> Value {
    let p = fixture(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map_or(f32::NEG_INFINITY, |f| f as f32))
        .collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn tiny(family: &str) -> Lm {
    Lm::from_hf_dir(fixture(&format!("tiny-{family}"))).unwrap()
}

/// Same entries masked (`-inf`), finite entries within `tol`.
fn assert_rows(ours: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(ours.len(), want.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(want).enumerate() {
        if b.is_infinite() {
            assert!(
                a.is_infinite() && a.signum() == b.signum(),
                "{what}[{i}]: {a} vs {b}"
            );
        } else {
            assert!(
                (a - b).abs() <= tol * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Logits processors vs HF
// ---------------------------------------------------------------------------------------------

#[test]
fn processors_match_hf() {
    let fx = json("decode/processors.json");
    let logits = f32s(&fx["logits"]);
    let ctx = u32s(&fx["context"]);
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let want = f32s(&case["out"]);
        let p = &case["params"];
        let mut z = logits.clone();
        match name {
            "repetition_penalty" => {
                repetition_penalty(&mut z, &ctx, p["penalty"].as_f64().unwrap() as f32).unwrap()
            }
            "temperature" => apply_temperature(&mut z, p["temperature"].as_f64().unwrap()).unwrap(),
            n if n.starts_with("top_k") => {
                top_k_filter(&mut z, p["k"].as_u64().unwrap() as usize).unwrap()
            }
            n if n.starts_with("top_p") => top_p_filter(&mut z, p["p"].as_f64().unwrap()).unwrap(),
            "chain" => {
                repetition_penalty(&mut z, &ctx, p["penalty"].as_f64().unwrap() as f32).unwrap();
                apply_temperature(&mut z, p["temperature"].as_f64().unwrap()).unwrap();
                top_k_filter(&mut z, p["k"].as_u64().unwrap() as usize).unwrap();
                top_p_filter(&mut z, p["p"].as_f64().unwrap()).unwrap();
            }
            other => panic!("unknown case {other}"),
        }
        assert_rows(&z, &want, 1e-6, name);
    }
}

// ---------------------------------------------------------------------------------------------
// Seeded sampling (in the style of candle-transformers' generation tests)
// ---------------------------------------------------------------------------------------------

fn draws(p: &mut LogitsProcessor, logits: &[f32], n: usize) -> Vec<u32> {
    (0..n).map(|_| p.sample(logits).unwrap().0).collect()
}

#[test]
fn same_seed_same_tokens() {
    let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
    for s in [
        Sampling::All { temperature: 0.9 },
        Sampling::TopK {
            k: 5,
            temperature: 1.3,
        },
        Sampling::TopP {
            p: 0.7,
            temperature: 1.0,
        },
        Sampling::TopKThenTopP {
            k: 10,
            p: 0.9,
            temperature: 0.8,
        },
    ] {
        let a = draws(
            &mut LogitsProcessor::from_sampling(42, s).unwrap(),
            &logits,
            200,
        );
        let b = draws(
            &mut LogitsProcessor::from_sampling(42, s).unwrap(),
            &logits,
            200,
        );
        let c = draws(
            &mut LogitsProcessor::from_sampling(43, s).unwrap(),
            &logits,
            200,
        );
        assert_eq!(a, b, "{s:?}: same seed, same draws");
        assert_ne!(a, c, "{s:?}: another seed, other draws");
        // reseeding restarts the stream
        let mut p = LogitsProcessor::from_sampling(42, s).unwrap();
        let _ = draws(&mut p, &logits, 17);
        p.reseed(42);
        assert_eq!(draws(&mut p, &logits, 200), a);
    }
}

/// Frequencies of 20 000 draws within 5σ of the probabilities (σ ≤ 0.0035).
fn check_freqs(s: Sampling, logits: &[f32], want: &[f64]) {
    let n = 20_000;
    let mut p = LogitsProcessor::from_sampling(7, s).unwrap();
    let mut counts = vec![0usize; logits.len()];
    for _ in 0..n {
        counts[p.sample(logits).unwrap().0 as usize] += 1;
    }
    for (i, (&c, &w)) in counts.iter().zip(want).enumerate() {
        let f = c as f64 / n as f64;
        let sigma = (w * (1.0 - w) / n as f64).sqrt();
        assert!(
            (f - w).abs() <= 5.0 * sigma + 1e-12,
            "{s:?}: token {i} freq {f} want {w}"
        );
    }
}

#[test]
fn sampling_distribution() {
    // p = (0.1, 0.2, 0.3, 0.4)
    let logits: Vec<f32> = [0.1f32, 0.2, 0.3, 0.4].iter().map(|p| p.ln()).collect();
    check_freqs(
        Sampling::All { temperature: 1.0 },
        &logits,
        &[0.1, 0.2, 0.3, 0.4],
    );
    // T = 0.5 squares the probabilities: (1, 4, 9, 16)/30
    check_freqs(
        Sampling::All { temperature: 0.5 },
        &logits,
        &[1.0 / 30.0, 4.0 / 30.0, 9.0 / 30.0, 16.0 / 30.0],
    );
    // top-2 keeps 0.3, 0.4 → 3/7, 4/7
    check_freqs(
        Sampling::TopK {
            k: 2,
            temperature: 1.0,
        },
        &logits,
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
    // top-p 0.5: ascending cumulative mass 0.1, 0.3, 0.6, 1 → remove the first two (≤ 0.5)
    check_freqs(
        Sampling::TopP {
            p: 0.5,
            temperature: 1.0,
        },
        &logits,
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
    // greedy
    let mut g = LogitsProcessor::greedy();
    let (t, p) = g.sample(&logits).unwrap();
    assert_eq!(t, 3);
    assert!((p - 0.4).abs() < 1e-6);
}

// ---------------------------------------------------------------------------------------------
// Generation on tiny models
// ---------------------------------------------------------------------------------------------

#[test]
fn greedy_is_argmax_of_full_forward() {
    for fam in ["llama", "gemma3", "qwen2"] {
        let lm = tiny(fam);
        let prompt = lm.encode("the cat sat on").unwrap();
        let g = generate_ids(
            &lm,
            &prompt,
            &mut Baseline::greedy(),
            &GenerateOptions::new(10).ignore_eos(),
        )
        .unwrap();
        assert_eq!(g.ids.len(), 10);
        let mut ctx = prompt.clone();
        for (i, &tok) in g.ids.iter().enumerate() {
            let z = lm.next_token_logits(&ctx).unwrap();
            let best = entroscope::decode::argmax(&z).unwrap();
            assert_eq!(tok, best, "{fam} step {i}");
            // the record's probability and entropy are those of the full forward's distribution
            let ent = entroscope::entropy::shannon(&z).unwrap();
            let p = softmax(&z)[tok as usize];
            assert!(
                (g.steps[i].entropy - ent).abs() < 1e-4,
                "{fam} step {i} entropy"
            );
            assert!((g.steps[i].prob - p).abs() < 1e-4, "{fam} step {i} prob");
            ctx.push(tok);
        }
    }
}

#[test]
fn greedy_matches_hf() {
    let fx = json("decode/tiny.json");
    for (fam, v) in fx["families"].as_object().unwrap() {
        let lm = tiny(fam);
        let prompt = u32s(&v["prompt_ids"]);
        for (pen, want) in v["greedy"].as_object().unwrap() {
            let pen: f32 = pen.parse().unwrap();
            let mut d = Baseline::greedy().repetition_penalty(pen).unwrap();
            let g = generate_ids(&lm, &prompt, &mut d, &GenerateOptions::new(8)).unwrap();
            assert_eq!(g.ids, u32s(want), "{fam} greedy, repetition penalty {pen}");
        }
    }
}

#[test]
fn dola_matches_hf() {
    let fx = json("decode/tiny.json");
    for (fam, v) in fx["families"].as_object().unwrap() {
        let lm = tiny(fam);
        let prompt = u32s(&v["prompt_ids"]);
        for run in v["dola"].as_array().unwrap() {
            let layers = match &run["dola_layers"] {
                Value::String(s) if s == "high" => Layers::High,
                l => Layers::List(u32s(l).into_iter().map(|x| x as usize).collect()),
            };
            let params = DolaParams {
                layers: layers.clone(),
                ..DolaParams::default()
            };
            let what = format!("{fam} dola {layers:?}");
            // whole generation, HF defaults (relative top 0.1, penalty 1.2)
            let mut d = Dola::with_params(params.clone()).unwrap();
            let g = generate_ids(&lm, &prompt, &mut d, &GenerateOptions::new(8)).unwrap();
            assert_eq!(g.ids, u32s(&run["new_ids"]), "{what}: ids");
            assert_eq!(
                d.layers(),
                u32s(&run["candidate_layers"])
                    .iter()
                    .map(|&x| x as usize)
                    .collect::<Vec<_>>(),
                "{what}: candidate layers"
            );
            // step 0 in detail
            let s0 = &run["step0"];
            let mut d = Dola::with_params(params.clone()).unwrap().keep_scores(true);
            let g = generate_ids(&lm, &prompt, &mut d, &GenerateOptions::new(1)).unwrap();
            assert_eq!(
                g.steps[0].premature_layer,
                Some(s0["selected_layer"].as_u64().unwrap() as usize),
                "{what}: selected layer"
            );
            let js = f32s(&s0["js"]);
            assert_eq!(d.last_divergences().len(), js.len(), "{what}: divergences");
            for (a, b) in d.last_divergences().iter().zip(&js) {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs() + 1e-9,
                    "{what}: divergence {a} vs {b}"
                );
            }
            assert_rows(
                d.last_scores(),
                &f32s(&s0["scores_after_penalty"]),
                1e-4,
                &what,
            );
            // the contrast itself (no penalty)
            let mut d = Dola::with_params(params)
                .unwrap()
                .repetition_penalty(1.0)
                .unwrap()
                .keep_scores(true);
            generate_ids(&lm, &prompt, &mut d, &GenerateOptions::new(1)).unwrap();
            assert_rows(
                d.last_scores(),
                &f32s(&s0["contrast"]),
                1e-4,
                &format!("{what} contrast"),
            );
        }
    }
}

#[test]
fn end_lambda_zero_is_greedy() {
    for fam in ["llama", "gemma3"] {
        let lm = tiny(fam);
        let prompt = lm.encode("the cat sat on").unwrap();
        let opts = GenerateOptions::new(10).ignore_eos();
        let greedy = generate_ids(&lm, &prompt, &mut Baseline::greedy(), &opts).unwrap();
        for alpha in [0.0, 0.01, 0.5] {
            let mut end = End::new(EndParams {
                lambda: 0.0,
                alpha,
                layers: Layers::List(vec![0, 1, 2]),
                lens: LensKind::Raw,
                with_final: false,
                mask_others: false,
            })
            .unwrap();
            let g = generate_ids(&lm, &prompt, &mut end, &opts).unwrap();
            assert_eq!(g.ids, greedy.ids, "{fam} α={alpha}");
        }
    }
}

#[test]
fn cross_layer_entropy_by_hand() {
    // 3 layers × 2 candidates. Candidate 0: logits (0, 0, 0) → uniform, H = ln 3.
    // Candidate 1: logits (0, ln 2, ln 5) → q = (1, 2, 5)/8,
    //   H = −(1/8 ln 1/8 + 2/8 ln 2/8 + 5/8 ln 5/8) = 0.900256 (computed by hand:
    //   0.125·2.079442 + 0.25·1.386294 + 0.625·0.470004 = 0.259930 + 0.346574 + 0.293752).
    let z = [0.0, 0.0, 0.0, 2f32.ln(), 0.0, 5f32.ln()];
    let h = cross_layer_entropy(&z, 3, 2).unwrap();
    assert!((h[0] - 3f32.ln()).abs() < 1e-6);
    assert!((h[1] - 0.900256).abs() < 1e-5, "{}", h[1]);
    // shifting a candidate's logits by a constant at every layer changes nothing
    let z2 = [10.0, 0.0, 10.0, 2f32.ln(), 10.0, 5f32.ln()];
    assert!((cross_layer_entropy(&z2, 3, 2).unwrap()[0] - 3f32.ln()).abs() < 1e-6);
    // one layer: H = 0
    assert_eq!(
        cross_layer_entropy(&[1.0, 2.0], 1, 2).unwrap(),
        vec![0.0, 0.0]
    );
}

/// END's first step on a tiny model against a computation from the full trace: candidates from
/// the final logits, raw logits lm_head·h_l of every layer, softmax over layers in f64.
#[test]
fn end_step_matches_trace() {
    let lm = tiny("llama");
    let prompt = lm.encode("the cat sat on the").unwrap();
    let layers = vec![0usize, 1, 2];
    let (lambda, alpha) = (1.5f32, 0.2f32);
    let mut end = End::new(EndParams {
        lambda,
        alpha,
        layers: Layers::List(layers.clone()),
        lens: LensKind::Raw,
        with_final: false,
        mask_others: false,
    })
    .unwrap();
    let g = generate_ids(&lm, &prompt, &mut end, &GenerateOptions::new(1)).unwrap();
    let spec = CaptureSpec {
        positions: Positions::All,
        sub_blocks: false,
        all_logits: false,
    };
    let tr = lm.trace(&prompt, &spec, &mut NoHook).unwrap();
    let last = prompt.len() - 1;
    let fin: Vec<f32> = tr.logits.flatten_all().unwrap().to_vec1().unwrap();
    let head: Vec<Vec<f32>> = lm
        .head()
        .weight()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2()
        .unwrap();
    let m = fin.iter().copied().fold(f32::MIN, f32::max);
    let cands: Vec<usize> = (0..fin.len())
        .filter(|&v| fin[v] >= m + alpha.ln())
        .collect();
    assert!(cands.len() > 1, "the test needs several candidates");
    // non-candidates keep their logits (the reference); candidates get z − λH
    let mut best = (0..fin.len())
        .filter(|v| !cands.contains(v))
        .map(|v| (f64::from(fin[v]), v))
        .fold((f64::MIN, 0usize), |a, b| if b.0 > a.0 { b } else { a });
    let rec = &g.steps[0].candidates;
    assert_eq!(rec.len(), cands.len());
    for &v in &cands {
        let z: Vec<f64> = layers
            .iter()
            .map(|&l| {
                let h: Vec<f32> = tr
                    .resid
                    .get(l)
                    .unwrap()
                    .get(last)
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                h.iter()
                    .zip(&head[v])
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum()
            })
            .collect();
        let mx = z.iter().copied().fold(f64::MIN, f64::max);
        let s: f64 = z.iter().map(|x| (x - mx).exp()).sum();
        let ent: f64 = -z
            .iter()
            .map(|x| {
                let q = (x - mx).exp() / s;
                q * q.ln()
            })
            .sum::<f64>();
        let score = f64::from(fin[v]) - f64::from(lambda) * ent;
        if score > best.0 {
            best = (score, v);
        }
        let r = rec.iter().find(|c| c.id as usize == v).unwrap();
        assert!(
            (f64::from(r.entropy) - ent).abs() < 1e-5,
            "H({v}) {} vs {ent}",
            r.entropy
        );
    }
    assert_eq!(g.ids[0] as usize, best.1);
}

#[test]
fn edt_temperature_by_hand() {
    // T = T0 · N^(θ/H); T0 = 0.8, N = 0.8, θ = 0.2
    let p = EdtParams::default();
    // H = 0.2: N^1 → 0.64
    assert!((p.temperature(0.2) - 0.64).abs() < 1e-12);
    // H = 0.1: N^2 = 0.64 → 0.512
    assert!((p.temperature(0.1) - 0.512).abs() < 1e-12);
    // H = 2: N^0.1 = e^{0.1 ln 0.8} = 0.977933 → 0.782347
    assert!((p.temperature(2.0) - 0.782347).abs() < 1e-6);
    // tends to 0 as H → 0, to T0 as H → ∞, monotone
    assert!(p.temperature(1e-3) < 1e-9);
    assert_eq!(p.temperature(0.0), 0.0);
    assert!((p.temperature(1e9) - 0.8).abs() < 1e-9);
    let ts: Vec<f64> = [0.01, 0.1, 0.5, 1.0, 3.0]
        .iter()
        .map(|&h| p.temperature(h))
        .collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn edt_generation() {
    let lm = tiny("llama");
    let prompt = lm.encode("the cat sat on").unwrap();
    let opts = GenerateOptions::new(12).ignore_eos();
    let params = EdtParams {
        t0: 1.0,
        theta: 0.5,
        n: 0.6,
        level: EdtLevel::Token,
    };
    let a = generate_ids(&lm, &prompt, &mut Edt::new(params).unwrap().seed(9), &opts).unwrap();
    let b = generate_ids(&lm, &prompt, &mut Edt::new(params).unwrap().seed(9), &opts).unwrap();
    assert_eq!(a.ids, b.ids, "same seed, same tokens");
    // every step's temperature is the formula on that step's entropy
    for s in &a.steps {
        let t = params.temperature(f64::from(s.entropy)) as f32;
        assert!((s.temperature.unwrap() - t).abs() < 1e-5);
    }
    // instance level: one temperature, from the first step
    let mut inst = Edt::new(EdtParams {
        level: EdtLevel::Instance,
        ..params
    })
    .unwrap()
    .seed(9);
    let c = generate_ids(&lm, &prompt, &mut inst, &opts).unwrap();
    let t0 = c.steps[0].temperature.unwrap();
    assert!((t0 - params.temperature(f64::from(c.steps[0].entropy)) as f32).abs() < 1e-5);
    assert!(c.steps.iter().all(|s| s.temperature == Some(t0)));
    // θ = 0 with a tiny T0 is greedy
    let cold = EdtParams {
        t0: 1e-9,
        theta: 0.0,
        ..params
    };
    let g = generate_ids(&lm, &prompt, &mut Edt::new(cold).unwrap(), &opts).unwrap();
    let greedy = generate_ids(&lm, &prompt, &mut Baseline::greedy(), &opts).unwrap();
    assert_eq!(g.ids, greedy.ids);
}

#[test]
fn batch_is_reproducible_per_prompt() {
    let lm = tiny("qwen3");
    let prompts = ["the cat", "a dog sat on"];
    let s = Sampling::TopP {
        p: 0.9,
        temperature: 1.2,
    };
    let opts = GenerateOptions::new(8).ignore_eos();
    let batch =
        generate_batch(&lm, &prompts, &mut Baseline::sampling(5, s).unwrap(), &opts).unwrap();
    assert_eq!(batch.len(), 2);
    // prompt i is drawn from the stream seed + i
    let one = generate(
        &lm,
        prompts[1],
        &mut Baseline::sampling(6, s).unwrap(),
        &opts,
    )
    .unwrap();
    assert_eq!(batch[1].ids, one.ids);
    let again = generate(
        &lm,
        prompts[0],
        &mut Baseline::sampling(5, s).unwrap(),
        &opts,
    )
    .unwrap();
    assert_eq!(batch[0].ids, again.ids);
    // frame: one row per step, prompt ids 0 and 1
    let df = batch.to_frame().unwrap();
    assert_eq!(df.height(), 16);
    let pid = entroscope::frame::column_i64(&df, "prompt_id").unwrap();
    assert_eq!(pid.iter().filter(|&&p| p == 1).count(), 8);
}

#[test]
fn stop_strings_and_eos() {
    let lm = tiny("llama");
    let prompt = lm.encode("the cat sat on").unwrap();
    let full = generate_ids(
        &lm,
        &prompt,
        &mut Baseline::greedy(),
        &GenerateOptions::new(10).ignore_eos(),
    )
    .unwrap();
    // stop at the text of the 4th token (non-empty)
    let piece = (3..10)
        .map(|i| lm.decode(&full.ids[i..i + 1]).unwrap())
        .find(|s| !s.trim().is_empty())
        .unwrap();
    let stop = piece.trim().to_string();
    let g = generate_ids(
        &lm,
        &prompt,
        &mut Baseline::greedy(),
        &GenerateOptions::new(10).stop(stop.clone()),
    )
    .unwrap();
    assert_eq!(g.stop, StopReason::StopString);
    let pos = full.text.find(&stop).unwrap();
    assert_eq!(g.text, full.text[..pos]);
    assert!(full.ids.starts_with(&g.ids));
    assert_eq!(full.stop, StopReason::Length);

    // EOS: a decoder of our own that always answers the model's EOS
    struct Eos(u32);
    impl Decoder for Eos {
        fn name(&self) -> String {
            "eos".into()
        }
        fn begin(&mut self, _: &Lm, _: &[u32], _: usize) -> entroscope::Result<()> {
            Ok(())
        }
        fn step(&mut self, _: &StepInput<'_>) -> entroscope::Result<Choice> {
            Ok(Choice::token(self.0, 1.0))
        }
    }
    let eos = lm.eos_token_ids()[0];
    let g = generate_ids(&lm, &prompt, &mut Eos(eos), &GenerateOptions::new(10)).unwrap();
    assert_eq!((g.ids.clone(), g.stop), (vec![eos], StopReason::Eos));
    let g = generate_ids(
        &lm,
        &prompt,
        &mut Eos(eos),
        &GenerateOptions::new(4).ignore_eos(),
    )
    .unwrap();
    assert_eq!((g.ids.len(), g.stop), (4, StopReason::Length));
}

#[test]
fn to_frame_columns() {
    let lm = tiny("llama");
    let mut end = End::new(EndParams {
        layers: Layers::List(vec![1, 2]),
        alpha: 0.0,
        ..EndParams::generation()
    })
    .unwrap();
    let g = generate(
        &lm,
        "the cat",
        &mut end,
        &GenerateOptions::new(3).ignore_eos(),
    )
    .unwrap();
    let df = g.to_frame().unwrap();
    assert_eq!(df.height(), 3);
    for c in [
        "model",
        "decoder",
        "prompt_id",
        "step",
        "token_id",
        "token",
        "prob",
        "decoder_prob",
        "entropy",
        "temperature",
        "premature_layer",
        "n_candidates",
        "stop",
    ] {
        assert!(df.column(c).is_ok(), "missing column {c}");
    }
    // α = 0: every token is a candidate, MAX_RECORDED_CANDIDATES kept per step
    let cf = g.candidates_frame().unwrap();
    assert_eq!(cf.height(), 3 * MAX_RECORDED_CANDIDATES);
    let h = entroscope::frame::column_f64(&cf, "cross_layer_entropy").unwrap();
    assert!(h.iter().all(|&x| (0.0..=2f64.ln() + 1e-6).contains(&x)));
}

// ---------------------------------------------------------------------------------------------
// Bad input → typed errors
// ---------------------------------------------------------------------------------------------

fn invalid<T: std::fmt::Debug>(r: entroscope::Result<T>, name: &str) {
    match r {
        Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
        other => panic!("expected InvalidParameter({name}), got {other:?}"),
    }
}

#[test]
fn bad_input() {
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        invalid(
            LogitsProcessor::from_sampling(0, Sampling::All { temperature: t }),
            "temperature",
        );
    }
    for p in [0.0, -0.1, 1.5, f64::NAN] {
        invalid(
            LogitsProcessor::from_sampling(
                0,
                Sampling::TopP {
                    p,
                    temperature: 1.0,
                },
            ),
            "top_p",
        );
    }
    invalid(
        LogitsProcessor::from_sampling(
            0,
            Sampling::TopK {
                k: 0,
                temperature: 1.0,
            },
        ),
        "top_k",
    );
    invalid(
        Baseline::greedy().repetition_penalty(0.0),
        "repetition_penalty",
    );
    invalid(
        End::new(EndParams {
            lambda: -0.1,
            ..EndParams::generation()
        }),
        "lambda",
    );
    for a in [1.0, -0.01, 1.5, f32::NAN] {
        invalid(
            End::new(EndParams {
                alpha: a,
                ..EndParams::generation()
            }),
            "alpha",
        );
        invalid(
            Dola::with_params(DolaParams {
                relative_top: a,
                ..DolaParams::default()
            }),
            "relative_top",
        );
    }
    invalid(
        End::new(EndParams {
            layers: Layers::List(vec![]),
            ..EndParams::generation()
        }),
        "layers",
    );
    invalid(
        Dola::with_params(DolaParams {
            layers: Layers::List(vec![]),
            ..DolaParams::default()
        }),
        "layers",
    );
    for t0 in [0.0, -1.0, f64::NAN] {
        invalid(
            Edt::new(EdtParams {
                t0,
                ..EdtParams::default()
            }),
            "t0",
        );
    }
    for n in [0.0, 1.0, 1.2, -0.5] {
        invalid(
            Edt::new(EdtParams {
                n,
                ..EdtParams::default()
            }),
            "n",
        );
    }
    invalid(Edt::new(EdtParams::default()).unwrap().top_p(0.0), "top_p");
    invalid(Edt::new(EdtParams::default()).unwrap().top_k(0), "top_k");

    let lm = tiny("llama"); // 3 blocks
    let opts = GenerateOptions::new(2);
    assert!(matches!(
        generate(&lm, "", &mut Baseline::greedy(), &opts),
        Err(Error::EmptyPrompt)
    ));
    invalid(
        generate(
            &lm,
            "the cat",
            &mut Baseline::greedy(),
            &GenerateOptions::new(0),
        ),
        "max_new_tokens",
    );
    // a layer beyond the model
    let mut end = End::new(EndParams {
        layers: Layers::List(vec![1, 7]),
        ..EndParams::generation()
    })
    .unwrap();
    assert!(matches!(
        generate(&lm, "the cat", &mut end, &opts),
        Err(Error::LayerOutOfRange { layer: 7, max: 3 })
    ));
    let mut dola = Dola::with_params(DolaParams {
        layers: Layers::List(vec![9]),
        ..DolaParams::default()
    })
    .unwrap();
    assert!(matches!(
        generate(&lm, "the cat", &mut dola, &opts),
        Err(Error::LayerOutOfRange { layer: 9, max: 3 })
    ));
    // the final layer is not an early-exit layer
    let mut dola = Dola::with_params(DolaParams {
        layers: Layers::List(vec![3]),
        ..DolaParams::default()
    })
    .unwrap();
    invalid(generate(&lm, "the cat", &mut dola, &opts), "layers");
    // DoLa's low bucket is empty for a 3-block tied model
    let mut dola = Dola::with_params(DolaParams {
        layers: Layers::Low,
        ..DolaParams::default()
    })
    .unwrap();
    invalid(generate(&lm, "the cat", &mut dola, &opts), "layers");
    // NaN scores
    assert!(matches!(
        LogitsProcessor::greedy().sample(&[0.0, f32::NAN]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        cross_layer_entropy(&[0.0, f32::NAN], 2, 1),
        Err(Error::NonFinite { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The real model (a few tokens): SmolLM2 greedy and DoLa ids equal HF's
// ---------------------------------------------------------------------------------------------

#[test]
fn smollm2_greedy_and_dola_match_hf() {
    let path = real_model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let lm = Lm::from_gguf(path).unwrap();
    let fx = json("decode/smollm2.json");
    let n = fx["max_new_tokens"].as_u64().unwrap() as usize;
    for (key, runs) in [
        ("greedy", &fx["greedy"]["runs"]),
        ("dola", &fx["dola"]["runs"]),
    ] {
        for r in runs.as_array().unwrap() {
            let prompt = r["prompt"].as_str().unwrap();
            assert_eq!(
                lm.encode(prompt).unwrap(),
                u32s(&r["prompt_ids"]),
                "tokenization of {prompt:?}"
            );
            let mut d: Box<dyn Decoder> = if key == "greedy" {
                Box::new(Baseline::greedy())
            } else {
                Box::new(Dola::new())
            };
            let g = generate(&lm, prompt, &mut d, &GenerateOptions::new(n)).unwrap();
            assert_eq!(
                g.ids,
                u32s(&r["new_ids"]),
                "{key} after {prompt:?}: {:?}",
                g.text
            );
            assert_eq!(g.text, r["text"].as_str().unwrap());
        }
    }
}

/// An absurd generation length is refused before any forward pass, with how many tokens fit.
#[test]
fn generation_past_the_context_is_refused() {
    let lm = tiny("llama");
    let prompt = lm.encode("the cat sat on").unwrap();
    let max = lm.config().max_position_embeddings;
    let err = generate_ids(
        &lm,
        &prompt,
        &mut Baseline::default(),
        &GenerateOptions::new(100_000_000),
    )
    .unwrap_err();
    match &err {
        entroscope::Error::GenerationTooLong {
            prompt: p,
            new,
            max: m,
        } => {
            assert_eq!((*p, *new, *m), (prompt.len(), 100_000_000, max));
        }
        e => panic!("expected GenerationTooLong, got {e}"),
    }
    assert!(err
        .to_string()
        .contains(&format!("at most {} new tokens", max - prompt.len())));
}
