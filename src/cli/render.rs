//! `render`: print exactly what a channel would send for a sample event, without sending.

use std::path::Path;

use chrono::Utc;

use super::failure::Failure;
use crate::config::Settings;
use crate::deliver::{Channel, ChannelSet, ConsoleChannel};
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
    let output = match &configured.channel {
        Channel::Email(email) if raw => email
            .compose(&events)
            .map(|message| String::from_utf8_lossy(&message.formatted()).into_owned()),
        Channel::Email(email) => email.preview(&events),
        Channel::Webhook(_) => Ok(events
            .iter()
            .map(|event| serde_json::to_string_pretty(event).unwrap_or_default() + "\n")
            .collect()),
        Channel::Console(_) => Ok(events
            .iter()
            .map(|event| ConsoleChannel::line(event) + "\n")
            .collect()),
        Channel::Slack(slack) if slack.groups() => slack.payload(&events).map(pretty),
        Channel::Slack(slack) => each(&events, |event| slack.payload(std::slice::from_ref(event))),
        Channel::Discord(discord) => each(&events, |event| discord.payload(event)),
        Channel::Teams(teams) => each(&events, |event| teams.payload(event)),
        Channel::Pagerduty(pagerduty) => pagerduty.preview(&events),
        Channel::Alertmanager(alertmanager) => alertmanager.preview(&events),
    }
    .map_err(Failure::runtime)?;
    super::output::verbatim(&output);
    Ok(())
}

fn pretty(body: serde_json::Value) -> String {
    serde_json::to_string_pretty(&body).unwrap_or_default() + "\n"
}

/// One JSON body per event, as a channel that sends events one by one would.
fn each(
    events: &[Event],
    payload: impl Fn(&Event) -> Result<serde_json::Value, String>,
) -> Result<String, String> {
    events
        .iter()
        .map(|event| payload(event).map(pretty))
        .collect()
}
