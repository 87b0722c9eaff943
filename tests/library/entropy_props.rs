//! Property tests of the row reductions in `entroscope::entropy`, against the definitions
//! computed naively in f64 (log-space, so that the reference itself does not underflow).

use entroscope::entropy::{
    cross_entropy, js_div, kl_div, reduce_row, reduce_rows, renyi, shannon, target_stats, top_k,
    Metric, Renyi, Request,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// f64 references, straight from the definitions
// ---------------------------------------------------------------------------------------------

/// ln p_i = z_i − ln Σ_j e^{z_j}, in f64 (`-inf` for masked tokens).
fn log_softmax64(z: &[f32]) -> Vec<f64> {
    let m = z
        .iter()
        .fold(f64::NEG_INFINITY, |a, &x| a.max(f64::from(x)));
    let s: f64 = z.iter().map(|&x| (f64::from(x) - m).exp()).sum();
    let lz = m + s.ln();
    z.iter().map(|&x| f64::from(x) - lz).collect()
}

fn shannon64(z: &[f32]) -> f64 {
    log_softmax64(z)
        .iter()
        .filter(|l| l.is_finite())
        .map(|&l| -l.exp() * l)
        .sum()
}

/// Rényi entropy from the definition; ln Σ p^α by log-sum-exp of α·ln p.
fn renyi64(z: &[f32], alpha: f64) -> f64 {
    let lp: Vec<f64> = log_softmax64(z)
        .into_iter()
        .filter(|l| l.is_finite())
        .collect();
    if alpha == 0.0 {
        return (lp.len() as f64).ln();
    }
    if alpha == 1.0 {
        return shannon64(z);
    }
    let mx = lp.iter().fold(f64::NEG_INFINITY, |a, &x| a.max(x));
    if alpha.is_infinite() {
        return -mx;
    }
    let m = alpha * mx;
    let lse = m + lp.iter().map(|&l| (alpha * l - m).exp()).sum::<f64>().ln();
    lse / (1.0 - alpha)
}

fn kl64(p: &[f32], q: &[f32]) -> f64 {
    let (lp, lq) = (log_softmax64(p), log_softmax64(q));
    lp.iter()
        .zip(&lq)
        .filter(|(a, _)| a.exp() > 0.0)
        .map(|(&a, &b)| a.exp() * (a - b))
        .sum()
}

fn js64(p: &[f32], q: &[f32]) -> f64 {
    let (lp, lq) = (log_softmax64(p), log_softmax64(q));
    let mut js = 0.0;
    for (&a, &b) in lp.iter().zip(&lq) {
        let (pa, qb) = (a.exp(), b.exp());
        let m = 0.5 * (pa + qb);
        if pa > 0.0 {
            js += 0.5 * pa * (pa / m).ln();
        }
        if qb > 0.0 {
            js += 0.5 * qb * (qb / m).ln();
        }
    }
    js
}

fn close(got: f32, want: f64, tol: f64) -> bool {
    (f64::from(got) - want).abs() <= tol * (1.0 + want.abs())
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Moderate logits, rows long enough to cross the 1024-element block boundary sometimes.
fn moderate_row() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-20.0f32..20.0, 1..1500)
}

/// Mixtures of huge and tiny logits, with masked (-inf) tokens; at least one finite.
fn extreme_row() -> impl Strategy<Value = Vec<f32>> {
    let logit = prop_oneof![
        Just(1e4f32),
        Just(-1e4f32),
        Just(9_999.5f32),
        -1e4f32..1e4,
        -1e-3f32..1e-3,
        Just(f32::NEG_INFINITY),
    ];
    prop::collection::vec(logit, 1..1500).prop_filter("at least one finite logit", |v| {
        v.iter().any(|x| x.is_finite())
    })
}

/// Rows of several blocks with a trend, so that the running max grows block after block (the
/// streaming sums are rescaled many times), sometimes after a masked (`-inf`) first block, and
/// sometimes with a jump of thousands (the earlier sums rescale to 0).
fn trending_row() -> impl Strategy<Value = Vec<f32>> {
    (
        prop::collection::vec(-10.0f32..10.0, 1025..5000),
        -0.02f32..0.05,
        any::<bool>(),
        prop_oneof![Just(0.0f32), 1.0f32..50.0, Just(3e3f32)],
    )
        .prop_map(|(mut v, slope, masked_head, jump)| {
            let n = v.len();
            for (i, x) in v.iter_mut().enumerate() {
                *x += slope * i as f32;
                if i >= n - 100 {
                    *x += jump;
                }
            }
            if masked_head {
                v[..1024].fill(f32::NEG_INFINITY);
            }
            v
        })
}

