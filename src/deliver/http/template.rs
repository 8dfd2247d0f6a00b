//! The request templates of one `http` channel: `method`, `url`, `headers`
//! and `body`, with the `start` and `end` overrides, compiled into one
//! minijinja environment and rendered against [`Facts`].
//!
//! Escaping is chosen by where a template's output goes, never by the
//! template's author: every template is named `PLACE|KEY`, the auto-escape
//! callback turns `PLACE` into [`AutoEscape::Custom`], and the formatter
//! escapes every value printed with `{{ }}` for that place ([`Place::escape`],
//! the sanitisers of `crate::text`). Text the author wrote in the template is
//! left as written. `tojson` prints a whole JSON value inside JSON bodies (and
//! is an ordinary, escaped string anywhere else).

use std::collections::BTreeMap;

use super::variant::Variant;
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};

/// Where a template's output goes, which decides how printed values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `method`: one token; values lose their control characters.
    Method,
    /// `url`: every value percent-encoded.
    Url,
    /// A header value: CR, LF and other control characters become spaces.
    Header,
    /// A JSON body: values escaped for inside a JSON string the template quotes.
    Json,
    /// A form body: values form-encoded.
    Form,
    /// Any other body: values as they are.
    Text,
}

impl Place {
    const ALL: [Place; 6] = [
        Self::Method,
        Self::Url,
        Self::Header,
        Self::Json,
        Self::Form,
        Self::Text,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Method => "method",
            Self::Url => "url",
            Self::Header => "header",
            Self::Json => "json",
            Self::Form => "form",
            Self::Text => "text",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|place| place.name() == name)
    }

    /// The body's place for `content_type`: JSON for `application/json` and
    /// `*+json`, form for `application/x-www-form-urlencoded`, else text.
    pub fn for_body(content_type: &str) -> Self {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence == "application/json" || essence.ends_with("+json") {
            Self::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Self::Form
        } else {
            Self::Text
        }
    }

    /// `text` escaped for this place.
    pub fn escape(self, text: &str) -> String {
        match self {
            Self::Url => crate::text::url_component(text),
            Self::Header | Self::Method => crate::text::header(text, HEADER_CHARS),
            Self::Json => crate::text::json_string(text),
            Self::Form => crate::text::form_component(text),
            Self::Text => text.to_string(),
        }
    }
}

/// Longest header value one printed value may add.
const HEADER_CHARS: usize = 2000;

/// The keys of one request: the top level, or a `start`/`end` override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSources {
    pub method: Option<String>,
    pub url: Option<String>,
    /// Header name → value template.
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
}

/// The template names one variant renders, each the config key it came from.
#[derive(Debug, Clone)]
struct Names {
    method: Option<String>,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// One request, rendered; not yet checked as HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRequest {
    pub method: String,
    pub url: String,
    /// Lower-case header name → value.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A template problem, naming the key (`body`, `end.url`, `headers.title`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TemplateError {
    pub key: String,
    pub message: String,
}

/// The compiled templates of one channel.
pub struct RequestTemplates {
    env: Environment<'static>,
    names: [Names; 3],
}

impl std::fmt::Debug for RequestTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestTemplates").finish_non_exhaustive()
    }
}

