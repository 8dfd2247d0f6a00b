//! Everything a command prints on stdout goes through here, for two reasons.
//!
//! Hostile text: [`say!`] shows every control character except the line's own
//! breaks as a visible escape (`\x1b`, `\r`), so no campaign name or error body
//! printed by any command, present or future, can drive the terminal. Fields
//! that come from the API are also passed through [`crate::text::terminal`] by
//! the commands, so a line break inside one cannot forge a line either.
//!
//! A closed stdout (`status | head -1`) is the end of the command: exit 0,
//! quietly, like any Unix filter whose reader has had enough. `println!` would
//! panic instead. We keep Rust's ignored SIGPIPE rather than restoring the
//! default disposition because `run`, `once` and `demo` write the console
//! channel to the same stdout from inside the daemon: there a closed stdout must
//! be one failed delivery, not a killed process.

use std::fmt;
use std::io::{self, Write};

/// A summary on one line of command output: the start says what happened,
/// `--json` has all of it (a 1 MiB campaign name makes a 1 MiB summary).
pub(crate) const SUMMARY_CHARS: usize = 300;

/// `println!` for human output: control characters escaped, a closed stdout
/// ends the command quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::say_line(format_args!($($arg)*))
    };
}

pub(crate) fn say_line(args: fmt::Arguments<'_>) {
    let line = crate::text::terminal_lines(&args.to_string());
    write_stdout(&line, true);
}

/// Output that must reach stdout byte for byte (`render`, `check-config`, JSON):
/// it is built by us or by an encoder that escapes, never raw API text.
pub(crate) fn verbatim(text: &str) {
    write_stdout(text, false);
}

fn write_stdout(text: &str, newline: bool) {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if newline {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| stdout.flush());
    if let Err(error) = written {
        stdout_gone(&error);
    }
}

fn stdout_gone(error: &io::Error) -> ! {
    if error.kind() == io::ErrorKind::BrokenPipe {
        // The reader closed the pipe: it has what it wanted.
        std::process::exit(0);
    }
    // A full disk or a dead terminal: the output is incomplete, say so.
    let _ = writeln!(
        io::stderr(),
        "campaign-watcher: cannot write to stdout: {error}"
    );
    std::process::exit(1);
}

/// One line on stderr (warnings, the final failure sentence), control
/// characters escaped like [`say!`]. A closed stderr is not worth a panic.
pub(crate) fn complain(line: &str) {
    let _ = writeln!(io::stderr(), "{}", crate::text::terminal_lines(line));
}
