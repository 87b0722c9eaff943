//! # entroscope
//!
//! Look inside decoder-only transformer language models through the entropy of their
//! layer-by-layer predictions (the *logit lens*), and decode with it (EDT, END, DoLa).
//!
//! The flow: text → token ids → [`Lm::trace`] (our own forward pass, every block visible through a
//! [`Hook`]) → [`Trace`] (residual stream `[L+1, seq, d]`) → a lens projects one layer at a time
//! through the final norm and the unembedding → a metric reduces it → [`LayerProfile`]
//! (`[L+1, positions]`) → a polars `DataFrame` and a plotters chart.
//!
//! Layer index convention: `0` = embedding output, `l` = residual stream after block `l`,
//! `L` = after the last block *before* the final norm. Hugging Face's `hidden_states[l]` equals our
//! layer `l` for `l < L`; HF's last entry already has the final norm applied for most families.

#![warn(missing_docs)]

pub mod error;
pub mod notebook;
pub mod prelude;

// The core: model, capture, lens, statistics, decoding, tables and charts.
pub mod data;
pub mod decode;
pub mod entropy;
pub mod frame;
pub mod hook;
pub mod intervene;
pub mod lens;
pub mod model;
pub mod plot;
pub mod profile;
pub mod progress;
pub mod runtime;
pub mod score;
pub mod stats;
pub mod trace;

// The paper reproductions, built on the core (the core never imports them).
pub mod papers;

pub use error::{Error, Result};
pub use hook::{Hook, NoHook, Site};
pub use model::Lm;
pub use profile::LayerProfile;
pub use trace::{CaptureSpec, Trace};
