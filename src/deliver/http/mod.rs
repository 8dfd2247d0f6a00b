//! `kind = "http"`: the operator's own request, one per event. `method`,
//! `url`, `headers` and `body` are minijinja templates (`http/template.rs`)
//! rendered against [`facts`]: the webhook payload v1 object as `event`, the
//! condition the event starts or ends, its severity, the instance, the time
//! and `secrets`. Values are escaped by place, so a campaign name full of
//! quotes, backslashes and line breaks cannot break the JSON, the URL or a
//! header. Events that start a condition take the `start` overrides, those
//! that end one the `end` overrides.
//!
//! Every template is rendered against a sample of every event type when the
//! configuration loads, so a broken one is a configuration error naming the
//! channel, the key and the line. Answers: 2xx sent; 408, 429 (honouring
//! `Retry-After`) and 5xx retried; other 4xx dead. Secrets appear only in the
//! request itself: `render` shows `<secret NAME>`, and answers are scrubbed.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};

use super::channel::{BuildContext, ChannelConfig, Deliver};
use super::chat::severities;
use super::target::{answered, outcome_for_status, Target};
use super::{DeliverError, PayloadError, SendOutcome, SeverityMap};
use crate::event::{Event, EventType};
use crate::outbound::Scrubber;

mod facts;
mod secrets;
mod settings;
mod template;
mod variant;

use facts::facts;
use secrets::{
    name_secrets, real_secrets, scrubbed_spellings, settings_stand_ins, show_stand_ins, stand_ins,
};
pub use settings::{HttpChannelSettings, RequestOverride};
pub use template::Place;
pub(super) use template::TemplateError;
use template::{RenderedRequest, RequestTemplates};

/// Methods a template may render.
const METHODS: [&str; 5] = ["POST", "PUT", "PATCH", "GET", "DELETE"];

/// How far the event's texts and lists are cut when a body does not fit
/// `max_body_bytes`: (characters per string, items per list), tried in turn.
const SHRINK: [(usize, usize); 5] = [
    (usize::MAX, usize::MAX),
    (1024, 100),
    (256, 20),
    (64, 5),
    (16, 1),
];

pub struct HttpChannel {
    templates: RequestTemplates,
    /// One per scheme, host and port the url templates render with the real
    /// secrets (seen at build): a secret may be part of the host.
    targets: Vec<Target>,
    content_type: HeaderValue,
    max_body_bytes: usize,
    severities: SeverityMap,
    instance: String,
    secrets: BTreeMap<String, String>,
    /// The url came from `url_file`: `render` shows its host only.
    url_is_secret: bool,
    /// Removes the secrets (and pieces of them) from every reason and detail.
    scrubber: Scrubber,
}

impl std::fmt::Debug for HttpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A target's host may hold a secret.
        f.debug_struct("HttpChannel")
            .field("targets", &self.targets.len())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Header names whose values are credentials: `render` and `check-config`
/// hide them unless they come from `secrets`.
pub(super) fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["authorization", "cookie"].contains(&name.as_str())
        || ["auth", "token", "key", "secret", "signature", "password"]
            .iter()
            .any(|word| name.contains(word))
}

/// One request ready to send.
#[derive(Debug)]
struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<String>,
}

/// Checks one rendered request as HTTP; `Err` names the key.
fn to_request(rendered: RenderedRequest, place: Place) -> Result<Request, PayloadError> {
    let method = rendered.method.as_str();
    if !METHODS.contains(&method) {
        return Err(PayloadError::UnknownMethod {
            shown: crate::text::header(method, 20).to_string(),
            allowed: METHODS.join(", "),
        });
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| PayloadError::Method {
        reason: e.to_string(),
    })?;
    let url = Url::parse(&rendered.url).map_err(|e| PayloadError::Url {
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(PayloadError::UrlScheme {
            scheme: url.scheme().to_string(),
        });
    }
    let mut headers = HeaderMap::new();
    for (name, value) in rendered.headers {
        let key = format!("headers.{name}");
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PayloadError::HeaderName { key: key.clone() })?;
        let mut value =
            HeaderValue::from_str(&value).map_err(|_| PayloadError::HeaderValue { key })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    if let (Some(body), Place::Json) = (&rendered.body, place) {
        if let Err(error) = serde_json::from_str::<serde_json::Value>(body) {
            return Err(PayloadError::BodyJson(error));
        }
    }
    Ok(Request {
        method,
        url,
        headers,
        body: rendered.body,
    })
}

/// A whole path segment of the rendered `url` that is `.` or `..` once
/// percent-decoded: URL parsing resolves it (`%2e%2e` too), so the request
/// would leave the path the template wrote. Encoding cannot prevent it.
fn dot_segment(url: &str) -> Option<&'static str> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .split_once('/')
        .map_or("", |(_, path)| path);
    path.split(['/', '\\']).find_map(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        match decoded.as_ref() {
            "." => Some("."),
            ".." => Some(".."),
            _ => None,
        }
    })
}

