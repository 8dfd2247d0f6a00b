//! Prometheus Alertmanager: alerts pushed to `POST {url}/api/v2/alerts` of
//! every configured instance (a cluster wants every peer, not a balancer).
//!
//! Labels: `alertname` (`CampaignPaused`, `CampaignUploadErrors`,
//! `CampaignNotFound`, `SigmaMindApiUnhealthy`, `CampaignWatcherStoreUnhealthy`, `CampaignUnreadable`), `campaign_id`,
//! `campaign_name`, `severity`, plus the channel's extra `labels`; annotation
//! `summary`. An event that starts a condition posts it with `endsAt` a few
//! `resend_interval`s ahead; one that ends it posts `endsAt` in the past.
//!
//! Alertmanager forgets alerts that stop arriving (and loses them all when it
//! restarts), so a re-asserter task (beside the daemon) hands this channel
//! every active condition each `resend_interval` ([`AlertmanagerChannel::reassert`]),
//! which also resolves what it asserted before and is no longer active. The
//! channel itself never reads the store.

use crate::deliver::PayloadError;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use super::channel::{BuildContext, Deliver};
use super::chat::{severities, ChatText};
use super::incident::{preview_each, send_each};
use super::target::{answered, outcome_for_status, Answer, Target};
use super::{DeliverError, SendOutcome};
use crate::alert::{transitions, ActiveCondition, Condition, SeverityMap, Transition};
use crate::event::{Event, EventType};

mod settings;
pub use settings::AlertmanagerSettings;

pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// An active alert's `endsAt` lies this many resend intervals ahead: missing
/// one or two re-posts must not resolve it.
const ENDS_AFTER_INTERVALS: u32 = 3;
const ALERTS_PATH: &str = "/api/v2/alerts";
const DESCRIPTION_CHARS: usize = 4000;
/// The `summary` annotation names the campaign; the description has the rest.
const SUMMARY_CHARS: usize = 1024;

/// Labels of one alert; also its identity in Alertmanager.
pub type Labels = BTreeMap<String, String>;

#[derive(Debug)]
pub struct AlertmanagerChannel {
    targets: Vec<Target>,
    severities: SeverityMap,
    extra_labels: Labels,
    resend_interval: Duration,
    text: ChatText,
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl AlertmanagerChannel {
    pub fn new(
        settings: &AlertmanagerSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let urls = settings.all_urls();
        if urls.is_empty() {
            return Err(DeliverError::Chat {
                channel: context.name.to_string(),
                reason: "`url` or `urls` is missing".into(),
            });
        }
        let mut targets = Vec::new();
        for url in urls {
            targets.push(
                Target::new(
                    context.name,
                    url,
                    context.shared.timeout,
                    settings.allow_link_local,
                )?
                .join_path(ALERTS_PATH),
            );
        }
        let severities = severities(context.name, settings.severity.as_ref())?;
        Ok(Self {
            targets,
            severities,
            extra_labels: settings.labels.clone().unwrap_or_default(),
            resend_interval: settings.resend_interval.unwrap_or(DEFAULT_RESEND_INTERVAL),
            text: ChatText::new(context)?,
        })
    }

    pub fn resend_interval(&self) -> Duration {
        self.resend_interval
    }

    fn active_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let ahead = TimeDelta::from_std(self.resend_interval * ENDS_AFTER_INTERVALS)
            .unwrap_or(TimeDelta::hours(1));
        now + ahead
    }

    /// The alert's identity. `account` (every account but `default`, whose
    /// label sets stay those of single-account releases) makes the same
    /// campaign id in two accounts two alerts that never resolve each other.
    pub fn labels(
        &self,
        condition: Condition,
        account: Option<&str>,
        campaign: Option<(&str, &str)>,
    ) -> Labels {
        let mut labels = self.extra_labels.clone();
        if let Some(account) = account {
            labels.insert("account".into(), crate::text::label(account));
        }
        labels.insert("alertname".into(), condition.alertname().into());
        labels.insert(
            "severity".into(),
            self.severities.get(condition).as_str().into(),
        );
        if let Some((id, name)) = campaign {
            // Labels identify the alert and are indexed by every receiver:
            // short, and no control character (API text).
            labels.insert("campaign_id".into(), crate::text::label(id));
            labels.insert("campaign_name".into(), crate::text::label(name));
        }
        labels
    }

