use chrono::{TimeZone, Utc};

use super::*;
use crate::render::sample_event;
use Condition::*;
use Transition::*;

fn status_event(from: Option<CampaignStatus>, to: CampaignStatus) -> Event {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let mut event = sample_event(EventType::StatusChanged, at);
    if let Some(campaign) = event.campaign.as_mut() {
        campaign.previous_status = from;
        campaign.status = to;
    }
    event
}

#[test]
fn status_changes_start_and_end_the_pause() {
    use CampaignStatus as S;
    let cases = [
        (Some(S::Live), S::Paused, vec![Starts(Paused)]),
        (Some(S::Scheduled), S::Paused, vec![Starts(Paused)]),
        (Some(S::Paused), S::Live, vec![Ends(Paused)]),
        (Some(S::Paused), S::Completed, vec![Ends(Paused)]),
        (Some(S::Live), S::Completed, vec![]),
        (Some(S::Scheduled), S::Live, vec![]),
        (None, S::Paused, vec![Starts(Paused)]),
    ];
    for (from, to, expected) in cases {
        assert_eq!(
            transitions(&status_event(from.clone(), to.clone())),
            expected,
            "{from:?} -> {to:?}"
        );
    }
}

#[test]
fn every_event_type_maps_to_its_condition() {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let cases = [
        (EventType::UploadErrorsAdded, vec![Starts(UploadErrors)]),
        (EventType::UploadErrorsCleared, vec![Ends(UploadErrors)]),
        (EventType::NotFound, vec![Starts(NotFound)]),
        (EventType::FoundAgain, vec![Ends(NotFound)]),
        // The sample reminder is about a paused campaign.
        (EventType::Reminder, vec![Starts(Paused)]),
        (EventType::ApiUnhealthy, vec![Starts(ApiUnhealthy)]),
        (EventType::ApiRecovered, vec![Ends(ApiUnhealthy)]),
        (EventType::StoreUnhealthy, vec![Starts(StoreUnhealthy)]),
        (EventType::StoreRecovered, vec![Ends(StoreUnhealthy)]),
        (EventType::SettingsChanged, vec![]),
        (EventType::Test, vec![]),
    ];
    for (kind, expected) in cases {
        assert_eq!(transitions(&sample_event(kind, at)), expected, "{kind:?}");
    }
}

#[test]
fn dedup_keys_are_per_campaign_and_condition() {
    assert_eq!(
        Paused.dedup_key(None, Some("camp_1")),
        "campaign-watcher/camp_1/paused"
    );
    assert_eq!(
        UploadErrors.dedup_key(None, Some("camp_1")),
        "campaign-watcher/camp_1/upload_errors"
    );
    assert_eq!(
        ApiUnhealthy.dedup_key(None, None),
        "campaign-watcher/watcher/api_unhealthy"
    );
    // Every account but `default` (given as none) has keys of its own.
    assert_eq!(
        Paused.dedup_key(Some("acme"), Some("camp_1")),
        "campaign-watcher@acme/camp_1/paused"
    );
    assert_eq!(
        ApiUnhealthy.dedup_key(Some("acme"), None),
        "campaign-watcher@acme/watcher/api_unhealthy"
    );
    assert_ne!(
        Paused.dedup_key(Some("acme"), Some("camp_1")),
        Paused.dedup_key(Some("globex"), Some("camp_1"))
    );
}

#[test]
fn severity_map_accepts_condition_names_and_event_types() {
    let configured = BTreeMap::from([
        ("paused".to_string(), "critical".to_string()),
        ("watcher.api_unhealthy".to_string(), "error".to_string()),
    ]);
    let map = SeverityMap::parse(Some(&configured)).unwrap();
    assert_eq!(map.get(Paused), Severity::Critical);
    assert_eq!(map.get(ApiUnhealthy), Severity::Error);
    assert_eq!(map.get(UploadErrors), Severity::Warning);
    assert_eq!(map.get(NotFound), Severity::Error);

    let bad = BTreeMap::from([
        ("pasued".to_string(), "warning".to_string()),
        ("paused".to_string(), "loud".to_string()),
    ]);
    let problems = SeverityMap::parse(Some(&bad)).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("\"paused\" = \"loud\"")));
    assert!(problems
        .iter()
        .any(|p| p.contains("\"pasued\" is not a condition")));
}

/// A silence must not swallow the end of a condition whose start was sent:
/// that would leave a PagerDuty incident (or a worried person) waiting forever.
#[test]
fn a_condition_counts_as_announced_only_after_an_unsilenced_start() {
    use CampaignStatus as S;
    let pause = status_event(Some(S::Live), S::Paused);
    let resume = status_event(Some(S::Paused), S::Live);
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let errors = sample_event(EventType::UploadErrorsAdded, at);
    let gone = sample_event(EventType::NotFound, at);
    // (history newest first as (event, silenced), condition, announced?)
    type History<'a> = Vec<(&'a Event, bool)>;
    let cases: Vec<(History, Condition, bool)> = vec![
        (vec![], Paused, false),
        (vec![(&pause, false)], Paused, true),
        (vec![(&pause, true)], Paused, false),
        // An earlier pause was sent and then ended: this episode was silenced.
        (
            vec![(&pause, true), (&resume, false), (&pause, false)],
            Paused,
            false,
        ),
        // Other news in between does not matter.
        (vec![(&errors, true), (&pause, false)], Paused, true),
        // Upload errors: any unsilenced addition since the last clearing.
        (vec![(&errors, true), (&errors, false)], UploadErrors, true),
        (vec![(&errors, true)], UploadErrors, false),
        (vec![(&gone, false)], NotFound, true),
        (vec![(&gone, false)], Paused, false),
    ];
    for (index, (history, condition, expected)) in cases.into_iter().enumerate() {
        assert_eq!(announced(condition, history), expected, "case {index}");
    }
    assert_eq!(ended_by(&resume), [Paused]);
    assert!(ended_by(&pause).is_empty());
}

#[test]
fn a_resume_ends_an_announced_pause_only_when_its_start_was_sent() {
    let paused = status_event(Some(CampaignStatus::Live), CampaignStatus::Paused);
    let resumed = status_event(Some(CampaignStatus::Paused), CampaignStatus::Live);
    // Newest first: the pause went out, so its end must too.
    assert!(ends_an_announced_condition(
        &resumed,
        &[(paused.clone(), false)]
    ));
    // A silenced pause was never sent: its end is silenced with it.
    assert!(!ends_an_announced_condition(
        &resumed,
        &[(paused.clone(), true)]
    ));
    // News ends nothing, whatever the history.
    let news = sample_event(EventType::SettingsChanged, Utc::now());
    assert!(!ends_an_announced_condition(&news, &[(paused, false)]));
}

#[test]
fn a_severity_table_is_parsed_once_when_read_and_shown_as_written() {
    let table: SeverityTable =
        serde_json::from_str(r#"{"paused": "critical", "campaign.not_found": "info"}"#).unwrap();
    assert!(table.problems().is_empty());
    let map = table.map().unwrap();
    assert_eq!(map.get(Condition::Paused), Severity::Critical);
    assert_eq!(map.get(Condition::NotFound), Severity::Info);
    assert_eq!(
        serde_json::to_value(&table).unwrap(),
        serde_json::json!({"paused": "critical", "campaign.not_found": "info"})
    );

    let bad: SeverityTable = serde_json::from_str(r#"{"Paused": "loud"}"#).unwrap();
    assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
    assert!(bad.map().is_err());
}
