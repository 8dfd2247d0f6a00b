//! `render`: print exactly what a channel would send for a sample event, without sending.

use std::path::Path;

use chrono::Utc;

use super::failure::Failure;
use crate::config::Settings;
use crate::deliver::ChannelSet;
use crate::event::{Event, EventType};

pub(super) fn render(
    config: &Path,
    channel_name: &str,
    event_type: &str,
    digest: bool,
    raw: bool,
) -> Result<(), Failure> {
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
    let only =
        std::collections::BTreeMap::from([(channel_name.to_string(), channel_settings.clone())]);
    let channels =
        ChannelSet::build_for_instance(&only, &settings.instance_name()).map_err(Failure::usage)?;
    let Some(configured) = channels.get(channel_name) else {
        return Err(Failure::usage(format!(
            "channel {channel_name:?} could not be built"
        )));
    };
    let output = configured
        .channel
        .preview(&events, raw)
        .map_err(Failure::runtime)?;
    print!("{output}");
    Ok(())
}
