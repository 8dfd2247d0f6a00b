//! A sample event of every type, for `render`, `test-notify` and the check
//! every template override gets when it is loaded.

use super::*;

/// A realistic event of `kind`, for `render`, `check-config` and tests.
pub fn sample_event(kind: EventType, at: DateTime<Utc>) -> Event {
    let campaign = CampaignInfo {
        id: "camp_XiQEBcj9cc5TFRB4".into(),
        name: "Q4 Outreach Campaign".into(),
        status: CampaignStatus::Paused,
        previous_status: Some(CampaignStatus::Live),
        agent: Some(Agent {
            id: Some("agent_D5D0p7TUs66TTAEAx".into()),
            name: Some("New AI Agent".into()),
            status: Some("Live".into()),
        }),
        caller_number: Some("+14155552671".into()),
    };
    let errors = |n: usize| -> Vec<String> {
        (1..=n)
            .map(|row| format!("Row {}: invalid phone number", row + 1))
            .collect()
    };
    let mut event = Event {
        version: crate::event::PAYLOAD_VERSION.into(),
        id: event_id(&["sample", kind.as_str()]),
        kind,
        occurred_at: at,
        campaign: Some(campaign.clone()),
        upload_errors: UploadErrors::default(),
        changes: vec![],
        hints: vec![],
        summary: String::new(),
        account: crate::event::default_account(),
        incident: None,
        links: None,
    };
    let label = format!("{} ({})", campaign.name, campaign.id);
    match kind {
        EventType::StatusChanged => {
            event.summary = format!("{label}: live -> paused");
            event.hints = vec![crate::event::Hint {
                code: "caller_number_inactive".into(),
                text: "The caller number \"+14155552671\" is marked inactive by the API (phoneNumber.active is false): calls may not go out from it.".into(),
            }];
        }
        EventType::UploadErrorsAdded => {
            event.upload_errors = UploadErrors {
                added: errors(12),
                removed: vec![],
                current: errors(12),
            };
            event.summary = format!("{label}: 12 new upload errors");
        }
        EventType::UploadErrorsCleared => {
            event.upload_errors.removed = errors(2);
            event.summary = format!("{label}: upload errors cleared");
        }
        EventType::SettingsChanged => {
            event.changes = vec![Change {
                field: "concurrent_calls".into(),
                from: 5.into(),
                to: 10.into(),
            }];
            event.summary = format!("{label}: concurrent_calls 5 -> 10");
        }
        EventType::NotFound => {
            event.summary = format!("{label} no longer exists: the API answers 404");
        }
        EventType::FoundAgain => {
            event.summary =
                format!("{label} exists again (paused): the API answers it after a 404");
        }
        EventType::Reminder => {
            event.summary = format!("{label} is still paused");
        }
        EventType::ApiUnhealthy => {
            event.campaign = None;
            event.summary =
                "SigmaMind API unreadable for 3 consecutive cycles: connection refused".into();
        }
        EventType::ApiRecovered => {
            event.campaign = None;
            event.summary = "SigmaMind API recovered: campaigns are being watched again".into();
        }
        EventType::StoreUnhealthy => {
            event.campaign = None;
            event.summary = "The state store refused 3 consecutive commits (database or disk is full): changes are announced once it accepts them again".into();
        }
        EventType::StoreRecovered => {
            event.campaign = None;
            event.summary =
                "The state store accepts commits again: what changed meanwhile follows".into();
        }
        EventType::Test => {
            event.campaign = None;
            event.summary =
                "TEST from campaign-watcher: this is a test message, no campaign changed".into();
        }
        EventType::QuietHoursDigest => {
            event.campaign = None;
            event.summary = "Held during quiet hours (22:00-07:00 Europe/Berlin):\nQ4 Outreach Campaign (camp_XiQEBcj9cc5TFRB4): paused 23:10, resumed 23:40".into();
        }
        // Reading and delivery health.
        EventType::CampaignUnreadable => {
            event.summary = format!("{label} could not be read for 3 consecutive cycles: the SigmaMind API answer has the wrong shape: campaign {} has no \"campaignStatus\"", campaign.id);
        }
        EventType::CampaignReadable => {
            event.summary = format!("{label} can be read again");
        }
        EventType::ChannelUnhealthy => {
            event.campaign = None;
            event.summary = "Channel \"ops-slack\" is failing: 3 deliveries dead, failing since 09:00 UTC; last error: the endpoint answered HTTP 410".into();
        }
        EventType::ChannelRecovered => {
            event.campaign = None;
            event.summary = "Channel \"ops-slack\" delivers again".into();
        }
    }
    // The starts of conditions (and a reminder) belong to an episode that
    // began with them; its end's sample is made by the tests that need one.
    if matches!(
        kind,
        EventType::StatusChanged
            | EventType::UploadErrorsAdded
            | EventType::NotFound
            | EventType::Reminder
            | EventType::ApiUnhealthy
            | EventType::CampaignUnreadable
    ) {
        event.incident = Some(crate::event::IncidentInfo::started(&event.id, at));
    }
    event
}
