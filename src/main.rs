use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = campaign_watcher::cli::Cli::parse();
    campaign_watcher::cli::main(cli)
}
