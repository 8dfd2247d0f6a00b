//! `state backup PATH`: a consistent copy of the running SQLite store (the
//! daemon may keep running), checked before the command says it is done.
//! `state rename-account OLD NEW`: an account's new name, for every row of it.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::failure::Failure;
use super::store_access::open_store;
use crate::commit::{BackupError, RenameError};
use crate::text::terminal;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy the SQLite state store into a new file, consistently, while the daemon runs.
    Backup {
        /// The new file (never overwritten). Restore: stop the daemon, put it in place of [state] url's file.
        path: PathBuf,
    },
    /// Rename a SigmaMind account in the store (stop the watcher first, then rename its [sigmamind.accounts.OLD] section to NEW).
    RenameAccount {
        /// The name the store has now.
        old: String,
        /// The new name (the configuration's new section).
        new: String,
        /// Who renames it, for the audit log (default: the OS user, from $USER or $LOGNAME).
        #[arg(long)]
        author: Option<String>,
    },
}

impl StateCommand {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let command = self;
        match command {
            StateCommand::Backup { path } => {
                let store = open_store(config).await?;
                let bytes = store.backup_to(&path).await.map_err(|error| match error {
                    BackupError::Store(_)
                    | BackupError::Write { .. }
                    | BackupError::Damaged { .. } => Failure::runtime(error),
                    BackupError::Postgres | BackupError::Exists(_) | BackupError::Link(_) => {
                        Failure::usage(error)
                    }
                })?;
                println!(
                    "backed up {} to {} ({bytes} bytes, integrity checked)",
                    terminal(store.location()),
                    terminal(&path.display().to_string())
                );
                Ok(())
            }
            StateCommand::RenameAccount { old, new, author } => {
                if let Some(problem) = crate::config::account_name_problem(&new) {
                    return Err(Failure::usage(format!("NEW: {problem}")));
                }
                // The state file's lock, as `run` and `once` take it: a rename
                // beside a live watcher would race its writes under the old name.
                let settings = super::store_access::store_settings(config)?;
                let _one_watcher = crate::commit::StateLock::acquire(&settings.state.url)
                    .map_err(|error| match error {
                        crate::commit::StateLockError::Held { lock_file } => Failure::usage(format!(
                            "a watcher (run or once) is active on this state file (it holds the lock {}): stop it first, then rename the account",
                            lock_file.display()
                        )),
                        unusable => Failure::usage(unusable),
                    })?;
                let store = super::store_access::open_store_of(&settings).await?;
                let actor = super::store_access::cli_actor(author);
                let moved = store
                    .rename_account(&actor, &old, &new, chrono::Utc::now())
                    .await
                    .map_err(|error| match error {
                        RenameError::Store(error) => Failure::runtime(error),
                        other => Failure::usage(other),
                    })?;
                println!(
                    "account \"{}\" is now \"{}\" in {}: {moved} campaigns moved; rename [sigmamind.accounts.{}] to [sigmamind.accounts.{}] before starting the watcher",
                    terminal(&old),
                    terminal(&new),
                    terminal(store.location()),
                    terminal(&old),
                    terminal(&new)
                );
                Ok(())
            }
        }
    }
}
