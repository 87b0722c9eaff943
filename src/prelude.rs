//! `use entroscope::prelude::*;` — the core a notebook needs in one line: the model, its
//! trace and hooks, the lens and its metrics, profiles, frames and charts. Statistics (kNN,
//! ROC), decoding and the papers are imported from their modules.

pub use crate::entropy::{Metric, Units};
pub use crate::error::{Error, Result};
pub use crate::frame::ToFrame;
pub use crate::hook::{Hook, NoHook, Site};
pub use crate::intervene::LayerSkip;
pub use crate::lens::{LensKind, LogitLens, Targets, TopTokens};
pub use crate::model::{parse_device, Bundled, KvCache, Lm, LoadOptions, ModelSource, WeightDtype};
pub use crate::plot::Chart;
pub use crate::profile::LayerProfile;
pub use crate::trace::{CaptureSpec, Positions, Trace};
