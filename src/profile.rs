//! `LayerProfile`: one statistic over layers × positions of one prompt, and what the papers do
//! with it: average over positions, aggregate over prompts, window features (Entropy-Lens
//! "format" classification), and put models of different depth on one relative-depth grid.
//!
//! ```
//! use entroscope::entropy::{Metric, Units};
//! use entroscope::profile::{rescale_linear, LayerProfile};
//! // L = 2 blocks → 3 rows (0 = embeddings), 2 positions
//! let p = LayerProfile {
//!     model: "toy".into(), prompt_id: 0, metric: Metric::Shannon, units: Units::Nats,
//!     n_layers: 2, positions: vec![0, 1], tokens: vec!["a".into(), "b".into()],
//!     values: vec![4.0, 6.0, /* layer 1 */ 2.0, 4.0, /* layer 2 */ 0.0, 1.0],
//! };
//! assert_eq!(p.mean_over_positions(), vec![5.0, 3.0, 0.5]);
//! // onto depths 0, ¼, ½, ¾, 1
//! assert_eq!(rescale_linear(&p.mean_over_positions(), 5)?, vec![5.0, 4.0, 3.0, 1.75, 0.5]);
//! # Ok::<(), entroscope::Error>(())
//! ```

use std::fmt;
use std::ops::Range;

use crate::entropy::{Metric, Units};
use crate::error::{Error, Result};
use crate::stats::summary::mean_std;

/// One metric of one prompt over layers × positions.
///
/// `values` is row-major `[n_layers + 1, positions.len()]`: row `l` is layer `l`
/// (0 = embeddings, `n_layers` = last block before the final norm).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerProfile {
    /// Model name (e.g. file stem or hub id).
    pub model: String,
    /// Index of the prompt in its batch / file (0-based).
    pub prompt_id: usize,
    /// The statistic in `values`.
    pub metric: Metric,
    /// Units of `values` (information metrics only; rank and probability have none).
    pub units: Units,
    /// Number of blocks L; there are L+1 rows.
    pub n_layers: usize,
    /// Token positions (indices into the prompt) of the columns.
    pub positions: Vec<usize>,
    /// The text of the tokens at those positions ([`Lm::token_texts`](crate::Lm::token_texts)).
    pub tokens: Vec<String>,
    /// `[n_layers + 1, positions.len()]`, row-major.
    pub values: Vec<f32>,
}

/// Which rows of a [`LayerProfile`] (layer 0 = embeddings … L) a feature vector uses, e.g. in
/// [`LayerProfile::window_means`].
///
/// Not to be confused with [`crate::decode::Layers`]: that is the set of early-exit layers a
/// contrastive decoder (DoLa, END) compares with the final layer, resolved against a model; this
/// only says whether a profile's embedding row is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerSet {
    /// Rows `0..=L`: the embeddings and every block.
    #[default]
    All,
    /// Rows `1..=L`: block outputs only, as the Entropy-Lens reference code (TransformerLens
    /// `hook_resid_post` of every block) uses.
    BlocksOnly,
}

impl LayerProfile {
    /// Number of rows, `n_layers + 1` (layer 0 = embeddings … layer L).
    pub fn n_rows(&self) -> usize {
        self.n_layers + 1
    }

    /// Number of columns (token positions).
    pub fn n_positions(&self) -> usize {
        self.positions.len()
    }

    /// Check that the fields agree: `values` is `[n_layers + 1, positions]` and there is one
    /// token string per position (or none at all).
    pub fn validate(&self) -> Result<()> {
        let want = self.n_rows() * self.n_positions();
        if self.values.len() != want {
            return Err(Error::invalid(
                "values",
                format!("{} values", self.values.len()),
                format!(
                    "[n_layers + 1, positions] = [{}, {}] = {want} values",
                    self.n_rows(),
                    self.n_positions()
                ),
            ));
        }
        if !self.tokens.is_empty() && self.tokens.len() != self.n_positions() {
            return Err(Error::invalid(
                "tokens",
                format!("{} tokens", self.tokens.len()),
                format!("one token string per position ({})", self.n_positions()),
            ));
        }
        Ok(())
    }

