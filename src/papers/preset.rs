//! How large a reproduction run is. Every paper reproduction offers the same four sizes, so the
//! command line (`--size`), `make figures SIZE=…` and the notebooks (`ENTROSCOPE_SIZE`) pick one
//! the same way.

use crate::{Error, Result};

/// A reproduction's size preset.
///
/// ```
/// use entroscope::papers::entropy_lens::Options;
/// use entroscope::papers::preset::Preset;
/// let pick = |p: Preset| p.pick::<Options>();
/// assert!(pick(Preset::Quick).family_samples < pick(Preset::Paper).family_samples);
/// assert_eq!(pick(Preset::Full), Options::full());
/// assert_eq!(Options::default(), pick(Preset::default())); // what `make figures` runs
/// assert_eq!("default".parse::<Preset>()?, Preset::Standard);
/// assert!("huge".parse::<Preset>().is_err());
/// # Ok::<(), entroscope::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// A minute or two: a handful of items, to see that everything runs (CI).
    Quick,
    /// `default`: the default model and sizes at which the papers' effects show, every paper
    /// together in about 20 minutes on two cores (what `make figures` runs).
    #[default]
    Standard,
    /// The runs the README reports: both bundled models, about 2 hours on two cores in all.
    Full,
    /// The papers' own sample counts: hours to days on a CPU.
    Paper,
}

impl Preset {
    /// Every preset, smallest first.
    pub const ALL: [Preset; 4] = [Preset::Quick, Preset::Standard, Preset::Full, Preset::Paper];

    /// `Quick` when `quick`, `Paper` when `paper`, else `Standard` (the older flags).
    pub fn from_flags(quick: bool, paper: bool) -> Self {
        match (quick, paper) {
            (true, _) => Preset::Quick,
            (false, true) => Preset::Paper,
            (false, false) => Preset::Standard,
        }
    }

    /// The preset a notebook runs: `ENTROSCOPE_SIZE` (`quick`, `default`, `full`, `paper`), or
    /// `quick` when `ENTROSCOPE_QUICK=1`, else `default`.
    ///
    /// Errors: an `ENTROSCOPE_SIZE` that names no preset.
    pub fn from_env() -> Result<Self> {
        match std::env::var("ENTROSCOPE_SIZE") {
            Ok(s) if !s.trim().is_empty() => s.parse(),
            _ if std::env::var("ENTROSCOPE_QUICK").is_ok_and(|v| v == "1") => Ok(Preset::Quick),
            _ => Ok(Preset::Standard),
        }
    }

    /// The name the command line and `make` use: `quick`, `default`, `full`, `paper`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Standard => "default",
            Preset::Full => "full",
            Preset::Paper => "paper",
        }
    }

    /// The options of a study at this preset (its `quick`, `standard`, `full` or `paper`
    /// constructor, through [`Sizes`]).
    pub fn pick<T: Sizes>(self) -> T {
        match self {
            Preset::Quick => T::quick(),
            Preset::Standard => T::standard(),
            Preset::Full => T::full(),
            Preset::Paper => T::paper(),
        }
    }
}

/// A study's options at each preset (every paper's `Options` implements it by calling its own
/// constructors, so [`Preset::pick`] works on any of them).
pub trait Sizes: Sized {
    /// [`Preset::Quick`].
    fn quick() -> Self;
    /// [`Preset::Standard`].
    fn standard() -> Self;
    /// [`Preset::Full`].
    fn full() -> Self;
    /// [`Preset::Paper`].
    fn paper() -> Self;
}

/// `impl Sizes for $t` through the type's inherent constructors of the same names, and
/// `Default` as the default preset ([`Preset::Standard`]), so `Options::default()` and
/// `make figures` agree; and [`Resumable`](crate::papers::Resumable) through its `checkpoint`
/// field.
macro_rules! impl_sizes {
    ($t:ty) => {
        impl Default for $t {
            fn default() -> Self {
                <$t>::standard()
            }
        }
        impl $crate::papers::Resumable for $t {
            fn checkpoint_dir(&self) -> Option<&std::path::Path> {
                self.checkpoint.as_deref()
            }
            fn identity(&self) -> String {
                format!(
                    "{:?}",
                    Self {
                        checkpoint: None,
                        ..self.clone()
                    }
                )
            }
        }
        impl $crate::papers::preset::Sizes for $t {
            fn quick() -> Self {
                <$t>::quick()
            }
            fn standard() -> Self {
                <$t>::standard()
            }
            fn full() -> Self {
                <$t>::full()
            }
            fn paper() -> Self {
                <$t>::paper()
            }
        }
    };
}
pub(crate) use impl_sizes;

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s || (s == "standard" && *p == Preset::Standard))
            .ok_or_else(|| Error::invalid("size", s, "quick, default, full or paper"))
    }
}
