//! EDT reproduction: the shared-prefix sampler against `generate`, EDT's recorded temperature
//! against the formula, the Pareto front and sentence cut by hand, merging parts, the files a
//! run writes.

use crate::common::{fixture, real_model};
use entroscope::decode::{
    edt_temperature, generate_ids, Baseline, Edt, EdtLevel, EdtParams, GenerateOptions, Sampling,
};
use entroscope::papers::edt::*;
use entroscope::papers::Report as _;
use entroscope::prelude::*;

fn tiny() -> Lm {
    Lm::from_hf_dir(fixture("tiny-llama")).unwrap()
}

/// The sampler that reuses the prompt's cache draws exactly the tokens of the library's
/// `generate` with the same decoder and seed.
#[test]
fn shared_prefix_sampler_equals_generate() {
    let lm = tiny();
    let prompt = "Once upon a time";
    let ids = lm.encode(prompt).unwrap();
    let pre = prefill(&lm, prompt).unwrap();
    for seed in [0u64, 7] {
        let mut a = Baseline::sampling(seed, Sampling::All { temperature: 1.0 }).unwrap();
        let g = generate_ids(&lm, &ids, &mut a, &GenerateOptions::new(12)).unwrap();
        let mut b = Baseline::sampling(seed, Sampling::All { temperature: 1.0 }).unwrap();
        let s = sample(&lm, &pre, &mut b, 0, 12, &[]).unwrap();
        assert_eq!(s.ids, g.ids, "seed {seed}");
        for (x, st) in s.entropy.iter().zip(&g.steps) {
            assert!((x - st.entropy).abs() < 1e-4);
        }
    }
}

/// Samples drawn together in one batch are the samples drawn one by one with the same decoder
/// and sequence index (`generate` is the reference for those), including a row that stops early.
#[test]
fn batched_samples_equal_samples_drawn_alone() {
    let lm = tiny();
    let pre = prefill(&lm, "Once upon a time").unwrap();
    let edt = || {
        Edt::new(EdtParams {
            t0: 1.2,
            theta: 1.0,
            n: 0.8,
            level: EdtLevel::Token,
        })
        .unwrap()
        .seed(5)
    };
    let stops = ["e"]; // most samples stop early, at different steps
    let mut batch: Vec<Edt> = (0..4).map(|_| edt()).collect();
    let together = sample_batch(&lm, &pre, &mut batch, 3, 12, &stops).unwrap();
    assert_eq!(together.len(), 4);
    let lens: std::collections::BTreeSet<usize> = together.iter().map(|s| s.ids.len()).collect();
    assert!(
        lens.len() > 1,
        "the rows should stop at different steps: {lens:?}"
    );
    for (k, t) in together.iter().enumerate() {
        let mut d = edt();
        let alone = sample(&lm, &pre, &mut d, 3 + k, 12, &stops).unwrap();
        assert_eq!(t.ids, alone.ids, "sample {k}");
        assert_eq!(t.text, alone.text, "sample {k}");
        for (a, b) in t.temperature.iter().zip(&alone.temperature) {
            assert!((a - b).abs() < 1e-4, "sample {k}: {a} vs {b}");
        }
    }
}

/// Token-level EDT: the temperature of each step is T0 · 0.8^(θ/H) of that step's entropy;
/// instance level: the first step's temperature throughout.
#[test]
fn edt_trace_follows_the_formula() {
    let lm = tiny();
    let pre = prefill(&lm, "The capital of France is").unwrap();
    let p = EdtParams {
        t0: 1.2,
        theta: 1.0,
        n: 0.8,
        level: EdtLevel::Token,
    };
    let mut d = Edt::new(p).unwrap().seed(3);
    let s = sample(&lm, &pre, &mut d, 0, 10, &[]).unwrap();
    assert!(!s.ids.is_empty());
    for (t, h) in s.temperature.iter().zip(&s.entropy) {
        let want = edt_temperature(1.2, 1.0, 0.8, f64::from(*h));
        assert!(
            (f64::from(*t) - want).abs() < 1e-4 * want.max(1.0),
            "{t} vs {want}"
        );
    }
    let mut d = Edt::new(EdtParams {
        level: EdtLevel::Instance,
        ..p
    })
    .unwrap()
    .seed(3);
    let s = sample(&lm, &pre, &mut d, 0, 10, &[]).unwrap();
    let t0 = s.temperature[0];
    assert!(s.temperature.iter().all(|&t| t == t0));
    let want = edt_temperature(1.2, 1.0, 0.8, f64::from(s.entropy[0]));
    assert!((f64::from(t0) - want).abs() < 1e-4);
}

#[test]
fn pareto_front_by_hand() {
    // (quality ↑, self-BLEU ↓)
    let pts = [
        (0.30, 0.50), // front: best quality
        (0.20, 0.10), // front: most diverse
        (0.25, 0.30), // front: trade-off
        (0.20, 0.40), // dominated by (0.25, 0.30)
        (0.30, 0.50), // duplicate of the first: neither dominates the other
        (f64::NAN, 0.0),
    ];
    assert_eq!(
        pareto_front(&pts),
        vec![true, true, true, false, true, false]
    );
}