/// Two moderate rows of the same length.
fn row_pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (1usize..1500).prop_flat_map(|n| {
        (
            prop::collection::vec(-15.0f32..15.0, n),
            prop::collection::vec(-15.0f32..15.0, n),
        )
    })
}

const ALPHAS: [f32; 13] = [
    0.0,
    0.3,
    0.5,
    0.75,
    0.9999,
    1.0,
    1.0001,
    1.2,
    2.0,
    3.5,
    10.0,
    100.0,
    f32::INFINITY,
];

fn all_orders() -> Request {
    ALPHAS.iter().fold(Request::new().shannon(), |r, &a| {
        r.renyi(Renyi::new(a).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn entropies_are_bounded_and_non_increasing_in_alpha(z in moderate_row()) {
        let ln_v = (z.len() as f32).ln();
        let s = reduce_row(&z, &all_orders(), None).unwrap();
        let h = s.shannon.unwrap();
        prop_assert!((0.0..=ln_v).contains(&h), "H = {h}, ln V = {ln_v}");
        for w in s.renyi.windows(2) {
            prop_assert!(w[1] <= w[0] + 1e-5 * (1.0 + w[0]), "{:?}", s.renyi);
        }
        for &r in &s.renyi {
            prop_assert!((0.0..=ln_v).contains(&r));
        }
        // α = 0 is ln V (every logit finite); α = 1 is Shannon
        prop_assert!((s.renyi[0] - ln_v).abs() <= 1e-6 * ln_v.max(1.0));
        prop_assert_eq!(s.renyi[5], h);
    }

    #[test]
    fn entropies_match_the_f64_definitions(z in moderate_row()) {
        let s = reduce_row(&z, &all_orders(), None).unwrap();
        prop_assert!(close(s.shannon.unwrap(), shannon64(&z), 1e-5));
        for (&a, &got) in ALPHAS.iter().zip(&s.renyi) {
            let want = renyi64(&z, f64::from(a));
            prop_assert!(close(got, want, 1e-5), "alpha {a}: {got} vs {want}");
        }
    }

    #[test]
    fn streaming_rescales_are_exact(z in trending_row(), t in any::<prop::sample::Index>()) {
        let target = t.index(z.len()) as u32;
        let s = reduce_row(&z, &all_orders().top_k(5), Some(target)).unwrap();
        prop_assert!(close(s.shannon.unwrap(), shannon64(&z), 1e-5));
        for (&a, &got) in ALPHAS.iter().zip(&s.renyi) {
            let want = renyi64(&z, f64::from(a));
            prop_assert!(close(got, want, 1e-5), "alpha {a}: {got} vs {want}");
        }
        let lp = log_softmax64(&z);
        let ts = s.target.unwrap();
        prop_assert!(ts.log_prob.is_finite() == lp[target as usize].is_finite());
        if ts.log_prob.is_finite() {
            prop_assert!(close(ts.log_prob, lp[target as usize], 1e-5));
        }
        prop_assert_eq!(ts.rank, z.iter().filter(|&&x| x > z[target as usize]).count());
        let mut idx: Vec<usize> = (0..z.len()).collect();
        idx.sort_by(|&a, &b| z[b].total_cmp(&z[a]).then(a.cmp(&b)));
        for (g, &i) in s.top_k.iter().zip(&idx) {
            prop_assert_eq!(g.0 as usize, i);
        }
        prop_assert_eq!(s.support, z.iter().filter(|x| x.is_finite()).count());
    }

    #[test]
    fn alpha_near_one_approaches_shannon(z in prop::collection::vec(-0.25f32..0.25, 1..1500)) {
        // H_α = H − (α−1)/2 · Var_p(ln p) + O((α−1)²); with logits within ±¼, Var ≤ ¼, so
        // |H_{1±1e-4} − H| ≤ 1.25e-5 · ... < 1e-5 after f32 rounding of values ~ ln V ≤ 7.3.
        let h = shannon(&z).unwrap();
        for a in [1.0 - 1e-4, 1.0 + 1e-4] {
            let r = renyi(&z, Renyi::new(a).unwrap()).unwrap();
            prop_assert!((r - h).abs() <= 1e-5, "alpha {a}: {r} vs H {h}");
        }
    }

    #[test]
    fn alpha_near_one_is_accurate_for_peaked_rows(z in moderate_row(), e in 1e-6f32..1e-3) {
        // no cancellation: H_{1±ε} agrees with the f64 definition even for ε = 1e-6
        for a in [1.0 - e, 1.0 + e] {
            let got = renyi(&z, Renyi::new(a).unwrap()).unwrap();
            let want = renyi64(&z, f64::from(a));
            prop_assert!(close(got, want, 1e-5), "alpha {a}: {got} vs {want}");
        }
    }

    #[test]
    fn uniform_rows_give_ln_v_for_every_order(v in 1usize..5000, c in -1e4f32..1e4) {
        let z = vec![c; v];
        let ln_v = (v as f64).ln();
        let s = reduce_row(&z, &all_orders(), None).unwrap();
        prop_assert!(close(s.shannon.unwrap(), ln_v, 1e-6));
        for (&a, &h) in ALPHAS.iter().zip(&s.renyi) {
            prop_assert!(close(h, ln_v, 1e-6), "alpha {a}: {h} vs {ln_v}");
        }
    }

    #[test]
    fn extreme_logits_stay_finite_and_accurate(z in extreme_row(), t in any::<prop::sample::Index>()) {
        let target = t.index(z.len()) as u32;
        let s = reduce_row(&z, &all_orders(), Some(target)).unwrap();
        let h = s.shannon.unwrap();
        prop_assert!(h.is_finite() && h >= 0.0);
        prop_assert!(close(h, shannon64(&z), 1e-5), "{h} vs {}", shannon64(&z));
        for (&a, &r) in ALPHAS.iter().zip(&s.renyi) {
            prop_assert!(r.is_finite());
            let want = renyi64(&z, f64::from(a));
            prop_assert!(close(r, want, 1e-5), "alpha {a}: {r} vs {want}");
        }
        // ln p(target) is finite unless the target is masked
        let lp = s.target.unwrap().log_prob;
        let want = log_softmax64(&z)[target as usize];
        prop_assert!(lp.is_finite() == want.is_finite());
        if want.is_finite() {
            prop_assert!(close(lp, want, 1e-6), "{lp} vs {want}");
        }
        // divergences against a shifted copy stay finite and ≥ 0
        let q: Vec<f32> = z.iter().rev().copied().collect();
        if z.iter().zip(&q).all(|(a, b)| a.is_finite() == b.is_finite()) {
            let kl = kl_div(&z, &q).unwrap();
            prop_assert!(kl.is_finite() && kl >= 0.0);
        }
        let js = js_div(&z, &q).unwrap();
        prop_assert!(js.is_finite() && (0.0..=std::f32::consts::LN_2).contains(&js));
    }

    #[test]
    fn cross_entropy_rank_prob_match_naive((z, t) in moderate_row().prop_flat_map(|z| {
        let n = z.len();
        (Just(z), 0..n)
    })) {
        let lp = log_softmax64(&z);
        let ce = cross_entropy(&z, t as u32).unwrap();
        prop_assert!(close(ce, -lp[t], 1e-5), "{ce} vs {}", -lp[t]);
        let ts = target_stats(&z, t as u32).unwrap();
        prop_assert!(close(ts.prob(), lp[t].exp(), 1e-5));
        let above = z.iter().filter(|&&x| x > z[t]).count();
        prop_assert_eq!(ts.rank, above);
        prop_assert!(cross_entropy(&z, z.len() as u32).is_err());
    }

    #[test]
    fn kl_is_nonnegative_and_matches_f64((p, q) in row_pair()) {
        let kl = kl_div(&p, &q).unwrap();
        prop_assert!(kl >= 0.0);
        let want = kl64(&p, &q);
        prop_assert!(close(kl, want, 2e-5), "{kl} vs {want}");
        prop_assert_eq!(kl_div(&p, &p).unwrap(), 0.0);
    }

    #[test]
    fn js_is_symmetric_bounded_and_matches_f64((p, q) in row_pair()) {
        let js = js_div(&p, &q).unwrap();
        prop_assert_eq!(js, js_div(&q, &p).unwrap());
        prop_assert!((0.0..=std::f32::consts::LN_2).contains(&js));
        let want = js64(&p, &q);
        prop_assert!((f64::from(js) - want).abs() <= 1e-6 + 1e-5 * want, "{js} vs {want}");
        prop_assert_eq!(js_div(&p, &p).unwrap(), 0.0);
    }

    #[test]
    fn top_k_matches_a_full_sort(z in moderate_row(), k in 1usize..20) {
        let mut idx: Vec<usize> = (0..z.len()).collect();
        idx.sort_by(|&a, &b| z[b].total_cmp(&z[a]).then(a.cmp(&b)));
        let lp = log_softmax64(&z);
        let got = top_k(&z, k).unwrap();
        prop_assert_eq!(got.len(), k.min(z.len()));
        for (g, &i) in got.iter().zip(&idx) {
            prop_assert_eq!(g.0 as usize, i);
            prop_assert!(close(g.1, lp[i], 1e-6));
        }
    }

    #[test]
    fn half_precision_rows_equal_their_f32_values(z in moderate_row()) {
        let h: Vec<half::f16> = z.iter().map(|&x| half::f16::from_f32(x)).collect();
        let hf: Vec<f32> = h.iter().map(|x| x.to_f32()).collect();
        prop_assert_eq!(shannon(&h).unwrap(), shannon(&hf).unwrap());
        let b: Vec<half::bf16> = z.iter().map(|&x| half::bf16::from_f32(x)).collect();
        let bf: Vec<f32> = b.iter().map(|x| x.to_f32()).collect();
        let r = Renyi::new(0.5).unwrap();
        prop_assert_eq!(renyi(&b, r).unwrap(), renyi(&bf, r).unwrap());
    }

    #[test]
    fn batch_equals_row_by_row(rows in 1usize..6, v in 1usize..1200, seed in any::<u64>()) {
        // deterministic pseudo-random block
        let mut x = seed | 1;
        let block: Vec<f32> = (0..rows * v).map(|_| {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            (x % 4000) as f32 / 100.0 - 20.0
        }).collect();
        let targets: Vec<u32> = (0..rows).map(|i| ((i * 7919) % v) as u32).collect();
        let req = all_orders().top_k(3);
        let batch = reduce_rows(&block, v, &req, Some(&targets)).unwrap();
        for (i, row) in block.chunks(v).enumerate() {
            prop_assert_eq!(&batch[i], &reduce_row(row, &req, Some(targets[i])).unwrap());
        }
    }

    #[test]
    fn any_renyi_order_matches_f64_and_round_trips(z in moderate_row(), a in 0.0f32..50.0) {
        // one order type: `Metric::Renyi` evaluates the same order as the row function, the
        // value matches the definition, and the spelling `renyi:<α>` parses back to it
        let m = Metric::renyi(a).unwrap();
        prop_assert_eq!(m.alpha(), Some(a));
        let Metric::Renyi(r) = m else { unreachable!() };
        let got = m.eval_row(&z, None, None).unwrap();
        prop_assert_eq!(got, renyi(&z, r).unwrap());
        let want = renyi64(&z, f64::from(a));
        prop_assert!(close(got, want, 1e-5), "alpha {a}: {got} vs {want}");
        prop_assert_eq!(m.to_string().parse::<Metric>().unwrap(), m);
        prop_assert!(Metric::renyi(-a - f32::MIN_POSITIVE).is_err());
    }

    #[test]
    fn shift_invariance(z in moderate_row(), c in -1e3f32..1e3) {
        let shifted: Vec<f32> = z.iter().map(|&x| x + c).collect();
        // the shifted row is rounded, so compare with the f64 value of the rounded row
        let h = shannon(&shifted).unwrap();
        prop_assert!(close(h, shannon64(&shifted), 1e-5));
        prop_assert!((h - shannon(&z).unwrap()).abs() <= 1e-3 * (1.0 + c.abs() / 100.0));
    }
}