/// `scheme://host:port` of a URL, the key its client is found by.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Every template source by its key (`url`, `headers.x-title`, `end.body`).
fn template_sources(settings: &HttpChannelSettings) -> BTreeMap<String, String> {
    let mut sources = BTreeMap::new();
    let tables = [
        ("", Some(settings.sources())),
        (
            "start.",
            settings.start.as_deref().map(RequestOverride::sources),
        ),
        (
            "end.",
            settings.end.as_deref().map(RequestOverride::sources),
        ),
    ];
    for (prefix, table) in tables {
        let Some(table) = table else { continue };
        for (key, source) in [
            ("method", table.method),
            ("url", table.url),
            ("body", table.body),
        ] {
            if let Some(source) = source {
                sources.insert(format!("{prefix}{key}"), source);
            }
        }
        for (name, source) in table.headers {
            sources.insert(
                format!("{prefix}headers.{}", name.to_ascii_lowercase()),
                source,
            );
        }
    }
    sources
}

/// `secrets.NAME` used by a template but configured in neither `secrets`
/// nor `secret_files`: one problem per key and name.
fn missing_secrets(settings: &HttpChannelSettings) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, source) in template_sources(settings) {
        for (at, _) in source.match_indices("secrets.") {
            let name: String = source[at + "secrets.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let known =
                settings.secrets.contains_key(&name) || settings.secret_files.contains_key(&name);
            let problem = format!(
                "{key}: uses secrets.{name}, which is not configured: set secret_files.{name} (or secrets.{name} from the environment)"
            );
            if !name.is_empty() && !known && !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    problems
}

fn compile(settings: &HttpChannelSettings) -> Result<RequestTemplates, Vec<String>> {
    let overrides =
        |table: &Option<Box<RequestOverride>>| table.as_deref().map(RequestOverride::sources);
    RequestTemplates::compile(
        &settings.sources(),
        overrides(&settings.start).as_ref(),
        overrides(&settings.end).as_ref(),
        Place::for_body(settings.content_type()),
    )
    .map_err(|errors| errors.into_iter().map(|e| e.to_string()).collect())
}

/// Renders every template against a sample of every event type (each
/// problem once, naming its key and line) and returns the origin each url
/// rendered to, with `secrets` (stand-ins for the checks, the real values
/// for the hosts the channel sends to). Used by `check` (at load) and by the build.
fn rendered_origins(
    settings: &HttpChannelSettings,
    templates: &RequestTemplates,
    secrets: &BTreeMap<String, String>,
) -> Result<Vec<Url>, Vec<String>> {
    let at = chrono::DateTime::from_timestamp(1_764_148_502, 0).unwrap_or_default();
    let severities = settings
        .severity
        .as_ref()
        .and_then(|table| table.map().ok())
        .cloned()
        .unwrap_or_default();
    let place = Place::for_body(settings.content_type());
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let sources = template_sources(settings);
    let mut origins: Vec<Url> = Vec::new();
    for kind in EventType::ALL {
        let sample = crate::render::sample_event(kind, at);
        for (index, shrink) in [SHRINK[0], SHRINK[SHRINK.len() - 1]]
            .into_iter()
            .enumerate()
        {
            let (variant, context) = facts(&sample, "check", &severities, secrets, shrink);
            let outcome = templates
                .render(variant, &context)
                .map_err(PayloadError::from)
                .and_then(|rendered| to_request(rendered, place))
                .map_err(|error| error.to_string());
            match outcome {
                Err(mut problem) => {
                    let key = problem.split(':').next().unwrap_or_default();
                    let uses_campaign = sources
                        .get(key)
                        .is_some_and(|source| source.contains("event.campaign"));
                    if sample.campaign.is_none()
                        && uses_campaign
                        && problem.contains("undefined value")
                    {
                        problem.push_str(
                            "; event.campaign is none for watcher events: test it with {% if event.campaign %}",
                        );
                    }
                    // The same problem for several event types is reported once,
                    // with the first type that shows it.
                    if seen.insert(problem.clone()) {
                        problems.push(format!("{problem} (rendering a sample {kind} event)"));
                    }
                }
                Ok(request) => {
                    let size = request.body.as_ref().map_or(0, String::len);
                    if index == 1 && size > settings.max_body_bytes() {
                        problems.push(format!(
                            "max_body_bytes: the body of a sample {kind} event is {size} bytes even with its texts cut to {} characters; raise max_body_bytes or shorten body",
                            SHRINK[SHRINK.len() - 1].0
                        ));
                    }
                    let mut url = request.url;
                    url.set_path("/");
                    url.set_query(None);
                    url.set_fragment(None);
                    let _ = url.set_username("");
                    let _ = url.set_password(None);
                    if !origins.iter().any(|known| origin(known) == origin(&url)) {
                        origins.push(url);
                    }
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
        Ok(origins)
    } else {
        Err(problems)
    }
}

fn named_problems(problems: Vec<String>, secrets: &BTreeMap<String, String>) -> Vec<String> {
    problems
        .iter()
        .map(|problem| name_secrets(problem, secrets))
        .collect()
}

/// Every template problem of `settings`, each starting with its key, and
/// the destination rule for every host the url renders to.
pub(super) fn check_templates(settings: &HttpChannelSettings) -> Result<(), Vec<String>> {
    let missing = missing_secrets(settings);
    if !missing.is_empty() {
        return Err(missing);
    }
    let templates = compile(settings)?;
    let stand_ins = settings_stand_ins(settings);
    let origins = rendered_origins(settings, &templates, &stand_ins)?;
    // The hosts really sent to: a secret may be (part of) the host.
    let (origins, secrets) = match real_secrets(settings) {
        Some(secrets) => (
            rendered_origins(settings, &templates, &secrets)
                .map_err(|problems| named_problems(problems, &secrets))?,
            secrets,
        ),
        None => (origins, stand_ins.clone()),
    };
    let refused: Vec<String> = origins
        .iter()
        .filter(|_| !settings.allow_link_local)
        .filter_map(|url| crate::outbound::check_destination(url).err())
        .map(|blocked| {
            let text = name_secrets(&format!("url: {blocked}"), &secrets);
            show_stand_ins(&text, &stand_ins)
        })
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(refused)
    }
}

impl HttpChannel {
    pub fn new(
        settings: &HttpChannelSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let templates =
            compile(settings).map_err(|problems| context.invalid(problems.join("; ")))?;
        rendered_origins(settings, &templates, &settings_stand_ins(settings))
            .map_err(|problems| context.invalid(problems.join("; ")))?;
        let secrets: BTreeMap<String, String> = settings
            .secrets
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_string()))
            .collect();
        let origins = rendered_origins(settings, &templates, &secrets)
            .map_err(|problems| context.invalid(named_problems(problems, &secrets).join("; ")))?;
        // The secrets, and all of a url read from url_file.
        let scrubbed = scrubbed_spellings(&settings.secrets());
        let exposed: Vec<&str> = scrubbed.iter().map(String::as_str).collect();
        let mut targets = Vec::new();
        for url in origins {
            let target = Target::new(
                context.name,
                url.as_str(),
                context.shared.timeout,
                settings.allow_link_local,
            )
            .map_err(|error| context.invalid(name_secrets(&error.to_string(), &secrets)))?;
            targets.push(target.scrubbing(&exposed));
        }
        let content_type = HeaderValue::from_str(settings.content_type())
            .map_err(|_| context.invalid("`content_type` is not a header value"))?;
        Ok(Self {
            templates,
            targets,
            content_type,
            max_body_bytes: settings.max_body_bytes(),
            severities: severities(context.name, settings.severity.as_ref())?,
            instance: context.instance.to_string(),
            secrets,
            url_is_secret: settings.url_file.is_some(),
            scrubber: Scrubber::new(scrubbed),
        })
    }

    fn body_place(&self) -> Place {
        Place::for_body(self.content_type.to_str().unwrap_or_default())
    }

    /// The request for `event` with `secrets`: rendered, cut to fit
    /// `max_body_bytes`, checked as HTTP. `Err` names the key, never a value.
    fn request(
        &self,
        event: &Event,
        secrets: &BTreeMap<String, String>,
    ) -> Result<(Request, Option<&'static str>), PayloadError> {
        let mut last_size = 0;
        for (level, shrink) in SHRINK.into_iter().enumerate() {
            let (variant, context) =
                facts(event, &self.instance, &self.severities, secrets, shrink);
            let rendered = self.templates.render(variant, &context)?;
            if let Some(segment) = dot_segment(&rendered.url) {
                return Err(PayloadError::PathSegment {
                    key: self.templates.url_key(variant).to_string(),
                    segment: segment.to_string(),
                });
            }
            let request = to_request(rendered, self.body_place())?;
            last_size = request.body.as_ref().map_or(0, String::len);
            if last_size <= self.max_body_bytes {
                let note = (level > 0).then_some("texts cut to fit max_body_bytes");
                return Ok((request, note));
            }
        }
        Err(PayloadError::OverLimit {
            size: last_size,
            limit: self.max_body_bytes,
        })
    }

    fn target_for(&self, url: &Url) -> Option<&Target> {
        self.targets
            .iter()
            .find(|target| origin(&target.url) == origin(url))
    }

    /// What `render` shows of a URL: all of it with secrets as `<secret NAME>`,
    /// or only its host when the URL came from `url_file`.
    fn shown_url(&self, url: &Url, stand_ins: &BTreeMap<String, String>) -> String {
        let shown = if self.url_is_secret {
            crate::outbound::shown_url(url.as_str())
        } else {
            url.to_string()
        };
        show_stand_ins(&shown, stand_ins)
    }
}

impl Deliver for HttpChannel {
    /// Each request as it would go out, secrets shown as `<secret NAME>`.
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        let stand_ins = stand_ins(self.secrets.keys().cloned());
        let mut out = String::new();
        for event in events {
            let (request, note) = self.request(event, &stand_ins)?;
            out.push_str(&format!(
                "{} {}\n",
                request.method,
                self.shown_url(&request.url, &stand_ins)
            ));
            if request.body.is_some() {
                out.push_str(&format!(
                    "content-type: {}\n",
                    self.content_type.to_str().unwrap_or_default()
                ));
            }
            for (name, value) in &request.headers {
                let value = String::from_utf8_lossy(value.as_bytes());
                let shown = if is_sensitive_header(name.as_str())
                    && !stand_ins.values().any(|stand_in| value.contains(stand_in))
                {
                    "<redacted>".to_string()
                } else {
                    show_stand_ins(&value, &stand_ins)
                };
                out.push_str(&format!("{name}: {shown}\n"));
            }
            if let Some(note) = note {
                out.push_str(&format!("# {note}\n"));
            }
            out.push('\n');
            if let Some(body) = &request.body {
                out.push_str(&show_stand_ins(body, &stand_ins));
                out.push_str("\n\n");
            }
        }
        Ok(out)
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        match self.send_unscrubbed(event).await {
            SendOutcome::Delivered { detail } => SendOutcome::Delivered {
                detail: self.scrub(&detail),
            },
            SendOutcome::Retry {
                reason,
                retry_after,
            } => SendOutcome::Retry {
                reason: self.scrub(&reason),
                retry_after,
            },
            SendOutcome::Permanent { reason } => SendOutcome::Permanent {
                reason: self.scrub(&reason),
            },
        }
    }
}

impl HttpChannel {
    /// Every text of the outcome may name the host, which may hold a secret:
    /// [`Deliver::send`] scrubs them all.
    async fn send_unscrubbed(&self, event: &Event) -> SendOutcome {
        let (request, note) = match self.request(event, &self.secrets) {
            Ok(request) => request,
            Err(reason) => {
                return SendOutcome::Permanent {
                    reason: format!("cannot build the request: {reason}"),
                }
            }
        };
        let Some(target) = self.target_for(&request.url) else {
            return SendOutcome::Permanent {
                reason: format!(
                    "the url renders to {} for this {} event, a host not seen when the channel was built; only the path and query may depend on the event",
                    crate::outbound::shown_url(request.url.as_str()),
                    event.kind
                ),
            };
        };
        let mut builder = target
            .client
            .request(request.method.clone(), request.url)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder
                .header(CONTENT_TYPE, self.content_type.clone())
                .body(body);
        }
        let answer = match target.send(builder, request.method.as_str()).await {
            Ok(answer) => answer,
            Err(reason) => {
                return SendOutcome::Retry {
                    reason: reason.to_string(),
                    retry_after: None,
                }
            }
        };
        let mut reason = answered(target.display(), &answer);
        if let Some(note) = note {
            reason.push_str(&format!(" ({note})"));
        }
        outcome_for_status(answer.status.as_u16(), reason, answer.retry_after)
    }

    /// Secrets named (`<secret NAME>`), then any piece left removed.
    fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(&name_secrets(text, &self.secrets))
    }
}

#[cfg(test)]
mod tests;
