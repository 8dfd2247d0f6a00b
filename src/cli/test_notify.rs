//! `test-notify`: a clearly marked test event to one channel, or to every channel.

use std::path::Path;

use chrono::Utc;

use clap::Args;

use super::failure::Failure;
use crate::config::Settings;
use crate::deliver::{ChannelSet, SendOutcome};
use crate::event::{event_id, Event, EventType, UploadErrors, PAYLOAD_VERSION};

#[derive(Debug, Args)]
pub struct TestNotifyArgs {
    /// The channel's name (a `[channels.NAME]` section); every channel when omitted.
    channel: Option<String>,
}

impl TestNotifyArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self { channel } = self;
        let only = channel.as_deref();
        let settings = Settings::load(config)?;
        let channels =
            ChannelSet::build_for_instance(&settings.channels, &settings.instance_name())
                .map_err(Failure::usage)?;
        let names: Vec<String> = match only {
            Some(name) if channels.get(name).is_none() => {
                return Err(Failure::usage(format!(
                    "there is no channel named {name:?} in {}",
                    config.display()
                )))
            }
            Some(name) => vec![name.to_string()],
            None => channels.names(),
        };
        if names.is_empty() {
            return Err(Failure::usage(format!(
                "{} configures no channels",
                config.display()
            )));
        }
        let now = Utc::now();
        let event = Event {
            version: PAYLOAD_VERSION.into(),
            id: event_id(&[
                "test",
                &now.timestamp_nanos_opt().unwrap_or_default().to_string(),
            ]),
            kind: EventType::Test,
            occurred_at: now,
            campaign: None,
            upload_errors: UploadErrors::default(),
            changes: vec![],
            hints: vec![],
            summary: "TEST from campaign-watcher: this is a test message, no campaign changed"
                .into(),
            account: None,
            incident: None,
            links: None,
        };
        let mut failed = 0;
        for name in &names {
            let Some(channel) = channels.get(name) else {
                continue;
            };
            match channel.channel.send(&event).await {
                SendOutcome::Delivered { detail } => {
                    say!("{name}: delivered ({})", crate::text::terminal(&detail))
                }
                SendOutcome::Retry { reason, .. } | SendOutcome::Permanent { reason } => {
                    failed += 1;
                    say!("{name}: FAILED: {}", crate::text::terminal(&reason));
                }
            }
        }
        if failed > 0 {
            return Err(Failure::runtime(format!(
                "{failed} of {} channels failed",
                names.len()
            )));
        }
        Ok(())
    }
}
