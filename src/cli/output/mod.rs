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

/// The terminal's width in columns when stdout is a terminal; `None` when it
/// is piped or redirected, where output stays plain for scripts and `grep`.
pub(crate) fn terminal_width() -> Option<u16> {
    let stdout = io::stdout();
    if !rustix::termios::isatty(&stdout) {
        return None;
    }
    let size = rustix::termios::tcgetwinsize(&stdout).ok()?;
    (size.ws_col > 0).then_some(size.ws_col)
}

/// One column of a [`table`].
pub(crate) struct Column {
    pub title: &'static str,
    /// Its width when piped (the last column is never padded).
    pub plain_width: usize,
    /// Ids and timestamps never wrap; names and descriptions may.
    pub wraps: bool,
    /// On a narrow terminal, columns are dropped highest rank first (0: kept).
    pub drop_rank: u8,
}

/// The narrowest a wrapping column may get before columns are dropped.
const WRAPPING_MIN: usize = 12;
/// Padding and separator around each cell.
const CELL_EXTRA: usize = 3;

/// Rows under a header: fitted to `width` on a terminal (wrapping columns
/// wrap, the least needed columns are dropped when even that cannot fit), or
/// plain when piped: columns padded, one row per line, nothing cut or
/// dropped. Cells must be escaped for the terminal already.
pub(crate) fn table(columns: &[Column], rows: &[Vec<String>], width: Option<u16>) -> String {
    let Some(width) = width else {
        return plain_table(columns, rows);
    };
    let kept = columns_that_fit(columns, rows, usize::from(width));
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_style(comfy_table::TableComponent::HeaderLines, '─')
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(kept.iter().map(|&index| columns[index].title));
    for row in rows {
        table.add_row(
            kept.iter()
                .map(|&index| row.get(index).map_or("", String::as_str)),
        );
    }
    for (position, &index) in kept.iter().enumerate() {
        if let Some(column) = table.column_mut(position) {
            if !columns[index].wraps {
                column.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
            }
        }
    }
    let mut out = table.to_string();
    out.push('\n');
    out
}

/// The indexes of the columns shown within `width`: all, unless the widest
/// content of the columns that never wrap plus a minimum for those that do
/// is wider; then the highest `drop_rank` goes first.
fn columns_that_fit(columns: &[Column], rows: &[Vec<String>], width: usize) -> Vec<usize> {
    let need = |index: usize| -> usize {
        let column = &columns[index];
        let content = rows
            .iter()
            .filter_map(|row| row.get(index))
            .chain(std::iter::once(&column.title.to_string()))
            .map(|cell| cell.chars().count())
            .max()
            .unwrap_or(0);
        CELL_EXTRA
            + if column.wraps {
                content.min(WRAPPING_MIN)
            } else {
                content
            }
    };
    let mut kept: Vec<usize> = (0..columns.len()).collect();
    while kept.iter().map(|&index| need(index)).sum::<usize>() > width {
        let Some(position) = kept
            .iter()
            .enumerate()
            .filter(|(_, &index)| columns[index].drop_rank > 0)
            .max_by_key(|(_, &index)| columns[index].drop_rank)
            .map(|(position, _)| position)
        else {
            break;
        };
        kept.remove(position);
    }
    kept
}

fn plain_table(columns: &[Column], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            let pad = if index + 1 < columns.len() {
                columns.get(index).map_or(0, |c| c.plain_width)
            } else {
                0
            };
            line.push_str(&format!("{cell:<pad$} "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
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
/// `acme: ` before a text line about a named account's event, so that with
/// several accounts every line says whose it is; nothing for `default`'s and
/// the whole watcher's.
pub(crate) fn account_tag(account: Option<&str>) -> String {
    match account {
        Some(account) if account != crate::event::DEFAULT_ACCOUNT => {
            format!("{}: ", crate::text::terminal(account))
        }
        _ => String::new(),
    }
}

pub(crate) fn complain(line: &str) {
    let _ = writeln!(io::stderr(), "{}", crate::text::terminal_lines(line));
}

#[cfg(test)]
mod tests;
