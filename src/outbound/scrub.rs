//! Secrets out of text that came back from a server (an error body echoing a
//! header, a proxy page quoting the URL), before the text is cut to an excerpt.
//!
//! Replacing only whole occurrences is not enough: a body cut at a read limit
//! can end in the first half of a secret, and a server may echo part of one.
//! So every run of text that is a piece of a secret at least
//! [`MIN_FRAGMENT_CHARS`] long is replaced, wherever it sits.

use std::collections::HashSet;

/// The shortest piece of a secret that is removed from text; shorter ones are
/// too common in ordinary words to be told apart.
pub const MIN_FRAGMENT_CHARS: usize = 6;
const REDACTED: &str = "<redacted>";

/// The configured secrets, as the pieces to look for.
#[derive(Clone, Default)]
pub struct Scrubber {
    /// Every window of [`MIN_FRAGMENT_CHARS`] characters of every secret.
    windows: HashSet<String>,
    /// Secrets shorter than a window, replaced only where they occur whole.
    short: Vec<String>,
    longest: usize,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("windows", &self.windows.len())
            .finish_non_exhaustive()
    }
}

impl Scrubber {
    /// Empty values are skipped; values under 4 characters are too short to
    /// scrub without destroying the text (configuration checks refuse them).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut scrubber = Self::default();
        for secret in secrets {
            let chars: Vec<char> = secret.as_ref().chars().collect();
            scrubber.longest = scrubber.longest.max(chars.len());
            if chars.len() >= MIN_FRAGMENT_CHARS {
                for window in chars.windows(MIN_FRAGMENT_CHARS) {
                    scrubber.windows.insert(window.iter().collect());
                }
            } else if chars.len() >= 4 {
                scrubber.short.push(chars.into_iter().collect());
            }
        }
        scrubber
    }

    /// Adds more secrets (e.g. the API key to the rest of the configuration's).
    pub fn with<S: AsRef<str>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        let more = Self::new(secrets);
        self.windows.extend(more.windows);
        self.short.extend(more.short);
        self.longest = self.longest.max(more.longest);
        self
    }

    /// `text` with every piece of a secret replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut covered = vec![false; chars.len()];
        if chars.len() >= MIN_FRAGMENT_CHARS && !self.windows.is_empty() {
            let mut window = String::new();
            for start in 0..=chars.len() - MIN_FRAGMENT_CHARS {
                window.clear();
                window.extend(&chars[start..start + MIN_FRAGMENT_CHARS]);
                if self.windows.contains(&window) {
                    covered[start..start + MIN_FRAGMENT_CHARS].fill(true);
                }
            }
        }
        for short in &self.short {
            let short: Vec<char> = short.chars().collect();
            for start in 0..chars.len().saturating_sub(short.len() - 1) {
                if chars[start..start + short.len()] == short[..] {
                    covered[start..start + short.len()].fill(true);
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut in_secret = false;
        for (c, hidden) in chars.into_iter().zip(covered) {
            if hidden {
                if !in_secret {
                    out.push_str(REDACTED);
                }
            } else {
                out.push(c);
            }
            in_secret = hidden;
        }
        out
    }

    /// At most `max_chars` characters of `text`, scrubbed first: a cut made
    /// before scrubbing could leave the start of a secret that no longer
    /// matches it whole.
    pub fn scrub_and_cut(&self, text: &str, max_chars: usize) -> (String, bool) {
        // Enough beyond the cut that a secret starting before it is seen whole;
        // scrubbing a whole 4 MiB body for a 200-character excerpt is waste.
        let look_at = max_chars + self.longest + MIN_FRAGMENT_CHARS;
        let head: String = text.chars().take(look_at).collect();
        let longer = text.chars().nth(look_at).is_some();
        let scrubbed = self.scrub(&head);
        let cut: String = scrubbed.chars().take(max_chars).collect();
        let was_cut = longer || scrubbed.chars().nth(max_chars).is_some();
        (cut, was_cut)
    }
}
