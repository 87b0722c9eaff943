//! EDT: entropy-based dynamic temperature sampling (Zhang et al., 2024, arXiv 2403.14541).
//!
//! At each step the temperature is `T = T0 · N^(θ / H)`, `H` the Shannon entropy (nats) of the
//! step's softmax at T = 1 and `0 < N < 1`: a confident step (small `H`) gets a temperature near
//! 0 (close to greedy), an uncertain one a temperature near `T0`. Token-level EDT recomputes `T`
//! every step; instance-level EDT fixes one `T` per sequence, from the entropy of its first step.

use super::sampling::{check_temperature, Sampling, Tail};
use super::{Choice, Decoder, StepInput};
use crate::entropy::shannon;
use crate::model::Lm;
use crate::{Error, Result};

/// Below this temperature EDT takes the argmax (dividing logits by a smaller number only
/// overflows; the distribution is one-hot to f32 precision anyway).
pub const MIN_TEMPERATURE: f64 = 1e-6;

/// `T0 · N^(θ / H)`: EDT's temperature for a step of entropy `h` (nats).
///
/// Limits: `H → 0` gives `T → 0` (greedy); `H → ∞` gives `T → T0`; `θ = 0` gives `T0`.
///
/// ```
/// use entroscope::decode::edt_temperature;
/// // T0 = 1, N = 0.5, θ = 1, H = 1 nat: T = 0.5^(1/1) = 0.5
/// assert!((edt_temperature(1.0, 1.0, 0.5, 1.0) - 0.5).abs() < 1e-12);
/// assert_eq!(edt_temperature(1.0, 1.0, 0.5, 0.0), 0.0);
/// ```
pub fn edt_temperature(t0: f64, theta: f64, n: f64, h: f64) -> f64 {
    if theta == 0.0 {
        return t0;
    }
    if h <= 0.0 {
        return 0.0;
    }
    t0 * n.powf(theta / h)
}

/// Token-level (per step) or instance-level (one temperature per sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EdtLevel {
    /// Recompute the temperature at every step (the paper's main variant).
    #[default]
    Token,
    /// One temperature per sequence, from the entropy of the first step's distribution.
    Instance,
}

/// EDT hyper-parameters. Defaults: `T0 = 0.8`, `θ = 0.2`, `N = 0.8`, token level (the paper's
/// `N`; `T0` and `θ` near its best settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdtParams {
    /// Base temperature `T0` (finite, > 0).
    pub t0: f64,
    /// Exponent scale `θ` (finite, ≥ 0; 0 = fixed temperature `T0`).
    pub theta: f64,
    /// Base `N` ∈ (0, 1).
    pub n: f64,
    /// Token or instance level.
    pub level: EdtLevel,
}

impl Default for EdtParams {
    fn default() -> Self {
        Self {
            t0: 0.8,
            theta: 0.2,
            n: 0.8,
            level: EdtLevel::Token,
        }
    }
}

impl EdtParams {
    /// Check `T0 > 0`, `θ ≥ 0`, `N ∈ (0, 1)`, all finite.
    pub fn validate(&self) -> Result<()> {
        if !(self.t0.is_finite() && self.t0 > 0.0) {
            return Err(Error::invalid(
                "t0",
                self.t0,
                "a finite base temperature > 0",
            ));
        }
        if !(self.theta.is_finite() && self.theta >= 0.0) {
            return Err(Error::invalid("theta", self.theta, "a finite number ≥ 0"));
        }
        if !(self.n > 0.0 && self.n < 1.0) {
            return Err(Error::invalid(
                "n",
                self.n,
                "a number in (0, 1) (the paper uses 0.8)",
            ));
        }
        Ok(())
    }

    /// The temperature for a step of entropy `h` nats.
    pub fn temperature(&self, h: f64) -> f64 {
        edt_temperature(self.t0, self.theta, self.n, h)
    }
}

/// The EDT decoder: samples at the entropy-dependent temperature, optionally after top-k /
/// top-p, with an optional repetition penalty.
///
/// ```
/// use entroscope::decode::{Edt, EdtLevel, EdtParams};
/// let edt = Edt::new(EdtParams { level: EdtLevel::Instance, ..EdtParams::default() })?.seed(3);
/// # let _ = edt;
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Edt {
    params: EdtParams,
    top_k: Option<usize>,
    top_p: Option<f64>,
    tail: Tail,
    instance_t: Option<f64>,
}

impl Edt {
    /// EDT with these parameters (validated), seed 0, no top-k / top-p, no repetition penalty.
    pub fn new(params: EdtParams) -> Result<Self> {
        params.validate()?;
        let mut e = Self {
            params,
            top_k: None,
            top_p: None,
            tail: Tail::greedy(1.0),
            instance_t: None,
        };
        e.rebuild(0)?;
        Ok(e)
    }

    /// Seed of the random stream.
    pub fn seed(mut self, seed: u64) -> Self {
        // the sampling was validated already, so rebuilding cannot fail; keep the old on error
        let _ = self.rebuild(seed);
        self
    }

    /// Keep only the `k` most likely tokens before sampling (`k ≥ 1`).
    pub fn top_k(mut self, k: usize) -> Result<Self> {
        self.top_k = Some(k);
        self.rebuild(self.tail.seed)?;
        Ok(self)
    }

    /// Nucleus filter before sampling (`p ∈ (0, 1]`).
    pub fn top_p(mut self, p: f64) -> Result<Self> {
        self.top_p = Some(p);
        self.rebuild(self.tail.seed)?;
        Ok(self)
    }

    /// HF repetition penalty (finite, > 0; 1 = none).
    pub fn repetition_penalty(mut self, theta: f32) -> Result<Self> {
        self.tail.set_penalty(theta)?;
        Ok(self)
    }

    /// The parameters.
    pub fn params(&self) -> &EdtParams {
        &self.params
    }

    fn rebuild(&mut self, seed: u64) -> Result<()> {
        // The temperature here is a placeholder: EDT passes its own at every step.
        let t = self.params.t0;
        check_temperature(t)?;
        let s = match (self.top_k, self.top_p) {
            (None, None) => Sampling::All { temperature: t },
            (Some(k), None) => Sampling::TopK { k, temperature: t },
            (None, Some(p)) => Sampling::TopP { p, temperature: t },
            (Some(k), Some(p)) => Sampling::TopKThenTopP {
                k,
                p,
                temperature: t,
            },
        };
        self.tail.set_sampling(seed, s)
    }
}

impl Decoder for Edt {
    fn name(&self) -> String {
        match self.params.level {
            EdtLevel::Token => "edt".into(),
            EdtLevel::Instance => "edt-instance".into(),
        }
    }

    fn begin(&mut self, _lm: &Lm, _prompt: &[u32], sequence: usize) -> Result<()> {
        self.tail.begin(sequence);
        self.instance_t = None;
        Ok(())
    }

    fn step(&mut self, input: &StepInput<'_>) -> Result<Choice> {
        let t = match (self.params.level, self.instance_t) {
            (EdtLevel::Instance, Some(t)) => t,
            _ => {
                let h = f64::from(shannon(input.logits)?);
                let t = self.params.temperature(h);
                if self.params.level == EdtLevel::Instance {
                    self.instance_t = Some(t);
                }
                t
            }
        };
        let used = if t < MIN_TEMPERATURE { 0.0 } else { t };
        let mut z = input.logits.to_vec();
        let (token, p, _) = self
            .tail
            .choose(&mut z, input.context, input.suppress, Some(used))?;
        let mut c = Choice::token(token, p);
        c.temperature = Some(t as f32);
        Ok(c)
    }
}
