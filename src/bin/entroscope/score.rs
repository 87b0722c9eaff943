//! `entroscope score`: benchmark scoring.

use entroscope::prelude::*;

/// Arguments of `entroscope score`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> Result<()> {
    Err(entroscope::Error::invalid(
        "subcommand",
        "score",
        "a subcommand that is implemented (this one is not yet)",
    ))
}
