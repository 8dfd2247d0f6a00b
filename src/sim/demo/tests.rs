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
