//! Idiom-completion uncertainty (arXiv 2412.05768): prompt/target construction on hand-checked
//! idioms, per-layer cross-entropy against −log p from the lens, AUC on hand-computed examples,
//! the seeded sampler, the files a run writes, bad input. (The EPIE line parsing is tested with
//! its code, in `src/data/epie.rs`.)

use crate::common::{fixture, real_model};
use entroscope::data::split_idiom;
use entroscope::decode::{argmax, LogitsProcessor, Sampling};
use entroscope::entropy::Metric;
use entroscope::lens::{LogitLens, Targets};
use entroscope::papers::uncertainty::*;
use entroscope::papers::Report as _;
use entroscope::prelude::*;
use entroscope::stats::summary::median_iqr;

fn tiny_llama() -> Lm {
    Lm::from_hf_dir(fixture("tiny-llama")).unwrap()
}

#[test]
fn missing_file_is_a_typed_error() {
    let opts = Options {
        models: vec![],
        sets: vec!["/no/such/idioms.txt".into()],
        ..Options::full()
    };
    assert!(matches!(run(&opts), Err(Error::FileNotFound { .. })));
}

#[test]
fn case_construction_on_tiny_model() {
    let lm = tiny_llama();
    let idiom = split_idiom("rule of thumb", 1).unwrap();
    let case = make_case(&lm, &idiom).unwrap();
    assert_eq!(
        case.prompt_ids,
        lm.encode("Complete the following English idiom with its missing last word.\nrule of")
            .unwrap()
    );
    // the byte-level tiny vocabulary splits " thumb" into several tokens; the target is the first
    assert!(case.target_ids.len() > 1);
    assert_eq!(case.target, case.target_ids[0]);
    assert_eq!(lm.decode(&case.target_ids).unwrap(), " thumb");
    assert_eq!(case.target_ids, lm.encode_plain(" thumb").unwrap());
}

