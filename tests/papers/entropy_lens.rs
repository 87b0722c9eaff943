//! Entropy-Lens reproduction: features and rescaling, layer selection, PCA, the generation
//! profiles against an independent full-sequence trace, layer skips, bad input. The kNN, fold
//! and AUC golden tests live in `tests/library/knn.rs`; the single-block skip in
//! `tests/oracle/tiny_models.rs`.

use crate::common::{fixture, max_abs_diff, real_model};
use entroscope::decode::Sampling;
use entroscope::intervene::LayerSkip;
use entroscope::papers::entropy_lens::classify::{evaluate, EvalSpec};
use entroscope::papers::entropy_lens::features::{feature_matrix, pca_2d, Rescale};
use entroscope::papers::entropy_lens::intervene::{
    entropy_changes, letter_ids, mc_score, select_layers, Strategy,
};
use entroscope::papers::entropy_lens::profiles::{generation_profiles, GenOptions};
use entroscope::papers::entropy_lens::prompts::{
    format_prompts, load_topics, mc_questions, shuffle_words, spread, task_prompts, topics_path,
    McQuestion, Task, Variant,
};
use entroscope::papers::entropy_lens::{run, Experiment, Options};
use entroscope::prelude::*;
use entroscope::stats::knn::KnnError;
use entroscope::stats::knn::{cross_validate, KnnParams, StratifiedKFold};
use ndarray::{array, Array2};

fn tiny() -> Lm {
    Lm::from_hf_dir(fixture("tiny-llama")).unwrap()
}

/// Experiment `t`, model `m`, Shannon, no rescaling.
fn spec<'a>(ks: &'a [usize], folds: usize, seed: u64) -> EvalSpec<'a> {
    EvalSpec {
        experiment: "t",
        model: "m",
        alpha: 1.0,
        rescale: Rescale::None,
        features: "generation",
        ks,
        folds,
        seed,
    }
}

// ---------------------------------------------------------------------------------------------
// Features and depth rescaling
// ---------------------------------------------------------------------------------------------

/// Interpolating a profile onto its own grid (n = its length) is the identity, exactly.
#[test]
fn rescaling_onto_own_grid_is_identity() {
    let v = vec![0.3f32, 2.5, 1.25, 7.0, 0.0, 4.5, 3.3];
    assert_eq!(entroscope::profile::rescale_linear(&v, v.len()).unwrap(), v);
    let x = feature_matrix(std::slice::from_ref(&v), 1, Rescale::Linear(v.len())).unwrap();
    let want: Vec<f64> = v.iter().map(|&a| f64::from(a)).collect();
    assert_eq!(x.row(0).to_vec(), want);
}

/// Depth rescaling of window features works window by window.
/// Row A has L = 2 per window: windows [0, 2] and [4, 8]; row B has L = 3: [0, 1, 2] and [3, 3, 3].
/// Linear onto 3 depths 0, ½, 1: A → [0, 1, 2 | 4, 6, 8]; B unchanged.
/// Zero-pad to 3: A → [0, 2, 0 | 4, 8, 0].
#[test]
fn window_features_rescale_per_window() {
    let a = vec![0.0, 2.0, 4.0, 8.0];
    let b = vec![0.0, 1.0, 2.0, 3.0, 3.0, 3.0];
    let x = feature_matrix(&[a.clone(), b.clone()], 2, Rescale::Linear(3)).unwrap();
    assert_eq!(
        x,
        array![
            [0.0, 1.0, 2.0, 4.0, 6.0, 8.0],
            [0.0, 1.0, 2.0, 3.0, 3.0, 3.0]
        ]
    );
    let x = feature_matrix(&[a, b], 2, Rescale::PadZeros).unwrap();
    assert_eq!(x.row(0).to_vec(), vec![0.0, 2.0, 0.0, 4.0, 8.0, 0.0]);
}

