//! Events → human-readable messages (subject, plain text, HTML) for every
//! channel that shows text to people: email today, chat channels later.
//!
//! Rendering is pure: the same events and [`RenderContext`] always give the same
//! [`Rendered`]. The facts (headline, capped error lists, times in UTC and the
//! local zone) are worked out here in Rust; templates only lay them out, so an
//! operator's template override cannot get the facts wrong.
//!
//! Templates are minijinja. The built-in ones are embedded; each can be replaced
//! by a file. A replacement is compiled AND rendered against a sample of every
//! event type when it is loaded, so a broken template is a configuration error
//! at start (and in `check-config`), never a surprise at send time.

mod duration;
mod sample;
mod view;

pub use duration::{ended_after, human_duration};
pub use sample::sample_event;
use view::*;

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::event::{event_id, CampaignInfo, Change, Event, EventType, UploadErrors};
use crate::observe::{Agent, CampaignStatus};

/// Prefix of every subject, so mail filters can sort alerts out.
pub const SUBJECT_PREFIX: &str = "[campaign-watcher]";
/// Upload errors listed per event before "and N more": a CSV with 5,000 bad rows
/// must still give a message a phone can show.
pub const ERRORS_SHOWN: usize = 10;
/// API text is cut to these lengths before any template sees it (a 1 MiB
/// campaign name would make a 6.5 MB email). A channel may cut further to its
/// receiver's limits; these keep every message a person can read.
pub const NAME_CHARS: usize = 200;
/// An event's summary (a quiet-hours digest lists several campaigns).
pub const SUMMARY_CHARS: usize = 4_000;
/// One upload error, one changed value, an agent or caller number.
pub const ITEM_CHARS: usize = 500;
/// The subject line (mail clients show less; RFC 5322 advises 78 per line).
pub const SUBJECT_CHARS: usize = 200;

const SUBJECT: &str = "subject.txt";
const TEXT: &str = "text.txt";
const HTML: &str = "html.html";

const BUILTIN_SUBJECT: &str = include_str!("templates/subject.txt");
const BUILTIN_TEXT: &str = include_str!("templates/text.txt");
const BUILTIN_HTML: &str = include_str!("templates/html.html");

/// Facts about where the message comes from, the same for every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderContext {
    /// Which watcher sent this (defaults to the host name).
    pub instance: String,
    /// Detection times are shown in UTC and, when set, in this zone too.
    pub timezone: Option<Tz>,
}

/// One message, ready for a channel to wrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line, whitespace collapsed.
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template file \"{}\": {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {what}: {message}")]
    Template { what: String, message: String },
    #[error("nothing to render: no events")]
    NoEvents,
}

/// Replacement template files; `None` keeps the built-in one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFiles {
    pub subject: Option<PathBuf>,
    pub text: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

impl TemplateFiles {
    pub fn is_empty(&self) -> bool {
        self.subject.is_none() && self.text.is_none() && self.html.is_none()
    }
}

/// The compiled subject, text and HTML templates of one channel.
pub struct Templates {
    env: Environment<'static>,
    /// Per template: the file it came from, for error messages.
    origins: [Option<PathBuf>; 3],
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The embedded defaults.
    pub fn builtin() -> Self {
        // The embedded templates are checked by the tests below; failing here
        // would be a build defect, so fall back to an empty environment rather
        // than panic (render then reports the missing template).
        Self::compile(
            [None, None, None],
            [BUILTIN_SUBJECT, BUILTIN_TEXT, BUILTIN_HTML],
        )
        .unwrap_or_else(|_| Self {
            env: Environment::new(),
            origins: [None, None, None],
        })
    }

