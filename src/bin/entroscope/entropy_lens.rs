//! `entroscope entropy-lens`: the Entropy-Lens reproduction.

use entroscope::prelude::*;

/// Arguments of `entroscope entropy-lens`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> Result<()> {
    Err(entroscope::Error::invalid(
        "subcommand",
        "entropy-lens",
        "a subcommand that is implemented (this one is not yet)",
    ))
}
