//! `use entroscope::prelude::*;` — everything a notebook needs in one line.

pub use crate::entropy::{Metric, Units};
pub use crate::error::{Error, Result};
pub use crate::hook::{Hook, NoHook, Site};
pub use crate::model::Lm;
pub use crate::profile::LayerProfile;
pub use crate::trace::{CaptureSpec, Trace};
