use std::path::Path;

use super::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 15, 2).unwrap()
}

fn context(timezone: Option<Tz>) -> RenderContext {
    RenderContext {
        instance: "watch-01".into(),
        timezone,
    }
}

fn status_event(id: &str, name: &str, from: CampaignStatus, to: CampaignStatus) -> Event {
    let mut event = sample_event(EventType::StatusChanged, at());
    let campaign = event.campaign.as_mut().unwrap();
    campaign.id = id.into();
    campaign.name = name.into();
    campaign.previous_status = Some(from);
    campaign.status = to;
    event.id = event_id(&[id, "status"]);
    event
}

#[test]
fn headlines_name_the_campaign_and_the_change() {
    let cases: [(EventType, &str); 12] = [
        (
            EventType::StatusChanged,
            "Q4 Outreach Campaign: live → paused",
        ),
        (
            EventType::UploadErrorsAdded,
            "Q4 Outreach Campaign: 12 new upload errors",
        ),
        (
            EventType::UploadErrorsCleared,
            "Q4 Outreach Campaign: upload errors cleared",
        ),
        (
            EventType::SettingsChanged,
            "Q4 Outreach Campaign: settings changed (concurrent_calls)",
        ),
        (EventType::NotFound, "Q4 Outreach Campaign: no longer found"),
        (
            EventType::FoundAgain,
            "Q4 Outreach Campaign: found again (paused)",
        ),
        (EventType::Reminder, "Q4 Outreach Campaign: still paused"),
        (
            EventType::ApiUnhealthy,
            "SigmaMind API unhealthy: campaigns are not being watched",
        ),
        (EventType::ApiRecovered, "SigmaMind API recovered"),
        (
            EventType::StoreUnhealthy,
            "State store unwritable: changes are not being recorded",
        ),
        (EventType::StoreRecovered, "State store recovered"),
        (EventType::Test, "TEST message: no campaign changed"),
    ];
    for (kind, expected) in cases {
        assert_eq!(headline(&sample_event(kind, at())), expected, "{kind}");
    }
}

#[test]
fn every_account_but_default_is_named_in_the_headline_and_the_body() {
    let context = RenderContext {
        instance: "host-1".into(),
        timezone: None,
    };
    let mut event = sample_event(EventType::StatusChanged, at());
    event.assign_account("default");
    let plain = Templates::builtin()
        .render(std::slice::from_ref(&event), &context)
        .unwrap();
    assert_eq!(headline(&event), "Q4 Outreach Campaign: live → paused");
    assert!(!plain.text.contains("Account:"), "{}", plain.text);
    event.account = Some("acme".into());
    assert_eq!(
        headline(&event),
        "acme · Q4 Outreach Campaign: live → paused"
    );
    let named = Templates::builtin()
        .render(std::slice::from_ref(&event), &context)
        .unwrap();
    assert!(named.subject.contains("acme · Q4"), "{}", named.subject);
    assert!(named.text.contains("Account:    acme"), "{}", named.text);
    assert!(named.html.contains(">acme<"), "{}", named.html);
    // One id in two accounts is two campaigns in a digest.
    let mut other = event.clone();
    other.account = Some("globex".into());
    assert_eq!(
        digest_headline(&[event, other]),
        "acme · Q4 Outreach Campaign paused, and 1 more change"
    );
}

#[test]
fn digest_headlines_lead_with_the_worst_change_and_count_the_rest() {
    let paused = |id: &str| status_event(id, id, CampaignStatus::Live, CampaignStatus::Paused);
    let errors = sample_event(EventType::UploadErrorsAdded, at());
    let unhealthy = sample_event(EventType::ApiUnhealthy, at());
    let cases: Vec<(Vec<Event>, &str)> = vec![
        (
            vec![paused("a"), paused("b")],
            "a paused, and 1 more change",
        ),
        (
            vec![errors.clone(), paused("camp_XiQEBcj9cc5TFRB4")],
            "camp_XiQEBcj9cc5TFRB4 paused, and 1 more change",
        ),
        (
            vec![paused("a"), paused("b"), paused("c"), unhealthy.clone()],
            "SigmaMind API unhealthy: campaigns are not being watched, and 3 more changes",
        ),
        (
            vec![unhealthy.clone(), unhealthy],
            "SigmaMind API unhealthy: campaigns are not being watched",
        ),
    ];
    for (events, expected) in cases {
        assert_eq!(digest_headline(&events), expected);
    }
}

