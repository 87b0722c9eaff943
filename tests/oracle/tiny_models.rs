//! Our forward pass against Hugging Face transformers on tiny random-weight models of every
//! registered family (written by `scripts/make_fixtures.py`): every layer's residual stream,
//! every sub-block's output, the stream between them, the attention patterns and the logits
//! within 1e-4.

use crate::common::{fixture, max_abs_diff};
use candle_core::{DType, Device, Tensor};
use entroscope::prelude::*;
use entroscope::trace::Positions;

const TOL: f32 = 1e-4;

/// Every family in the registry; each must have its fixture `tiny-<name>`.
fn families() -> Vec<&'static str> {
    entroscope::model::Family::all().map(|f| f.name()).collect()
}

fn reference(family: &str) -> std::collections::HashMap<String, Tensor> {
    let path = fixture(&format!("tiny-{family}/reference.safetensors"));
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

fn ids_of(t: &Tensor) -> Vec<u32> {
    t.to_dtype(DType::U32).unwrap().to_vec1::<u32>().unwrap()
}

fn check_family(family: &str) {
    let lm = Lm::from_hf_dir(fixture(&format!("tiny-{family}"))).unwrap();
    let refs = reference(family);
    let spec = CaptureSpec {
        positions: Positions::All,
        sub_blocks: true,
        all_logits: true,
    };
    let mut i = 0;
    while let Some(ids) = refs.get(&format!("ids_{i}")) {
        let ids = ids_of(ids);
        let tr = lm.trace(&ids, &spec, &mut NoHook).unwrap();
        let r = |k: &str| &refs[&format!("{k}_{i}")];
        let d_resid = max_abs_diff(&tr.resid, r("resid"));
        let per_layer: Vec<String> = (0..=lm.n_layers())
            .map(|l| {
                let d = max_abs_diff(&tr.resid.get(l).unwrap(), &r("resid").get(l).unwrap());
                format!("{d:.1e}")
            })
            .collect();
        let d_attn = max_abs_diff(tr.attn_out.as_ref().unwrap(), r("attn_out"));
        let d_mlp = max_abs_diff(tr.mlp_out.as_ref().unwrap(), r("mlp_out"));
        let d_mid = max_abs_diff(tr.resid_mid.as_ref().unwrap(), r("resid_mid"));
        let d_logits = max_abs_diff(&tr.logits, r("logits"));
        let last = tr.layer(lm.n_layers()).unwrap();
        let d_norm = max_abs_diff(&lm.final_norm(&last).unwrap(), r("normed_last"));
        eprintln!(
            "{family} input {i} ({} tokens): resid {d_resid:.2e} attn {d_attn:.2e} mid {d_mid:.2e} mlp {d_mlp:.2e} normed {d_norm:.2e} logits {d_logits:.2e}; resid per layer [{}]",
            ids.len(),
            per_layer.join(", ")
        );
        for (what, d) in [
            ("resid", d_resid),
            ("attn_out", d_attn),
            ("mlp_out", d_mlp),
            ("resid_mid", d_mid),
            ("normed_last", d_norm),
            ("logits", d_logits),
        ] {
            assert!(d <= TOL, "{family} input {i}: {what} differs by {d}");
        }
        i += 1;
    }
    assert!(i >= 2, "{family}: expected at least two reference inputs");
}

#[test]
fn every_family_matches_transformers() {
    for family in families() {
        check_family(family);
    }
}

/// Records the two sites TransformerLens users reach for beyond the four of a trace:
/// `hook_resid_mid` and `hook_pattern` (asked for explicitly).
#[derive(Default)]
struct MidAndPattern {
    resid_mid: Vec<Tensor>,
    pattern: Vec<Tensor>,
}

impl Hook for MidAndPattern {
    fn visit(&mut self, site: Site, x: &Tensor) -> entroscope::Result<Option<Tensor>> {
        match site {
            Site::ResidMid(_) => self.resid_mid.push(x.squeeze(0)?),
            Site::Pattern(_) => self.pattern.push(x.squeeze(0)?),
            _ => {}
        }
        Ok(None)
    }
    fn wants_pattern(&self, _layer: usize) -> bool {
        true
    }
}

/// `Site::ResidMid` and `Site::Pattern` equal transformers' stream between attention and MLP
/// and its `output_attentions` on every family; without `wants_pattern` no pattern is shown.
#[test]
fn resid_mid_and_pattern_match_transformers() {
    for family in families() {
        let lm = Lm::from_hf_dir(fixture(&format!("tiny-{family}"))).unwrap();
        let refs = reference(family);
        for i in 0..2 {
            let ids = ids_of(&refs[&format!("ids_{i}")]);
            let mut rec = MidAndPattern::default();
            lm.forward(&ids, &mut lm.new_cache(), &mut rec).unwrap();
            let mid = Tensor::stack(&rec.resid_mid, 0).unwrap();
            let pattern = Tensor::stack(&rec.pattern, 0).unwrap();
            let d_mid = max_abs_diff(&mid, &refs[&format!("resid_mid_{i}")]);
            let d_pat = max_abs_diff(&pattern, &refs[&format!("pattern_{i}")]);
            eprintln!("{family} input {i}: resid_mid {d_mid:.2e} pattern {d_pat:.2e}");
            assert!(
                d_mid <= TOL,
                "{family} input {i}: resid_mid differs by {d_mid}"
            );
            assert!(
                d_pat <= TOL,
                "{family} input {i}: pattern differs by {d_pat}"
            );
        }
    }
    struct Count(usize);
    impl Hook for Count {
        fn visit(&mut self, site: Site, _x: &Tensor) -> entroscope::Result<Option<Tensor>> {
            self.0 += usize::from(matches!(site, Site::Pattern(_)));
            Ok(None)
        }
    }
    let lm = Lm::from_hf_dir(fixture("tiny-llama")).unwrap();
    let mut count = Count(0);
    lm.forward(&[3, 4, 5], &mut lm.new_cache(), &mut count)
        .unwrap();
    assert_eq!(count.0, 0, "patterns are shown only when asked for");
}

/// Decoding one token at a time with the KV cache gives the logits of the full-sequence pass.
#[test]
fn kv_cache_steps_equal_full_sequence() {
    for family in families() {
        let lm = Lm::from_hf_dir(fixture(&format!("tiny-{family}"))).unwrap();
        let refs = reference(family);
        let ids = ids_of(&refs["ids_2"]);
        let full = lm
            .trace(
                &ids,
                &CaptureSpec {
                    all_logits: true,
                    ..CaptureSpec::default()
                },
                &mut NoHook,
            )
            .unwrap()
            .logits;
        let mut cache = lm.new_cache();
        // a prefix of 3 tokens, then one at a time
        let mut rows = vec![];
        let h = lm.forward(&ids[..3], &mut cache, &mut NoHook).unwrap();
        rows.push(lm.logits(&h).unwrap());
        for &id in &ids[3..] {
            let h = lm.forward(&[id], &mut cache, &mut NoHook).unwrap();
            rows.push(lm.logits(&h).unwrap());
        }
        let stepped = Tensor::cat(&rows, 0).unwrap();
        let d = max_abs_diff(&stepped, &full);
        eprintln!("{family}: cached vs full logits {d:.2e}");
        assert!(d <= TOL, "{family}: cached logits differ by {d}");
    }
}

/// Several sequences decoded together ([`Lm::forward_batch`], one cache for all) give each
/// sequence's transformers residual stream: a prefix in one pass, then one token at a time.
#[test]
fn batched_forward_matches_transformers() {
    for family in families() {
        let lm = Lm::from_hf_dir(fixture(&format!("tiny-{family}"))).unwrap();
        let refs = reference(family);
        let seqs: Vec<Vec<u32>> = (0..3)
            .map_while(|i| refs.get(&format!("ids_{i}")).map(ids_of))
            .collect();
        assert!(
            seqs.len() >= 2,
            "{family}: expected at least two reference inputs"
        );
        let t = seqs.iter().map(Vec::len).min().unwrap();
        assert!(t >= 3, "{family}: reference inputs too short");
        let last_layer = |i: usize| refs[&format!("resid_{i}")].get(lm.n_layers()).unwrap();
        let mut cache = lm.new_cache();
        let prefix: Vec<&[u32]> = seqs.iter().map(|s| &s[..t - 1]).collect();
        let h = lm.forward_batch(&prefix, &mut cache, &mut NoHook).unwrap();
        assert_eq!(h.dims(), &[seqs.len(), t - 1, lm.config().hidden_size]);
        let step: Vec<&[u32]> = seqs.iter().map(|s| &s[t - 1..t]).collect();
        let next = lm.forward_batch(&step, &mut cache, &mut NoHook).unwrap();
        for i in 0..seqs.len() {
            let want = last_layer(i).narrow(0, 0, t).unwrap();
            let got = Tensor::cat(&[h.get(i).unwrap(), next.get(i).unwrap()], 0).unwrap();
            let d = max_abs_diff(&got, &want);
            eprintln!("{family} batch row {i}: last block vs transformers {d:.2e}");
            assert!(d <= TOL, "{family} batch row {i}: differs by {d}");
        }
        let uneven = [&seqs[0][..2], &seqs[1][..3]];
        assert!(matches!(
            lm.forward_batch(&uneven, &mut lm.new_cache(), &mut NoHook),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            lm.forward_batch(&[], &mut lm.new_cache(), &mut NoHook),
            Err(Error::EmptyPrompt)
        ));
    }
}

/// The 4.x spelling of the configs (`rope_theta`, `rope_local_base_freq`) loads the same model.
#[test]
fn transformers4_config_spelling_loads_the_same_model() {
    for family in families() {
        let dir = tempdir(&format!("tf4-{family}"));
        let src = fixture(&format!("tiny-{family}"));
        for f in ["model.safetensors", "tokenizer.json"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        std::fs::copy(src.join("config.tf4.json"), dir.join("config.json")).unwrap();
        let lm = Lm::from_hf_dir(&dir).unwrap();
        let refs = reference(family);
        let ids = ids_of(&refs["ids_1"]);
        let tr = lm
            .trace(
                &ids,
                &CaptureSpec {
                    all_logits: true,
                    ..CaptureSpec::default()
                },
                &mut NoHook,
            )
            .unwrap();
        let d = max_abs_diff(&tr.logits, &refs["logits_1"]);
        assert!(d <= TOL, "{family} (4.x config): logits differ by {d}");
    }
}

/// A hub snapshot in a local hub cache loads offline by repo id.
#[test]
fn hub_cache_offline() {
    let hub = tempdir("hub");
    let snap = hub
        .join("models--tiny--gemma3")
        .join("snapshots")
        .join("abc123");
    std::fs::create_dir_all(&snap).unwrap();
    let src = fixture("tiny-gemma3");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), snap.join(f)).unwrap();
    }
    let refs_dir = hub.join("models--tiny--gemma3").join("refs");
    std::fs::create_dir_all(&refs_dir).unwrap();
    std::fs::write(refs_dir.join("main"), "abc123").unwrap();
    let lm = Lm::from_hub_cache("tiny/gemma3", &hub, true).unwrap();
    assert_eq!(lm.n_layers(), 3);
    // and a repo that is not in the cache is a typed error, not a panic or a network call
    let err = Lm::from_hub_cache("tiny/absent", &hub, true).unwrap_err();
    assert!(matches!(err, Error::Hub { .. }), "{err}");
}

/// Skipping a block makes its output equal its input (zero attention and MLP contributions).
#[test]
fn layer_skip_is_identity_on_the_block() {
    let lm = Lm::from_hf_dir(fixture("tiny-llama")).unwrap();
    let ids = ids_of(&reference("llama")["ids_1"]);
    let mut skip = entroscope::intervene::LayerSkip::new(vec![2]);
    let spec = CaptureSpec {
        sub_blocks: true,
        ..CaptureSpec::default()
    };
    let tr = lm.trace(&ids, &spec, &mut skip).unwrap();
    let d = max_abs_diff(&tr.layer(2).unwrap(), &tr.layer(1).unwrap());
    assert_eq!(d, 0.0);
    let plain = lm.trace(&ids, &spec, &mut NoHook).unwrap();
    assert!(max_abs_diff(&plain.layer(2).unwrap(), &plain.layer(1).unwrap()) > 1e-3);
    // layers before the skipped block are untouched
    assert_eq!(
        max_abs_diff(&tr.layer(1).unwrap(), &plain.layer(1).unwrap()),
        0.0
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("entroscope-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
