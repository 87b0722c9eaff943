//! `entroscope generate`: text generation.

use entroscope::prelude::*;

/// Arguments of `entroscope generate`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> Result<()> {
    Err(entroscope::Error::invalid(
        "subcommand",
        "generate",
        "a subcommand that is implemented (this one is not yet)",
    ))
}
