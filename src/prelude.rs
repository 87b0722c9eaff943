//! `use entroscope::prelude::*;` — everything a notebook needs in one line.

pub use crate::entropy::{Metric, Units};
pub use crate::error::{Error, Result};
pub use crate::frame::ToFrame;
pub use crate::hook::{Hook, NoHook, Site};
pub use crate::intervene::LayerSkip;
pub use crate::lens::{LensKind, LogitLens, Targets, TopTokens};
pub use crate::model::{parse_device, LoadOptions, WeightDtype};
pub use crate::model::{KvCache, Lm};
pub use crate::profile::LayerProfile;
pub use crate::stats::knn::{
    cross_validate, CvReport, KnnParams, ParamGuard, StratifiedDummy, StratifiedKFold,
};
pub use crate::trace::{CaptureSpec, Positions, Trace};
