//! `entroscope edt`: the EDT reproduction.

use entroscope::prelude::*;

/// Arguments of `entroscope edt`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> Result<()> {
    Err(entroscope::Error::invalid(
        "subcommand",
        "edt",
        "a subcommand that is implemented (this one is not yet)",
    ))
}