    /// The value at layer `layer` and column `col` (not the token position: the index into
    /// `positions`); `None` out of range.
    pub fn get(&self, layer: usize, col: usize) -> Option<f32> {
        if layer >= self.n_rows() || col >= self.n_positions() {
            return None;
        }
        self.values.get(layer * self.n_positions() + col).copied()
    }

    /// Row `layer` (`[positions]`); `None` out of range.
    pub fn layer_row(&self, layer: usize) -> Option<&[f32]> {
        if layer >= self.n_rows() {
            return None;
        }
        let n = self.n_positions();
        self.values.get(layer * n..(layer + 1) * n)
    }

    /// Column `col` across layers (`[n_layers + 1]`): the profile of one token.
    pub fn column(&self, col: usize) -> Option<Vec<f32>> {
        (0..self.n_rows()).map(|l| self.get(l, col)).collect()
    }

    /// The rows of `values` without layer 0 (`[n_layers, positions]`, row-major): the block
    /// outputs only. Empty if `values` is malformed.
    pub fn drop_embeddings(&self) -> &[f32] {
        self.values.get(self.n_positions()..).unwrap_or(&[])
    }

    /// Relative depth `layer / L` of a row (0 for a model without blocks).
    pub fn depth(&self, layer: usize) -> f32 {
        if self.n_layers == 0 {
            0.0
        } else {
            layer as f32 / self.n_layers as f32
        }
    }

    /// Relative depths of all rows, `[n_layers + 1]`.
    pub fn depths(&self) -> Vec<f32> {
        (0..self.n_rows()).map(|l| self.depth(l)).collect()
    }

    /// The row indices `layers` selects.
    pub fn layer_range(&self, layers: LayerSet) -> Range<usize> {
        match layers {
            LayerSet::All => 0..self.n_rows(),
            LayerSet::BlocksOnly => 1..self.n_rows(),
        }
    }

    /// Mean over positions of every layer, `[n_layers + 1]` (the usual "entropy profile").
    /// NaN for every layer if there are no positions (like numpy's mean of nothing).
    pub fn mean_over_positions(&self) -> Vec<f32> {
        (0..self.n_rows())
            .map(|l| match self.layer_row(l) {
                Some(r) if !r.is_empty() => mean_std(r.iter().copied()).0 as f32,
                _ => f32::NAN,
            })
            .collect()
    }

    /// Population standard deviation over positions of every layer, `[n_layers + 1]`; NaN
    /// without positions.
    pub fn std_over_positions(&self) -> Vec<f32> {
        (0..self.n_rows())
            .map(|l| match self.layer_row(l) {
                Some(r) if !r.is_empty() => mean_std(r.iter().copied()).1 as f32,
                _ => f32::NAN,
            })
            .collect()
    }

    /// The Entropy-Lens window features: split the positions into `n_windows` consecutive
    /// windows of `w = positions / n_windows` tokens, average each window per layer, and
    /// concatenate window by window: `[n_windows, layers]` row-major (`layers` = L+1 rows, or L
    /// with [`LayerSet::BlocksOnly`]). Same layout as the reference code's
    /// `rearrange(H, '(w t) l -> w t l').mean(1).flatten()`.
    ///
    /// Errors: `n_windows = 0`, or positions not a positive multiple of `n_windows` (trim or
    /// generate to a multiple first).
    pub fn window_means(&self, n_windows: usize, layers: LayerSet) -> Result<Vec<f32>> {
        self.validate()?;
        let n = self.n_positions();
        if n_windows == 0 || n < n_windows || n % n_windows != 0 {
            return Err(Error::invalid(
                "n_windows",
                n_windows,
                format!("a number ≥ 1 of windows that divides the {n} positions"),
            ));
        }
        let w = n / n_windows;
        let rows = self.layer_range(layers);
        let mut out = Vec::with_capacity(n_windows * rows.len());
        for k in 0..n_windows {
            for l in rows.clone() {
                let row = &self.values[l * n..(l + 1) * n];
                out.push(mean_std(row[k * w..(k + 1) * w].iter().copied()).0 as f32);
            }
        }
        Ok(out)
    }

