//! What `routes test` and `replay` share: the configuration whose routing they
//! ask about (validated like `check-config`), compiled into the daemon's own
//! router and each channel's quiet hours and rate limit, and how a store that
//! may not exist is opened.

use std::collections::BTreeMap;
use std::path::Path;

use super::failure::Failure;
use crate::commit::Store;
use crate::config::{Built, ConfigError, Settings};
use crate::deliver::ChannelSet;
use crate::route::decide::Shaping;
use crate::route::Router;

/// One configuration's routing.
pub(super) struct Routing {
    pub settings: Settings,
    pub router: Router,
    pub shaping: BTreeMap<String, Shaping>,
}

/// Load and validate `config` and compile its routing; any problem exits 2.
pub(super) fn load(config: &Path) -> Result<Routing, Failure> {
    let settings = Settings::load(config)?;
    let Built {
        router,
        mut shaping,
        ..
    } = settings
        .validate()
        .map_err(|problems| ConfigError::invalid(config.display().to_string(), problems))?;
    // Whether a channel batches is decided by the channel itself: build them
    // (nothing connects or sends).
    let built = ChannelSet::build_for_instance(&settings.channels, &settings.instance_name())
        .map_err(Failure::usage)?;
    for (name, shaping) in &mut shaping {
        if let Some(configured) = built.get(name) {
            shaping.batches = configured.channel.sends_batches();
            shaping.groups = configured.channel.groups();
        }
    }
    Ok(Routing {
        settings,
        router,
        shaping,
    })
}

/// The store at `url`, or `None` for a SQLite file that does not exist (a
/// watcher that never ran, a CI checkout): nothing is created.
pub(super) async fn open_existing(url: &str) -> Result<Option<Store>, Failure> {
    if let Some(file) = Store::file_of(url) {
        if !file.exists() {
            return Ok(None);
        }
    }
    Store::open(url).await.map(Some).map_err(Failure::usage)
}