#[test]
fn unequal_profiles_without_rescaling_are_a_typed_error() {
    let err = feature_matrix(&[vec![1.0, 2.0], vec![1.0, 2.0, 3.0]], 1, Rescale::None).unwrap_err();
    match err {
        Error::InvalidParameter { expected, .. } => assert!(expected.contains("Rescale::Linear")),
        e => panic!("wrong error {e}"),
    }
    // equal lengths pass unchanged
    let x = feature_matrix(&[vec![1.0, 2.0], vec![3.0, 4.0]], 1, Rescale::None).unwrap();
    assert_eq!(x, array![[1.0, 2.0], [3.0, 4.0]]);
}

#[test]
fn nan_features_and_bad_shapes_are_typed_errors() {
    let err = feature_matrix(&[vec![1.0, f32::NAN]], 1, Rescale::None).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    assert!(matches!(
        feature_matrix(&[], 1, Rescale::None),
        Err(Error::NotEnoughData(_))
    ));
    // 3 values cannot be 2 windows
    assert!(matches!(
        feature_matrix(&[vec![1.0, 2.0, 3.0]], 2, Rescale::None),
        Err(Error::InvalidParameter { .. })
    ));
    // a one-layer window cannot be interpolated
    assert!(matches!(
        feature_matrix(&[vec![1.0, 2.0]], 2, Rescale::Linear(4)),
        Err(Error::NotEnoughData(_))
    ));
    // and NaN that reaches the classifier directly is the kNN's typed error
    let spec = spec(&[1], 2, 0);
    let x = array![[0.0], [f64::NAN], [1.0], [1.0]];
    let err = evaluate(&spec, &x, &[0, 0, 1, 1]).unwrap_err();
    assert!(
        matches!(err, Error::Knn(KnnError::NonFinite { row: 1, .. })),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Classification wrapper
// ---------------------------------------------------------------------------------------------

/// Two clusters far apart (class 0 near 0, class 1 near 100): every kNN AUC is 1; k larger than
/// the smallest training fold is left out; the dummy row comes last.
#[test]
fn evaluate_separable_and_filters_k() {
    let n = 10;
    let mut x = Array2::<f64>::zeros((2 * n, 2));
    let mut y = vec![0usize; 2 * n];
    for i in 0..2 * n {
        let c = i / n;
        y[i] = c;
        x[[i, 0]] = 100.0 * c as f64 + (i % n) as f64 * 0.1;
        x[[i, 1]] = (i % 3) as f64;
    }
    let spec = spec(&[1, 3, 18, 19], 10, 3);
    let rows = evaluate(&spec, &x, &y).unwrap();
    // 10 folds of 20 samples: each training fold has 18 samples → k = 19 is dropped.
    let ks: Vec<usize> = rows
        .iter()
        .filter(|r| r.classifier == "knn")
        .map(|r| r.k)
        .collect();
    assert_eq!(ks, vec![1, 3, 18]);
    for r in rows.iter().filter(|r| r.classifier == "knn" && r.k < 18) {
        assert_eq!((r.auc_mean, r.accuracy), (1.0, 1.0), "{r:?}");
    }
    // k = 18 = 9 of each class: every vote is a tie → probabilities ½, AUC exactly ½.
    let k18 = rows.iter().find(|r| r.k == 18).unwrap();
    assert_eq!(k18.auc_mean, 0.5);
    assert_eq!(rows.last().unwrap().classifier, "dummy");
    assert_eq!(rows[0].folds, 10);
}

#[test]
fn single_class_and_too_large_k_are_typed_errors() {
    let spec = spec(&[1], 2, 0);
    let x = array![[0.0], [1.0], [2.0]];
    let err = evaluate(&spec, &x, &[0, 0, 0]).unwrap_err();
    assert!(
        matches!(err, Error::Knn(KnnError::TooFewClasses { n_classes: 1 })),
        "{err}"
    );
    // k larger than a training fold, straight through the kNN (evaluate filters such k)
    let cv = StratifiedKFold::new(2).seed(0);
    let x4 = array![[0.0], [1.0], [5.0], [6.0]];
    let err = cross_validate(&KnnParams::new(3), &x4, &[0, 0, 1, 1], &cv).unwrap_err();
    assert_eq!(err, KnnError::KTooLarge { k: 3, n_train: 2 });
}

// ---------------------------------------------------------------------------------------------
// Layer selection
// ---------------------------------------------------------------------------------------------

/// Profile [1, 3, 2.5, 0.5, 4] → block changes [+2, −0.5, −2, +3.5]:
/// expansion picks blocks 4 (+3.5) then 1 (+2); pruning 3 (−2) then 2 (−0.5). By default
/// (first eligible block 2) block 1 — the embeddings → first block step — is never picked.
#[test]
fn expansion_and_pruning_layers_by_hand() {
    let d = entropy_changes(&[1.0, 3.0, 2.5, 0.5, 4.0]).unwrap();
    assert_eq!(d, vec![2.0, -0.5, -2.0, 3.5]);
    let pick = |st, k, first, seed| select_layers(&d, st, k, first, seed).unwrap();
    assert_eq!(pick(Strategy::Expansion, 1, 1, 0), vec![4]);
    assert_eq!(pick(Strategy::Expansion, 2, 1, 0), vec![1, 4]);
    assert_eq!(pick(Strategy::Pruning, 1, 1, 0), vec![3]);
    assert_eq!(pick(Strategy::Pruning, 2, 1, 0), vec![2, 3]);
    // the default ranking excludes block 1: the next expansion block is 2 (−0.5 > −2)
    assert_eq!(pick(Strategy::Expansion, 2, 2, 0), vec![2, 4]);
    assert_eq!(pick(Strategy::Expansion, 3, 2, 0), vec![2, 3, 4]);
    // ties go to the lower block
    assert_eq!(
        select_layers(&[1.0, 1.0, 0.0], Strategy::Expansion, 1, 1, 0).unwrap(),
        vec![1]
    );
    assert_eq!(
        select_layers(&[1.0, 1.0, 1.0], Strategy::Expansion, 1, 2, 0).unwrap(),
        vec![2]
    );
    // random: k distinct blocks in first..=L, reproducible per seed
    for first in [1, 2] {
        let r = pick(Strategy::Random, 3, first, 42);
        assert_eq!(r.len(), 3);
        assert!(r.windows(2).all(|w| w[0] < w[1]) && r.iter().all(|&l| (first..=4).contains(&l)));
        assert_eq!(r, pick(Strategy::Random, 3, first, 42));
    }
    for (bad, first) in [(0, 1), (5, 1), (4, 2), (1, 0)] {
        assert!(matches!(
            select_layers(&d, Strategy::Expansion, bad, first, 0),
            Err(Error::InvalidParameter { .. })
        ));
    }
    assert!(matches!(
        entropy_changes(&[1.0]),
        Err(Error::NotEnoughData(_))
    ));
}

/// Points on the line t·(1, 2): one component explains everything; scores = (t − mean t)·√5.
#[test]
fn pca_of_a_line() {
    let t = [0.0, 1.0, 2.0, 3.0, 4.0];
    let x = Array2::from_shape_fn((5, 2), |(i, j)| t[i] * (j as f64 + 1.0));
    let (pc, ev) = pca_2d(&x).unwrap();
    assert!((ev[0] - 1.0).abs() < 1e-9 && ev[1].abs() < 1e-9, "{ev:?}");
    for i in 0..5 {
        assert!((pc[[i, 0]] - (t[i] - 2.0) * 5f64.sqrt()).abs() < 1e-9);
    }
    assert!(pca_2d(&array![[1.0, 2.0]]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Prompts
// ---------------------------------------------------------------------------------------------

#[test]
fn prompt_sets_are_balanced() {
    let items = entroscope::data::factor(entroscope::data::FactorSplit::News).unwrap();
    let p = task_prompts(&items, 2, 30, 7).unwrap();
    // the reference's 24 prompts per text: 3 tasks × 2 wordings × 4 variants
    assert_eq!(Task::ALL.len() * 2 * Variant::ALL.len(), 24);
    assert_eq!(p.len(), 2 * 24);
    for c in 0..3 {
        assert_eq!(p.iter().filter(|x| x.class == c).count(), 16);
    }
    let story = entroscope::papers::entropy_lens::prompts::story_excerpt(&items[0].prefix, 30);
    assert_eq!(
        p[0].text,
        format!("{story}\n\nHow can the story be continued?\n\n")
    );
    assert_eq!(
        p[1].text,
        format!("How can the story be continued?\n\n{story}\n\n")
    );
    assert!(p[2]
        .text
        .ends_with("\n\nHow can the story be continued?\n\n"));
    assert_ne!(p[2].text, p[0].text);
    assert!(task_prompts(&items, items.len() + 1, 30, 7).is_err());
    // the shuffled story holds the same words
    let s = "one two three four five six";
    let sh = shuffle_words(s, 3);
    let (mut a, mut b): (Vec<&str>, Vec<&str>) = (s.split(' ').collect(), sh.split(' ').collect());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    assert_eq!(sh, shuffle_words(s, 3));
    let f = format_prompts(&["bees".to_string()]);
    assert_eq!(f.len(), 3);
    assert_eq!(f[1].text, "Write a poem about bees");
    assert_eq!(f[0].text, "Simulate a chat log about bees");
    // spread: indices ⌊i·10/4⌋ = 0, 2, 5, 7
    assert_eq!(spread(&(0..10).collect::<Vec<_>>(), 4), vec![0, 2, 5, 7]);
    let topics = load_topics(topics_path()).unwrap();
    assert_eq!(topics.len(), 180);
    let q = mc_questions(&entroscope::data::truthfulqa().unwrap(), 5, 0);
    assert_eq!(q.len(), 5);
    for x in &q {
        assert!(x.prompt.ends_with("\nAnswer:") && x.correct < 4);
        assert_eq!(x.prompt.matches("\nA. ").count(), 1);
    }
}

#[test]
fn options_are_validated() {
    let opts = Options {
        experiments: vec![Experiment::Formats],
        format_tokens: 10,
        format_windows: 8,
        models: vec![],
        ..Options::quick()
    };
    let err = run(&opts).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidParameter {
                name: "format_tokens",
                ..
            }
        ),
        "{err}"
    );
    let none = Options {
        experiments: vec![],
        ..Options::quick()
    };
    assert!(run(&none).is_err());
    assert!("nope".parse::<Experiment>().is_err());
}

// ---------------------------------------------------------------------------------------------
// Layer skip
// ---------------------------------------------------------------------------------------------

/// Skipping no block is the plain forward; skipping every block leaves the embeddings at every
/// layer (and the final logits are the lens of the embeddings).
#[test]
fn layer_skip_none_and_all() {
    let lm = tiny();
    let ids = lm.encode("hello world, the cat").unwrap();
    let spec = CaptureSpec::default();
    let plain = lm.trace(&ids, &spec, &mut NoHook).unwrap();
    let none = lm.trace(&ids, &spec, &mut LayerSkip::new(vec![])).unwrap();
    assert_eq!(max_abs_diff(&plain.resid, &none.resid), 0.0);
    assert_eq!(max_abs_diff(&plain.logits, &none.logits), 0.0);
    let all: Vec<usize> = (1..=lm.n_layers()).collect();
    let skipped = lm.trace(&ids, &spec, &mut LayerSkip::new(all)).unwrap();
    let emb = skipped.layer(0).unwrap();
    assert_eq!(max_abs_diff(&emb, &plain.layer(0).unwrap()), 0.0);
    for l in 1..=lm.n_layers() {
        assert_eq!(
            max_abs_diff(&skipped.layer(l).unwrap(), &emb),
            0.0,
            "layer {l}"
        );
    }
    let last = emb.narrow(0, ids.len() - 1, 1).unwrap();
    assert_eq!(
        max_abs_diff(&skipped.logits, &lm.logits(&last).unwrap()),
        0.0
    );
}

/// With no skip, the lettered answer is the arg-max over the four letter logits of an
/// independent full forward ([`Lm::next_token_logits`]).
#[test]
fn mc_score_matches_independent_argmax() {
    let lm = tiny();
    let letters = letter_ids(&lm).unwrap();
    let qs: Vec<McQuestion> = ["Question: sky?\nA. blue\nB. red\nC. green\nD. pink\nAnswer:"; 3]
        .iter()
        .enumerate()
        .map(|(i, p)| McQuestion {
            index: i,
            prompt: p.to_string(),
            correct: i,
        })
        .collect();
    let prompts: Vec<Vec<u32>> = qs.iter().map(|q| lm.encode(&q.prompt).unwrap()).collect();
    let z = lm.next_token_logits(&prompts[0]).unwrap();
    let zl: Vec<f32> = letters.iter().map(|&i| z[i as usize]).collect();
    let best = (0..4).fold(0, |b, i| if zl[i] > zl[b] { i } else { b });
    let s = mc_score(&lm, &prompts, &qs, &letters, &[]).unwrap();
    // the same prompt three times with correct = 0, 1, 2: exactly one is right iff best < 3
    let want = if best < 3 { 1.0 / 3.0 } else { 0.0 };
    assert!((s.accuracy - want).abs() < 1e-12, "{s:?} best {best}");
    // p_correct: mean of softmax over letters at 0, 1, 2
    let m = zl.iter().copied().fold(f32::MIN, f32::max);
    let e: Vec<f64> = zl.iter().map(|&v| f64::from(v - m).exp()).collect();
    let tot: f64 = e.iter().sum();
    let want_p = (e[0] + e[1] + e[2]) / tot / 3.0;
    assert!(
        (s.p_correct - want_p).abs() < 1e-6,
        "{} vs {want_p}",
        s.p_correct
    );
    assert!(mc_score(&lm, &prompts[..1], &qs, &letters, &[]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Generation profiles
// ---------------------------------------------------------------------------------------------

/// The KV-cached, batched-lens profile of a generation equals the normed logit lens of one
/// full-sequence trace of prompt + generated tokens (a different code path: no cache, the
/// per-layer `LogitLens::profile`), at the positions that predicted each generated token.
fn profiles_match_trace(lm: &Lm, prompt: &str, steps: usize, tol: f32) {
    let p = lm.encode(prompt).unwrap();
    let opts = GenOptions {
        max_new_tokens: steps,
        sampling: Sampling::All { temperature: 1.0 },
        seed: 5,
        chunk_bytes: 3 * lm.vocab_size() * 4, // several flushes of 3 rows
        ..GenOptions::default()
    };
    let g = generation_profiles(lm, &[p.clone(), p.clone()], &opts, None).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].ids.len(), steps);
    assert_eq!(g[0].profiles.len(), 3);
    // seeds differ per prompt: seed + i; the same call again reproduces them
    let again = generation_profiles(lm, std::slice::from_ref(&p), &opts, None).unwrap();
    assert_eq!(again[0].ids, g[0].ids);
    let mut full = p.clone();
    full.extend(&g[0].ids[..steps - 1]);
    let spec = CaptureSpec {
        positions: Positions::List((p.len() - 1..full.len()).collect()),
        ..CaptureSpec::default()
    };
    let trace = lm.trace(&full, &spec, &mut NoHook).unwrap();
    let metrics = [
        Metric::Shannon,
        Metric::renyi(0.5).unwrap(),
        Metric::renyi(5.0).unwrap(),
    ];
    let want = LogitLens::normed()
        .profile(lm, &trace, &metrics, &Targets::None)
        .unwrap();
    for (got, want) in g[0].profiles.iter().zip(&want) {
        assert_eq!(got.n_layers, lm.n_layers());
        assert_eq!(got.values.len(), (lm.n_layers() + 1) * steps);
        for (a, b) in got.values.iter().zip(&want.values) {
            assert!(
                (a - b).abs() <= tol * b.abs().max(1.0),
                "{} {a} vs {b}",
                got.metric
            );
        }
    }
    // Rényi entropy is non-increasing in α: H_0.5 ≥ H_1 ≥ H_5 at every cell.
    let [h1, h05, h5] = [&g[1].profiles[0], &g[1].profiles[1], &g[1].profiles[2]];
    for i in 0..h1.values.len() {
        assert!(h05.values[i] + 1e-4 >= h1.values[i] && h1.values[i] + 1e-4 >= h5.values[i]);
    }
}

#[test]
fn generation_profiles_match_full_trace_tiny() {
    profiles_match_trace(&tiny(), "the cat sat on", 4, 1e-4);
}

#[test]
fn generation_profiles_match_full_trace_smollm2() {
    let path = real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file());
    let lm = Lm::load(&path.display().to_string()).unwrap();
    profiles_match_trace(&lm, "Once upon a time", 3, 2e-3);
}

/// The formats protocol decodes greedily: the profiled generation is the greedy `generate`
/// (EOS suppressed, as both do for a fixed length), token for token, whether prompts of one
/// length decode together (the first two here) or one at a time.
#[test]
fn greedy_profiles_follow_greedy_generate() {
    let tiny = tiny();
    let smol = Lm::load(
        &real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file())
            .display()
            .to_string(),
    )
    .unwrap();
    for (lm, steps) in [(&tiny, 12), (&smol, 16)] {
        let prompts = vec![
            lm.encode("Write a poem about the sea").unwrap(),
            lm.encode("Write a poem about the sky").unwrap(),
            lm.encode("the cat sat on").unwrap(),
        ];
        assert_eq!(prompts[0].len(), prompts[1].len(), "{}", lm.name());
        assert_ne!(prompts[0].len(), prompts[2].len(), "{}", lm.name());
        let opts = GenOptions {
            max_new_tokens: steps,
            sampling: Sampling::ArgMax,
            ..GenOptions::default()
        };
        let g = generation_profiles(lm, &prompts, &opts, None).unwrap();
        let one_by_one = GenOptions {
            batch_size: 1,
            ..opts.clone()
        };
        let single = generation_profiles(lm, &prompts, &one_by_one, None).unwrap();
        for (a, b) in g.iter().zip(&single) {
            assert_eq!(a.ids, b.ids, "{}", lm.name());
            for (pa, pb) in a.profiles.iter().zip(&b.profiles) {
                for (x, y) in pa.values.iter().zip(&pb.values) {
                    assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0), "{x} vs {y}");
                }
            }
        }
        for (p, gp) in prompts.iter().zip(&g) {
            let want = entroscope::decode::generate_ids(
                lm,
                p,
                &mut entroscope::decode::Baseline::greedy(),
                &entroscope::decode::GenerateOptions::exactly(steps),
            )
            .unwrap();
            assert_eq!(gp.ids, want.ids, "{}", lm.name());
        }
    }
}

