//! Text from the SigmaMind API (campaign names, ids, upload errors) is hostile
//! until proven otherwise: it may carry terminal escapes, line breaks that forge
//! log lines, chat markup that pings a whole channel, or a megabyte that the
//! receiver refuses. This module holds one sanitiser per destination and the
//! cutting rule they share; every place that puts API text somewhere a person
//! or a receiver reads it goes through one of them.
//!
//! | destination | function |
//! |---|---|
//! | terminal, command output, text logs | [`terminal`] |
//! | HTML | [`html`] |
//! | Slack mrkdwn | [`slack`] |
//! | Discord markdown | [`discord`] |
//! | Teams Adaptive Card text | [`teams`] |
//! | Telegram `parse_mode: HTML` | [`telegram_html`] |
//! | Google Chat message `text` | [`google_chat`] (card text: [`html`]) |
//! | Mattermost markdown | [`mattermost`] |
//! | plain-text push (ntfy) | [`plain`] |
//! | email header (subject) | [`header`] |
//! | Alertmanager label value | [`label`] |
//! | JSON | serde escapes; cut with [`cap`] |
//! | inside a JSON string a template quotes | [`json_string`] |
//! | a URL (path segment or query value) | [`url_component`] |
//! | a form body (`application/x-www-form-urlencoded`) | [`form_component`] |
//! | an HTTP header value | [`header`] |
//!
//! Lengths: [`cap`] cuts at a character boundary and marks the cut with `…`;
//! [`fit`] cuts *before* escaping (so no escape sequence is cut in half) and
//! still lands within the limit after it; [`fit_measured`] does the same for
//! limits counted otherwise (bytes, Telegram's UTF-16 code units).
//!
//! This is a leaf: it imports nothing from the crate.

use std::borrow::Cow;

/// Marks where [`cap`] cut a text.
pub const ELLIPSIS: char = '…';

/// `text` with at most `max_chars` characters: cut at a character boundary,
/// the last kept character replaced by [`ELLIPSIS`] when anything was cut.
pub fn cap(text: &str, max_chars: usize) -> Cow<'_, str> {
    // `char_indices().nth` walks at most `max_chars` characters, so a 1 MiB
    // name costs no more than a short one.
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some(_) if max_chars == 0 => Cow::Borrowed(""),
        Some(_) => {
            let keep = text
                .char_indices()
                .nth(max_chars - 1)
                .map_or(text.len(), |(at, _)| at);
            let mut cut = String::with_capacity(keep + ELLIPSIS.len_utf8());
            cut.push_str(&text[..keep]);
            cut.push(ELLIPSIS);
            Cow::Owned(cut)
        }
    }
}

/// `text` in at most `max_bytes` bytes of UTF-8, cut at a character boundary
/// and marked with [`ELLIPSIS`] when anything was cut: for receivers whose
/// limits are in bytes (PagerDuty's payload, Teams' request size).
pub fn cap_bytes(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let Some(room) = max_bytes.checked_sub(ELLIPSIS.len_utf8()) else {
        return Cow::Borrowed("");
    };
    let mut keep = room;
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut cut = String::with_capacity(keep + ELLIPSIS.len_utf8());
    cut.push_str(&text[..keep]);
    cut.push(ELLIPSIS);
    Cow::Owned(cut)
}

/// `escape(text)` in at most `max_chars` characters: the raw text is cut
/// first (an escape sequence such as `&amp;` is never cut in half), and cut
/// shorter while escaping makes it overflow.
pub fn fit(text: &str, max_chars: usize, escape: impl Fn(&str) -> String) -> String {
    fit_measured(text, max_chars, |s| s.chars().count(), escape)
}

/// [`fit`] for a limit that `measure` counts (e.g. `str::len` for bytes, or
/// UTF-16 code units): the result measures at most `max` (or is empty).
pub fn fit_measured(
    text: &str,
    max: usize,
    measure: impl Fn(&str) -> usize,
    escape: impl Fn(&str) -> String,
) -> String {
    let mut budget = max;
    loop {
        let escaped = escape(&cap(text, budget));
        let length = measure(&escaped);
        if length <= max || budget == 0 {
            return if length <= max {
                escaped
            } else {
                String::new()
            };
        }
        // Shrink in proportion to the overflow (and by at least one), so a
        // text of nothing but escapes still keeps as much as fits.
        budget = (budget * max / length).min(budget - 1);
    }
}

