use super::*;

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

#[test]
fn times_read_as_utc_and_missing_ones_as_a_dash() {
    assert_eq!(
        when(Value::from("2026-11-26T09:15:02.123Z")),
        "2026-11-26 09:15:02 UTC"
    );
    assert_eq!(when(Value::from(())), "-");
    assert_eq!(when(Value::from("not a time")), "-");
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