/// An agency's grouped cycle: a resume, then another client's pause. The
/// headline and the body lead with the pause and name its account.
#[test]
fn a_digest_names_the_worst_change_with_its_account_and_lists_problems_first() {
    let mut resume = status_event(
        "camp_n",
        "Spring North",
        CampaignStatus::Paused,
        CampaignStatus::Live,
    );
    resume.account = Some("clienta".into());
    let mut pause = status_event(
        "camp_w",
        "Winback South",
        CampaignStatus::Live,
        CampaignStatus::Paused,
    );
    pause.account = Some("clientb".into());
    let mut completed = status_event(
        "camp_c",
        "Autumn East",
        CampaignStatus::Live,
        CampaignStatus::Completed,
    );
    completed.account = Some("clienta".into());
    let events = [resume, completed, pause];
    assert_eq!(
        digest_headline(&events),
        "clientb · Winback South paused, and 2 more changes"
    );
    let rendered = Templates::builtin()
        .render(&events, &context(None))
        .unwrap();
    assert_eq!(
        rendered.subject,
        "[campaign-watcher] clientb · Winback South paused, and 2 more changes"
    );
    let at = |text: &str| rendered.text.find(text).unwrap_or(usize::MAX);
    assert!(
        at("Winback South") < at("Spring North") && at("Winback South") < at("Autumn East"),
        "{}",
        rendered.text
    );
}

#[test]
fn a_single_status_change_renders_every_fact_in_both_parts() {
    let templates = Templates::builtin();
    let event = sample_event(EventType::StatusChanged, at());
    let rendered = templates
        .render(
            std::slice::from_ref(&event),
            &context(Some(Tz::Europe__Berlin)),
        )
        .unwrap();
    assert_eq!(
        rendered.subject,
        "[campaign-watcher] Q4 Outreach Campaign: live → paused"
    );
    // minijinja's HTML escaping also escapes '/'.
    let html = rendered.html.replace("&#x2f;", "/");
    for part in [&rendered.text, &html] {
        for fact in [
            "Q4 Outreach Campaign",
            "camp_XiQEBcj9cc5TFRB4",
            "live → ",
            "paused",
            "New AI Agent (agent_D5D0p7TUs66TTAEAx)",
            "+14155552671",
            "2026-11-26 09:15:02 UTC",
            "2026-11-26 10:15:02 CET (Europe/Berlin)",
            "watch-01",
            event.id.as_str(),
        ] {
            assert!(part.contains(fact), "{fact:?} missing from:\n{part}");
        }
    }
    assert!(rendered.text.contains("Status:     live → paused\n"));
    // No tracking: nothing is fetched when the HTML is opened.
    for remote in ["<img", "http://", "https://", "<link", "<script"] {
        assert!(!rendered.html.contains(remote), "{remote} in html");
    }
}

#[test]
fn without_a_timezone_only_utc_is_shown() {
    let rendered = Templates::builtin()
        .render(
            &[sample_event(EventType::StatusChanged, at())],
            &context(None),
        )
        .unwrap();
    assert!(rendered
        .text
        .contains("Detected:   2026-11-26 09:15:02 UTC\nEvent id:"));
    assert!(!rendered.text.contains("Europe"));
}

#[test]
fn upload_errors_are_capped_with_and_n_more() {
    let rendered = Templates::builtin()
        .render(
            &[sample_event(EventType::UploadErrorsAdded, at())],
            &context(None),
        )
        .unwrap();
    assert!(rendered
        .text
        .contains("Upload errors added (12):\n  - Row 2: invalid phone number\n"));
    assert!(rendered
        .text
        .contains("  - Row 11: invalid phone number\n  ... and 2 more\n"));
    assert!(!rendered.text.contains("Row 12:"));
    assert!(rendered.html.contains("<li>and 2 more</li>"));
    let cleared = Templates::builtin()
        .render(
            &[sample_event(EventType::UploadErrorsCleared, at())],
            &context(None),
        )
        .unwrap();
    assert!(cleared.text.contains("Upload errors removed (2):"));
}