/// Telegram's message length unit: UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Characters a terminal (or a person reading a log) could be fooled by:
/// C0 and C1 controls, DEL, and the bidirectional overrides that reorder what
/// is shown ("Trojan Source").
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// For a terminal, command output and text logs: every control character
/// shown as a visible escape (`\n`, `\r`, `\t`, `\0`, `\x1b`, `\u{9b}`), so API
/// text can neither move the cursor, retitle the window, ring the bell nor
/// start a line of its own.
pub fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_deceptive) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            '\0' => shown.push_str("\\0"),
            c if (c as u32) < 0x80 && is_deceptive(c) => {
                shown.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_deceptive(c) => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// Text that spans lines on purpose (a rendered message, a line of command
/// output): line breaks (`\n`, `\r\n`) and tabs kept, every other control
/// character escaped as [`terminal`] does.
pub fn terminal_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            line.split('\t')
                .map(terminal)
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// For HTML text and attribute values.
pub fn html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Control characters other than line breaks and tabs removed: what chat
/// receivers get (they show no escapes, and some refuse a NUL).
fn without_controls(text: &str) -> String {
    text.chars()
        .filter(|&c| !is_deceptive(c) || c == '\n' || c == '\t')
        .collect()
}

/// For Slack mrkdwn and the fallback `text`: `&`, `<` and `>` are Slack's
/// control characters, so `<!channel>`, `<!here>`, `<@U123>` and
/// `<https://x|label>` arrive as plain text.
pub fn slack(text: &str) -> String {
    without_controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// For Discord message content and embeds: markdown characters backslash
/// escaped, so a name cannot become a masked link (`[x](https://…)`), a
/// mention (`<@123>`), a heading or a code block. Mentions are also disabled by
/// the channel's `allowed_mentions`.
pub fn discord(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in without_controls(text).chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' | '>' | '#' | '@'
        ) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// For Teams Adaptive Card `TextBlock`s: control characters removed. Adaptive
/// Cards render a markdown subset with no escape syntax; `[` and `]` are
/// swapped for look-alikes so no API text becomes a link.
pub fn teams(text: &str) -> String {
    without_controls(text)
        .replace('[', "\u{FF3B}")
        .replace(']', "\u{FF3D}")
}

/// For plain-text receivers that show text as it is (ntfy's message and
/// title): control characters other than line breaks and tabs removed.
pub fn plain(text: &str) -> String {
    without_controls(text)
}

/// For Telegram's `parse_mode: "HTML"`: `&`, `<`, `>` and `"` as the four
/// entities Telegram knows, so no API text becomes a tag (`<a href>`, `<b>`)
/// or breaks the message's own markup; control characters removed.
pub fn telegram_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in without_controls(text).chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// For a Google Chat message's `text`: it has no escape syntax, and `<…>` is
/// its markup for mentions (`<users/all>`) and links (`<url|label>`), so `<`
/// and `>` become the look-alikes `‹` and `›`; control characters removed.
/// (Card text is HTML: use [`html`].)
pub fn google_chat(text: &str) -> String {
    without_controls(text)
        .replace('<', "\u{2039}")
        .replace('>', "\u{203A}")
}

/// For Mattermost markdown (`text` and attachment text): markdown characters
/// backslash escaped (no link, image, heading, table or code block from API
/// text), and a zero-width space after every `@`, so `@channel`, `@all`,
/// `@here` and `@user` in a campaign name notify nobody.
pub fn mattermost(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in without_controls(text).chars() {
        match c {
            '@' => escaped.push_str("@\u{200B}"),
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '!' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// For an email header such as the subject: every control character
/// (CR and LF included) and run of whitespace becomes one space, then cut at
/// `max_chars`.
pub fn header(text: &str, max_chars: usize) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if is_deceptive(c) { ' ' } else { c })
        .collect();
    let one_line = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    cap(&one_line, max_chars).into_owned()
}

/// For use inside a JSON string a template put in quotes: the escapes of a
/// JSON string (`\"`, `\\`, `\n`, `\u0000`...) without the quotes, and `<`,
/// `>`, `&` and U+2028/U+2029 as `\u` escapes too, so the string stays one
/// string wherever the JSON is pasted (a `<script>`, a JavaScript source).
pub fn json_string(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_default();
    let mut out = String::with_capacity(inner.len());
    for c in inner.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

/// Every byte but the unreserved ones (RFC 3986 `A-Z a-z 0-9 - . _ ~`).
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// For a value inside a URL: percent-encoded so it can be neither a `/`, `?`,
/// `#`, `&` nor `=` of the URL around it, whatever it holds.
pub fn url_component(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, URL_COMPONENT).to_string()
}

/// For a name or value of a form body: `application/x-www-form-urlencoded`
/// (spaces as `+`, everything else but `*-._` and alphanumerics as `%XX`).
pub fn form_component(text: &str) -> String {
    // `%` itself is encoded, so every `%20` left is a space.
    percent_encoding::utf8_percent_encode(text, FORM_COMPONENT)
        .to_string()
        .replace("%20", "+")
}

/// What a form body leaves as it is: alphanumerics and `*-._` (the WHATWG
/// `application/x-www-form-urlencoded` serializer).
const FORM_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// Longest Alertmanager label value we send. Labels identify an alert and are
/// indexed by every receiver; a long one is a bug, not information.
pub const LABEL_CHARS: usize = 1024;

/// For an Alertmanager label value: control characters shown as escapes,
/// at most [`LABEL_CHARS`].
pub fn label(text: &str) -> String {
    fit(text, LABEL_CHARS, |cut| terminal(cut).into_owned())
}

#[cfg(test)]
mod tests;
