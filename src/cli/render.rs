//! `render`: print exactly what a channel would send for a sample event, without sending.

use std::path::Path;

use chrono::Utc;

use clap::Args;

use super::failure::Failure;
use crate::config::Settings;
use crate::deliver::ChannelSet;
use crate::event::{Event, EventType};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The channel's name (a `[channels.NAME]` section).
    channel: String,
    /// Event type of the sample (e.g. campaign.upload_errors_added).
    #[arg(long, default_value = "campaign.status_changed")]
    event: String,
    /// Print a digest of one sample of every event type instead of one event.
    #[arg(long, conflicts_with = "event")]
    digest: bool,
    /// Email: print the MIME message as it goes over SMTP.
    #[arg(long)]
    raw: bool,
}

impl RenderArgs {
    pub(super) fn run(self, config: &Path) -> Result<(), Failure> {
        let Self {
            channel,
            event,
            digest,
            raw,
        } = self;
        let (channel_name, event_type) = (channel.as_str(), event.as_str());
        let settings = Settings::load(config)?;
        let Some(channel_settings) = settings.channels.get(channel_name) else {
            return Err(Failure::usage(format!(
                "there is no channel named {channel_name:?} in {}",
                config.display()
            )));
        };
        let kind = EventType::parse(event_type).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
            Failure::usage(format!(
                "--event {event_type:?} is not an event type (known: {})",
                known.join(", ")
            ))
        })?;
        let now = Utc::now();
        let events: Vec<Event> = if digest {
            EventType::ALL
                .into_iter()
                .filter(|kind| *kind != EventType::Test)
                .map(|kind| crate::render::sample_event(kind, now))
                .collect()
        } else {
            vec![crate::render::sample_event(kind, now)]
        };
        let only = std::collections::BTreeMap::from([(
            channel_name.to_string(),
            channel_settings.clone(),
        )]);
        let channels = ChannelSet::build_for_instance(&only, &settings.instance_name())
            .map_err(Failure::usage)?;
        let Some(configured) = channels.get(channel_name) else {
            return Err(Failure::usage(format!(
                "channel {channel_name:?} could not be built"
            )));
        };
        let output = configured
            .channel
            .preview(&events, raw)
            .map_err(Failure::runtime)?;
        super::output::verbatim(&output);
        Ok(())
    }
}
