//! The model families, one file each, and the registry that every part of the crate iterates.
//!
//! A family file maps its Hugging Face config (and, where supported, GGUF metadata and tensor
//! names) onto an [`ArchSpec`]; the loader and the forward pass are shared. Adding a family is
//! one new file and one line in [`REGISTRY`] (CONTRIBUTING.md, "Adding a family").

use std::fmt;

use super::arch::ArchSpec;
use crate::{Error, Result};

mod gemma2;
mod gemma3;
pub(crate) mod gguf;
mod gpt2;
pub(crate) mod hf;
mod llama;
mod mistral;
mod olmo2;
mod phi3;
mod qwen2;
mod qwen3;

/// Every family entroscope runs, in the order error messages list them.
const REGISTRY: &[&FamilyDef] = &[
    &gpt2::DEF,
    &llama::DEF,
    &mistral::DEF,
    &qwen2::DEF,
    &qwen3::DEF,
    &gemma2::DEF,
    &gemma3::DEF,
    &phi3::DEF,
    &olmo2::DEF,
];

/// What a family file provides.
pub(crate) struct FamilyDef {
    /// The family's name, as users and error messages say it.
    pub name: &'static str,
    /// One line on what sets the family apart.
    pub summary: &'static str,
    /// Hugging Face `model_type` and GGUF `general.architecture` values read as this family.
    pub aliases: &'static [&'static str],
    /// `config.json` → spec.
    pub from_hf: fn(&serde_json::Value) -> Result<ArchSpec>,
    /// GGUF metadata → spec; `None` where no GGUF mapping exists yet.
    pub from_gguf: Option<fn(&gguf::Metadata, usize) -> Result<ArchSpec>>,
    /// Hugging Face names of the family's tensors → the blocks the forward pass runs. `None`:
    /// the standard layout (`model.layers.{i}.self_attn.q_proj`, …) that
    /// [`crate::model::transformer`] reads from the spec alone.
    pub load:
        Option<fn(&ArchSpec, &mut super::transformer::Loader) -> Result<super::transformer::Parts>>,
    /// llama.cpp permuted the q/k rows of this family's GGUF files for interleaved RoPE (its
    /// other change, `1 + w` norm weights, follows from [`NormKind::RmsOffset`](super::arch::NormKind)).
    pub gguf_permuted_qk: bool,
}

/// A decoder-only family that entroscope runs with its own forward pass (see
/// [`Family::all`]). Compared and printed by name.
#[derive(Clone, Copy)]
pub struct Family(&'static FamilyDef);

impl Family {
    /// From a Hugging Face `model_type` or a GGUF `general.architecture`.
    pub fn parse(arch: &str) -> Result<Self> {
        REGISTRY
            .iter()
            .find(|d| d.aliases.contains(&arch))
            .map(|d| Family(d))
            .ok_or_else(|| Error::UnknownArchitecture {
                arch: arch.to_string(),
                supported: Self::names(),
            })
    }

    /// Every supported family.
    pub fn all() -> impl Iterator<Item = Family> {
        REGISTRY.iter().map(|d| Family(d))
    }

    /// The families' names, comma-separated.
    pub fn names() -> String {
        REGISTRY
            .iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The family's name (`"llama"`, `"gemma3"`, …).
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// One line on what sets the family apart.
    pub fn summary(self) -> &'static str {
        self.0.summary
    }

    pub(crate) fn def(self) -> &'static FamilyDef {
        self.0
    }
}

impl PartialEq for Family {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Family {}

impl std::hash::Hash for Family {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state)
    }
}

impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl serde::Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_parses_by_its_aliases() -> Result<()> {
        for f in Family::all() {
            for alias in f.def().aliases {
                assert_eq!(Family::parse(alias)?, f);
            }
        }
        let msg = Family::parse("rwkv").err().map(|e| e.to_string());
        let msg = msg.unwrap_or_default();
        for f in Family::all() {
            assert!(msg.contains(f.name()), "{msg}");
        }
        Ok(())
    }
}