#[test]
fn sentences_and_settings() {
    assert_eq!(first_sentence("Hi there. Bye."), "Hi there.");
    assert_eq!(first_sentence("No end"), "No end");
    // the documented limit: an abbreviation followed by a space ends the sentence
    assert_eq!(first_sentence("U.S. troops left? Yes"), "U.S.");
    assert_eq!(
        first_sentence("It costs 3.5 dollars! Then"),
        "It costs 3.5 dollars!"
    );
    assert_eq!(Task::FactorNews.clean("  One. Two"), "One.");
    assert_eq!(Setting::Fixed(0.8).label(), "T=0.8");
    assert_eq!(Setting::EdtToken(0.8, 0.2).kind(), "edt-token");
    assert!(Setting::Fixed(0.0).decoder(0).is_err());
    assert!(Setting::EdtToken(0.8, -1.0).decoder(0).is_err());
    assert_eq!(full_grid().len(), 14);
    let o = Options {
        n_samples: 1,
        ..Options::quick()
    };
    assert!(run(&o).is_err());
    let lm = tiny();
    let pre = prefill(&lm, "a").unwrap();
    let mut d = Baseline::greedy();
    assert!(sample(&lm, &pre, &mut d, 0, 0, &[]).is_err());
}

fn result(model: &str, setting: Setting, rouge_l: f64, self_bleu: f64) -> SettingResult {
    SettingResult {
        model: model.into(),
        task: Task::TruthfulQa,
        setting,
        n_prompts: 1,
        n_samples: 2,
        rouge_l,
        bleu: 0.0,
        self_bleu,
        mean_temperature: 1.0,
        mean_tokens: 3.0,
        pareto: false,
        seconds: 0.0,
    }
}

/// A grid run in two parts: merging recomputes the front over all settings of the (model, task).
#[test]
fn merge_recomputes_the_front_and_names_the_files() {
    let m = "SmolLM2-135M-Instruct.Q4_1";
    let mut a = Report {
        results: vec![result(m, Setting::Fixed(0.2), 0.30, 0.50)],
        ..Default::default()
    };
    a.results[0].pareto = true; // alone, it is its own front
    let b = Report {
        // dominates the first: better quality and more diverse
        results: vec![result(m, Setting::EdtToken(0.8, 0.2), 0.35, 0.40)],
        ..Default::default()
    };
    a.merge(b);
    let front: Vec<bool> = a.results.iter().map(|r| r.pareto).collect();
    assert_eq!(front, vec![false, true]);
    let charts: Vec<String> = a.charts().unwrap().into_iter().map(|c| c.0).collect();
    assert_eq!(
        charts,
        vec!["SmolLM2_135M_Instruct_Q4_1-truthfulqa-pareto.png"]
    );
    let frames: Vec<String> = a.frames().unwrap().into_iter().map(|f| f.0).collect();
    assert_eq!(frames, vec!["results.parquet", "samples.parquet"]);
    assert_eq!(a.markdown_name(), "summary.md");
    assert_eq!(a.results.to_frame().unwrap().height(), 2);
}

/// A small run end to end on the real default model (the tiny fixtures' 64 positions cannot
/// hold the 6-shot TruthfulQA prompt): one prompt, two settings, two samples of at most 4 tokens.
#[test]
fn small_run_writes_its_files() {
    let m = real_model(entroscope::model::Bundled::SmolLm2_135mInstruct.file());
    let o = Options {
        models: vec![m.display().to_string()],
        tasks: vec![Task::TruthfulQa],
        n_prompts: 1,
        n_samples: 2,
        max_new_tokens: 4,
        settings: vec![Setting::Fixed(1.0), Setting::EdtToken(0.8, 0.2)],
        ..Options::quick()
    };
    let r = run(&o).unwrap();
    assert_eq!(r.results.len(), 2);
    assert_eq!(r.samples.len(), 2 * 2);
    assert!(r.results.iter().any(|x| x.pareto));
    assert_eq!(r.traces.len(), 1);
    let dir = std::env::temp_dir().join(format!("entroscope-edt-{}", std::process::id()));
    let files = r.write(&dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "SmolLM2_135M_Instruct_Q4_1-truthfulqa-pareto.png",
            "SmolLM2_135M_Instruct_Q4_1-entropy_trace.png",
            "SmolLM2_135M_Instruct_Q4_1-temperature_trace.png",
            "results.parquet",
            "samples.parquet",
            "summary.md",
        ]
    );
    assert_eq!(r.samples.to_frame().unwrap().height(), 4);
    std::fs::remove_dir_all(&dir).ok();
}

/// `chat_template` puts every prompt in the model's chat template: a model without one is a
/// typed error before any sampling, never a silent plain-text run.
#[test]
fn chat_template_on_a_model_without_one_is_a_typed_error() {
    let o = Options {
        n_prompts: 1,
        n_samples: 2,
        max_new_tokens: 2,
        settings: vec![Setting::Fixed(1.0)],
        chat_template: true,
        ..Options::quick()
    };
    let err = run_task(&tiny(), Task::TruthfulQa, &o, None, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::NoChatTemplate { .. }), "{err}");
}
