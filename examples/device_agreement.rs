//! The same tiny models on two devices: every committed fixture (`tests/fixtures/tiny-*`) on the
//! CPU in f32 (the reference, itself checked against transformers by the oracle tests) and on
//! `--device` in each `--dtypes`. Compared: every layer's residual stream and logit-lens logits,
//! the final logits (max |Δ| / max |ref|), per-layer mean Shannon entropies, and 8 greedy tokens.
//! Prints a table; exits 1 when anything is beyond tolerance.
//!
//! ```sh
//! cargo run --release --features cuda --example device_agreement -- --device cuda
//! cargo run --release --example device_agreement -- --device cpu   # the harness itself
//! ```
//!
//! Tolerances, relative to the layer's max |value|: f32 1e-4; bf16 4u·(L+1) for the residual and
//! 4u·(L+2) for logits, u = 2⁻⁸ (derived in tests/oracle/dtypes.rs). An entropy may move by at
//! most max|Δz|·2·ln V, because |∂H/∂z|₁ = E_p|ln p + H| ≤ 2H ≤ 2 ln V. A greedy token may
//! differ only where the reference's top-2 logits are within twice the logits' tolerance (a tie).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use entroscope::model::device_name;
use entroscope::prelude::*;

const GREEDY: usize = 8;

fn rel_tol(dtype: WeightDtype, n_layers: usize, logits: bool) -> f32 {
    match dtype {
        WeightDtype::F32 => 1e-4,
        _ => 4.0 / 256.0 * (n_layers + 1 + usize::from(logits)) as f32,
    }
}

fn cpu(t: &Tensor) -> Result<Tensor> {
    Ok(t.to_device(&Device::Cpu)?.to_dtype(DType::F32)?)
}