    /// The built-in templates with any of them replaced by a file, checked by
    /// rendering a sample of every event type, alone and as a digest.
    pub fn load(files: &TemplateFiles) -> Result<Self, RenderError> {
        let read = |path: &Option<PathBuf>, builtin: &'static str| match path {
            None => Ok(builtin.to_string()),
            Some(path) => std::fs::read_to_string(path).map_err(|source| RenderError::Read {
                path: path.clone(),
                source,
            }),
        };
        let sources = [
            read(&files.subject, BUILTIN_SUBJECT)?,
            read(&files.text, BUILTIN_TEXT)?,
            read(&files.html, BUILTIN_HTML)?,
        ];
        let origins = [
            files.subject.clone(),
            files.text.clone(),
            files.html.clone(),
        ];
        let templates = Self::compile(origins, sources)?;
        if !files.is_empty() {
            templates.check()?;
        }
        Ok(templates)
    }

    fn compile(
        origins: [Option<PathBuf>; 3],
        sources: [impl Into<String>; 3],
    ) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        // A misspelt variable is an error (found by `check`), not an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        // Names decide escaping: `.html` escapes HTML, `.txt` nothing.
        for (index, (name, source)) in [SUBJECT, TEXT, HTML].into_iter().zip(sources).enumerate() {
            env.add_template_owned(name, source.into())
                .map_err(|e| template_error(&origins, index, e))?;
        }
        Ok(Self { env, origins })
    }

    /// Renders a sample of every event type alone, and all of them as one digest.
    fn check(&self) -> Result<(), RenderError> {
        let at = Utc
            .timestamp_opt(1_764_148_502, 0)
            .single()
            .unwrap_or_default();
        let context = RenderContext {
            instance: "check".into(),
            timezone: Some(Tz::Europe__Berlin),
        };
        let samples: Vec<Event> = EventType::ALL
            .into_iter()
            .map(|kind| sample_event(kind, at))
            .collect();
        for sample in &samples {
            self.render(std::slice::from_ref(sample), &context)?;
        }
        self.render(&samples, &context).map(drop)
    }

    /// One message for `events`: a single alert for one event, a digest for more.
    pub fn render(
        &self,
        events: &[Event],
        context: &RenderContext,
    ) -> Result<Rendered, RenderError> {
        if events.is_empty() {
            return Err(RenderError::NoEvents);
        }
        let view = MessageView::new(events, context);
        let render_one = |index: usize, name: &str| {
            self.env
                .get_template(name)
                .and_then(|template| template.render(&view))
                .map_err(|e| template_error(&self.origins, index, e))
        };
        let subject = render_one(0, SUBJECT)?;
        Ok(Rendered {
            // A campaign name with a line break must not end the header early.
            subject: crate::text::header(&subject, SUBJECT_CHARS),
            text: render_one(1, TEXT)?,
            html: render_one(2, HTML)?,
        })
    }

    /// As [`Self::render`], but the built-in templates stand in if a custom
    /// one fails at send time (it passed the same checks at start, so that
    /// means an event shape the checks did not cover): an alert still goes out.
    pub fn render_or_builtin(
        &self,
        events: &[Event],
        context: &RenderContext,
    ) -> Result<Rendered, RenderError> {
        self.render(events, context).or_else(|error| {
            tracing::error!(error = %error, "custom template failed; using the built-in one for this message");
            Templates::builtin().render(events, context)
        })
    }
}

fn template_error(
    origins: &[Option<PathBuf>; 3],
    index: usize,
    error: minijinja::Error,
) -> RenderError {
    let what = match &origins[index] {
        Some(path) => format!("\"{}\"", path.display()),
        None => format!("built-in {}", [SUBJECT, TEXT, HTML][index]),
    };
    RenderError::Template {
        what,
        message: template_message(&error),
    }
}

/// What went wrong in a template, for an operator: the kind of error, its
/// detail and the line.
pub(crate) fn template_message(error: &minijinja::Error) -> String {
    let mut message = error.kind().to_string();
    if let Some(detail) = error.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    if let Some(line) = error.line() {
        message.push_str(&format!(" (line {line})"));
    }
    message
}

/// What changed, in a few words: the subject of a single-event message.
/// An event of an account other than `default` starts with its account
/// (`acme · Q4 Outreach: live → paused`), so every channel shows it.
pub fn headline(event: &Event) -> String {
    match event.named_account() {
        Some(account) => format!("{account} · {}", account_headline(event)),
        None => account_headline(event),
    }
}

