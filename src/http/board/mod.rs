//! The board: server-rendered HTML pages over the same
//! values the JSON API answers ([`super::api`]), a stylesheet and a script
//! served from the binary (the Content-Security-Policy allows no inline
//! script or style), and no front-end build step. Templates are minijinja with
//! HTML auto-escaping (every template name ends in `.html`), so a campaign
//! named `<img src=x onerror=alert(1)>` is shown as text. Channels appear by
//! name only. Without JavaScript every page works (links and GET forms); with
//! it, the page updates in place on each commit ([`super::live`]).

use std::sync::OnceLock;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use minijinja::{Environment, Value};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::api::campaigns::{campaign_answer, campaign_list, CampaignParams, PATH_SEGMENT};
use super::api::events::{event_list, EventParams, EventView};
use super::api::silences::{silence_list, Which};
use super::api::status::{status_view, StatusView};
use super::api::ApiError;
use super::{HttpState, Viewer};
use crate::commit::STATUS_LABELS;
use crate::config::Role;
use crate::event::{EventType, DEFAULT_ACCOUNT};

mod actions;
mod pages;
use pages::*;

const CSS: &str = include_str!("assets/board.css");
const JS: &str = include_str!("assets/board.js");

const TEMPLATES: [(&str, &str); 9] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("glance.html", include_str!("templates/glance.html")),
    ("campaigns.html", include_str!("templates/campaigns.html")),
    ("campaign.html", include_str!("templates/campaign.html")),
    ("deliveries.html", include_str!("templates/deliveries.html")),
    ("events.html", include_str!("templates/events.html")),
    ("silences.html", include_str!("templates/silences.html")),
    (
        "silence_new.html",
        include_str!("templates/silence_new.html"),
    ),
    ("error.html", include_str!("templates/error.html")),
];

/// The board's pages and assets (inside the request timeout).
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/", get(campaigns_page))
        .route("/accounts/{account}/campaigns/{id}", get(campaign_page))
        .route("/accounts/{account}/campaign", get(campaign_page_by_query))
        .route("/events", get(events_page))
        .route(
            "/silences",
            get(silences_page).post(actions::create_silence),
        )
        .route("/silences/new", get(actions::new_silence_page))
        .route("/silences/{id}/end", post(actions::end_silence))
        .route("/outbox/{id}/replay", post(actions::replay))
        .route("/assets/board.css", get(css))
        .route("/assets/board.js", get(js))
        .fallback(unknown_page)
}

/// Any other path: an HTML 404 with a way back.
async fn unknown_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "there is no such page on the board",
    )
}

/// What a page needs to show the admin controls: whether to show them, the
/// CSRF field their forms carry, and the page to come back to after an action.
#[derive(Debug, Clone, serde::Serialize)]
struct Controls {
    admin: bool,
    csrf: String,
    back: String,
}

impl Controls {
    fn of(viewer: &Viewer, back: &str) -> Self {
        let admin = viewer.may(Role::Admin);
        Self {
            admin,
            csrf: if admin {
                viewer.csrf_field()
            } else {
                String::new()
            },
            back: back.to_string(),
        }
    }
}

/// The board's page of one campaign of `account` (by its query for `.` and
/// `..`, which cannot be path segments).
pub fn campaign_page_path(account: &str, id: &str) -> String {
    let account = utf8_percent_encode(account, PATH_SEGMENT);
    let id_text = utf8_percent_encode(id, PATH_SEGMENT);
    if crate::http::api::campaigns::is_dot_segment(id) {
        format!("/accounts/{account}/campaign?id={id_text}")
    } else {
        format!("/accounts/{account}/campaigns/{id_text}")
    }
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        // API text is shown as the escapes `text::terminal_lines` makes of its
        // control characters and bidirectional overrides (which would reorder
        // what a reader sees), then HTML-escaped; line breaks stay.
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(text) if !value.is_safe() => {
                let shown = Value::from(crate::text::terminal_lines(text));
                minijinja::escape_formatter(out, state, &shown)
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        env.add_filter("when", |value: Value| when(value, Utc::now()));
        env.add_filter("badge", badge);
        env.add_filter("words", type_words);
        env.add_filter("plural", plural);
        env.add_filter("urlpart", |text: String| {
            utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string()
        });
        for (name, source) in TEMPLATES {
            // The templates are compiled into the binary; a unit test renders each.
            env.add_template(name, source)
                .expect("the built-in board templates parse");
        }
        env
    })
}

