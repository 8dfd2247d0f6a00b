use super::*;
use std::collections::HashMap;

#[test]
fn every_template_parses() {
    let env = environment();
    for (name, _) in TEMPLATES {
        assert!(env.get_template(name).is_ok(), "{name}");
    }
}

#[test]
fn api_text_is_escaped_in_every_place_it_goes() {
    let hostile = "<img src=x onerror=alert(1)>\"'&";
    let row = json!({
        "account": hostile, "id": hostile, "name": hostile, "status": hostile, "upload_errors": 1,
        "changed_at": "2026-11-26T09:00:00Z", "last_event": null, "silenced_by": [],
        "page": campaign_page_path("default", hostile),
    });
    let html = render(
        "campaigns.html",
        json!({
            "glance": "", "labels": STATUS_LABELS, "pages": 1, "accounts": ["default", hostile],
            "list": {"total": 1, "page": 1, "per_page": 50, "campaigns": [row]},
            "filter": {"account": hostile, "status": null, "q": hostile, "problems": false},
        }),
    )
    .unwrap();
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    // An unknown status gets the neutral badge, never its own text as a class.
    assert!(html.contains("badge status-other"), "{html}");
    assert!(html.contains("campaigns&#x2f;%3Cimg%20src%3Dx"), "{html}");
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn times_read_as_how_long_ago_with_the_exact_time_on_hover() {
    let now = utc("2026-11-26T09:18:30Z");
    assert_eq!(
        when(Value::from("2026-11-26T09:15:02.123Z"), now).to_string(),
        "<time datetime=\"2026-11-26T09:15:02Z\" title=\"2026-11-26 09:15:02 UTC\">3 min ago</time>"
    );
    assert_eq!(when(Value::from(()), now).to_string(), "-");
    assert_eq!(when(Value::from("not a time"), now).to_string(), "-");
}

#[test]
fn how_long_ago_is_said_in_the_largest_unit_that_says_it() {
    let now = utc("2026-11-26T12:00:00Z");
    let cases = [
        ("2026-11-26T12:00:00Z", "just now"),
        ("2026-11-26T11:59:01Z", "just now"),
        ("2026-11-26T11:59:00Z", "1 min ago"),
        ("2026-11-26T11:03:00Z", "57 min ago"),
        ("2026-11-26T11:00:00Z", "1 h ago"),
        ("2026-11-24T12:00:01Z", "47 h ago"),
        ("2026-11-24T12:00:00Z", "2 days ago"),
        ("2026-08-28T12:00:00Z", "90 days ago"),
        ("2026-11-26T12:00:30Z", "in under a minute"),
        ("2026-11-26T12:20:00Z", "in 20 min"),
        ("2026-11-27T02:00:00Z", "in 14 h"),
    ];
    for (at, words) in cases {
        assert_eq!(relative(utc(at), now), words, "{at}");
    }
}

#[test]
fn event_types_read_as_words_and_counts_agree_with_their_noun() {
    assert_eq!(
        type_words("campaign.status_changed".into()),
        "status changed"
    );
    assert_eq!(
        type_words("campaign.upload_errors_added".into()),
        "new upload errors"
    );
    // A type from a newer version is shown as it is.
    assert_eq!(type_words("campaign.exploded".into()), "campaign.exploded");
    assert_eq!(plural(1, "attempt".into()), "1 attempt");
    assert_eq!(plural(3, "attempt".into()), "3 attempts");
    let one = render(
        "deliveries.html",
        json!({"e": {"deliveries": [{"outbox_id": 1, "channel": "hook", "outcome": "sent",
            "sent_at": "2026-11-26T09:00:00Z", "attempts": 1}]}, "controls": {"admin": false}}),
    )
    .unwrap();
    assert!(one.contains("(1 attempt)"), "{one}");
}

#[test]
fn page_links_keep_the_filters() {
    assert_eq!(
        page_link(
            "/",
            &[
                ("status", Some("not found".into())),
                ("q", None),
                ("problems", Some("true".into()))
            ],
            3
        ),
        "/?status=not%20found&problems=true&page=3"
    );
}

#[test]
fn no_asset_or_template_has_an_inline_script_or_style() {
    for (name, source) in TEMPLATES {
        let lower = source.to_lowercase();
        assert!(!lower.contains("style="), "{name} has a style attribute");
        assert!(!lower.contains("<style"), "{name} has a style element");
        assert!(
            !lower.contains(" on") || !lower.contains("onclick"),
            "{name}"
        );
        for tag in lower.match_indices("<script") {
            let rest = &lower[tag.0..];
            let open = &rest[..rest.find('>').unwrap()];
            assert!(open.contains(" src="), "{name} has an inline script");
        }
    }
    assert!(
        !JS.contains("innerHTML"),
        "the script never parses HTML into the page unescaped"
    );
}

#[test]
fn admin_controls_show_for_admins_only_and_carry_the_csrf_field() {
    let silence = json!({
        "id": 7, "active": true, "matcher": "camp_*", "event_type": null,
        "reason": "<b>r</b>", "author": "dana", "created_at": "2026-11-26T09:00:00Z",
        "expires_at": "2026-11-26T11:00:00Z", "events_held": 0,
    });
    let page = |admin: bool| {
        render(
            "silences.html",
            json!({
                "list": {"silences": [silence.clone()]},
                "types": ["campaign.status_changed"],
                "accounts": ["acme", "globex"],
                "controls": {"admin": admin, "csrf": if admin { "<input type=\"hidden\" name=\"csrf_token\" value=\"T\">" } else { "" }, "back": "/silences"},
            }),
        )
        .unwrap()
    };
    let admin = page(true);
    assert!(admin.contains("id=\"silence-new\""), "{admin}");
    assert!(
        admin.contains("action=\"&#x2f;silences&#x2f;7&#x2f;end\"")
            || admin.contains("action=\"/silences/7/end\""),
        "{admin}"
    );
    assert!(admin.contains("name=\"csrf_token\" value=\"T\""), "{admin}");
    assert!(admin.contains("&lt;b&gt;r&lt;&#x2f;b&gt;"), "{admin}");
    // The account is a choice of the configured ones.
    assert!(
        admin.contains("<option value=\"acme\">acme</option>")
            && admin.contains("<option value=\"\">every account</option>"),
        "{admin}"
    );
    let read = page(false);
    assert!(
        !read.contains("silence-new")
            && !read.contains("end-silence")
            && !read.contains("method=\"post\""),
        "{read}"
    );

    let delivery = |admin: bool| {
        render(
            "deliveries.html",
            json!({
                "e": {"silenced_by": null, "deliveries": [{"outbox_id": 3, "channel": "hook", "outcome": "dead", "attempts": 5, "last_error": "HTTP 410"}]},
                "controls": {"admin": admin, "csrf": "", "back": "/events?type=x"},
            }),
        )
        .unwrap()
    };
    assert!(delivery(true).contains("class=\"replay\""));
    assert!(!delivery(false).contains("replay"));
}

#[test]
fn the_preview_page_escapes_what_it_was_given_and_offers_the_confirmation() {
    let hostile = "<img src=x onerror=alert(1)>";
    let html = render(
        "silence_new.html",
        json!({
            "silence": {"campaign": "*", "event_type": null, "account": null, "duration": "1h", "reason": hostile},
            "problems": [],
            "preview": {"matches_every_campaign": true, "events_last_24h": 3, "campaigns": [{"account": "default", "id": "c1", "name": hostile, "page": "/x"}]},
            "can_create": true,
            "controls": {"admin": true, "csrf": "", "back": "/silences"},
        }),
    )
    .unwrap();
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("id=\"silence-confirm-all\""), "{html}");
    assert!(
        html.contains("<strong id=\"preview-events\">3</strong> events"),
        "{html}"
    );
}

