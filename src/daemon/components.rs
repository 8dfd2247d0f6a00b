//! One configuration generation: everything built from the settings that a
//! reload replaces (watchers, dispatcher, re-asserters, schedule), and the same
//! running under a child token of shutdown, its tasks tracked together so that
//! stopping it is one cancel and one wait.

use std::sync::Arc;

use tokio::sync::{Mutex, Notify};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cycles::{cycle_loop, Cycles};
use super::StartupError;
use crate::commit::Store;
use crate::config::{Built, ConfigError, Settings};
use crate::deliver::heartbeat::Heartbeat;
use crate::deliver::{ChannelSet, Dispatcher};
use crate::fetch::SigmaMindClient;
use crate::metrics::Metrics;
use crate::reassert::{self, Reasserter};
use crate::schedule::Schedule;
use crate::watcher::{Watcher, Watchers};

/// Everything built from one configuration; the state store, the HTTP
/// listener and the election are the service's and outlive it.
pub(super) struct Components {
    pub(super) settings: Settings,
    pub(super) watchers: Arc<Watchers>,
    /// Shared by the dispatcher, the watchers (which send around a broken
    /// store) and the re-asserters.
    pub(super) channels: Arc<ChannelSet>,
    pub(super) dispatcher: Dispatcher,
    /// The Alertmanager channels' re-posting of active alerts.
    pub(super) reasserters: Vec<Reasserter>,
    pub(super) schedule: Schedule,
}

impl Components {
    /// Build clients, channels, watchers and dispatcher around what
    /// validation built; the caller starts nothing unless every component built.
    pub(super) fn build(
        settings: &Settings,
        built: Built,
        store: &Store,
        dispatcher_wake: &Arc<Notify>,
        metrics: &Metrics,
    ) -> Result<Self, StartupError> {
        let channels = Arc::new(
            ChannelSet::build_for_instance(&settings.channels, &settings.instance_name())
                .map_err(|e| StartupError::Channels(e.to_string()))?,
        );
        let router = built.router;
        let heartbeat =
            Heartbeat::from_settings(&settings.heartbeat).map_err(StartupError::Heartbeat)?;
        // One watcher per account, each with its own client (limit, budget)
        // and its account's view of the store.
        let mut accounts = Vec::new();
        for account in settings.accounts() {
            let api_key = account.api.api_key.clone().ok_or_else(|| {
                ConfigError::invalid(
                    "configuration",
                    vec![format!(
                        "{}.api_key: no API key: set api_key, api_key_file or SIGMAMIND_API_KEY",
                        account.api_at
                    )],
                )
            })?;
            let client = SigmaMindClient::new(&account.api, api_key)?
                .with_secrets(settings.secret_values())
                .with_metrics(metrics.clone(), &account.name);
            accounts.push(Watcher::new(
                client,
                store.for_account(&account.name),
                router.clone(),
                account.watch.clone(),
                account.api.max_in_flight,
                dispatcher_wake.clone(),
            ));
        }
        if accounts.is_empty() {
            return Err(ConfigError::invalid(
                "configuration",
                vec!["sigmamind.accounts: no account to watch".to_string()],
            )
            .into());
        }
        let watchers = Watchers::new(accounts)
            .with_heartbeat(heartbeat)
            .with_channels(channels.clone());
        let reasserters =
            reassert::reasserters(&channels, &reassert::reasserted_accounts(settings, store));
        Ok(Self {
            settings: settings.clone(),
            watchers: Arc::new(watchers),
            dispatcher: Dispatcher::new(store.clone(), channels.clone())
                .with_metrics(metrics.clone())
                .with_router(router)
                .with_board(settings.http.external_url.clone()),
            channels,
            reasserters,
            schedule: built.schedule,
        })
    }

    /// Start the cycle loop, the dispatcher and the re-asserters under a child
    /// of `shutdown`. The cycle loop waits for the previous generation's to end.
    pub(super) fn start(
        self,
        cycles: &Arc<Mutex<Cycles>>,
        dispatcher_wake: &Arc<Notify>,
        shutdown: &CancellationToken,
    ) -> Generation {
        let stop = shutdown.child_token();
        let tasks = TaskTracker::new();
        let cycling = tasks
            .spawn(cycle_loop(cycles.clone(), self.watchers, stop.clone()))
            .abort_handle();
        let sending = tasks
            .spawn(self.dispatcher.run(dispatcher_wake.clone(), stop.clone()))
            .abort_handle();
        for reasserter in self.reasserters {
            tasks.spawn(reasserter.run(stop.clone()));
        }
        tasks.close();
        Generation {
            settings: self.settings,
            schedule: self.schedule,
            stop,
            tasks,
            cycling,
            sending,
        }
    }
}

/// A generation at work.
pub(super) struct Generation {
    pub(super) settings: Settings,
    pub(super) schedule: Schedule,
    stop: CancellationToken,
    tasks: TaskTracker,
    cycling: AbortHandle,
    sending: AbortHandle,
}

/// Why a generation stops, which decides what is cut short past the grace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// A new generation takes over: a cycle still running finishes with the
    /// old configuration (the next generation's cycles wait for it).
    Reload,
    /// The process stops: a cycle still running is abandoned (its transaction
    /// rolls back).
    Shutdown,
}

impl Generation {
    /// Cancel, then wait for the cycle in flight and the drain in progress
    /// until `deadline`. Sends still running then are cut short either way, so
    /// no outbox row is picked up by two dispatchers; they stay pending.
    pub(super) async fn stop_by(&self, deadline: tokio::time::Instant, ending: Ending) {
        self.stop.cancel();
        if tokio::time::timeout_at(deadline, self.tasks.wait())
            .await
            .is_ok()
        {
            return;
        }
        if ending == Ending::Shutdown && !self.cycling.is_finished() {
            tracing::warn!(
                "cycle still running at shutdown; abandoned (its transaction rolls back)"
            );
            self.cycling.abort();
        }
        if !self.sending.is_finished() {
            match ending {
                Ending::Reload => tracing::warn!("reload: sends of the previous configuration were cut short; they stay pending in the outbox"),
                Ending::Shutdown => tracing::warn!("sends still running at shutdown; they stay pending in the outbox"),
            }
            self.sending.abort();
        }
    }
}

/// Validated settings, their warnings logged (before the errors too: a
/// warning may explain one, as a misspelled override does a missing key);
/// what validation built is kept.
pub(super) fn validated(settings: &Settings) -> Result<Built, StartupError> {
    let built = settings.validate();
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(built.map_err(|problems| ConfigError::invalid("configuration", problems))?)
}