    /// [`mean_over_positions`](Self::mean_over_positions) put on `n` equally spaced relative
    /// depths `0, 1/(n−1), …, 1` by [`rescale_linear`].
    pub fn rescaled_mean(&self, n: usize) -> Result<Vec<f32>> {
        if self.n_positions() == 0 {
            return Err(Error::NotEnoughData(format!(
                "profile of prompt {} has no positions to average",
                self.prompt_id
            )));
        }
        rescale_linear(&self.mean_over_positions(), n)
    }
}

const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value, scaled between the finite min and max.
fn sparkline(v: &[f32]) -> String {
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let lo = finite.clone().fold(f32::INFINITY, f32::min);
    let hi = finite.fold(f32::NEG_INFINITY, f32::max);
    v.iter()
        .map(|&x| {
            if !x.is_finite() {
                ' '
            } else if hi > lo {
                let t = ((x - lo) / (hi - lo) * 7.0).round() as usize;
                SPARK[t.min(7)]
            } else {
                SPARK[3]
            }
        })
        .collect()
}

/// Index and value of the finite minimum and maximum.
fn arg_min_max(v: &[f32]) -> Option<((usize, f32), (usize, f32))> {
    let mut it = v.iter().copied().enumerate().filter(|(_, x)| x.is_finite());
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), (i, x)| {
        (
            if x < lo.1 { (i, x) } else { lo },
            if x > hi.1 { (i, x) } else { hi },
        )
    }))
}

impl fmt::Display for LayerProfile {
    /// Two lines: what the profile is, and its mean over positions per layer as a sparkline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "LayerProfile {} prompt {}: {} [{}], layers 0..={} (0 = embeddings) × {} positions",
            self.model,
            self.prompt_id,
            self.metric,
            self.units,
            self.n_layers,
            self.n_positions()
        )?;
        if self.validate().is_err() || self.n_positions() == 0 {
            return write!(f, "  (no values)");
        }
        let m = self.mean_over_positions();
        write!(f, "  mean by layer {}", sparkline(&m))?;
        if let Some(((il, lo), (ih, hi))) = arg_min_max(&m) {
            write!(f, "  min {lo:.4} (layer {il}), max {hi:.4} (layer {ih})")?;
        }
        Ok(())
    }
}

/// Mean and spread per layer of several prompts' profiles (same model, metric, units, depth).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AggregateProfile {
    /// Model name, as in the profiles.
    pub model: String,
    /// The statistic aggregated.
    pub metric: Metric,
    /// Units of `mean` and `std`.
    pub units: Units,
    /// Number of blocks L; `mean` and `std` have L+1 entries.
    pub n_layers: usize,
    /// Number of prompts aggregated.
    pub n_prompts: usize,
    /// `[n_layers + 1]`: mean over prompts of each prompt's mean over positions.
    pub mean: Vec<f32>,
    /// `[n_layers + 1]`: population standard deviation (ddof = 0, numpy's default) over prompts
    /// of the same per-prompt means; the standard error is `std / sqrt(n_prompts)`.
    pub std: Vec<f32>,
}