    /// One active condition as an alert, for a re-post at `now`.
    pub fn active_alert(&self, active: &ActiveCondition, now: DateTime<Utc>) -> Value {
        let campaign = active
            .campaign
            .as_ref()
            .map(|(id, name)| (id.as_str(), name.as_str()));
        let mut annotations = json!({"summary": super::chat::clip(&active.condition.summary(campaign), SUMMARY_CHARS)});
        add_hints(&mut annotations, &active.hints);
        json!({
            "labels": self.labels(active.condition, active.account.as_deref(), campaign),
            "annotations": annotations,
            "startsAt": timestamp(active.since.min(now)),
            "endsAt": timestamp(self.active_until(now)),
        })
    }

    /// The alerts one event posts: active ones for what it starts, resolved
    /// ones (`endsAt` in the past) for what it ends.
    pub fn alerts_for(
        &self,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, PayloadError> {
        let rendered = self.text.render_one(event)?;
        let description = super::chat::clip(rendered.text.trim(), DESCRIPTION_CHARS);
        let campaign = event
            .campaign
            .as_ref()
            .map(|c| (c.id.as_str(), c.name.as_str()));
        let happened = event.occurred_at.min(now);
        if event.kind == EventType::Test {
            let mut labels = self.extra_labels.clone();
            labels.insert("alertname".into(), "CampaignWatcherTest".into());
            labels.insert("severity".into(), "info".into());
            return Ok(vec![json!({
                "labels": labels,
                "annotations": {"summary": "TEST from campaign-watcher: no campaign changed", "event_id": event.id},
                "startsAt": timestamp(happened),
                "endsAt": timestamp(now + TimeDelta::from_std(self.resend_interval).unwrap_or(TimeDelta::minutes(1))),
            })]);
        }
        let mut alerts = Vec::new();
        for transition in transitions(event) {
            let (condition, ends_at, starts) = match transition {
                Transition::Starts(condition) => (condition, self.active_until(now), true),
                Transition::Ends(condition) => (condition, happened, false),
            };
            let mut annotations = json!({
                "summary": super::chat::clip(&condition.summary(campaign), SUMMARY_CHARS),
                "description": description,
                "event_id": event.id,
            });
            if starts {
                add_hints(&mut annotations, &event.hints);
            }
            alerts.push(json!({
                "labels": self.labels(condition, event.named_account(), campaign),
                "annotations": annotations,
                "startsAt": timestamp(happened),
                "endsAt": timestamp(ends_at),
            }));
        }
        Ok(alerts)
    }

    /// Posts `alerts` to every Alertmanager. Delivered only when all took them
    /// (re-posting to those that did is harmless: alerts are idempotent).
    pub async fn post(&self, alerts: &[Value]) -> SendOutcome {
        let body = Value::Array(alerts.to_vec());
        let results = futures::future::join_all(self.targets.iter().map(|target| async {
            match target.post_json(&body).await {
                Ok(answer) => classify(target.display(), &answer),
                Err(reason) => SendOutcome::Retry {
                    reason: reason.to_string(),
                    retry_after: None,
                },
            }
        }))
        .await;
        let mut delivered = Vec::new();
        let mut retry = Vec::new();
        let mut permanent = Vec::new();
        for result in results {
            match result {
                SendOutcome::Delivered { detail } => delivered.push(detail),
                SendOutcome::Retry { reason, .. } => retry.push(reason),
                SendOutcome::Permanent { reason } => permanent.push(reason),
            }
        }
        if retry.is_empty() && permanent.is_empty() {
            SendOutcome::Delivered {
                detail: format!("{} alert(s): {}", alerts.len(), delivered.join("; ")),
            }
        } else if retry.is_empty() {
            SendOutcome::Permanent {
                reason: permanent.join("; "),
            }
        } else {
            retry.extend(permanent);
            SendOutcome::Retry {
                reason: retry.join("; "),
                retry_after: None,
            }
        }
    }
}

impl Deliver for AlertmanagerChannel {
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        let now = Utc::now();
        preview_each(
            events,
            |event| self.alert_batches(event, now),
            "posted",
            |alerts| serde_json::to_string_pretty(&alerts).unwrap_or_default() + "\n",
        )
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        let batches = self.alert_batches(event, Utc::now());
        send_each(
            event,
            "an Alertmanager alert",
            batches,
            |alerts| async move { self.post(&alerts).await },
        )
        .await
    }
}

