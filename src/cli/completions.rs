//! `completions SHELL` and `manpage`: generated from the same clap definitions
//! the binary parses with, so they cannot drift from it.

use std::io::Write;

use clap::Args;

use super::failure::Failure;

/// Print the completion script for `shell` on stdout.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl CompletionsArgs {
    pub(super) fn run(self) -> Result<(), Failure> {
        let Self { shell } = self;
        let mut script = Vec::new();
        clap_complete::generate(
            shell,
            &mut super::command(),
            "campaign-watcher",
            &mut script,
        );
        print_bytes(&script)
    }
}

/// Print the man page (roff) on stdout: `campaign-watcher manpage > campaign-watcher.1`.
pub(super) fn manpage() -> Result<(), Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::command())
        .render(&mut page)
        .map_err(|error| Failure::runtime(format!("could not render the man page: {error}")))?;
    print_bytes(&page)
}

/// Generated into memory first: the generators panic on a write error, and a
/// closed stdout (`| head`) is not a failure worth a panic.
fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::runtime(
            format!("could not write to stdout: {error}"),
        )),
        _ => Ok(()),
    }
}