impl AggregateProfile {
    /// Average the profiles of several prompts of one model: each prompt first averaged over its
    /// positions (so every prompt weighs the same, whatever its length), then mean and standard
    /// deviation across prompts per layer.
    ///
    /// Errors: no profiles, a profile without positions or with malformed values
    /// ([`Error::NotEnoughData`] / [`Error::InvalidParameter`]), or profiles of different model,
    /// metric, units or depth ([`Error::InvalidParameter`]).
    pub fn from_profiles(profiles: &[LayerProfile]) -> Result<Self> {
        let first = profiles.first().ok_or_else(|| {
            Error::NotEnoughData("no profiles to aggregate; pass at least one".into())
        })?;
        let rows = first.n_rows();
        let mut means: Vec<Vec<f32>> = Vec::with_capacity(profiles.len());
        for p in profiles {
            p.validate()?;
            if p.n_positions() == 0 {
                return Err(Error::NotEnoughData(format!(
                    "profile of prompt {} has no positions",
                    p.prompt_id
                )));
            }
            let same = |what: &'static str, a: String, b: String| {
                if a == b {
                    Ok(())
                } else {
                    Err(Error::invalid(
                        what,
                        format!("{b} (prompt {})", p.prompt_id),
                        format!(
                            "the same {what} for every profile ({a}, as prompt {})",
                            first.prompt_id
                        ),
                    ))
                }
            };
            same("model", first.model.clone(), p.model.clone())?;
            same("metric", first.metric.to_string(), p.metric.to_string())?;
            same("units", first.units.to_string(), p.units.to_string())?;
            same(
                "n_layers",
                first.n_layers.to_string(),
                p.n_layers.to_string(),
            )?;
            means.push(p.mean_over_positions());
        }
        let (mean, std) = (0..rows)
            .map(|l| {
                let (mu, sd) = mean_std(means.iter().map(|m| m[l]));
                (mu as f32, sd as f32)
            })
            .unzip();
        Ok(AggregateProfile {
            model: first.model.clone(),
            metric: first.metric,
            units: first.units,
            n_layers: first.n_layers,
            n_prompts: profiles.len(),
            mean,
            std,
        })
    }
}

impl fmt::Display for AggregateProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "AggregateProfile {}: {} [{}] over {} prompts, layers 0..={}",
            self.model, self.metric, self.units, self.n_prompts, self.n_layers
        )?;
        write!(f, "  mean by layer {}", sparkline(&self.mean))?;
        if let Some(((il, lo), (ih, hi))) = arg_min_max(&self.mean) {
            write!(f, "  min {lo:.4} (layer {il}), max {hi:.4} (layer {ih})")?;
        }
        Ok(())
    }
}

/// Put a per-layer vector `values` (`[L+1]`, value `l` at relative depth `l / L`) onto `n`
/// equally spaced depths `k / (n−1)`, `k = 0..n`, by linear interpolation, so that models of
/// different depth can be compared (Entropy-Lens' depth rescaling). The end points are kept
/// exactly.
///
/// Errors: fewer than 2 values ([`Error::NotEnoughData`]) or `n < 2`
/// ([`Error::InvalidParameter`]).
///
/// ```
/// use entroscope::profile::rescale_linear;
/// assert_eq!(rescale_linear(&[0.0, 10.0, 20.0], 5)?, vec![0.0, 5.0, 10.0, 15.0, 20.0]);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn rescale_linear(values: &[f32], n: usize) -> Result<Vec<f32>> {
    if values.len() < 2 {
        return Err(Error::NotEnoughData(format!(
            "depth rescaling needs at least 2 layers (got {}): relative depth l/L needs L ≥ 1",
            values.len()
        )));
    }
    if n < 2 {
        return Err(Error::invalid(
            "n",
            n,
            "at least 2 grid points (depths 0 and 1)",
        ));
    }
    let last = values.len() - 1; // L
    Ok((0..n)
        .map(|k| {
            // x = k·L/(n−1) ∈ [0, L], exact at both ends
            let x = (k * last) as f64 / (n - 1) as f64;
            let i = (x.floor() as usize).min(last - 1);
            let t = x - i as f64;
            let (a, b) = (f64::from(values[i]), f64::from(values[i + 1]));
            if t == 0.0 {
                values[i]
            } else if t == 1.0 {
                values[i + 1]
            } else {
                (a + (b - a) * t) as f32
            }
        })
        .collect())
}