#[test]
fn bidirectional_overrides_and_controls_show_as_escapes() {
    let name = "invoice\u{202E}fdp.exe\u{2066}x\u{1b}[2J";
    let row = json!({
        "account": "default", "id": "camp_1", "name": name, "status": "live", "upload_errors": 0,
        "changed_at": "2026-11-26T09:00:00Z", "last_event": null, "silenced_by": [],
        "page": campaign_page_path("default", "camp_1"),
    });
    let html = render(
        "campaigns.html",
        json!({
            "glance": "", "labels": STATUS_LABELS, "pages": 1, "accounts": ["default"],
            "list": {"total": 1, "page": 1, "per_page": 50, "campaigns": [row]},
            "filter": {"account": null, "status": null, "q": name, "problems": false},
        }),
    )
    .unwrap();
    for raw in ['\u{202E}', '\u{2066}', '\u{1b}'] {
        assert!(!html.contains(raw), "{raw:?} raw in {html}");
    }
    assert!(html.contains("invoice\\u{202e}fdp.exe"), "{html}");
}

/// An account chosen with no campaign is that whole account, as `silence
/// add --account` alone; a campaign given stays as given.
#[test]
fn the_silence_form_takes_an_account_alone_as_the_whole_account() {
    let form = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    };
    let whole = actions::form_silence(&form(&[("campaign", ""), ("account", "clientb")]));
    assert_eq!(
        (whole.campaign.as_str(), whole.account.as_deref()),
        ("*", Some("clientb"))
    );
    let one = actions::form_silence(&form(&[("campaign", "camp_1"), ("account", "clientb")]));
    assert_eq!(one.campaign, "camp_1");
    let nothing = actions::form_silence(&form(&[("campaign", ""), ("account", "")]));
    assert_eq!(nothing.campaign, "", "still refused as empty");
}
