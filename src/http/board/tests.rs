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
        "id": hostile, "name": hostile, "status": hostile, "upload_errors": 1,
        "changed_at": "2026-11-26T09:00:00Z", "last_event": null, "silenced_by": [],
        "page": campaign_page_path(hostile),
    });
    let html = render(
        "campaigns.html",
        json!({
            "glance": "", "labels": STATUS_LABELS, "pages": 1,
            "list": {"total": 1, "page": 1, "per_page": 50, "campaigns": [row]},
            "filter": {"status": null, "q": hostile, "problems": false},
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
