use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = campaign_watcher::cli::parse();
    campaign_watcher::cli::main(cli)
}
