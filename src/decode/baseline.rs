//! The baseline decoder: the model's own final logits, greedy or sampled.

use super::sampling::{Sampling, Tail};
use super::{Choice, Decoder, StepInput};
use crate::model::Lm;
use crate::Result;

/// Greedy or sampled decoding of the final logits, with an optional repetition penalty (HF's
/// `generate` with `do_sample` false / true).
///
/// ```
/// use entroscope::decode::{Baseline, Sampling};
/// let greedy = Baseline::greedy();
/// let sampled = Baseline::sampling(7, Sampling::TopP { p: 0.95, temperature: 0.8 })?
///     .repetition_penalty(1.1)?;
/// # let _ = (greedy, sampled);
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Baseline {
    tail: Tail,
}

impl Default for Baseline {
    fn default() -> Self {
        Self::greedy()
    }
}

impl Baseline {
    /// Argmax of the final logits.
    pub fn greedy() -> Self {
        Self {
            tail: Tail::greedy(1.0),
        }
    }

    /// Sample with `sampling`, the random stream seeded with `seed` (plus the prompt's index in
    /// a batch). Errors on invalid sampling parameters.
    pub fn sampling(seed: u64, sampling: Sampling) -> Result<Self> {
        let mut tail = Tail::greedy(1.0);
        tail.set_sampling(seed, sampling)?;
        Ok(Self { tail })
    }

    /// Apply HF's repetition penalty `θ` (finite, > 0; 1 = none) before choosing.
    pub fn repetition_penalty(mut self, theta: f32) -> Result<Self> {
        self.tail.set_penalty(theta)?;
        Ok(self)
    }
}

impl Decoder for Baseline {
    fn name(&self) -> String {
        match self.tail.processor.sampling() {
            Sampling::ArgMax => "greedy".into(),
            _ => "sample".into(),
        }
    }

    fn begin(&mut self, _lm: &Lm, _prompt: &[u32], sequence: usize) -> Result<()> {
        self.tail.begin(sequence);
        Ok(())
    }

    fn step(&mut self, input: &StepInput<'_>) -> Result<Choice> {
        let mut z = input.logits.to_vec();
        let (token, p, t) = self
            .tail
            .choose(&mut z, input.context, input.suppress, None)?;
        let mut c = Choice::token(token, p);
        c.temperature = t;
        Ok(c)
    }
}
