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

/// A real GGUF model from the models cache, or `None` (with a note) when it has not been fetched.
/// `make test` fetches both models first, so in CI these tests always run.
pub fn real_model(file: &str) -> Option<PathBuf> {
    let p = entroscope::model::models_dir().join(file);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIP: {} not found; run `make models`", p.display());
        None
    }
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