fn max_abs(t: &Tensor) -> Result<f32> {
    Ok(t.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

/// (max |a − b|, max |b|).
fn diff(a: &Tensor, b: &Tensor) -> Result<(f32, f32)> {
    let (a, b) = (cpu(a)?, cpu(b)?);
    Ok((max_abs(&(&a - &b)?)?, max_abs(&b)?))
}

/// The worst per-layer figures of one input on one model pair.
#[derive(Default)]
struct Worst {
    resid: f32,
    lens: f32,
    logits: f32,
    /// |ΔH| / its bound.
    entropy: f32,
}

fn compare_input(dev: &Lm, cpu_lm: &Lm, ids: &[u32], w: &mut Worst) -> Result<()> {
    let spec = CaptureSpec {
        positions: Positions::All,
        sub_blocks: false,
        all_logits: true,
    };
    let (a, b) = (
        dev.trace(ids, &spec, &mut NoHook)?,
        cpu_lm.trace(ids, &spec, &mut NoHook)?,
    );
    let lens = LogitLens::normed();
    let ln_v = (cpu_lm.vocab_size() as f32).ln();
    let (h_a, h_b) = (
        lens.profile(dev, &a, &[Metric::Shannon], &Targets::None)?,
        lens.profile(cpu_lm, &b, &[Metric::Shannon], &Targets::None)?,
    );
    let (m_a, m_b) = (h_a[0].mean_over_positions(), h_b[0].mean_over_positions());
    let tol_z = rel_tol(dev.dtype(), dev.n_layers(), true);
    for l in 0..=cpu_lm.n_layers() {
        let (d, m) = diff(&a.layer(l)?, &b.layer(l)?)?;
        w.resid = w.resid.max(d / m.max(1e-6));
        let (d, m) = diff(
            &lens.layer_logits(dev, &a, l)?,
            &lens.layer_logits(cpu_lm, &b, l)?,
        )?;
        w.lens = w.lens.max(d / m.max(1e-6));
        let bound = tol_z * m * 2.0 * ln_v;
        w.entropy = w.entropy.max((m_a[l] - m_b[l]).abs() / bound.max(1e-9));
    }
    let (d, m) = diff(&a.logits, &b.logits)?;
    w.logits = w.logits.max(d / m.max(1e-6));
    Ok(())
}

/// Greedy tokens after `prompt` with the KV cache, and each step's top-2 margin / max |logit|.
fn greedy(lm: &Lm, prompt: &[u32]) -> Result<(Vec<u32>, Vec<f32>)> {
    let mut cache = lm.new_cache();
    let mut h = lm.forward(prompt, &mut cache, &mut NoHook)?;
    let (mut out, mut margins) = (vec![], vec![]);
    for _ in 0..GREEDY {
        let last = h.narrow(0, h.dim(0)? - 1, 1)?;
        let z = cpu(&lm.logits(&last)?)?.flatten_all()?.to_vec1::<f32>()?;
        let (mut best, mut second) = ((0usize, f32::NEG_INFINITY), f32::NEG_INFINITY);
        for (i, &v) in z.iter().enumerate() {
            if v > best.1 {
                second = best.1;
                best = (i, v);
            } else if v > second {
                second = v;
            }
        }
        out.push(best.0 as u32);
        let scale = z.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        margins.push((best.1 - second) / scale);
        h = lm.forward(&[best.0 as u32], &mut cache, &mut NoHook)?;
    }
    Ok((out, margins))
}

/// `same`, `tie@k` (first difference where the reference's top two are within `tie` of each
/// other, relative to the max |logit|), or `DIFF@k`.
fn greedy_verdict(dev: &Lm, cpu_lm: &Lm, prompt: &[u32], tie: f32) -> Result<(String, bool)> {
    let (a, _) = greedy(dev, prompt)?;
    let (b, margins) = greedy(cpu_lm, prompt)?;
    Ok(match a.iter().zip(&b).position(|(x, y)| x != y) {
        None => ("same".into(), true),
        Some(k) if margins[k] <= tie => (format!("tie@{k}"), true),
        Some(k) => (format!("DIFF@{k}"), false),
    })
}

fn fixtures(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.join("reference.safetensors").is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("tiny-"))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn main() -> Result<()> {
    let (mut device, mut dtypes, mut dir) = ("cuda".to_string(), "f32,bf16".to_string(), None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--device" => device = v,
            "--dtypes" => dtypes = v,
            "--fixtures" => dir = Some(PathBuf::from(v)),
            _ => {
                return Err(Error::invalid(
                    "argument",
                    a,
                    "--device, --dtypes or --fixtures",
                ))
            }
        }
    }
    let dir = dir.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    let device = parse_device(&device)?;
    let dtypes = dtypes
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<WeightDtype>>>()?;
    let dirs = fixtures(&dir)?;
    if dirs.is_empty() {
        return Err(Error::FileNotFound {
            path: dir.join("tiny-*/reference.safetensors"),
        });
    }
    println!(
        "{:<13} {:<5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7}  verdict",
        "model", "dtype", "resid", "tol", "lens", "logits", "tol", "H/bound", "greedy"
    );
    let mut failures = 0;
    for fx in &dirs {
        let name = fx
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let cpu_lm = Lm::from_hf_dir(fx)?;
        let refs = candle_core::safetensors::load(fx.join("reference.safetensors"), &Device::Cpu)?;
        let inputs: Vec<Vec<u32>> = (0..)
            .map_while(|i| refs.get(&format!("ids_{i}")))
            .map(|t| t.to_dtype(DType::U32)?.to_vec1::<u32>())
            .collect::<candle_core::Result<_>>()?;
        for &dtype in &dtypes {
            let dev = Lm::from_hf_dir_with(
                fx,
                &LoadOptions::default().device(device.clone()).dtype(dtype),
            )?;
            let mut w = Worst::default();
            for ids in &inputs {
                compare_input(&dev, &cpu_lm, ids, &mut w)?;
            }
            let (tol_r, tol_z) = (
                rel_tol(dtype, dev.n_layers(), false),
                rel_tol(dtype, dev.n_layers(), true),
            );
            let prompt = inputs.first().map_or(&[][..], |v| &v[..v.len().min(6)]);
            let (g, g_ok) = greedy_verdict(&dev, &cpu_lm, prompt, 2.0 * tol_z)?;
            let ok = w.resid <= tol_r
                && w.lens <= tol_z
                && w.logits <= tol_z
                && w.entropy <= 1.0
                && g_ok;
            failures += usize::from(!ok);
            println!(
                "{name:<13} {dtype:<5} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>8.3} {g:>7}  {}",
                w.resid,
                tol_r,
                w.lens,
                w.logits,
                tol_z,
                w.entropy,
                if ok { "ok" } else { "FAIL" }
            );
        }
    }
    println!(
        "device_agreement: {} vs cpu f32, {} fixtures x {} dtypes: {}",
        device_name(&device),
        dirs.len(),
        dtypes.len(),
        if failures == 0 {
            "all within tolerance".to_string()
        } else {
            format!("{failures} FAILED")
        }
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
