//! Lenient decoding of an API body before `serde_json` sees it.
//!
//! One campaign with a lone surrogate escape (`"lone \ud800 surrogate"`) or a
//! byte that is not UTF-8 would otherwise fail the parse of its whole answer,
//! every cycle: that campaign (or, in a listing, its whole page) would go
//! unwatched for good. What cannot be decoded becomes U+FFFD instead; the
//! fields the watcher compares (`campaignStatus`, ids) are plain ASCII in every
//! real answer, so a replaced character only ever blurs a name or a message.

use std::borrow::Cow;

/// The body with invalid UTF-8 replaced by U+FFFD and every `\uXXXX` escape of
/// a lone surrogate (a high one not followed by a low one, or a low one on its
/// own) replaced by `\uFFFD`. Borrowed when nothing needed repairing.
pub fn repair(body: &[u8]) -> Cow<'_, [u8]> {
    let text = String::from_utf8_lossy(body);
    if !has_surrogate_escape(text.as_bytes()) {
        return match text {
            Cow::Borrowed(_) => Cow::Borrowed(body),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        };
    }
    Cow::Owned(replace_lone_surrogates(text.as_bytes()))
}

/// A quick pre-check, so an ordinary body is never copied.
fn has_surrogate_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'))
}

/// The value of the four hex digits of a `\uXXXX` escape starting at `at`.
fn escape_at(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 6)?;
    if digits[0] != b'\\' || digits[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&digits[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

fn replace_lone_surrogates(bytes: &[u8]) -> Vec<u8> {
    let is_high = |unit: u16| (0xD800..=0xDBFF).contains(&unit);
    let is_low = |unit: u16| (0xDC00..=0xDFFF).contains(&unit);
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            out.push(bytes[at]);
            at += 1;
            continue;
        }
        match escape_at(bytes, at) {
            Some(high) if is_high(high) => match escape_at(bytes, at + 6) {
                Some(low) if is_low(low) => {
                    out.extend_from_slice(&bytes[at..at + 12]);
                    at += 12;
                }
                _ => {
                    out.extend_from_slice(br"\uFFFD");
                    at += 6;
                }
            },
            Some(low) if is_low(low) => {
                out.extend_from_slice(br"\uFFFD");
                at += 6;
            }
            // Any other escape (`\\`, `\"`, `\u0041`, ...) is copied whole, so
            // an escaped backslash is never mistaken for the start of one.
            _ => {
                let end = (at + 2).min(bytes.len());
                out.extend_from_slice(&bytes[at..end]);
                at = end;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
