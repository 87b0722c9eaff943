//! BLEU / ROUGE-L / Self-BLEU against values computed with the Python references:
//! NLTK 3.10 `nltk.translate.bleu_score.sentence_bleu` (+ `SmoothingFunction().method0..3`) and
//! Google's `rouge-score` 0.1.2 `RougeScorer(["rougeL"])`, on whitespace-split tokens (script in
//! the comment at the end of this file).

// NLTK's BLEU-2 of the first case is exactly 1/√2 (p1 = p2 = 1/2); keep the printed digits.
#![allow(clippy::approx_constant)]

use entroscope::stats::text::{
    bleu, rouge_l_text, self_bleu, self_bleu_text, tokenize, BleuOptions, Smoothing,
};

fn toks(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

/// (hypothesis, references, [method0, method1, method2, method3, BLEU-2 method1]) from NLTK.
const NLTK: &[(&str, &[&str], [f64; 5])] = &[
    (
        "the cat sat on the mat",
        &["the cat is on the mat", "there is a cat on the mat"],
        [0.0, 0.254066374077307, 0.485491771707323, 0.379917842825796, 0.707106781186548],
    ),
    (
        "it is a guide to action which ensures that the military always obeys the commands of the party",
        &[
            "it is a guide to action that ensures that the military will forever heed party commands",
            "it is the guiding principle which guarantees the military forces always being under the command of the party",
            "it is the practical guide for the army always to heed the directions of the party",
        ],
        [0.504566684005848, 0.504566684005848, 0.539755306744061, 0.504566684005848, 0.745355992499930],
    ),
    (
        "paris is the capital",
        &["the capital of france is paris"],
        [0.0, 0.122550460201112, 0.325879804828146, 0.230431819845731, 0.350180639656850],
    ),
    (
        // shorter than the reference: brevity penalty exp(1 − 7/5)
        "a b c d e",
        &["a b x d e f g"],
        [0.0, 0.107710834954664, 0.299776237923296, 0.202528849544714, 0.423947621348308],
    ),
    ("nothing matches here", &["completely different words"], [0.0; 5]),
];

#[test]
fn sentence_bleu_matches_nltk() {
    for (hyp, refs, want) in NLTK {
        let h = toks(hyp);
        let r: Vec<Vec<&str>> = refs.iter().map(|s| toks(s)).collect();
        let r: Vec<&[&str]> = r.iter().map(Vec::as_slice).collect();
        let methods = [
            Smoothing::None,
            Smoothing::METHOD1,
            Smoothing::AddOne,
            Smoothing::Exponential,
        ];
        for (m, &w) in methods.iter().zip(want) {
            let got = bleu(
                &h,
                &r,
                BleuOptions {
                    max_n: 4,
                    smoothing: *m,
                },
            );
            close(got, w);
        }
        let b2 = bleu(
            &h,
            &r,
            BleuOptions {
                max_n: 2,
                smoothing: Smoothing::METHOD1,
            },
        );
        close(b2, want[4]);
    }
}

#[test]
fn bleu_by_hand() {
    // "a b c" vs "a b c d": p1 = p2 = p3 = 1, BLEU-3 = BP = exp(1 − 4/3)
    let o = BleuOptions {
        max_n: 3,
        smoothing: Smoothing::None,
    };
    close(
        bleu(&["a", "b", "c"], &[&["a", "b", "c", "d"][..]], o),
        (-1.0f64 / 3.0).exp(),
    );
    // clipping: "the the the" vs "the cat": p1 = 1/3 (the clipped to 1), BLEU-1 with BP exp(1 − 2/3)?
    // c = 3 > r = 2 → BP = 1 → 1/3
    let o1 = BleuOptions {
        max_n: 1,
        smoothing: Smoothing::None,
    };
    close(
        bleu(&["the", "the", "the"], &[&["the", "cat"][..]], o1),
        1.0 / 3.0,
    );
    // empty candidate / no reference
    close(bleu::<&str, &str>(&[], &[&["a"][..]], o1), 0.0);
    close(bleu::<&str, &str>(&["a"], &[], o1), 0.0);
}

#[test]
fn rouge_l_matches_rouge_score() {
    // (target, prediction, P, R, F) from rouge-score (its tokenizer: lower-case, non-alnum split)
    let cases = [
        (
            "The quick brown fox jumps over the lazy dog",
            "The quick brown dog jumps on the log.",
            0.625,
            0.555555555555556,
            0.588235294117647,
        ),
        (
            "Nothing happens if you eat watermelon seeds.",
            "You will grow a watermelon in your stomach, it's said!",
            0.181818181818182,
            0.285714285714286,
            0.222222222222222,
        ),
        (
            "The capital of France is Paris",
            "Paris.",
            1.0,
            0.166666666666667,
            0.285714285714286,
        ),
    ];
    for (t, p, pr, re, f) in cases {
        let r = rouge_l_text(p, t);
        assert!((r.precision - pr).abs() < 1e-12);
        assert!((r.recall - re).abs() < 1e-12);
        assert!((r.f - f).abs() < 1e-12);
    }
    assert_eq!(rouge_l_text("", "a b").f, 0.0);
    assert_eq!(tokenize("It's"), vec!["it", "s"]);
}

#[test]
fn self_bleu_matches_texygen_with_nltk() {
    // mean_i sentence_bleu(others, s_i, smoothing_function=method1) = 0.426076743696364
    let s = [
        "the cat sat on the mat",
        "the cat is on the mat",
        "a dog sat on a log",
        "the cat sat on a mat today",
    ];
    let t: Vec<Vec<&str>> = s.iter().map(|x| toks(x)).collect();
    close(
        self_bleu(&t, BleuOptions::default()).unwrap(),
        0.426076743696364,
    );
    close(self_bleu_text(&s).unwrap(), 0.426076743696364);
    assert!(self_bleu_text(&["only one"]).is_err());
}

// Reference script (python 3, nltk 3.10, rouge-score 0.1.2):
//   from nltk.translate.bleu_score import sentence_bleu, SmoothingFunction
//   sf = SmoothingFunction(); h = hyp.split(); r = [x.split() for x in refs]
//   [sentence_bleu(r, h), sentence_bleu(r, h, smoothing_function=sf.method1), ... method2, method3,
//    sentence_bleu(r, h, weights=(0.5, 0.5), smoothing_function=sf.method1)]
//   rouge_scorer.RougeScorer(["rougeL"]).score(target, prediction)["rougeL"]