/// Append zeros to `values` up to length `len`, as the Entropy-Lens reference code does to give
/// models of different depth one feature length (`np.pad(v, (0, len − N))`).
///
/// Errors: `len` shorter than the input ([`Error::InvalidParameter`]; choose `len` ≥ the
/// deepest model's length, or use [`rescale_linear`]).
///
/// ```
/// use entroscope::profile::pad_zeros;
/// assert_eq!(pad_zeros(&[1.0, 2.0], 4)?, vec![1.0, 2.0, 0.0, 0.0]);
/// # Ok::<(), entroscope::Error>(())
/// ```
pub fn pad_zeros(values: &[f32], len: usize) -> Result<Vec<f32>> {
    if len < values.len() {
        return Err(Error::invalid(
            "len",
            len,
            format!("at least the input length {}", values.len()),
        ));
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(values);
    out.resize(len, 0.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// L = 2, 4 positions:
    /// layer 0: 1 2 3 4
    /// layer 1: 0 0 4 4
    /// layer 2: 2 2 2 2
    fn toy(prompt_id: usize, shift: f32) -> LayerProfile {
        LayerProfile {
            model: "toy".into(),
            prompt_id,
            metric: Metric::Shannon,
            units: Units::Nats,
            n_layers: 2,
            positions: vec![0, 1, 2, 3],
            tokens: ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect(),
            values: [1., 2., 3., 4., 0., 0., 4., 4., 2., 2., 2., 2.]
                .iter()
                .map(|v: &f32| v + shift)
                .collect(),
        }
    }

    #[test]
    fn accessors() {
        let p = toy(0, 0.0);
        assert_eq!(p.n_rows(), 3);
        assert_eq!(p.get(1, 2), Some(4.0));
        assert_eq!(p.get(3, 0), None);
        assert_eq!(p.get(0, 4), None);
        assert_eq!(p.layer_row(2), Some(&[2.0f32, 2.0, 2.0, 2.0][..]));
        assert_eq!(p.layer_row(3), None);
        assert_eq!(p.column(3), Some(vec![4.0, 4.0, 2.0]));
        assert_eq!(p.drop_embeddings(), &[0., 0., 4., 4., 2., 2., 2., 2.]);
        assert_eq!(p.depths(), vec![0.0, 0.5, 1.0]);
        assert_eq!(p.layer_range(LayerSet::BlocksOnly), 1..3);
        p.validate().unwrap(); // ok: test-only
        let mut bad = p.clone();
        bad.values.pop();
        assert!(bad.validate().is_err());
        assert_eq!(bad.get(2, 3), None);
    }

    #[test]
    fn position_statistics() {
        let p = toy(0, 0.0);
        // layer 0: (1+2+3+4)/4 = 2.5; layer 1: 8/4 = 2; layer 2: 2
        assert_eq!(p.mean_over_positions(), vec![2.5, 2.0, 2.0]);
        // layer 0: deviations ±1.5, ±0.5 → var = (2.25+0.25+0.25+2.25)/4 = 1.25
        // layer 1: deviations ±2 → var 4; layer 2: 0
        let s = p.std_over_positions();
        assert!((s[0] - 1.25f32.sqrt()).abs() < 1e-7 && s[1] == 2.0 && s[2] == 0.0);
        let mut empty = p.clone();
        empty.positions.clear();
        empty.tokens.clear();
        empty.values.clear();
        assert!(empty.mean_over_positions().iter().all(|v| v.is_nan()));
        assert!(empty.rescaled_mean(5).is_err());
    }

    #[test]
    fn windows() {
        let p = toy(0, 0.0);
        // 2 windows of 2 tokens, window-major:
        // window 0: layer0 (1+2)/2 = 1.5, layer1 0, layer2 2
        // window 1: layer0 (3+4)/2 = 3.5, layer1 4, layer2 2
        assert_eq!(
            p.window_means(2, LayerSet::All).unwrap(), // ok: test-only
            vec![1.5, 0.0, 2.0, 3.5, 4.0, 2.0]
        );
        assert_eq!(
            p.window_means(2, LayerSet::BlocksOnly).unwrap(), // ok: test-only
            vec![0.0, 2.0, 4.0, 2.0]
        );
        // one window = mean over positions; 4 windows = the columns themselves
        assert_eq!(
            p.window_means(1, LayerSet::All).unwrap(), // ok: test-only
            p.mean_over_positions()
        );
        assert_eq!(
            p.window_means(4, LayerSet::All).unwrap()[3..6], // ok: test-only
            p.column(1).unwrap()[..]                         // ok: test-only
        );
        for bad in [0, 3, 5, 8] {
            assert!(p.window_means(bad, LayerSet::All).is_err(), "{bad}");
        }
    }

    #[test]
    fn aggregate_over_prompts() {
        // prompt means: shift 0 → [2.5, 2, 2]; shift 2 → [4.5, 4, 4]
        // mean [3.5, 3, 3]; population std = |4.5 − 2.5|/2 = 1 for every layer
        let a = AggregateProfile::from_profiles(&[toy(0, 0.0), toy(1, 2.0)]).unwrap(); // ok: test-only
        assert_eq!(a.mean, vec![3.5, 3.0, 3.0]);
        assert_eq!(a.std, vec![1.0, 1.0, 1.0]);
        assert_eq!(a.n_prompts, 2);
        // one prompt: std 0
        let one = AggregateProfile::from_profiles(&[toy(0, 0.0)]).unwrap(); // ok: test-only
        assert_eq!(one.std, vec![0.0; 3]);
        assert!(matches!(
            AggregateProfile::from_profiles(&[]),
            Err(Error::NotEnoughData(_))
        ));
        let mut other = toy(2, 0.0);
        other.metric = Metric::renyi(2.0).unwrap(); // ok: test-only
        assert!(AggregateProfile::from_profiles(&[toy(0, 0.0), other]).is_err());
        let mut deeper = toy(3, 0.0);
        deeper.n_layers = 3;
        deeper.values.extend([0.0; 4]);
        assert!(AggregateProfile::from_profiles(&[toy(0, 0.0), deeper]).is_err());
        assert!(a.to_string().contains("2 prompts"));
    }

    #[test]
    fn depth_rescaling() {
        // [0, 1, 4] at depths 0, ½, 1 → grid 0, ¼, ½, ¾, 1:
        // ¼ is halfway between layers 0 and 1 → 0.5; ¾ halfway between 1 and 4 → 2.5
        assert_eq!(
            rescale_linear(&[0.0, 1.0, 4.0], 5).unwrap(), // ok: test-only
            vec![0.0, 0.5, 1.0, 2.5, 4.0]
        );
        // down-sampling 5 → 3 picks depths 0, ½, 1 = layers 0, 2, 4
        assert_eq!(
            rescale_linear(&[9.0, 1.0, 7.0, 3.0, 5.0], 3).unwrap(), // ok: test-only
            vec![9.0, 7.0, 5.0]
        );
        // 2 layers → 4 points: depths 0, ⅓, ⅔, 1 → 0, 1, 2, 3 on a 0..3 line
        let r = rescale_linear(&[0.0, 3.0], 4).unwrap(); // ok: test-only
        for (g, w) in r.iter().zip([0.0, 1.0, 2.0, 3.0]) {
            assert!((g - w).abs() < 1e-6);
        }
        assert!(matches!(
            rescale_linear(&[1.0], 4),
            Err(Error::NotEnoughData(_))
        ));
        assert!(matches!(
            rescale_linear(&[], 4),
            Err(Error::NotEnoughData(_))
        ));
        assert!(matches!(
            rescale_linear(&[1.0, 2.0], 1),
            Err(Error::InvalidParameter { .. })
        ));
        // the profile convenience: means [2.5, 2, 2] → n = 3 unchanged
        assert_eq!(toy(0, 0.0).rescaled_mean(3).unwrap(), vec![2.5, 2.0, 2.0]); // ok: test-only
    }

    #[test]
    fn padding() {
        assert_eq!(pad_zeros(&[1.0, 2.0], 4).unwrap(), vec![1.0, 2.0, 0.0, 0.0]); // ok: test-only
        assert_eq!(pad_zeros(&[1.0, 2.0], 2).unwrap(), vec![1.0, 2.0]); // ok: test-only
        assert_eq!(pad_zeros(&[], 2).unwrap(), vec![0.0, 0.0]); // ok: test-only
        assert!(matches!(
            pad_zeros(&[1.0, 2.0, 3.0], 2),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn display() {
        let s = toy(7, 0.0).to_string();
        assert!(s.contains("toy prompt 7: shannon [nats]"), "{s}");
        assert!(s.contains("× 4 positions"), "{s}");
        // means [2.5, 2, 2]: max at layer 0, min first reached at layer 1
        assert!(
            s.contains("min 2.0000 (layer 1), max 2.5000 (layer 0)"),
            "{s}"
        );
        assert!(s.contains("█▁▁"), "{s}");
    }
}
