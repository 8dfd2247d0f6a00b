//! The `demo` story: a handful of named campaigns that change every step, so a
//! watcher pointed at the simulator keeps producing alerts until Ctrl-C.

use std::time::Duration;

use serde_json::{json, Value};

use super::SimControl;

const Q4_OUTREACH: &str = "camp_Q4Outreach2026Ab";
const RENEWALS_MAY: &str = "camp_RenewalsMay01Cd";
const WEBINAR_FOLLOW_UP: &str = "camp-WebinarFollowUpEf";
const WIN_BACK: &str = "camp_WinBackSpring1Gh";
const NPS_SURVEY: &str = "XiQENpsSurvey2026Ij";

/// The demo's starting point: one campaign per status, in the API's own shapes.
pub fn demo_campaigns() -> Vec<Value> {
    vec![
        campaign(
            Q4_OUTREACH,
            "Q4 Outreach Campaign",
            "live",
            None,
            "Outreach Bot",
            "+15550100001",
        ),
        campaign(
            RENEWALS_MAY,
            "Renewals May",
            "live",
            None,
            "Renewal Bot",
            "+15550100002",
        ),
        campaign(
            WEBINAR_FOLLOW_UP,
            "Webinar Follow-up",
            "scheduled",
            Some("2027-01-15T09:00:00.000Z"),
            "Webinar Bot",
            "+15550100003",
        ),
        campaign(
            WIN_BACK,
            "Win-back Spring",
            "live",
            None,
            "Win-back Bot",
            "+15550100004",
        ),
        campaign(
            NPS_SURVEY,
            "NPS Survey",
            "completed",
            None,
            "Survey Bot",
            "+15550100005",
        ),
    ]
}

fn campaign(
    id: &str,
    name: &str,
    status: &str,
    scheduled_date: Option<&str>,
    agent_name: &str,
    caller: &str,
) -> Value {
    json!({
        "campaignId": id,
        "campaignName": name,
        "campaignStatus": status,
        "scheduledDate": scheduled_date,
        "concurrentCalls": 3,
        "agent": {"name": agent_name, "agentId": format!("agent_{}", id.trim_start_matches("camp_").trim_start_matches("camp-")), "status": "Live"},
        "phoneNumber": {"sipPhoneNumber": caller, "provider": "telnyx", "outboundPhoneNumber": caller, "active": true},
        "errors": [],
        "scheduled": scheduled_date.is_some()
    })
}

/// One beat of the story, applied through the same control the admin API uses.
enum Beat {
    Status(&'static str, &'static str),
    Errors(&'static str, &'static [&'static str]),
    GoLive(&'static str),
    Reset,
}

const STORY: [Beat; 7] = [
    Beat::Status(Q4_OUTREACH, "paused"),
    Beat::Errors(
        RENEWALS_MAY,
        &[
            "Row 14: invalid phone number",
            "Row 52: missing column 'first_name'",
        ],
    ),
    Beat::Status(Q4_OUTREACH, "live"),
    Beat::GoLive(WEBINAR_FOLLOW_UP),
    Beat::Errors(RENEWALS_MAY, &[]),
    Beat::Status(WIN_BACK, "completed"),
    Beat::Reset,
];

/// Plays the story every `step`, forever; the caller stops it by dropping or aborting the task.
pub async fn run_demo_script(control: SimControl, step: Duration) {
    loop {
        for beat in &STORY {
            tokio::time::sleep(step).await;
            apply(&control, beat);
        }
    }
}

fn apply(control: &SimControl, beat: &Beat) {
    match beat {
        Beat::Status(id, status) => {
            control.set_status(id, status);
        }
        Beat::Errors(id, rows) => {
            control.set_errors(id, rows.iter().map(|row| row.to_string()).collect());
        }
        Beat::GoLive(id) => {
            control.patch(
                id,
                json!({"campaignStatus": "live", "scheduledDate": null, "scheduled": false}),
            );
        }
        Beat::Reset => {
            // Re-inserting restores anything a person changed or removed through the admin API.
            for original in demo_campaigns() {
                control.insert(original);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{start, SimOptions};

    #[tokio::test]
    async fn the_story_changes_campaigns_and_cycles_back() {
        let server = start(
            "127.0.0.1:0".parse().unwrap(),
            SimOptions {
                campaigns: 0,
                api_key: None,
            },
        )
        .await
        .unwrap();
        for campaign in demo_campaigns() {
            server.control.insert(campaign);
        }
        let status_of = |id: &str| {
            server
                .control
                .raw(id)
                .and_then(|c| c["campaignStatus"].as_str().map(String::from))
        };
        for beat in &STORY[..4] {
            apply(&server.control, beat);
        }
        assert_eq!(status_of(Q4_OUTREACH).as_deref(), Some("live"));
        assert_eq!(status_of(WEBINAR_FOLLOW_UP).as_deref(), Some("live"));
        assert_eq!(
            server.control.raw(RENEWALS_MAY).unwrap()["errors"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        for beat in &STORY[4..] {
            apply(&server.control, beat);
        }
        assert_eq!(status_of(WEBINAR_FOLLOW_UP).as_deref(), Some("scheduled"));
        assert_eq!(status_of(WIN_BACK).as_deref(), Some("live"));
        assert_eq!(server.control.ids().len(), 5);
        server.stop().await;
    }
}