#[test]
fn a_digest_lists_every_event_under_one_subject() {
    let events: Vec<Event> = (0..50)
        .map(|n| {
            status_event(
                &format!("camp_{n:02}"),
                &format!("Campaign {n:02}"),
                CampaignStatus::Live,
                CampaignStatus::Paused,
            )
        })
        .collect();
    let rendered = Templates::builtin()
        .render(&events, &context(None))
        .unwrap();
    assert_eq!(
        rendered.subject,
        "[campaign-watcher] Campaign 00 paused, and 49 more changes"
    );
    for n in 0..50 {
        let line = format!("{}. Campaign {n:02}: live → paused", n + 1);
        assert!(rendered.text.contains(&line), "{line} missing");
        assert!(rendered.html.contains(&format!("Campaign {n:02}")));
    }
}

#[test]
fn api_text_is_escaped_in_html_and_kept_on_one_subject_line() {
    let mut event = sample_event(EventType::StatusChanged, at());
    event.campaign.as_mut().unwrap().name = "<b>Evil</b>\r\nBcc: x@example.com".into();
    let rendered = Templates::builtin()
        .render(&[event], &context(None))
        .unwrap();
    assert_eq!(
        rendered.subject,
        "[campaign-watcher] <b>Evil</b> Bcc: x@example.com: live → paused"
    );
    assert!(rendered.html.contains("&lt;b&gt;Evil&lt;&#x2f;b&gt;"));
    assert!(!rendered.html.contains("<b>Evil"));
}

/// A line break in API text cannot start a line of the body: no forged
/// `Status:` line in the text, no forged field in a chat message.
#[test]
fn api_text_cannot_start_a_line_of_the_body() {
    let mut event = sample_event(EventType::UploadErrorsAdded, at());
    event.campaign.as_mut().unwrap().name = "Q4\nStatus:     live".into();
    event.upload_errors.added = vec!["Row 2\r\nEvent id:   forged".into()];
    let rendered = Templates::builtin()
        .render(&[event], &context(None))
        .unwrap();
    assert!(
        rendered.text.contains("Campaign:   Q4 Status: live ("),
        "{}",
        rendered.text
    );
    assert!(
        rendered.text.contains("  - Row 2 Event id: forged\n"),
        "{}",
        rendered.text
    );
    assert!(!rendered.text.contains("\nStatus:     live\n"));
}

#[test]
fn the_test_event_is_clearly_marked() {
    let rendered = Templates::builtin()
        .render(&[sample_event(EventType::Test, at())], &context(None))
        .unwrap();
    assert_eq!(
        rendered.subject,
        "[campaign-watcher] TEST message: no campaign changed"
    );
    assert!(rendered
        .text
        .starts_with("This is a TEST message from campaign-watcher on watch-01."));
    assert!(rendered.html.contains("<strong>TEST message</strong>"));
}

#[test]
fn every_event_type_renders_with_the_builtin_templates() {
    Templates::builtin().check().unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn template_files_replace_the_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    let files = TemplateFiles {
        subject: Some(write(
            dir.path(),
            "s.txt",
            "ALERT {{ count }}: {{ headline }}",
        )),
        text: None,
        html: None,
    };
    let templates = Templates::load(&files).unwrap();
    let rendered = templates
        .render(&[sample_event(EventType::NotFound, at())], &context(None))
        .unwrap();
    assert_eq!(
        rendered.subject,
        "ALERT 1: Q4 Outreach Campaign: no longer found"
    );
    assert!(rendered.text.contains("Campaign:   Q4 Outreach Campaign"));
}