fn account_headline(event: &Event) -> String {
    let name = campaign_name(event);
    // The end of an episode says how long it lasted, in every channel.
    if let Some(ended) = ended_after(event) {
        return match &event.campaign {
            Some(_) => format!("{name}: {ended}"),
            None => format!("SigmaMind API {ended}"),
        };
    }
    match event.kind {
        EventType::StatusChanged => match event.transition() {
            Some((from, to)) => format!("{name}: {from} → {to}"),
            None => match &event.campaign {
                Some(campaign) => format!("{name}: now {}", campaign.status),
                None => one_line(&event.summary, NAME_CHARS),
            },
        },
        EventType::UploadErrorsAdded => format!(
            "{name}: {}",
            plural(
                event.upload_errors.added.len(),
                "new upload error",
                "new upload errors"
            )
        ),
        EventType::UploadErrorsCleared => format!("{name}: upload errors cleared"),
        EventType::SettingsChanged => {
            let fields: Vec<&str> = event.changes.iter().map(|c| c.field.as_str()).collect();
            if fields.is_empty() {
                format!("{name}: settings changed")
            } else {
                format!("{name}: settings changed ({})", fields.join(", "))
            }
        }
        EventType::NotFound => format!("{name}: no longer found"),
        EventType::FoundAgain => match &event.campaign {
            Some(campaign) => format!("{name}: found again ({})", campaign.status),
            None => format!("{name}: found again"),
        },
        EventType::Reminder => match &event.campaign {
            Some(campaign) => format!("{name}: still {}", campaign.status),
            None => one_line(&event.summary, NAME_CHARS),
        },
        EventType::ApiUnhealthy => {
            "SigmaMind API unhealthy: campaigns are not being watched".into()
        }
        EventType::ApiRecovered => "SigmaMind API recovered".into(),
        EventType::StoreUnhealthy => {
            "State store unwritable: changes are not being recorded".into()
        }
        EventType::StoreRecovered => "State store recovered".into(),
        EventType::Test => "TEST message: no campaign changed".into(),
        EventType::QuietHoursDigest => "Held during quiet hours".into(),
        // Reading and delivery health.
        EventType::CampaignUnreadable => format!("{name}: cannot be read"),
        EventType::CampaignReadable => format!("{name}: readable again"),
        // The summary names the channel (never its URL): the whole point of the message.
        EventType::ChannelUnhealthy | EventType::ChannelRecovered => event.summary.clone(),
    }
}

/// The worst change of a batch first, with its account, and how many more
/// (`clientb · Winback South paused, and 2 more changes`): what a phone's
/// notification shows must say what matters most. The same line twice (the
/// same watcher news) counts once.
pub fn digest_headline(events: &[Event]) -> String {
    let Some(worst) = worst_first(events).into_iter().next() else {
        return String::new();
    };
    let lines: BTreeSet<String> = events.iter().map(headline).collect();
    let first = short_headline(worst);
    match lines.len().saturating_sub(1) {
        0 => first,
        more => format!(
            "{first}, and {}",
            plural(more, "more change", "more changes")
        ),
    }
}

/// `events`, most severe first (problems before news and ends), in their
/// order otherwise: the order a digest's body lists them in.
pub fn worst_first(events: &[Event]) -> Vec<&Event> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|event| std::cmp::Reverse(gravity(event)));
    sorted
}

/// How much a change matters to the people who read about it: the watcher
/// blind, a campaign gone, a campaign that stopped dialling, other problems,
/// a reminder of one, news, then what ended a problem.
fn gravity(event: &Event) -> u8 {
    let paused = event
        .campaign
        .as_ref()
        .is_some_and(|campaign| campaign.status == CampaignStatus::Paused);
    match event.kind {
        EventType::ApiUnhealthy | EventType::StoreUnhealthy => 6,
        EventType::NotFound => 5,
        EventType::StatusChanged if paused => 4,
        EventType::UploadErrorsAdded
        | EventType::CampaignUnreadable
        | EventType::ChannelUnhealthy => 3,
        EventType::Reminder => 2,
        EventType::StatusChanged | EventType::SettingsChanged => 1,
        _ => 0,
    }
}

/// A digest's lead: a status change as `Winback South paused`, anything else
/// as its own headline.
fn short_headline(event: &Event) -> String {
    let line = match (event.kind, event.transition(), ended_after(event)) {
        (EventType::StatusChanged, Some((_, to)), None) => {
            format!("{} {to}", campaign_name(event))
        }
        _ => return headline(event),
    };
    match event.named_account() {
        Some(account) => format!("{account} · {line}"),
        None => line,
    }
}

/// The name this watcher signs its messages with: the host name (`gethostname`),
/// else `$HOSTNAME`, else "campaign-watcher".
pub fn default_instance_name() -> String {
    let from_system = hostname::get()
        .ok()
        .and_then(|name| name.into_string().ok())
        .map(|name| name.trim().to_string());
    from_system
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|name| !name.trim().is_empty())
        })
        .unwrap_or_else(|| "campaign-watcher".into())
}

#[cfg(test)]
mod tests;