/// An RFC 3339 time (as serde writes it) as how long ago it was ("3 min
/// ago") in a `<time>` element whose title is the exact time
/// ("2026-11-26 09:15:02 UTC"; the script shows it in the viewer's zone and
/// keeps the words current); "-" for none.
fn when(value: Value, now: DateTime<Utc>) -> Value {
    let Some(at) = value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&Utc))
    else {
        return Value::from("-");
    };
    // Made only of digits, letters and punctuation this code writes: safe as HTML.
    Value::from_safe_string(format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        at.format("%Y-%m-%dT%H:%M:%SZ"),
        at.format("%Y-%m-%d %H:%M:%S UTC"),
        relative(at, now)
    ))
}

/// How far `at` is from `now`, in the largest unit that says it: "just now",
/// "3 min ago", "5 h ago", "4 days ago", "in 20 min". The board's script
/// words it the same way (`board.js`, `ago`).
fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let span = seconds.unsigned_abs();
    let amount = match span {
        0..60 => {
            return match seconds < 0 {
                true => "in under a minute".into(),
                false => "just now".into(),
            }
        }
        60..3600 => format!("{} min", span / 60),
        3600..172_800 => format!("{} h", span / 3600),
        _ => format!("{} days", span / 86_400),
    };
    match seconds < 0 {
        true => format!("in {amount}"),
        false => format!("{amount} ago"),
    }
}

/// An event type as words ("status changed", "new upload errors"); the type
/// itself is the element's title. A type this build does not know is shown
/// as it is.
fn type_words(text: String) -> String {
    let words = match EventType::parse(&text) {
        Some(EventType::StatusChanged) => "status changed",
        Some(EventType::UploadErrorsAdded) => "new upload errors",
        Some(EventType::UploadErrorsCleared) => "upload errors cleared",
        Some(EventType::SettingsChanged) => "settings changed",
        Some(EventType::NotFound) => "disappeared (404)",
        Some(EventType::FoundAgain) => "found again",
        Some(EventType::Reminder) => "reminder",
        Some(EventType::CampaignUnreadable) => "unreadable",
        Some(EventType::CampaignReadable) => "readable again",
        Some(EventType::ApiUnhealthy) => "API unhealthy",
        Some(EventType::ApiRecovered) => "API recovered",
        _ => return text,
    };
    words.to_string()
}

/// `n` and the noun, singular for one: "1 attempt", "3 attempts".
fn plural(count: u64, noun: String) -> String {
    match count {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// The badge class of a status label: one of a fixed set, whatever the API said.
fn badge(label: String) -> &'static str {
    match label.as_str() {
        "live" => "status-live",
        "scheduled" => "status-scheduled",
        "paused" => "status-paused",
        "completed" => "status-completed",
        "not found" => "status-not-found",
        "unreadable" => "status-unreadable",
        _ => "status-other",
    }
}

fn render(name: &str, context: serde_json::Value) -> Result<String, Box<Response>> {
    environment()
        .get_template(name)
        .and_then(|template| template.render(Value::from_serialize(&context)))
        .map_err(|error| {
            tracing::error!(template = name, %error, "board: a page cannot be rendered");
            Box::new(plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this page cannot be shown; the log says why",
            ))
        })
}

fn plain_error(status: StatusCode, sentence: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{sentence}\n"),
    )
        .into_response()
}

/// `body` inside the layout.
fn page(
    title: &str,
    section: &str,
    body: Result<String, Box<Response>>,
    status: StatusCode,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(response) => return *response,
    };
    match render(
        "layout.html",
        json!({"title": title, "section": section, "body": body}),
    ) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(response) => *response,
    }
}

