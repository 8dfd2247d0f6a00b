use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;

use super::*;
use crate::event::EventType;
use crate::render::sample_event;
use crate::setting::secret::Secret;

const TOKEN: &str = "123456789:AAH_TELEGRAMSECRET-0123456789abcdef";

fn channel() -> TelegramChannel {
    let settings = TelegramSettings {
        bot_token: Some(Secret::new(TOKEN)),
        chat_id: Some("-1001234567890".into()),
        message_thread_id: Some(7),
        ..TelegramSettings::default()
    };
    TelegramChannel::new(&settings, &BuildContext::for_tests("tg")).unwrap()
}

/// Every tag in `text`: only the message's own `<b>` and `<i>` may be there.
fn tags(text: &str) -> Vec<String> {
    text.match_indices('<')
        .map(|(at, _)| text[at..].split('>').next().unwrap_or_default().to_string() + ">")
        .collect()
}

#[test]
fn a_message_is_html_to_the_chat_and_topic() {
    let event = sample_event(EventType::StatusChanged, Utc::now());
    let body = channel().payload(&event).unwrap();
    assert_eq!(body["chat_id"], -1001234567890i64);
    assert_eq!(body["message_thread_id"], 7);
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("<b>Q4 Outreach Campaign: live → paused</b>\n\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!("{}</i>", event.id)), "{text}");
    assert_eq!(tags(text), ["<b>", "</b>", "<i>", "</i>"]);
}

#[test]
fn hostile_names_stay_escaped_and_within_4096_units() {
    let mut event = sample_event(EventType::StatusChanged, Utc::now());
    event.campaign.as_mut().unwrap().name =
        format!("<b>x</b></script> & \"q\" \\ \r\n{}", "😀<&".repeat(3000));
    let body = channel().payload(&event).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(utf16_len(text) <= MESSAGE_UNITS, "{}", utf16_len(text));
    assert_eq!(tags(text), ["<b>", "</b>", "<i>", "</i>"], "{text}");
    assert!(text.ends_with(&format!("{}</i>", event.id)));
    assert!(!text.contains('\r'));
}

#[test]
fn chat_ids_are_numbers_or_usernames() {
    assert_eq!(chat_id_value("-100123"), Some(json!(-100123)));
    assert_eq!(chat_id_value("@ops_alerts"), Some(json!("@ops_alerts")));
    assert_eq!(chat_id_value("@a"), None);
    assert_eq!(chat_id_value("ops"), None);
    assert!(looks_like_a_bot_token(TOKEN));
    assert!(!looks_like_a_bot_token("abc:def"));
    assert!(!looks_like_a_bot_token("123:short"));
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status: StatusCode::from_u16(status).unwrap(),
        retry_after: Some(Duration::from_secs(1)),
        body: body.to_string(),
    }
}

#[test]
fn answers_follow_the_bot_api() {
    let limited = answer(
        429,
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 17","parameters":{"retry_after":17}}"#,
    );
    match classify("https://api.telegram.org", &limited) {
        SendOutcome::Retry { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(17)))
        }
        other => panic!("{other:?}"),
    }
    let migrated = answer(
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876543210}}"#,
    );
    match classify("h", &migrated) {
        SendOutcome::Permanent { reason } => {
            assert!(reason.contains("set chat_id = -1009876543210"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    for status in [400, 401, 403, 404] {
        assert!(matches!(
            classify("h", &answer(status, "{}")),
            SendOutcome::Permanent { .. }
        ));
    }
    assert!(matches!(
        classify("h", &answer(502, "")),
        SendOutcome::Retry { .. }
    ));
    assert!(matches!(
        classify("h", &answer(200, r#"{"ok":true}"#)),
        SendOutcome::Delivered { .. }
    ));
}

#[test]
fn the_token_is_never_shown() {
    let channel = channel();
    let shown = crate::deliver::tests::everything_shown(&channel);
    assert!(
        !shown.contains("TELEGRAMSECRET") && !shown.contains(TOKEN),
        "{shown}"
    );
    assert_eq!(
        channel.hook.target.scrub(&format!("no bot {TOKEN} here")),
        "no bot <redacted> here"
    );
}
