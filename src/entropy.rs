//! Information measures on next-token distributions, computed in f32 from logits with
//! log-sum-exp so that logits up to ±1e4 neither overflow nor underflow.

use std::fmt;

/// Units of an information quantity. Natural log (nats) is the default everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Units {
    #[default]
    Nats,
    Bits,
}

impl Units {
    /// Factor that converts a value in nats into these units.
    pub fn from_nats(self) -> f32 {
        match self {
            Units::Nats => 1.0,
            Units::Bits => std::f32::consts::LOG2_E,
        }
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Units::Nats => "nats",
            Units::Bits => "bits",
        })
    }
}

/// A per-(layer, position) statistic of the lens distribution.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// Shannon entropy −Σ p ln p.
    Shannon,
    /// Rényi entropy of order α ≥ 0: ln(Σ p^α)/(1−α); α=0 → ln |support|, α=1 → Shannon,
    /// α=∞ → −ln max p.
    Renyi(f32),
    /// −ln p(target) for a given target token per position.
    CrossEntropy,
    /// KL(p_layer ‖ p_final).
    KlToFinal,
    /// Rank of the target token (0 = top-1).
    TargetRank,
    /// Probability of the target token.
    TargetProb,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Shannon => f.write_str("shannon"),
            Metric::Renyi(a) => write!(f, "renyi:{a}"),
            Metric::CrossEntropy => f.write_str("cross-entropy"),
            Metric::KlToFinal => f.write_str("kl-final"),
            Metric::TargetRank => f.write_str("target-rank"),
            Metric::TargetProb => f.write_str("target-prob"),
        }
    }
}