fn error_page(status: StatusCode, heading: &str, sentence: &str) -> Response {
    page(
        heading,
        "",
        render(
            "error.html",
            json!({"heading": heading, "sentence": sentence}),
        ),
        status,
    )
}

/// The HTML answer to an [`ApiError`]: the same status and sentence.
fn failed(error: ApiError) -> Response {
    if let ApiError::Store(store) = &error {
        tracing::warn!(error = %store, "board: the state store cannot be read");
    }
    let status = error.status();
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Unavailable",
    };
    error_page(status, heading, &error.to_string())
}

/// Query parameters, or the HTML 400 naming what is wrong.
fn params<T: DeserializeOwned + Default>(uri: &Uri) -> Result<T, Box<Response>> {
    Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|rejection| {
            Box::new(error_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                &format!(
                    "the filter is not valid: {}",
                    rejection
                        .body_text()
                        .trim_start_matches("Failed to deserialize query string: ")
                ),
            ))
        })
}

/// This page's address with `page` set, the other parameters kept.
fn page_link(path: &str, pairs: &[(&str, Option<String>)], page: u32) -> String {
    let mut query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{key}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        })
        .collect();
    query.push(format!("page={page}"));
    format!("{path}?{}", query.join("&"))
}

fn problems(status: &StatusView) -> Vec<serde_json::Value> {
    let count = |label: &str| status.campaigns.by_status.get(label).copied().unwrap_or(0);
    let mut problems = Vec::new();
    for (label, words) in [
        ("paused", "paused"),
        ("not found", "not found"),
        ("unreadable", "unreadable"),
    ] {
        let n = count(label);
        if n > 0 {
            problems.push(json!({
                "text": format!("{n} {words}"),
                "href": format!("/?status={}", utf8_percent_encode(label, NON_ALPHANUMERIC)),
            }));
        }
    }
    if status.campaigns.with_upload_errors > 0 {
        problems.push(json!({
            "text": format!("{} with upload errors", status.campaigns.with_upload_errors),
            "href": "/?problems=true",
        }));
    }
    if status.outbox.dead > 0 {
        problems.push(json!({
            "text": format!("{} dead deliveries (campaign-watcher outbox list --dead)", status.outbox.dead),
            "href": "/events",
        }));
    }
    let several = status.accounts.len() > 1;
    for account in &status.accounts {
        if account.api.health == "unhealthy" {
            let text = match several {
                true => format!(
                    "the SigmaMind API cannot be read for account {}",
                    account.account
                ),
                false => "the SigmaMind API cannot be read".to_string(),
            };
            problems.push(json!({
                "text": text,
                "href": format!(
                    "/events?type=watcher.api_unhealthy&account={}",
                    utf8_percent_encode(&account.account, NON_ALPHANUMERIC)
                ),
            }));
        }
    }
    problems
}

/// The roll-up of several accounts, those with problems first: an unreadable
/// API, then the most campaigns paused, not found or unreadable.
fn account_rollup(status: &StatusView) -> Vec<serde_json::Value> {
    if status.accounts.len() < 2 {
        return Vec::new();
    }
    let troubled = |counts: &std::collections::BTreeMap<String, u64>| -> u64 {
        ["paused", "not found", "unreadable"]
            .iter()
            .map(|label| counts.get(*label).copied().unwrap_or(0))
            .sum()
    };
    let mut accounts: Vec<&crate::http::api::status::AccountView> =
        status.accounts.iter().collect();
    accounts.sort_by_key(|account| {
        (
            account.api.health != "unhealthy",
            std::cmp::Reverse(troubled(&account.campaigns.by_status)),
            account.account.clone(),
        )
    });
    accounts
        .into_iter()
        .map(|account| {
            json!({
                "account": account,
                "href": format!("/?account={}", utf8_percent_encode(&account.account, NON_ALPHANUMERIC)),
                "troubled": troubled(&account.campaigns.by_status),
            })
        })
        .collect()
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
