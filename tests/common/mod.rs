//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use candle_core::Tensor;

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(rel)
}

/// A real GGUF model from the models cache. A missing model fails the test with what to run:
/// `make test` fetches both models first, so a skip would only hide a broken set-up.
pub fn real_model(file: &str) -> PathBuf {
    let p = entroscope::model::models_dir().join(file);
    assert!(
        p.is_file(),
        "{} not found: run `make models` (or set ENTROSCOPE_MODELS to the folder holding it)",
        p.display()
    );
    p
}

/// A bundled real model (fails loudly when `make models` has not fetched it) with `dtype` weights.
pub fn bundled(
    b: entroscope::model::Bundled,
    dtype: entroscope::model::WeightDtype,
) -> entroscope::Lm {
    let opts = entroscope::model::LoadOptions {
        dtype,
        ..Default::default()
    };
    entroscope::Lm::load_with(&real_model(b.file()).display().to_string(), &opts).unwrap()
}

/// Max |a − b| over all elements.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    let d = (a - b).unwrap().abs().unwrap().flatten_all().unwrap();
    d.max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// Max |x| over all elements.
pub fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Greedy continuation of `prompt`, `n` tokens, by the KV cache and the model's own logits.
pub fn greedy(lm: &entroscope::Lm, prompt: &str, n: usize) -> Vec<u32> {
    use entroscope::NoHook;
    let ids = lm.encode(prompt).unwrap();
    let mut cache = lm.new_cache();
    let mut h = lm.forward(&ids, &mut cache, &mut NoHook).unwrap();
    let mut out = vec![];
    for _ in 0..n {
        let last = h.narrow(0, h.dim(0).unwrap() - 1, 1).unwrap();
        let z = lm.logits(&last).unwrap().flatten_all().unwrap();
        let next = z.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        out.push(next);
        h = lm.forward(&[next], &mut cache, &mut NoHook).unwrap();
    }
    out
}

/// The token-id rows of a JSON fixture's `ids` field (`[[u32]]`).
pub fn id_rows(fx: &serde_json::Value) -> Vec<Vec<u32>> {
    fx["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

/// Start `cmd`, wait until `ready()` holds (checked every 5 ms, for at most 300 s), then kill
/// it (SIGKILL): a run stopped part-way, as a preempted job or a closed laptop stops it. A run
/// that ends before `ready()` fails the test: it was never stopped part-way.
pub fn kill_when(cmd: &mut std::process::Command, ready: impl Fn() -> bool) {
    let mut child = cmd.spawn().unwrap();
    let t0 = std::time::Instant::now();
    while !ready() && t0.elapsed().as_secs() < 300 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it could be killed part-way");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
