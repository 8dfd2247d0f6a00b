//! `state backup PATH`: a consistent copy of the running SQLite store (the
//! daemon may keep running), checked before the command says it is done.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::failure::Failure;
use super::store_access::open_store;
use crate::commit::BackupError;
use crate::text::terminal;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy the SQLite state store into a new file, consistently, while the daemon runs.
    Backup {
        /// The new file (never overwritten). Restore: stop the daemon, put it in place of [state] url's file.
        path: PathBuf,
    },
}

pub(super) async fn state(config: &Path, command: StateCommand) -> Result<(), Failure> {
    match command {
        StateCommand::Backup { path } => {
            let store = open_store(config).await?;
            let bytes = store.backup_to(&path).await.map_err(|error| match error {
                BackupError::Store(_) | BackupError::Write { .. } | BackupError::Damaged { .. } => {
                    Failure::runtime(error)
                }
                BackupError::Postgres | BackupError::Exists(_) => Failure::usage(error),
            })?;
            println!(
                "backed up {} to {} ({bytes} bytes, integrity checked)",
                terminal(store.location()),
                terminal(&path.display().to_string())
            );
            Ok(())
        }
    }
}
