//! `entroscope end`: the END reproduction.

use entroscope::prelude::*;

/// Arguments of `entroscope end`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> Result<()> {
    Err(entroscope::Error::invalid(
        "subcommand",
        "end",
        "a subcommand that is implemented (this one is not yet)",
    ))
}
