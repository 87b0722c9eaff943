//! Every chart of `entroscope::plot` on synthetic data, written as PNG and SVG.
//!
//! ```text
//! cargo run --release --example charts -- /tmp/entroscope-charts
//! ```
//! Then look at the images: this is how the charts are checked by eye.

use entroscope::entropy::{Metric, Units};
use entroscope::frame::{self, ToFrame};
use entroscope::plot::{self, Band, Curve, Markers};
use entroscope::{LayerProfile, Result};

/// Deterministic pseudo-random numbers in [0, 1) (xorshift), so the example needs no seed file.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Approximately standard normal (sum of 12 uniforms − 6).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.next()).sum::<f64>() - 6.0
    }
}

/// A profile whose entropy falls from ~ln(vocab) to a low value in a sigmoid around
/// `collapse` (relative depth), different per position.
fn synthetic_profile(
    rng: &mut Rng,
    model: &str,
    prompt_id: usize,
    n_layers: usize,
) -> LayerProfile {
    let text = "The capital of France is Paris , and the\ncapital of Germany is Berlin . Ġtokens ▁with markers supercalifragilistic";
    let tokens: Vec<String> = text
        .split(' ')
        .enumerate()
        .map(|(i, t)| {
            if i == 0 {
                t.to_string()
            } else {
                format!(" {t}")
            }
        })
        .collect();
    let n_pos = tokens.len();
    let collapse = 0.55 + 0.15 * rng.normal() / 3.0;
    let mut values = Vec::with_capacity((n_layers + 1) * n_pos);
    for l in 0..=n_layers {
        let d = l as f64 / n_layers as f64;
        for j in 0..n_pos {
            let hi = 10.8;
            let lo = 0.5 + 2.5 * ((j * 7 % 5) as f64 / 4.0);
            let c = collapse + 0.1 * ((j % 3) as f64 - 1.0);
            let s = 1.0 / (1.0 + ((d - c) * 14.0).exp());
            let v = lo + (hi - lo) * s + 0.25 * rng.normal();
            values.push(v.max(0.0) as f32);
        }
    }
    LayerProfile {
        model: model.into(),
        prompt_id,
        metric: Metric::Shannon,
        units: Units::Nats,
        n_layers,
        positions: (0..n_pos).collect(),
        tokens,
        values,
    }
}