#[test]
fn generation_profile_bad_input() {
    let lm = tiny();
    let p = vec![lm.encode("hi").unwrap()];
    let bad = |o: GenOptions| generation_profiles(&lm, &p, &o, None).unwrap_err();
    assert!(matches!(
        bad(GenOptions {
            max_new_tokens: 0,
            ..GenOptions::default()
        }),
        Error::InvalidParameter { .. }
    ));
    assert!(matches!(
        bad(GenOptions {
            sampling: Sampling::All { temperature: -1.0 },
            ..GenOptions::default()
        }),
        Error::InvalidParameter { .. }
    ));
    assert!(matches!(
        bad(GenOptions {
            batch_size: 0,
            ..GenOptions::default()
        }),
        Error::InvalidParameter { .. }
    ));
    assert!(matches!(
        bad(GenOptions {
            metrics: vec![Metric::CrossEntropy],
            ..GenOptions::default()
        }),
        Error::InvalidParameter { .. }
    ));
    assert!(matches!(
        generation_profiles(&lm, &[vec![]], &GenOptions::default(), None).unwrap_err(),
        Error::EmptyPrompt
    ));
}

// ---------------------------------------------------------------------------------------------
// A whole run, written out
// ---------------------------------------------------------------------------------------------

/// All four experiments on SmolLM2 (L = 30) at toy sizes, written with `Report::write`: the
/// files the CLI has always written, in order, and the frame shapes counted by hand.
#[test]
fn run_writes_the_same_files() {
    use entroscope::papers::Report as _;
    let path = real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file());
    let opts = Options {
        models: vec![path.display().to_string()],
        family_samples: 4,
        family_tokens: 2,
        task_stories: 1,
        task_words: 20,
        task_tokens: 2,
        format_topics: 2,
        format_tokens: 2,
        format_windows: 2,
        mc_questions: 2,
        skip_ks: vec![1],
        random_draws: 1,
        ..Options::quick()
    };
    let report = run(&opts).unwrap();
    let dir = std::env::temp_dir().join(format!("entroscope-test-{}-el", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = report.write(&dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "families_profiles.png",
            "families_pca.png",
            "tasks_profiles.png",
            "formats_profiles.png",
            "auc_vs_alpha.png",
            "interventions_smollm2-135m-instruct.png",
            "classification.parquet",
            "classification.csv",
            "profiles.parquet",
            "generations.parquet",
            "interventions.parquet",
            "results.md",
        ]
    );
    assert!(files.iter().all(|f| f.is_file()));
    let class = entroscope::frame::read_table(dir.join("classification.csv")).unwrap();
    let cols: Vec<&str> = class
        .get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        cols,
        [
            "experiment",
            "model",
            "alpha",
            "rescale",
            "features",
            "classifier",
            "k",
            "folds",
            "n_samples",
            "n_classes",
            "auc_mean",
            "auc_std",
            "accuracy"
        ]
    );
    // every per-model classification comes with its step-0 diagnostic, row for row
    let feats = entroscope::frame::column_str(&class, "features").unwrap();
    let n_step0 = feats.iter().filter(|f| *f == "step 0").count();
    assert!(n_step0 > 0 && 2 * n_step0 == feats.len(), "{feats:?}");
    // profiles: 3 metrics × 30 blocks per (sample, window): families 4 samples and tasks
    // 1 text × 24 prompts with the mean only, formats 2 topics × 3 with the mean and 2 windows.
    let prof = entroscope::frame::read_table(dir.join("profiles.parquet")).unwrap();
    assert_eq!(prof.shape(), ((4 + 24 + 6 * 3) * 3 * 30, 11));
    let gens = entroscope::frame::read_table(dir.join("generations.parquet")).unwrap();
    assert_eq!(gens.shape(), (4 + 24 + 6, 7));
    // SmolLM2 is a Llama: every sample carries its model's family
    let fam = entroscope::frame::column_str(&gens, "family").unwrap();
    assert!(fam.iter().all(|f| f == "llama"), "{fam:?}");
    // interventions: none + (expansion, pruning, 1 random draw) at k = 1, block 1 never
    // skipped by default
    let iv = entroscope::frame::read_table(dir.join("interventions.parquet")).unwrap();
    assert_eq!(iv.shape(), (4, 8));
    assert!(!opts.skip_first_block);
    for r in &report.interventions {
        assert!(!r.layers.contains(&1), "{r:?}");
    }
    // one model: no family classification, and a note saying so
    let experiments = entroscope::frame::column_str(&class, "experiment").unwrap();
    assert!(experiments.iter().all(|e| e != "families"));
    assert!(std::fs::read_to_string(dir.join("results.md"))
        .unwrap()
        .contains("families: one model only"));
    let _ = std::fs::remove_dir_all(&dir);
}
