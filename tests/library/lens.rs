//! Logit lens invariants on a tiny model, checked against direct computations, and bad input.

use crate::common;

use crate::common::fixture;
use entroscope::entropy::Metric;
use entroscope::lens::Precision;
use entroscope::prelude::*;

fn tiny() -> Lm {
    Lm::from_hf_dir(fixture("tiny-gemma3")).unwrap()
}

/// Per-layer cross-entropy is −log p(target) under the lens at that layer (log-softmax done
/// by candle on the projected logits), and Shannon is −Σ p log p of the same distribution.
#[test]
fn cross_entropy_and_shannon_match_log_softmax() {
    let lm = tiny();
    let ids = lm.encode("the cat sat on the mat.").unwrap();
    let tr = lm
        .trace(&ids, &CaptureSpec::default(), &mut NoHook)
        .unwrap();
    for lens in [LogitLens::normed(), LogitLens::raw()] {
        let ps = lens
            .profile(
                &lm,
                &tr,
                &[Metric::CrossEntropy, Metric::Shannon],
                &Targets::NextToken,
            )
            .unwrap();
        for l in 0..=tr.n_layers() {
            let lp = lens
                .layer_log_probs(&lm, &tr, l)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            for (c, row) in lp.iter().enumerate() {
                let h: f32 = -row.iter().map(|&x| x.exp() * x).sum::<f32>();
                assert!(
                    (ps[1].get(l, c).unwrap() - h).abs() < 1e-4,
                    "shannon l={l} c={c}"
                );
                match ids.get(c + 1) {
                    Some(&t) => {
                        let ce = -row[t as usize];
                        assert!(
                            (ps[0].get(l, c).unwrap() - ce).abs() < 1e-4,
                            "ce l={l} c={c}"
                        );
                    }
                    None => assert!(
                        ps[0].get(l, c).unwrap().is_nan(),
                        "last position has no target"
                    ),
                }
            }
        }
    }
}

/// The normed lens at layer L is the model's own output; the raw lens equals it at layer L too,
/// and differs below it (no final norm).
#[test]
fn last_layer_is_the_models_output() {
    let lm = tiny();
    let ids = lm.encode("the cat sat").unwrap();
    let spec = CaptureSpec {
        all_logits: true,
        ..CaptureSpec::default()
    };
    let tr = lm.trace(&ids, &spec, &mut NoHook).unwrap();
    let l = tr.n_layers();
    for lens in [LogitLens::normed(), LogitLens::raw()] {
        let z = lens.layer_logits(&lm, &tr, l).unwrap();
        assert!(common::max_abs_diff(&z, &tr.logits) < 1e-6);
    }
    let a = LogitLens::normed().layer_logits(&lm, &tr, 1).unwrap();
    let b = LogitLens::raw().layer_logits(&lm, &tr, 1).unwrap();
    assert!(common::max_abs_diff(&a, &b) > 1e-2);
    // KL to the final layer is zero at the final layer and positive below
    let kl = LogitLens::normed()
        .profile(&lm, &tr, &[Metric::KlToFinal], &Targets::None)
        .unwrap();
    assert!(kl[0].layer_row(l).unwrap().iter().all(|&v| v.abs() < 1e-5));
    assert!(kl[0].layer_row(1).unwrap().iter().all(|&v| v > 0.0));
    // bits = nats / ln 2
    let nats = LogitLens::normed()
        .profile(&lm, &tr, &[Metric::Shannon], &Targets::None)
        .unwrap();
    let bits = LogitLens::normed()
        .units(Units::Bits)
        .profile(&lm, &tr, &[Metric::Shannon], &Targets::None)
        .unwrap();
    let (a, b) = (nats[0].get(2, 1).unwrap(), bits[0].get(2, 1).unwrap());
    assert!((a / std::f32::consts::LN_2 - b).abs() < 1e-5);
}

#[test]
fn bad_input_is_a_typed_error() {
    let lm = tiny();
    let tr = lm.trace_text("the cat", &CaptureSpec::default()).unwrap();
    let lens = LogitLens::normed();
    for alpha in [-1.0, f32::NAN] {
        let err = Metric::renyi(alpha)
            .and_then(|m| lens.profile(&lm, &tr, &[m], &Targets::None))
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { .. }),
            "α={alpha}: {err}"
        );
    }
    let err = lens
        .profile(
            &lm,
            &tr,
            &[Metric::CrossEntropy],
            &Targets::Ids(vec![9999; tr.positions.len()]),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::TokenOutOfVocab { id: 9999, .. }),
        "{err}"
    );
    let err = lens
        .profile(&lm, &tr, &[Metric::CrossEntropy], &Targets::None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    let err = lens
        .profile(&lm, &tr, &[Metric::CrossEntropy], &Targets::Ids(vec![1]))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    let err = lens.layer_logits(&lm, &tr, 17).unwrap_err();
    assert!(
        matches!(err, Error::LayerOutOfRange { layer: 17, .. }),
        "{err}"
    );
    assert!(lens.top_k(&lm, &tr, 0).is_err());
    assert!("shanon".parse::<Metric>().is_err());
    assert!("renyi:-2".parse::<Metric>().is_err());
}

