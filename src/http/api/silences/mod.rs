//! Silences: `GET /api/v1/silences` (in force and ended ones, with how many
//! events each held back), `GET /api/v1/silences/preview` (what one would
//! match before it is made), and for admins `POST /api/v1/silences` and
//! `DELETE /api/v1/silences/{id}` (end it now). The board's form makes and
//! ends silences through the same functions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{actor_of, given, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::commit::{Actor, SilenceExpiry};
use crate::event::EventType;
use crate::http::{Admin, HttpState};
use crate::route::silence::{
    account_matches, matches_everything, stored_account, Pattern, Silence,
};
use crate::setting::suggest::did_you_mean;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceParams {
    /// "active", "ended" or "all" (the default).
    pub state: Option<String>,
}

/// A silence named where it stopped an event.
#[derive(Debug, Clone, Serialize)]
pub struct SilenceRef {
    pub id: i64,
    pub matcher: String,
    pub reason: String,
    /// Who made it; empty for silences made before authors were kept.
    pub author: String,
}

impl SilenceRef {
    pub fn of(silence: &Silence) -> Self {
        Self {
            id: silence.id,
            matcher: silence.campaign.to_string(),
            reason: silence.reason.clone(),
            author: silence.author.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SilenceView {
    pub id: i64,
    /// A campaign id or name, or a glob over either.
    pub matcher: String,
    /// Only this account's events (a name or a glob); null for every account.
    pub account: Option<String>,
    /// Only this event type; null for every type.
    pub event_type: Option<&'static str>,
    pub reason: String,
    /// Who made it; empty for silences made before authors were kept.
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub active: bool,
    /// Events it kept from being sent.
    pub events_held: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SilenceList {
    pub silences: Vec<SilenceView>,
}

/// Which silences to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Active,
    Ended,
    All,
}

impl SilenceParams {
    pub fn which(&self) -> Result<Which, ApiError> {
        match given(&self.state) {
            None | Some("all") => Ok(Which::All),
            Some("active") => Ok(Which::Active),
            Some("ended") => Ok(Which::Ended),
            Some(other) => Err(ApiError::BadRequest(format!(
                "state must be active, ended or all, not {other:?}"
            ))),
        }
    }
}

/// Those in force first (newest first), then the ended ones (newest first).
pub async fn silence_list(
    state: &HttpState,
    which: Which,
    now: DateTime<Utc>,
) -> Result<SilenceList, ApiError> {
    let held = state.store.silenced_counts().await?;
    let mut silences: Vec<SilenceView> = state
        .store
        .silences(now, true)
        .await?
        .into_iter()
        .map(|silence| {
            let count = held.get(&silence.id).copied().unwrap_or(0);
            view_of(silence, count, now)
        })
        .filter(|view| match which {
            Which::All => true,
            Which::Active => view.active,
            Which::Ended => !view.active,
        })
        .collect();
    silences.sort_by(|a, b| b.active.cmp(&a.active).then(b.id.cmp(&a.id)));
    Ok(SilenceList { silences })
}

pub async fn list(
    State(state): State<HttpState>,
    ApiQuery(params): ApiQuery<SilenceParams>,
) -> Result<Json<SilenceList>, ApiError> {
    let which = params.which()?;
    Ok(Json(silence_list(&state, which, Utc::now()).await?))
}

/// The longest reason kept (a sentence or two, not a document).
pub const REASON_CHARS: usize = 1000;
/// The longest matcher taken.
pub const MATCHER_CHARS: usize = 200;
/// How far back the preview counts the events a silence would have held.
pub const PREVIEW_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// The preview counts at most this many events of the window.
const PREVIEW_EVENTS: u32 = 10_000;

/// A silence to make: the API's JSON body and the board's form alike.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// A campaign id or name, or a glob over either.
    #[serde(default)]
    pub campaign: String,
    /// Only this event type; absent (or empty) for every type.
    pub event_type: Option<String>,
    /// Only this account's campaigns (a configured account's name, or a glob over names).
    pub account: Option<String>,
    /// How long, e.g. `2h` or `90m`.
    #[serde(default)]
    pub duration: String,
    /// Why (required).
    #[serde(default)]
    pub reason: String,
    /// Must be true to make a silence that matches every campaign of every account.
    pub confirm_all: Option<bool>,
}

/// A [`NewSilence`] whose every field has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSilence {
    pub campaign: String,
    pub event: Option<EventType>,
    pub account: Option<String>,
    pub duration: std::time::Duration,
    pub reason: String,
    /// It matches every campaign of every account (and was confirmed).
    pub everything: bool,
}

impl NewSilence {
    /// Every field checked, or one sentence per problem. With `for_preview`
    /// the duration, the reason and the confirmation are not asked for yet.
    /// `accounts` are the configured accounts' names.
    pub fn check(
        &self,
        for_preview: bool,
        accounts: &[String],
    ) -> Result<CheckedSilence, Vec<String>> {
        let mut problems = Vec::new();
        let campaign = self.campaign.clone();
        if campaign.trim().is_empty() {
            problems.push("campaign is empty: give a campaign id, name or glob".to_string());
        } else if campaign.chars().count() > MATCHER_CHARS {
            problems.push(format!(
                "campaign is longer than {MATCHER_CHARS} characters"
            ));
        } else if let Err(error) = globset::Glob::new(&campaign) {
            problems.push(format!(
                "campaign \"{}\" is not a valid glob: {}",
                crate::text::cap(&campaign, 64),
                error.kind()
            ));
        }
        let event = match given(&self.event_type) {
            None => None,
            Some(text) => match EventType::parse(text) {
                Some(kind) => Some(kind),
                None => {
                    let known: Vec<&str> = EventType::ALL.iter().map(|k| k.as_str()).collect();
                    problems.push(format!(
                        "event_type \"{}\" is not an event type{} (known: {})",
                        crate::text::cap(text, 64),
                        did_you_mean(text, &known),
                        known.join(", ")
                    ));
                    None
                }
            },
        };
        let account = given(&self.account).map(str::to_string);
        if let Some(account) = &account {
            if let Err(problem) = crate::config::check_account_pattern(account, accounts) {
                problems.push(format!("account {problem}"));
            }
        }
        // Naming an account narrows the silence, as it did when `default`
        // was the only one (no confirmation needed); a glob of every account
        // does not.
        let everything = matches_everything(&campaign, account.as_deref(), accounts);
        // A single-account watcher's silences of its one account are stored
        // as silences of every account, as before accounts: they also hold
        // the whole watcher's events (its store's, its channels').
        let account = stored_account(account, accounts);
        let mut duration = std::time::Duration::ZERO;
        if !for_preview {
            match humantime::parse_duration(self.duration.trim()) {
                Ok(parsed) if parsed.is_zero() => {
                    problems.push("duration must be longer than 0s, e.g. 2h".to_string())
                }
                Ok(parsed)
                    if chrono::TimeDelta::from_std(parsed).is_err()
                        || parsed.as_secs() > MAX_DURATION_SECS =>
                {
                    problems.push("duration is longer than 100 years".to_string())
                }
                Ok(parsed) => duration = parsed,
                Err(_) => problems.push(format!(
                    "duration \"{}\" is not a duration such as 30m, 2h or 1d",
                    crate::text::cap(&self.duration, 64)
                )),
            }
            if self.reason.trim().is_empty() {
                problems.push(
                    "reason is empty: say why, for whoever reads the silences later".to_string(),
                );
            } else if self.reason.chars().count() > REASON_CHARS {
                problems.push(format!("reason is longer than {REASON_CHARS} characters"));
            }
            if everything && self.confirm_all != Some(true) {
                problems.push(format!(
                    "campaign \"{}\" matches every campaign of every account: confirm it (confirm_all: true, or the board's checkbox) or name an account or narrower campaigns",
                    crate::text::cap(&campaign, 64)
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CheckedSilence {
            campaign,
            event,
            account,
            duration,
            reason: self.reason.trim().to_string(),
            everything,
        })
    }
}

/// A silence lasts at most this long (a century: "until further notice").
const MAX_DURATION_SECS: u64 = 100 * 366 * 24 * 3600;

/// A campaign a silence would match now.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedCampaign {
    pub account: String,
    pub id: String,
    pub name: String,
}

/// What a silence would match, before it is made.
#[derive(Debug, Clone, Serialize)]
pub struct SilencePreview {
    /// It matches every campaign of every account (making it needs a confirmation).
    pub matches_every_campaign: bool,
    /// The watched campaigns it matches now, by id.
    pub campaigns: Vec<MatchedCampaign>,
    /// Events of the last 24 hours it would have kept from being sent.
    pub events_last_24h: u64,
}

/// The campaigns `checked` matches in the stored states, and the events of
/// the last [`PREVIEW_WINDOW`] its matching would have held, whatever held them then.
pub async fn silence_preview(
    state: &HttpState,
    checked: &CheckedSilence,
    now: DateTime<Utc>,
) -> Result<SilencePreview, ApiError> {
    let mut campaigns: Vec<MatchedCampaign> = Vec::new();
    let matcher = Pattern::new(checked.campaign.as_str());
    for account in state.accounts.iter() {
        if !account_matches(checked.account.as_deref(), account) {
            continue;
        }
        let states = state.store.for_account(account).load_states().await?;
        campaigns.extend(
            states
                .into_values()
                .filter(|known| matcher.matches(&known.snapshot.id, &known.snapshot.name))
                .map(|known| MatchedCampaign {
                    account: account.clone(),
                    id: known.snapshot.id,
                    name: known.snapshot.name,
                }),
        );
    }
    campaigns.sort_by(|a, b| (&a.id, &a.account).cmp(&(&b.id, &b.account)));
    let since = now - PREVIEW_WINDOW;
    let probe = Silence {
        id: 0,
        campaign: matcher,
        event: checked.event,
        reason: String::new(),
        author: String::new(),
        created_at: since,
        expires_at: now,
        account: checked.account.as_deref().map(Pattern::from),
    };
    let events_last_24h = state
        .store
        .history(None, since, PREVIEW_EVENTS)
        .await?
        .iter()
        .filter(|entry| probe.matches(&entry.event))
        .count() as u64;
    Ok(SilencePreview {
        matches_every_campaign: checked.everything,
        campaigns,
        events_last_24h,
    })
}

/// The query of `GET /api/v1/silences/preview`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewParams {
    pub campaign: Option<String>,
    pub event_type: Option<String>,
    pub account: Option<String>,
}

impl PreviewParams {
    fn silence(&self) -> NewSilence {
        NewSilence {
            campaign: self.campaign.clone().unwrap_or_default(),
            event_type: self.event_type.clone(),
            account: self.account.clone(),
            ..NewSilence::default()
        }
    }
}

/// `GET /api/v1/silences/preview`: what a silence would match (read role).
pub async fn preview(
    State(state): State<HttpState>,
    ApiQuery(params): ApiQuery<PreviewParams>,
) -> Result<Json<SilencePreview>, ApiError> {
    let checked = params
        .silence()
        .check(true, &state.accounts)
        .map_err(|problems| ApiError::BadRequest(problems.join(" ")))?;
    Ok(Json(silence_preview(&state, &checked, Utc::now()).await?))
}

/// Make a checked silence as `actor` (the board's form and the API's POST).
pub async fn make_silence(
    state: &HttpState,
    checked: &CheckedSilence,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Silence, ApiError> {
    let until = chrono::TimeDelta::from_std(checked.duration)
        .ok()
        .and_then(|length| now.checked_add_signed(length))
        .ok_or_else(|| ApiError::BadRequest("duration is longer than 100 years".into()))?;
    Ok(state
        .store
        .create_silence(
            actor,
            &checked.campaign,
            checked.account.as_deref(),
            checked.event,
            &checked.reason,
            now,
            until,
        )
        .await?)
}

/// The view of one silence (its held count read separately).
fn view_of(silence: Silence, events_held: u64, now: DateTime<Utc>) -> SilenceView {
    SilenceView {
        active: silence.active(now),
        events_held,
        id: silence.id,
        event_type: silence.event.map(|kind| kind.as_str()),
        matcher: silence.campaign.to_string(),
        account: silence.account.map(|account| account.to_string()),
        reason: silence.reason,
        author: silence.author,
        created_at: silence.created_at,
        expires_at: silence.expires_at,
    }
}

/// `POST /api/v1/silences` (admin): 201 with the silence made.
pub async fn create(
    State(state): State<HttpState>,
    Admin(viewer): Admin,
    ApiJson(body): ApiJson<NewSilence>,
) -> Result<(StatusCode, Json<SilenceView>), ApiError> {
    let checked = body
        .check(false, &state.accounts)
        .map_err(|problems| ApiError::BadRequest(problems.join(" ")))?;
    let now = Utc::now();
    let silence = make_silence(&state, &checked, &actor_of(&viewer, "api"), now).await?;
    Ok((StatusCode::CREATED, Json(view_of(silence, 0, now))))
}

/// End silence `id` now as `actor`: the silence as it stands, or 404.
pub async fn end_silence_as(
    state: &HttpState,
    id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Silence, ApiError> {
    match state.store.end_silence(actor, id, now).await? {
        Some(SilenceExpiry::EndedNow(silence) | SilenceExpiry::AlreadyEnded(silence)) => {
            Ok(silence)
        }
        None => Err(ApiError::NotFound(format!(
            "there is no silence {id}; GET /api/v1/silences lists them"
        ))),
    }
}

/// `DELETE /api/v1/silences/{id}` (admin): ends it now (a silence already
/// ended stays as it was); 200 with the silence.
pub async fn end(
    State(state): State<HttpState>,
    Admin(viewer): Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<SilenceView>, ApiError> {
    let now = Utc::now();
    let silence = end_silence_as(&state, id, &actor_of(&viewer, "api"), now).await?;
    let held = state.store.silenced_counts().await?;
    let count = held.get(&silence.id).copied().unwrap_or(0);
    Ok(Json(view_of(silence, count, now)))
}

#[cfg(test)]
mod tests;
