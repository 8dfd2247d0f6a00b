use super::*;

const HOSTILE: &str = "\u{1b}[31mRED\u{1b}]0;PWNED-TITLE\u{7}\u{1b}[2J\0\u{8}\r\nforged";

#[test]
fn cap_keeps_short_text_and_cuts_long_text_at_a_character() {
    assert_eq!(cap("short", 10), "short");
    assert_eq!(cap("exactly10!", 10), "exactly10!");
    assert_eq!(cap("abcdefghijk", 5), "abcd…");
    // Multi-byte characters are never split.
    assert_eq!(cap("ééééé", 3), "éé…");
    assert_eq!(cap("abc", 0), "");
    let huge = "é".repeat(1 << 20);
    assert_eq!(cap(&huge, 1000).chars().count(), 1000);
}

#[test]
fn cap_bytes_cuts_at_a_character_boundary_within_the_limit() {
    assert_eq!(cap_bytes("abc", 3), "abc");
    let cut = cap_bytes("ééééé", 6);
    assert!(cut.len() <= 6, "{cut:?}");
    assert_eq!(cut, "é…");
    assert_eq!(cap_bytes("abcdef", 2), "");
}

#[test]
fn terminal_shows_every_control_character_as_an_escape() {
    let shown = terminal(HOSTILE);
    assert!(
        !shown.chars().any(|c| c.is_control()),
        "no raw control character: {shown:?}"
    );
    assert_eq!(
        shown,
        "\\x1b[31mRED\\x1b]0;PWNED-TITLE\\x07\\x1b[2J\\0\\x08\\r\\nforged"
    );
    assert_eq!(terminal("\u{9b}31m"), "\\u{9b}31m");
    assert_eq!(terminal("abc\u{202E}def"), "abc\\u{202e}def");
    assert!(matches!(terminal("plain café"), Cow::Borrowed(_)));
}

#[test]
fn terminal_lines_keeps_line_breaks_only() {
    assert_eq!(terminal_lines("a\u{1b}b\nc\rd"), "a\\x1bb\nc\\rd");
    assert_eq!(terminal_lines("a\tb\r\nc\r"), "a\tb\nc");
}

#[test]
fn slack_makes_mentions_and_links_inert() {
    assert_eq!(
        slack("<!channel> <!here> <@U123> <https://evil|click> & \u{1b}"),
        "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp; "
    );
}

#[test]
fn discord_escapes_markdown_and_mentions() {
    assert_eq!(
        discord("[x](https://evil) @everyone <@1> **b**"),
        "\\[x\\](https://evil) \\@everyone \\<\\@1\\> \\*\\*b\\*\\*"
    );
}

#[test]
fn teams_leaves_no_link_syntax() {
    let shown = teams("[click](https://evil)\u{7}");
    assert!(!shown.contains("]("), "{shown}");
    assert!(!shown.contains('\u{7}'));
}

