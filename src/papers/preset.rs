//! How large a reproduction run is. Every paper reproduction (Entropy-Lens, END, EDT) offers the
//! same three sizes, so the command line and notebooks pick one the same way.

/// A reproduction's size preset.
///
/// ```
/// use entroscope::papers::entropy_lens::Options;
/// use entroscope::papers::preset::Preset;
/// let pick = |p: Preset| p.choose(Options::quick, Options::full, Options::paper);
/// assert!(pick(Preset::Quick).family_samples < pick(Preset::Paper).family_samples);
/// assert_eq!(pick(Preset::Full), Options::full());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// Minutes: a handful of items, for a first look and CI.
    Quick,
    /// The run the README reports: sized for a 2-core CPU in well under an hour.
    #[default]
    Full,
    /// The paper's own sample counts: hours to days on a CPU.
    Paper,
}

impl Preset {
    /// `Quick` when `quick`, `Paper` when `paper`, else `Full` (the command line's flags).
    pub fn from_flags(quick: bool, paper: bool) -> Self {
        match (quick, paper) {
            (true, _) => Preset::Quick,
            (false, true) => Preset::Paper,
            (false, false) => Preset::Full,
        }
    }

    /// Call the constructor of this preset: each study's options type has `quick`, `full` and
    /// `paper` constructors, and this picks one without a `match` per study.
    pub fn choose<T>(self, quick: fn() -> T, full: fn() -> T, paper: fn() -> T) -> T {
        match self {
            Preset::Quick => quick(),
            Preset::Full => full(),
            Preset::Paper => paper(),
        }
    }
}
