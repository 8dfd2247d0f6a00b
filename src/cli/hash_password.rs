//! `hash-password`: a bcrypt hash for `[http.users.NAME] password_hash`. The
//! password comes from a prompt that does not echo (asked twice), or from the
//! first line of stdin when it is not a terminal; never from the command line,
//! where `ps` and the shell history would keep it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::os::fd::AsFd as _;

use rustix::termios::{self, LocalModes, OptionalActions};

use clap::Args;

use super::failure::Failure;

/// bcrypt reads no further than this many bytes.
const MAX_PASSWORD_BYTES: usize = 72;
/// Shorter passwords are refused: a leaked hash of one is cracked in minutes.
const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Args)]
pub struct HashPasswordArgs {
    /// bcrypt cost, 4-31: each step doubles the time a check takes (aim for 50-250 ms on the watcher's host).
    #[arg(long, default_value_t = 12)]
    cost: u32,
}

impl HashPasswordArgs {
    pub(super) fn run(self) -> Result<(), Failure> {
        let Self { cost } = self;
        if !(4..=31).contains(&cost) {
            return Err(Failure::usage(format!(
                "--cost {cost} is outside 4..=31 (the default is 12)"
            )));
        }
        let password = if std::io::stdin().is_terminal() {
            let first = prompt("Password: ")?;
            let again = prompt("Again: ")?;
            if first != again {
                return Err(Failure::usage(
                    "the two passwords differ; nothing was hashed",
                ));
            }
            first
        } else {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|error| {
                    Failure::runtime(format!("cannot read the password from stdin: {error}"))
                })?;
            line.trim_end_matches(['\n', '\r']).to_string()
        };
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(Failure::usage(format!(
                "the password is shorter than {MIN_PASSWORD_CHARS} characters; choose a longer one"
            )));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Failure::usage(format!(
                "the password is longer than {MAX_PASSWORD_BYTES} bytes, and bcrypt ignores the rest; choose a shorter one"
            )));
        }
        let hash = bcrypt::hash(password.as_bytes(), cost)
            .map_err(|error| Failure::runtime(format!("cannot hash the password: {error}")))?;
        say!("{hash}");
        Ok(())
    }
}

/// Asks on stderr and reads one line from the terminal with echo off.
fn prompt(question: &str) -> Result<String, Failure> {
    let cannot =
        |error: std::io::Error| Failure::runtime(format!("cannot read the password: {error}"));
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let original = termios::tcgetattr(fd).map_err(|errno| cannot(errno.into()))?;
    let mut silent = original.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    silent.local_modes.insert(LocalModes::ECHONL);
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    termios::tcsetattr(fd, OptionalActions::Now, &silent).map_err(|errno| cannot(errno.into()))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let restored = termios::tcsetattr(fd, OptionalActions::Now, &original);
    read.map_err(cannot)?;
    restored.map_err(|errno| cannot(errno.into()))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
