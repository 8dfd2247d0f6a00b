use chrono::{TimeZone, Utc};

use super::*;
use crate::deliver::channel::BuildContext;

use crate::event::EventType;
use crate::render::sample_event;
use crate::route::condition::Severity;

#[test]
fn payload_has_content_embed_colour_and_no_mentions() {
    let settings = DiscordSettings {
        url: Some("https://discord.com/api/webhooks/1/TOKEN".into()),
        severity: Some([("paused".into(), "critical".into())].into()),
        ..DiscordSettings::default()
    };
    let channel = DiscordChannel::new(&settings, &BuildContext::for_tests("d")).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let paused = channel
        .payload(&sample_event(EventType::StatusChanged, at))
        .unwrap();
    assert_eq!(paused["content"], "Q4 Outreach Campaign: live → paused");
    assert_eq!(paused["allowed_mentions"]["parse"], json!([]));
    assert_eq!(paused["embeds"][0]["color"], Severity::Critical.colour());
    assert!(paused["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("camp_XiQEBcj9cc5TFRB4"));
    let recovered = channel
        .payload(&sample_event(EventType::ApiRecovered, at))
        .unwrap();
    assert_eq!(recovered["embeds"][0]["color"], RESOLVED_COLOUR);
}
