use super::*;

fn decoded_name(body: &[u8]) -> Result<String, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(&repair(body))?;
    Ok(value["campaignName"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

#[test]
fn what_cannot_be_decoded_becomes_the_replacement_character() {
    let cases: [(&str, &[u8], &str); 9] = [
        (
            "lone high surrogate",
            br#"{"campaignName":"lone \ud800 surrogate"}"#,
            "lone \u{FFFD} surrogate",
        ),
        (
            "lone high at the end",
            br#"{"campaignName":"end \uD83D"}"#,
            "end \u{FFFD}",
        ),
        (
            "lone low surrogate",
            br#"{"campaignName":"low \udc00 only"}"#,
            "low \u{FFFD} only",
        ),
        (
            "two highs",
            br#"{"campaignName":"\ud800\ud800"}"#,
            "\u{FFFD}\u{FFFD}",
        ),
        (
            "high then a plain escape",
            br#"{"campaignName":"\ud800\u0041"}"#,
            "\u{FFFD}A",
        ),
        (
            "a valid pair is kept",
            br#"{"campaignName":"smile \ud83d\ude00"}"#,
            "smile \u{1F600}",
        ),
        (
            "an escaped backslash is not an escape",
            br#"{"campaignName":"path \\ud800"}"#,
            "path \\ud800",
        ),
        (
            "invalid UTF-8",
            b"{\"campaignName\":\"bad \xff\xfe bytes\"}",
            "bad \u{FFFD}\u{FFFD} bytes",
        ),
        (
            "an ordinary body",
            br#"{"campaignName":"Q4 Outreach \u00e9"}"#,
            "Q4 Outreach \u{e9}",
        ),
    ];
    for (what, body, expected) in cases {
        assert_eq!(
            decoded_name(body)
                .map_err(|error| error.to_string())
                .as_deref(),
            Ok(expected),
            "{what}"
        );
    }
}

#[test]
fn serde_json_alone_refuses_these_bodies() {
    // Why the repair exists: without it each of these fails its whole answer.
    for body in [
        &br#"{"campaignName":"lone \ud800 surrogate"}"#[..],
        b"{\"campaignName\":\"bad \xff bytes\"}",
    ] {
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
    }
}

#[test]
fn an_ordinary_body_is_not_copied() {
    let body = br#"{"campaignName":"Q4","campaignStatus":"live"}"#;
    assert!(matches!(repair(body), Cow::Borrowed(_)));
}