#[test]
fn broken_templates_are_found_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.txt", "{% if headline %}unclosed", "syntax error"),
        ("typo.txt", "{{ headlin }}", "undefined value"),
        // Fine for campaign events, fails for watcher events (campaign is none).
        (
            "watcher.txt",
            "{{ event.campaign.name }}",
            "undefined value",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(dir.path(), name, text);
        let files = TemplateFiles {
            subject: None,
            text: Some(path.clone()),
            html: None,
        };
        let error = Templates::load(&files).unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains(expected), "{name}: {error}");
    }
    let missing = TemplateFiles {
        html: Some(dir.path().join("nope.html")),
        ..TemplateFiles::default()
    };
    let error = Templates::load(&missing).unwrap_err().to_string();
    assert!(error.starts_with("cannot read template file"), "{error}");
}

#[test]
fn a_megabyte_of_api_text_gives_a_message_of_kilobytes() {
    let huge = "é<x>\u{1b}".repeat(1 << 18);
    let mut event = status_event(
        "camp_huge",
        &huge,
        CampaignStatus::Live,
        CampaignStatus::Paused,
    );
    event.summary = huge.clone();
    event.upload_errors.added = vec![huge.clone(); 50];
    let rendered = Templates::builtin()
        .render(std::slice::from_ref(&event), &context(None))
        .unwrap();
    assert!(rendered.subject.chars().count() <= SUBJECT_CHARS);
    assert!(!rendered.subject.chars().any(char::is_control));
    for (part, body) in [("text", &rendered.text), ("html", &rendered.html)] {
        assert!(body.len() < 64 * 1024, "{part} is {} bytes", body.len());
        assert!(body.contains(&event.id), "{part} lost the event id");
    }
}

/// Hints quote API text: one line each in the text, escaped in the HTML,
/// under a heading that says they are possible causes, not a diagnosis.
#[test]
fn hints_are_listed_as_possible_causes_and_escaped() {
    let mut event = sample_event(EventType::StatusChanged, at());
    event.hints = vec![
        crate::event::Hint {
            code: "caller_number_inactive".into(),
            text: "The caller number \"+1555\" is marked inactive by the API.".into(),
        },
        crate::event::Hint {
            code: "agent_not_live".into(),
            text: "The agent \"<b>Bot</b>\nEvent id:   forged\" reports the status \"Testing\""
                .into(),
        },
    ];
    let rendered = Templates::builtin()
        .render(&[event.clone()], &context(None))
        .unwrap();
    assert!(
        rendered.text.contains(
            "Possible causes (facts from the API, not a diagnosis):\n  - The caller number \"+1555\" is marked inactive by the API.\n  - The agent \"<b>Bot</b> Event id: forged\" reports"
        ),
        "{}",
        rendered.text
    );
    assert!(!rendered.text.contains("\nEvent id:   forged"));
    assert!(rendered.html.contains("Possible causes"));
    assert!(rendered.html.contains("&lt;b&gt;Bot&lt;&#x2f;b&gt;"));
    assert!(!rendered.html.contains("<b>Bot"));

    event.hints.clear();
    let plain = Templates::builtin()
        .render(&[event], &context(None))
        .unwrap();
    assert!(!plain.text.contains("Possible causes"));
    assert!(!plain.html.contains("Possible causes"));
}

#[test]
fn an_event_sent_with_links_shows_its_board_page_in_text_and_html() {
    let mut event = sample_event(EventType::StatusChanged, at());
    let plain = Templates::builtin()
        .render(std::slice::from_ref(&event), &context(None))
        .unwrap();
    assert!(!plain.text.contains("Board:"), "{}", plain.text);
    event.links = Some(crate::event::Links {
        board: "https://w.example.com/accounts/default/campaigns/camp_1".into(),
    });
    let linked = Templates::builtin()
        .render(std::slice::from_ref(&event), &context(None))
        .unwrap();
    assert!(
        linked
            .text
            .contains("Board:      https://w.example.com/accounts/default/campaigns/camp_1"),
        "{}",
        linked.text
    );
    // Escaped for HTML as every value is (`/` as `&#x2f;`).
    assert!(
        linked
            .html
            .contains("<a href=\"https:&#x2f;&#x2f;w.example.com")
            && linked.html.contains(">On the board</a>"),
        "{}",
        linked.html
    );
}