/// The CLI: an empty text file and an unwritable output are typed errors with a message.
#[test]
fn cli_profile_bad_input() {
    let bin = env!("CARGO_BIN_EXE_entroscope");
    let dir = std::env::temp_dir().join(format!("entroscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    let model = fixture("tiny-llama");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let out = run(&[
        "profile",
        "--model",
        model.to_str().unwrap(),
        "--text-file",
        empty.to_str().unwrap(),
        "--out",
        dir.join("o.csv").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no non-empty line"));
    let prompts = dir.join("p.txt");
    std::fs::write(&prompts, "the cat sat\n\non the mat\n").unwrap();
    let out = run(&[
        "profile",
        "--model",
        model.to_str().unwrap(),
        "--text-file",
        prompts.to_str().unwrap(),
        "--out",
        "/nonexistent/dir/o.csv",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot write"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "profile",
        "--model",
        model.to_str().unwrap(),
        "--text-file",
        prompts.to_str().unwrap(),
        "--metric",
        "renyi:-1",
        "--out",
        dir.join("o.csv").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    // and a good run writes the tidy table: prompt ids are line numbers (line 1 is empty)
    let csv = dir.join("ok.csv");
    let out = run(&[
        "profile",
        "--model",
        model.to_str().unwrap(),
        "--text-file",
        prompts.to_str().unwrap(),
        "--metric",
        "shannon",
        "--metric",
        "renyi:2",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let df = entroscope::frame::read_table(&csv).unwrap();
    let ids = entroscope::frame::column_str(&df, "prompt").unwrap();
    assert!(ids.contains(&"0".into()) && ids.contains(&"2".into()) && !ids.contains(&"1".into()));
    assert_eq!(df.get_column_names().len(), 11); // + `prompt` and `label`
}

/// The raw early exit is Hugging Face's `lm_head(hidden_states[l])` — the bare product, no
/// soft-cap, as HF's DoLa computes it — and the normed one is the model's own head,
/// `c·tanh(W_U · norm(h) / c)` with tiny-gemma3's `final_logit_softcapping` c = 5.
#[test]
fn early_exit_by_hand() {
    let lm = tiny();
    let tr = lm
        .trace_text("the cat sat", &CaptureSpec::default())
        .unwrap();
    let h = tr.layer(1).unwrap();
    let w = lm.head().weight().t().unwrap();
    let raw = LogitLens::raw().early_exit(&lm, &h).unwrap();
    assert!(common::max_abs_diff(&raw, &h.broadcast_matmul(&w).unwrap()) < 1e-5);
    let z = lm
        .final_norm(&h)
        .unwrap()
        .broadcast_matmul(&w)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let normed = LogitLens::normed()
        .early_exit(&lm, &h)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(
        z.iter().any(|v| v.abs() > 1.0),
        "the soft-cap must matter here"
    );
    for (got, z) in normed.iter().zip(&z) {
        let want = 5.0 * (z / 5.0).tanh();
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
}

/// Each lens's products agree: END's candidate columns and the CPU profile's into-buffer product
/// are the columns and the values of its early exit (tiny-gemma3 has a soft-cap, so the normed
/// columns must be capped too).
#[test]
fn lens_products_agree() {
    let lm = tiny();
    let tr = lm
        .trace_text("the cat sat", &CaptureSpec::default())
        .unwrap();
    let h = tr.layer(1).unwrap();
    let (head, rows, vocab) = (lm.head(), h.dim(0).unwrap(), lm.vocab_size());
    assert!(head.fills_buffers());
    let ids = [3u32, 0, 7];
    for kind in [LensKind::Normed, LensKind::Raw] {
        let lens = kind.lens();
        let full: Vec<Vec<f32>> = lens.early_exit(head, &h).unwrap().to_vec2().unwrap();
        let cols: Vec<Vec<f32>> = lens
            .early_exit_ids(head, &h, &ids)
            .unwrap()
            .to_vec2()
            .unwrap();
        let mut buf = vec![0f32; rows * vocab];
        lens.early_exit_into(head, &h, Precision::F32, &mut buf)
            .unwrap();
        for r in 0..rows {
            for (j, &c) in ids.iter().enumerate() {
                assert!((cols[r][j] - full[r][c as usize]).abs() < 1e-4, "{kind}");
            }
            for (a, b) in buf[r * vocab..(r + 1) * vocab].iter().zip(&full[r]) {
                assert!((a - b).abs() < 1e-4, "{kind}: {a} vs {b}");
            }
        }
    }
    assert!(matches!(
        head.unembed_ids(&h, &[vocab as u32]),
        Err(Error::TokenOutOfVocab { .. })
    ));
}

/// `profile_texts` numbers the texts in order and gives each the profile of its own trace.
#[test]
fn profile_texts_numbers_the_prompts() {
    let lm = tiny();
    let texts = ["the cat sat", "on the mat."];
    let metrics = [Metric::Shannon, Metric::CrossEntropy];
    let lens = LogitLens::normed();
    let all = lens.profile_texts(&lm, &texts, &metrics).unwrap();
    assert_eq!(all.len(), texts.len() * metrics.len());
    for (i, text) in texts.iter().enumerate() {
        let tr = lm.trace_text(text, &CaptureSpec::default()).unwrap();
        let one = lens
            .profile(&lm, &tr, &metrics, &Targets::NextToken)
            .unwrap();
        for (m, want) in one.iter().enumerate() {
            let got = &all[i * metrics.len() + m];
            assert_eq!(got.prompt_id, i);
            assert_eq!(got.metric, want.metric);
            assert_eq!(got.values.len(), want.values.len());
            for (a, b) in got.values.iter().zip(&want.values) {
                assert!(a == b || (a.is_nan() && b.is_nan()));
            }
        }
    }
}