fn save(chart: &plot::Chart, dir: &str, name: &str) -> Result<()> {
    chart.save(format!("{dir}/{name}.png"))?;
    chart.save(format!("{dir}/{name}.svg"))?;
    println!("wrote {dir}/{name}.png and .svg");
    Ok(())
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/entroscope-charts".into());
    std::fs::create_dir_all(&dir).map_err(|e| entroscope::Error::io(&dir, e))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // (1) entropy vs depth: a few models (different depths), then many prompts with a band.
    let models = [
        ("SmolLM2-135M", 30),
        ("gemma-3-270m", 18),
        ("Qwen2-0.5B", 24),
    ];
    let per_model: Vec<LayerProfile> = models
        .iter()
        .map(|(m, l)| synthetic_profile(&mut rng, m, 0, *l))
        .collect();
    let chart = plot::profiles_vs_depth(&per_model, None, Band::None)?
        .title("Mean entropy over positions, three models");
    save(&chart, &dir, "depth_models")?;

    let prompts: Vec<LayerProfile> = (0..40)
        .map(|i| synthetic_profile(&mut rng, "SmolLM2-135M", i, 30))
        .collect();
    let df = prompts.to_frame()?;
    frame::set_display(12, 12);
    println!("{df}");
    let series = frame::mean_curves(&df, &[frame::PROMPT_ID], frame::DEPTH, frame::VALUE)?;
    let chart = plot::entropy_vs_depth(&series, Band::Std)?
        .title("40 prompts: mean ± std")
        .y_label("Shannon entropy (nats)");
    save(&chart, &dir, "depth_band_std")?;
    let few: Vec<Curve> = series[..3].to_vec();
    let chart = plot::entropy_vs_depth(&few, Band::Iqr)?.title("3 prompts: median and IQR");
    save(&chart, &dir, "depth_band_iqr")?;

    // (2) heatmap of one prompt, and of a long prompt (labels thinned).
    let chart = plot::heatmap(&prompts[0])?.title("Layer × position entropy, prompt 0");
    save(&chart, &dir, "heatmap")?;
    let long_tokens: Vec<String> = (0..120).map(|i| format!(" tok{i}")).collect();
    let long_vals: Vec<f64> = (0..31 * 120)
        .map(|k| {
            let (l, j) = (k / 120, k % 120);
            10.0 * (1.0 - l as f64 / 30.0) + (j as f64 / 20.0).sin()
        })
        .collect();
    let chart = plot::heatmap_matrix(&long_vals, 31, &long_tokens)?
        .title("120 positions")
        .y_label("entropy (bits)");
    save(&chart, &dir, "heatmap_long")?;

    // (3) histogram of two groups.
    let correct: Vec<f64> = (0..400).map(|_| 1.5 + 0.8 * rng.normal()).collect();
    let wrong: Vec<f64> = (0..150).map(|_| 3.0 + 1.0 * rng.normal()).collect();
    let chart = plot::histogram(&[("correct", &correct[..]), ("incorrect", &wrong[..])], 30)?
        .title("Final-layer entropy by answer correctness")
        .x_label("entropy (nats)");
    save(&chart, &dir, "histogram")?;

    // (4) ROC curves.
    let labels: Vec<bool> = (0..300).map(|i| i % 3 == 0).collect();
    let good: Vec<f64> = labels
        .iter()
        .map(|&l| if l { 1.2 } else { 0.0 } + rng.normal())
        .collect();
    let weak: Vec<f64> = labels
        .iter()
        .map(|&l| if l { 0.4 } else { 0.0 } + rng.normal())
        .collect();
    let chart = plot::roc(&[
        Curve::roc("kNN on entropy profile", &good, &labels)?,
        Curve::roc("final-layer entropy", &weak, &labels)?,
    ])?
    .title("Hallucination detection");
    save(&chart, &dir, "roc")?;

    // (5) scatter with classes and sizes; multi-line chart with markers.
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut cls = Vec::new();
    let mut sz = Vec::new();
    for (k, name) in ["factual", "idiom", "hallucinated"].iter().enumerate() {
        for _ in 0..60 {
            xs.push(3.0 * k as f64 + rng.normal());
            ys.push(-2.0 * k as f64 + rng.normal() * 1.5);
            cls.push(name.to_string());
            sz.push(rng.next());
        }
    }
    let chart = plot::scatter(&xs, &ys, &cls, Some(&sz))?
        .title("PCA of entropy profiles")
        .x_label("PC 1")
        .y_label("PC 2");
    save(&chart, &dir, "scatter")?;

    let auc_a = Curve::from_y(
        "SmolLM2-135M",
        (0..31)
            .map(|l| 0.5 + 0.35 / (1.0 + (-(l as f64 - 14.0) / 3.0).exp()))
            .collect(),
    );
    let auc_b = Curve::from_y(
        "gemma-3-270m",
        (0..19)
            .map(|l| 0.5 + 0.3 / (1.0 + (-(l as f64 - 8.0) / 2.0).exp()))
            .collect(),
    );
    let chart = plot::lines(&[auc_a, auc_b])?
        .markers(Markers::Dots)
        .title("kNN AUC by layer")
        .x_label("layer")
        .y_label("ROC AUC");
    save(&chart, &dir, "lines")?;

    // A two-panel figure through the generic `draw`.
    let left = plot::heatmap(&prompts[1])?;
    let right = plot::entropy_vs_depth(&series, Band::Iqr)?;
    plot::save_png(format!("{dir}/panels.png"), 1600, 560, |root| {
        let (a, b) = root.split_horizontally(900);
        left.draw(&a)?;
        right.draw(&b)
    })?;
    println!("wrote {dir}/panels.png");
    Ok(())
}