impl RequestTemplates {
    /// Compiles every template; `body_place` follows `content_type`. Every
    /// syntax error is reported, each naming its key and line.
    pub fn compile(
        base: &RequestSources,
        start: Option<&RequestSources>,
        end: Option<&RequestSources>,
        body_place: Place,
    ) -> Result<Self, Vec<TemplateError>> {
        let mut env = environment();
        let mut errors = Vec::new();
        let mut add = |key: String, place: Place, source: &str| -> String {
            let name = format!("{}|{key}", place.name());
            if let Err(error) = env.add_template_owned(name.clone(), source.to_string()) {
                errors.push(template_error(&key, &error));
            }
            name
        };
        let mut names = Vec::new();
        for (variant, sources) in [
            (Variant::Plain, Some(base)),
            (Variant::Start, start),
            (Variant::End, end),
        ] {
            let prefix = variant.prefix();
            let plain = variant == Variant::Plain;
            let pick = |own: &Option<String>, base_field: &Option<String>, key: &str| match own {
                Some(source) if !plain => Some((format!("{prefix}{key}"), source.clone())),
                _ => base_field.clone().map(|source| (key.to_string(), source)),
            };
            let sources = sources.cloned().unwrap_or_default();
            let method = pick(&sources.method, &base.method, "method");
            let url = pick(&sources.url, &base.url, "url");
            let body = pick(&sources.body, &base.body, "body");
            let mut headers: BTreeMap<String, (String, String)> = base
                .headers
                .iter()
                .map(|(name, source)| {
                    let lower = name.to_ascii_lowercase();
                    (lower.clone(), (format!("headers.{lower}"), source.clone()))
                })
                .collect();
            if variant != Variant::Plain {
                for (name, source) in &sources.headers {
                    let lower = name.to_ascii_lowercase();
                    headers.insert(
                        lower.clone(),
                        (format!("{prefix}headers.{lower}"), source.clone()),
                    );
                }
            }
            let url = url.unwrap_or_else(|| ("url".into(), String::new()));
            names.push(Names {
                method: method.map(|(key, source)| add(key, Place::Method, &source)),
                url: add(url.0, Place::Url, &url.1),
                headers: headers
                    .into_iter()
                    .map(|(name, (key, source))| (name, add(key, Place::Header, &source)))
                    .collect(),
                body: body.map(|(key, source)| add(key, body_place, &source)),
            });
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.key.cmp(&b.key));
            errors.dedup();
            return Err(errors);
        }
        let [plain, start, end]: [Names; 3] = names.try_into().map_err(|_| Vec::new())?;
        Ok(Self {
            env,
            names: [plain, start, end],
        })
    }

    /// The request of `variant` against `context` (the facts are `facts.rs`'s).
    pub fn render(
        &self,
        variant: Variant,
        context: &Value,
    ) -> Result<RenderedRequest, TemplateError> {
        let names = &self.names[variant as usize];
        let render = |name: &str| -> Result<String, TemplateError> {
            self.env
                .get_template(name)
                .and_then(|template| template.render(context))
                .map_err(|error| template_error(key_of(name), &error))
        };
        let method = match &names.method {
            Some(name) => render(name)?.trim().to_ascii_uppercase(),
            None => "POST".to_string(),
        };
        let mut headers = Vec::new();
        for (header, name) in &names.headers {
            headers.push((header.clone(), render(name)?.trim().to_string()));
        }
        Ok(RenderedRequest {
            method,
            url: render(&names.url)?.trim().to_string(),
            headers,
            body: names.body.as_deref().map(render).transpose()?,
        })
    }
}

impl RequestTemplates {
    /// The config key of the url template `variant` renders (`url`, `end.url`).
    pub fn url_key(&self, variant: Variant) -> &str {
        key_of(&self.names[variant as usize].url)
    }
}

fn key_of(name: &str) -> &str {
    name.split_once('|').map_or(name, |(_, key)| key)
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Printing a misspelt variable is an error found at load; `{% if x %}` on
    // a missing one is false, so templates can test optional fields.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(|name| {
        let place = name
            .split_once('|')
            .and_then(|(place, _)| Place::parse(place));
        match place {
            Some(place) => AutoEscape::Custom(place.name()),
            None => AutoEscape::None,
        }
    });
    env.set_formatter(format_value);
    env.add_filter("tojson", tojson);
    env
}

/// Every printed value, escaped for the place of the template printing it.
fn format_value(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    let place = match state.auto_escape() {
        AutoEscape::Custom(name) => Place::parse(name).unwrap_or(Place::Text),
        _ => Place::Text,
    };
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    let text = value.to_string();
    // Safe strings are already escaped for this place (`tojson` in a JSON
    // body, a macro's output). A header never gets a line break, whatever.
    let written = match (value.is_safe(), place) {
        (_, Place::Header | Place::Method) => place.escape(&text),
        (true, _) => text,
        (false, _) => place.escape(&text),
    };
    out.write_str(&written).map_err(Error::from)
}

/// `{{ event.upload_errors.added | tojson }}`: the whole value as JSON. In a
/// JSON body it is printed as it is; anywhere else it is a string like any
/// other, escaped for its place.
fn tojson(state: &State, value: Value) -> Result<Value, Error> {
    let json = serde_json::to_string(&value).map_err(|error| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot print as JSON: {error}"),
        )
    })?;
    // In JSON text these characters only occur inside strings, where the
    // escapes mean the same; escaped, the value stays inert in HTML too.
    let json = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    Ok(match state.auto_escape() {
        AutoEscape::Custom(name) if name == Place::Json.name() => Value::from_safe_string(json),
        _ => Value::from(json),
    })
}

fn template_error(key: &str, error: &Error) -> TemplateError {
    TemplateError {
        key: key.to_string(),
        message: crate::render::template_message(error),
    }
}
