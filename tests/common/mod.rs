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