#[test]
fn html_escapes_markup_and_quotes() {
    assert_eq!(html("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
}

#[test]
fn header_is_one_short_line() {
    let subject = header(
        &format!("a\r\nBcc: x@example.com\u{1b}{}", "z".repeat(500)),
        200,
    );
    assert!(!subject.chars().any(|c| c.is_control()));
    assert!(subject.starts_with("a Bcc: x@example.com z"));
    assert_eq!(subject.chars().count(), 200);
}

#[test]
fn label_is_short_and_has_no_control_characters() {
    let value = label(&format!("{HOSTILE}{}", "\u{7}".repeat(100_000)));
    assert!(value.chars().count() <= LABEL_CHARS);
    assert!(!value.chars().any(|c| c.is_control()));
    assert!(value.ends_with(ELLIPSIS));
}

#[test]
fn fit_cuts_before_escaping_and_stays_within_the_limit() {
    let fitted = fit(&"&".repeat(100), 20, slack);
    assert!(fitted.chars().count() <= 20, "{fitted}");
    // Whole escapes only: the text before the ellipsis is a run of `&amp;`.
    let body = fitted.trim_end_matches(ELLIPSIS);
    assert!(
        body.len() % 5 == 0 && body.split("&amp;").all(str::is_empty),
        "{fitted}"
    );
}

/// Quotes, backslashes, line breaks, a closing script tag, CR/LF and
/// controls: the names a hostile API could give a campaign.
const HOSTILE_NAME: &str = "Q4 \"Outreach\" \\ C:\\path\nline2\r\nX-Injected: 1</script><script>alert(1)</script>\u{2028}&\u{0}\u{1b}[31m";

#[test]
fn json_string_keeps_a_quoted_template_string_one_valid_string() {
    let escaped = json_string(HOSTILE_NAME);
    let body = format!("{{\"text\": \"{escaped} is now paused\"}}");
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
    assert_eq!(parsed["text"], format!("{HOSTILE_NAME} is now paused"));
    for raw in ["</script>", "\n", "\r", "<", ">", "\u{2028}"] {
        assert!(!escaped.contains(raw), "{raw:?} left raw in {escaped}");
    }
}

#[test]
fn url_and_form_components_cannot_end_their_part() {
    let encoded = url_component(HOSTILE_NAME);
    assert!(encoded
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~%".contains(c)));
    assert_eq!(url_component("a b/c?d&e=f#g"), "a%20b%2Fc%3Fd%26e%3Df%23g");
    let decoded = percent_encoding::percent_decode_str(&encoded)
        .decode_utf8()
        .unwrap();
    assert_eq!(decoded, HOSTILE_NAME);

    assert_eq!(form_component("a b&c=d+e%"), "a+b%26c%3Dd%2Be%25");
    let form = form_component(HOSTILE_NAME);
    assert!(!form.contains(['&', '=', '\n', '\r', ' ']), "{form}");
}

#[test]
fn telegram_html_leaves_no_tag_and_no_bare_ampersand() {
    let hostile = "<b>bold</b> & </script> \"q\" \\ line\r\nnext\0";
    let escaped = telegram_html(hostile);
    assert_eq!(
        escaped,
        "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;/script&gt; &quot;q&quot; \\ line\nnext"
    );
    assert!(!escaped.contains('<') && !escaped.contains('>'));
    // Every `&` starts one of Telegram's four entities.
    for (at, _) in escaped.match_indices('&') {
        let rest = &escaped[at..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|entity| rest.starts_with(entity)),
            "{rest}"
        );
    }
}

#[test]
fn google_chat_text_cannot_mention_or_link() {
    let shown = google_chat("<users/all> <https://evil|click> a\u{1b}b\n");
    assert_eq!(shown, "‹users/all› ‹https://evil|click› ab\n");
}

#[test]
fn mattermost_text_notifies_nobody_and_links_nothing() {
    let shown = mattermost("@channel [x](https://evil) ![i](u) # h `c` a\u{7}b");
    assert!(!shown.contains("@channel"), "{shown}");
    assert!(shown.starts_with("@\u{200B}channel"), "{shown}");
    assert!(shown.contains("\\[x\\]\\(https://evil\\)"), "{shown}");
    assert!(shown.contains("\\!\\[i\\]"), "{shown}");
    assert!(shown.contains("\\# h \\`c\\` ab"), "{shown}");
}

#[test]
fn plain_removes_controls_but_keeps_lines() {
    assert_eq!(plain("a\u{1b}[2J\r\nb\tc\0"), "a[2J\nb\tc");
}

#[test]
fn fit_measured_keeps_within_bytes_and_utf16_units() {
    let emoji = "😀".repeat(3000);
    let cut = fit_measured(&emoji, 4096, utf16_len, |s| s.to_string());
    assert!(utf16_len(&cut) <= 4096, "{}", utf16_len(&cut));
    assert!(
        utf16_len(&cut) > 4000,
        "keeps nearly all: {}",
        utf16_len(&cut)
    );
    let escapes = "<".repeat(10_000);
    let cut = fit_measured(&escapes, 1000, str::len, telegram_html);
    assert!(cut.len() <= 1000 && cut.len() > 900, "{}", cut.len());
    assert!(
        !cut.contains("&l…") && !cut.ends_with("&"),
        "no entity cut in half"
    );
}