#[test]
fn layer_ce_is_minus_log_p_under_the_lens() {
    let lm = tiny_llama();
    let ids = lm.encode("rule of").unwrap();
    let trace = lm.trace(&ids, &CaptureSpec::last(), &mut NoHook).unwrap();
    let targets = [5u32, 100, 287];
    let st = layer_stats(&lm, &trace, &targets).unwrap();
    let lens = LogitLens::normed();
    let n = lm.n_layers();
    assert_eq!(st.entropy.len(), n + 1);
    for l in 0..=n {
        // reference: log-softmax of the lens logits of that layer, computed by lens.rs
        let lp = lens
            .layer_log_probs(&lm, &trace, l)
            .unwrap()
            .get(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (t, &id) in targets.iter().enumerate() {
            assert!(
                (st.ce[t][l] + lp[id as usize]).abs() < 1e-5,
                "layer {l} target {id}"
            );
            let rank = lp.iter().filter(|&&x| x > lp[id as usize]).count() as u32;
            assert_eq!(st.rank[t][l], rank);
        }
    }
    // and against the fused streaming reductions of LogitLens::profile (entropy.rs)
    for (t, &id) in targets.iter().enumerate() {
        let p = lens
            .profile(
                &lm,
                &trace,
                &[Metric::CrossEntropy, Metric::Shannon, Metric::TargetRank],
                &Targets::Ids(vec![id]),
            )
            .unwrap();
        for l in 0..=n {
            assert!((p[0].values[l] - st.ce[t][l]).abs() < 1e-4);
            assert!((p[1].values[l] - st.entropy[l]).abs() < 1e-4);
            assert_eq!(p[2].values[l] as u32, st.rank[t][l]);
        }
    }
    // the last layer is the model's own output: CE = −log softmax(final logits)[id]
    let z = lm.next_token_logits(&ids).unwrap();
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let lse = m + z.iter().map(|x| (x - m).exp()).sum::<f32>().ln();
    assert!((st.ce[1][n] - (lse - z[100])).abs() < 1e-4);
    assert!(matches!(
        layer_stats(&lm, &trace, &[10_000]),
        Err(Error::TokenOutOfVocab { .. })
    ));
}

#[test]
fn run_idiom_greedy_and_seeded_samples() {
    let lm = tiny_llama();
    let idiom = split_idiom("a sorry sight", 1).unwrap();
    let a = run_idiom(&lm, "t", 7, &idiom, 3, 42).unwrap();
    let b = run_idiom(&lm, "t", 7, &idiom, 3, 42).unwrap();
    assert_eq!(a, b, "same seed, same samples");
    assert_eq!(a.len(), 4);
    assert_eq!(a[0].sample, None);
    assert_eq!(a[3].sample, Some(2));
    let case = make_case(&lm, &idiom).unwrap();
    let z = lm.next_token_logits(&case.prompt_ids).unwrap();
    let greedy = z
        .iter()
        .enumerate()
        .max_by(|x, y| x.1.total_cmp(y.1))
        .unwrap()
        .0 as u32;
    assert_eq!(a[0].generated, greedy);
    for r in &a {
        assert_eq!(r.target, case.target);
        assert_eq!(r.correct, r.generated == case.target);
        assert_eq!(r.ce_generated.len(), lm.n_layers() + 1);
        // the greedy token has rank 0 at the final layer
        if r.sample.is_none() {
            assert_eq!(*r.rank_generated.last().unwrap(), 0);
        }
    }
}

#[test]
fn auc_hand_computed() {
    // incorrect (positive) scored 3, 1, 2; correct scored 2, 0.
    // pairs: (3,2) 1, (3,0) 1, (1,2) 0, (1,0) 1, (2,2) ½, (2,0) 1 → 4.5 / 6 = 0.75
    let correct = [false, false, false, true, true];
    let scores = [3.0, 1.0, 2.0, 2.0, 0.0];
    assert_eq!(auc_incorrect(&correct, &scores), 0.75);
    // one class only → NaN (documented)
    assert!(auc_incorrect(&[true, true], &[1.0, 2.0]).is_nan());
}

fn rec(correct: bool, ce: [f32; 3], ent: f32) -> Record {
    Record {
        model: "m".into(),
        set: "s".into(),
        idiom: 0,
        text: "x y".into(),
        sample: Some(0),
        generated: 1,
        generated_str: "a".into(),
        target: 1,
        target_str: "a".into(),
        correct,
        ce_generated: ce.to_vec(),
        ce_truth: ce.to_vec(),
        entropy: vec![0.0, 0.0, ent],
        rank_generated: vec![0; 3],
        rank_truth: vec![0; 3],
    }
}

#[test]
fn summary_through_the_scoring_path() {
    // final CE: incorrect 3, 1; correct 2, 0 → pairs (3,2) (3,0) (1,0) win, (1,2) loses → ¾.
    // layer 0 CE separates perfectly (incorrect 9, 8 > correct 1, 2) → AUC 1, best layer 0.
    // layer 1 all tied → ½. final entropy: incorrect 1, 1; correct 1, 0 → (1,1) ½ ×2, (1,0) 1 ×2
    // → 3 / 4.
    let rs = [
        rec(false, [9.0, 5.0, 3.0], 1.0),
        rec(false, [8.0, 5.0, 1.0], 1.0),
        rec(true, [1.0, 5.0, 2.0], 1.0),
        rec(true, [2.0, 5.0, 0.0], 0.0),
    ];
    let refs: Vec<&Record> = rs.iter().collect();
    let s = summarize(&refs, 4, 1).unwrap();
    assert_eq!(s.accuracy, 0.5);
    assert_eq!(s.auc_final_ce, 0.75);
    assert_eq!(s.auc_final_entropy, 0.75);
    assert_eq!(s.auc_by_layer, vec![1.0, 0.5, 0.75]);
    assert_eq!((s.best_layer, s.best_auc), (0, 1.0));
    assert_eq!(s.mode, "sampled");
    assert!(summarize(&[], 0, 0).is_err());
}

#[test]
fn median_iqr_numpy_convention() {
    // numpy.percentile([1,2,3,4], [25,50,75]) = [1.75, 2.5, 3.25]
    let rows: Vec<Vec<f32>> = vec![vec![1.0], vec![4.0], vec![2.0], vec![3.0]];
    let refs: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
    let (m, q1, q3) = median_iqr(&refs);
    assert_eq!((m[0], q1[0], q3[0]), (2.5, 1.75, 3.25));
}

#[test]
fn tiny_end_to_end_writes_outputs() {
    let dir = std::env::temp_dir().join(format!("entroscope-unc-{}", std::process::id()));
    let data = dir.join("idioms.txt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&data, "rule of thumb\n\nsolo\na sorry sight\nsalad days\n").unwrap();
    let opts = Options {
        models: vec![fixture("tiny-llama").display().to_string()],
        sets: vec![data],
        n_samples: 2,
        ..Options::full()
    };
    let r = run(&opts).unwrap();
    assert_eq!(r.records.len(), 3 * 3);
    assert_eq!(r.summaries.len(), 2);
    assert_eq!(r.skipped.len(), 2);
    assert_eq!(r.summaries[0].n_skipped, 2);
    assert_eq!(r.summaries[0].n_generations, 3);
    assert_eq!(r.summaries[1].n_generations, 6);
    let files = r.write(&dir.join("out")).unwrap();
    for f in &files {
        assert!(f.exists(), "{}", f.display());
    }
    // the file names `entroscope uncertainty` has always written (the ROC and AUC charts only
    // when the sampled generations hold both correct and incorrect ones)
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let tag = "tiny-llama_idioms";
    let mut want = vec![
        format!("ce_layers_{tag}.png"),
        format!("hist_final_ce_{tag}.png"),
    ];
    if r.summaries[1].auc_final_ce.is_finite() {
        want.push(format!("roc_{tag}.png"));
    }
    if r.summaries[1].auc_by_layer.iter().any(|a| a.is_finite()) {
        want.push("auc_vs_layer.png".into());
    }
    want.extend(["summary.csv", "records.parquet", "results.md"].map(String::from));
    assert_eq!(names, want);
    assert!(r.markdown().contains("| 0.92 |"));
    let df = r.records.to_frame().unwrap();
    assert_eq!(df.height(), 9 * (tiny_llama().n_layers() + 1));
    assert_eq!(r.summaries.to_frame().unwrap().height(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn real_smollm_three_idioms() {
    let p = real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file());
    let lm = Lm::load(&p.display().to_string()).unwrap();
    // ids from HF transformers' AutoTokenizer on the same GGUF (encode(w, add_special_tokens=False)):
    // " thumb" = [13124]; " diem" = [801 " di", 391 "em"]; " merrier" = [5083 " mer", 7887 "rier"]
    let case = |line: &str| make_case(&lm, &split_idiom(line, 1).unwrap()).unwrap();
    let thumb = case("rule of thumb");
    assert_eq!(
        (thumb.target, thumb.target_ids.clone()),
        (13124, vec![13124])
    );
    let diem = case("carpe diem");
    assert_eq!(
        (diem.target, diem.target_ids.clone()),
        (801, vec![801, 391])
    );
    let merrier = case("the more, the merrier!");
    assert_eq!(
        (merrier.target, merrier.target_ids.clone()),
        (5083, vec![5083, 7887])
    );
    assert_eq!(
        merrier.prompt_ids,
        lm.encode(&prompt_text("the more, the")).unwrap()
    );
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/epie");
    let opts = Options {
        models: vec![p.display().to_string()],
        sets: vec![d.join("Static_idioms.txt")],
        limit: Some(3),
        n_samples: 2,
        ..Options::full()
    };
    let r = run(&opts).unwrap();
    assert_eq!(r.records.len(), 9);
    for rec in &r.records {
        // final-layer CE to the generated token = −log p, p ≤ 1
        assert!(rec.ce_generated.iter().all(|x| x.is_finite() && *x >= 0.0));
    }
}

/// The T = 1 draw of `run_idiom`: one decoding-module processor per draw, seeded with
/// `sample_seed`, whose single uniform `u` picks the first token whose cumulative probability
/// exceeds it.
fn sample_t1(z: &[f32], seed: u64) -> Result<u32> {
    let mut p = LogitsProcessor::from_sampling(seed, Sampling::All { temperature: 1.0 })?;
    Ok(p.sample(z)?.0)
}

#[test]
fn seeded_t1_sampler() {
    use rand::{Rng, SeedableRng};
    // softmax([0, ln 3]) = [¼, ¾]: token 0 iff the seeded uniform draw u < ¼
    let z = [0.0f32, 3f32.ln()];
    let mut ones = 0;
    for seed in 0..4000u64 {
        let u: f64 = rand::rngs::StdRng::seed_from_u64(seed).random();
        let t = sample_t1(&z, seed).unwrap();
        assert_eq!(t, u32::from(u >= 0.25), "seed {seed}, u = {u}");
        ones += t;
    }
    // binomial(4000, ¾): sd ≈ 27, so ±150 is > 5 sd
    assert!((ones as i64 - 3000).abs() < 150, "{ones}");
    assert!(sample_t1(&[f32::NAN, 0.0], 0).is_err());
    assert!(sample_t1(&[], 0).is_err());
    assert_eq!(argmax(&[1.0, 3.0, 3.0]).unwrap(), 1);
    // seeds: base + 1000·idiom + sample
    assert_eq!(sample_seed(5, 7, 2), 7007);
}

/// Determinism: the same seeded run twice in one process gives byte-identical tables (greedy and
/// seeded samples, every layer's statistics), written as CSV with shortest round-trip floats.
#[test]
fn seeded_runs_are_bit_identical() {
    let dir = std::env::temp_dir().join(format!("entroscope-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("idioms.txt");
    std::fs::write(
        &data,
        "rule of thumb\na sorry sight\nsalad days\nbreak the ice\n",
    )
    .unwrap();
    let opts = Options {
        models: vec![fixture("tiny-llama").display().to_string()],
        sets: vec![data],
        n_samples: 3,
        ..Options::full()
    };
    let csv = |i: usize| {
        let r = run(&opts).unwrap();
        let path = dir.join(format!("records-{i}.csv"));
        entroscope::frame::write_csv(&r.records.to_frame().unwrap(), &path).unwrap();
        std::fs::read(&path).unwrap()
    };
    let (a, b) = (csv(0), csv(1));
    assert!(a.len() > 1000);
    assert_eq!(a, b, "two seeded runs differ");
    std::fs::remove_dir_all(&dir).ok();
}

/// A paper run killed part-way (SIGKILL to the child) resumes when run again: the idioms it kept
/// in `<out>/.checkpoint` are read back, a kept item cut short is redone, and the tables equal
/// an uninterrupted run's byte for byte; the checkpoint is removed once the report is written.
#[test]
fn killed_paper_run_resumes_to_the_same_tables() {
    use std::process::{Command, Stdio};
    let model = real_model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let dir = std::env::temp_dir().join(format!("entroscope-paper-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |out: &std::path::Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_entroscope"));
        c.args(["uncertainty", "--quick", "--samples", "1", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let full = dir.join("full");
    let o = run(&full).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!full.join(".checkpoint").exists());

    let out = dir.join("resumed");
    // the items of model 0, in its part of the checkpoint
    let kept = || {
        std::fs::read_dir(out.join(".checkpoint").join("model_0"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "bin"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    crate::common::kill_when(&mut run(&out), || kept().len() >= 10);
    let before = kept();
    assert!(
        !out.join("records.parquet").exists(),
        "the killed run wrote its tables"
    );
    assert!(
        (10..100).contains(&before.len()),
        "{} idioms kept",
        before.len()
    );
    // one kept item cut short, as a kill inside a write outside our rename would leave it
    let bytes = std::fs::read(&before[0]).unwrap();
    std::fs::write(&before[0], &bytes[..bytes.len() / 2]).unwrap();

    let resumed = run(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    for table in ["records.parquet", "summary.csv"] {
        assert_eq!(
            std::fs::read(full.join(table)).unwrap(),
            std::fs::read(out.join(table)).unwrap(),
            "{table}: the resumed run differs from the uninterrupted one"
        );
    }
    assert!(!out.join(".checkpoint").exists());
    std::fs::remove_dir_all(&dir).ok();
}