impl AlertmanagerChannel {
    /// The event's alerts as one post, or none when it makes no alert.
    fn alert_batches(
        &self,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<Value>>, PayloadError> {
        let alerts = self.alerts_for(event, now)?;
        Ok(if alerts.is_empty() {
            Vec::new()
        } else {
            vec![alerts]
        })
    }
}

/// The `hints` annotation (one sentence a line) and `hint_codes` (comma
/// separated, for inhibit rules and receivers' routing), when there are hints;
/// the re-asserter posts the same from the stored state.
fn add_hints(annotations: &mut Value, hints: &[crate::event::Hint]) {
    if hints.is_empty() {
        return;
    }
    annotations["hints"] = json!(super::chat::clip(
        &super::chat::hint_lines(hints),
        DESCRIPTION_CHARS
    ));
    let codes: Vec<String> = hints
        .iter()
        .map(|hint| crate::text::label(&hint.code))
        .collect();
    annotations["hint_codes"] = json!(codes.join(","));
}

fn classify(display: &str, answer: &Answer) -> SendOutcome {
    outcome_for_status(
        answer.status.as_u16(),
        answered(display, answer),
        answer.retry_after,
    )
}

/// Alertmanager did not take a re-assertion round's post; the outcome's sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotPosted(pub String);

impl AlertmanagerChannel {
    /// One re-assertion round: post every condition in `active` and resolve what
    /// `asserted` (labels → `startsAt`) holds and is no longer active. `asserted`
    /// becomes what was posted; on failure it keeps what still needs resolving.
    /// Returns how many alerts are active once posted; `None` when there was
    /// nothing to post or resolve.
    pub async fn reassert(
        &self,
        active: &[ActiveCondition],
        asserted: &mut BTreeMap<Labels, String>,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, NotPosted> {
        let mut alerts: Vec<Value> = active
            .iter()
            .map(|condition| self.active_alert(condition, now))
            .collect();
        let current: BTreeMap<Labels, String> = alerts
            .iter()
            .filter_map(|alert| {
                let labels: Labels = serde_json::from_value(alert["labels"].clone()).ok()?;
                Some((labels, alert["startsAt"].as_str()?.to_string()))
            })
            .collect();
        for (labels, starts_at) in asserted.iter() {
            if !current.contains_key(labels) {
                alerts.push(json!({
                    "labels": labels,
                    "annotations": {},
                    "startsAt": starts_at,
                    "endsAt": timestamp(now),
                }));
            }
        }
        if alerts.is_empty() {
            return Ok(None);
        }
        match self.post(&alerts).await {
            SendOutcome::Delivered { .. } => {
                let count = current.len();
                *asserted = current;
                Ok(Some(count))
            }
            SendOutcome::Retry { reason, .. } | SendOutcome::Permanent { reason } => {
                // Keep what still needs resolving for the next round.
                asserted.extend(current);
                Err(NotPosted(reason))
            }
        }
    }
}

#[cfg(test)]
mod tests;
