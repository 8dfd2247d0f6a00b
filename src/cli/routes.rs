//! `routes test`: where one event would go and why: the rules it matches (or
//! that none does), the silence that would keep it back, the quiet hours that
//! would hold it and until when, the rate limit that would delay it. The
//! answer comes from the daemon's own decisions ([`crate::route::decide`]).
//!
//! Without a state store (a CI checkout) it answers from the configuration
//! alone; with one, stored silences and the channels' sends of the minute
//! before `--at` count too. Exit 0 when a channel would get the event (with
//! `--expect`: exactly those channels), [`NOT_ROUTED`] (3) when not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use clap::{Args, Subcommand};

use super::failure::{Failure, NOT_ROUTED};
use super::routing::{self, Routing};
use super::store_access::{print_json, read, stamp};
use crate::alert;
use crate::commit::Store;
use crate::event::{event_id, CampaignInfo, Event, EventType, UploadErrors, PAYLOAD_VERSION};
use crate::observe::CampaignStatus;
use crate::route::decide::{decide, Circumstances, Decision, Fate, Shaping};
use crate::route::rate::WINDOW;
use crate::route::silence::{Pattern, Silence};
use crate::setting::suggest::did_you_mean;
use crate::text::terminal;

/// Earlier events of the campaign read for the silence exception (as the watcher does).
const LOOK_BACK: u32 = 200;

#[derive(Debug, Subcommand)]
pub enum RoutesCommand {
    /// Which channels one event would go to, and why (rules, silences, quiet hours, rate limits).
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The event type, e.g. campaign.upload_errors_added or watcher.api_unhealthy.
    #[arg(long, default_value = "campaign.status_changed")]
    event: String,
    /// The status it changes from (campaign.status_changed) [default: the stored status, else unknown: only `*->` patterns match it].
    #[arg(long)]
    from: Option<String>,
    /// The status it changes to (needed for campaign.status_changed).
    #[arg(long)]
    to: Option<String>,
    /// The campaign's id or name (with a store, a known campaign's stored id and name are both used).
    #[arg(long)]
    campaign: Option<String>,
    /// The SigmaMind account (`[sigmamind.accounts.NAME]`; a configuration without accounts has one, `default`).
    #[arg(long, default_value = "default")]
    account: String,
    /// When the event happens: RFC 3339 (2026-11-26T23:10:00Z, +01:00 offsets too) or "2026-11-26 23:10" in UTC [default: now].
    #[arg(long)]
    at: Option<String>,
    /// Exit 0 only if exactly these channels would get it (comma-separated; `none` for no channel).
    #[arg(long, value_delimiter = ',')]
    expect: Option<Vec<String>>,
    /// Answer from the configuration alone, even when a state store exists.
    #[arg(long)]
    no_store: bool,
    /// Print one JSON document instead of lines.
    #[arg(long)]
    json: bool,
}

impl RoutesCommand {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let command = self;
        match command {
            RoutesCommand::Test(args) => test(config, args).await,
        }
    }
}

async fn test(config: &Path, args: TestArgs) -> Result<(), Failure> {
    // Arguments first: a typo needs neither a valid file nor a store to be reported.
    let kind = event_type(&args.event)?;
    let at = match args.at.as_deref() {
        Some(text) => parse_time(text)?,
        None => Utc::now(),
    };
    let campaign_event = kind.as_str().starts_with("campaign.");
    if campaign_event && args.campaign.is_none() {
        return Err(Failure::usage(format!(
            "--campaign is needed for {}: give the campaign's id or name",
            kind.as_str()
        )));
    }
    if kind == EventType::StatusChanged && args.to.is_none() {
        return Err(Failure::usage(
            "campaign.status_changed needs --to (and --from, unless the store knows the campaign's status)",
        ));
    }
    if !campaign_event && args.campaign.is_some() {
        return Err(Failure::usage(format!(
            "{} is about the watcher, not a campaign: leave --campaign out",
            kind.as_str()
        )));
    }
    let Routing {
        settings,
        router,
        shaping,
    } = routing::load(config)?;
    let accounts: Vec<String> = settings.account_names();
    if !accounts.contains(&args.account) {
        return Err(Failure::usage(format!(
            "--account \"{}\" is not an account of {}{} (accounts: {})",
            terminal(&args.account),
            config.display(),
            did_you_mean(
                &args.account,
                &accounts.iter().map(String::as_str).collect::<Vec<_>>()
            ),
            accounts.join(", ")
        )));
    }
    if let Some(expected) = &args.expect {
        for channel in expected.iter().filter(|name| name.as_str() != "none") {
            if !settings.channels.contains_key(channel) {
                let known: Vec<&str> = settings.channels.keys().map(String::as_str).collect();
                return Err(Failure::usage(format!(
                    "--expect \"{channel}\" is not a channel of {}{} (channels: {})",
                    config.display(),
                    did_you_mean(channel, &known),
                    known.join(", ")
                )));
            }
        }
    }
    let store = match args.no_store {
        true => None,
        false => routing::open_existing(&settings.state.url)
            .await
            .map_err(|failure| {
                Failure::usage(format!(
                    "{}; or pass --no-store to test the configuration alone",
                    failure.message
                ))
            })?
            .map(|store| store.for_account(&args.account)),
    };

    let stored = match (&store, &args.campaign) {
        (Some(store), Some(campaign)) => find_campaign(store, campaign).await?,
        _ => None,
    };
    let mut event = test_event(kind, &args, stored.as_ref(), at);
    event.assign_account(&args.account);
    let mut silences = Vec::new();
    let mut history = Vec::new();
    let mut sent = BTreeMap::new();
    if let Some(store) = &store {
        silences = store.silences(at, true).await.map_err(read)?;
        if !alert::ended_by(&event).is_empty() {
            let campaign = event.campaign.as_ref().map(|c| c.id.as_str());
            history = store
                .latest_events_of(campaign, LOOK_BACK)
                .await
                .map_err(read)?;
            history.retain(|(earlier, _)| earlier.occurred_at <= at);
        }
        for (channel, configured) in &shaping {
            if configured.max_per_minute.is_some() {
                let mut times = store.sent_since(channel, at - WINDOW).await.map_err(read)?;
                times.retain(|time| *time <= at);
                sent.insert(channel.clone(), times);
            }
        }
    }
    let mut told = Vec::new();
    if let (Some(store), false) = (&store, alert::ended_by(&event).is_empty()) {
        let ended: Vec<&str> = alert::ended_by(&event)
            .into_iter()
            .map(alert::Condition::key)
            .collect();
        let subject = match &event.campaign {
            Some(campaign) => campaign.id.as_str(),
            None => event.account().unwrap_or_default(),
        };
        told = store.told_by_open(subject, &ended).await.map_err(read)?;
    }
    let known = Circumstances {
        silences: &silences,
        history: &history,
        sent: Some(&sent),
        told: &told,
    };
    let decision = decide(&router, &shaping, known, &event, at);

    let receivers: BTreeSet<&str> = decision.receivers().into_iter().collect();
    let verdict = match &args.expect {
        None if receivers.is_empty() => Some("no channel would get it".to_string()),
        None => None,
        Some(expected) => {
            let expected: BTreeSet<&str> = expected
                .iter()
                .map(String::as_str)
                .filter(|name| *name != "none")
                .collect();
            (expected != receivers).then(|| {
                format!(
                    "expected {}, but {} would get it",
                    list_or_none(&expected),
                    list_or_none(&receivers)
                )
            })
        }
    };
    let source = match &store {
        Some(store) => format!(
            "the configuration and the state store at {}",
            store.location()
        ),
        None if args.no_store => "the configuration alone (--no-store)".to_string(),
        None => "the configuration alone (no state store yet)".to_string(),
    };
    if args.json {
        print_json(&json(
            &event,
            &decision,
            &source,
            stored.is_some(),
            at,
            verdict.as_deref(),
        ));
    } else {
        print_lines(
            &event,
            &decision,
            &source,
            stored.is_some(),
            at,
            &settings,
            &shaping,
        );
    }
    match verdict {
        None => Ok(()),
        Some(why) => Err(Failure::not_routed(format!("{why} (exit {NOT_ROUTED})"))),
    }
}

fn event_type(text: &str) -> Result<EventType, Failure> {
    let kind = EventType::parse(text).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|k| k.as_str()).collect();
        Failure::usage(format!(
            "--event \"{text}\" is not an event type{} (known: {})",
            did_you_mean(text, &known),
            known.join(", ")
        ))
    })?;
    match kind {
        EventType::Reminder => Err(Failure::usage(
            "campaign.reminder goes to the channels of the rule whose remind_every fires: test the event it reminds of instead (e.g. --event campaign.status_changed --to paused)",
        )),
        EventType::Test | EventType::QuietHoursDigest => Err(Failure::usage(format!(
            "{} is not routed by the rules: test-notify and quiet hours send it themselves",
            kind.as_str()
        ))),
        _ => Ok(kind),
    }
}

/// RFC 3339, or a date and time without a zone, read as UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, Failure> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(naive.and_utc());
        }
    }
    Err(Failure::usage(format!(
        "--at \"{text}\" is not a time: use RFC 3339 like 2026-11-26T23:10:00Z (or +01:00), or \"2026-11-26 23:10\" for UTC"
    )))
}

/// A stored campaign by id, else by name or glob (the first match).
async fn find_campaign(store: &Store, wanted: &str) -> Result<Option<CampaignInfo>, Failure> {
    if let Some(state) = store
        .load_states_for([wanted])
        .await
        .map_err(read)?
        .into_values()
        .next()
    {
        return Ok(Some(CampaignInfo::from_snapshot(&state.snapshot, None)));
    }
    let mut found = None;
    let wanted = Pattern::new(wanted);
    store
        .each_state(|_, state| {
            if found.is_none() && wanted.matches(&state.snapshot.id, &state.snapshot.name) {
                found = Some(CampaignInfo::from_snapshot(&state.snapshot, None));
            }
        })
        .await
        .map_err(read)?;
    Ok(found)
}

/// The event as a cycle would make it; a stored campaign lends its id, name
/// and (as `--from`) its status.
fn test_event(
    kind: EventType,
    args: &TestArgs,
    stored: Option<&CampaignInfo>,
    at: DateTime<Utc>,
) -> Event {
    let campaign = args.campaign.as_ref().map(|given| {
        let (id, name, status) = match stored {
            Some(info) => (
                info.id.clone(),
                info.name.clone(),
                Some(info.status.clone()),
            ),
            None => (given.clone(), given.clone(), None),
        };
        let from = args
            .from
            .as_deref()
            .map(CampaignStatus::parse)
            .or(status.clone());
        let to = args.to.as_deref().map(CampaignStatus::parse);
        let (status, previous_status) = match kind {
            EventType::StatusChanged => {
                let unknown = || CampaignStatus::Unknown("unknown".into());
                (
                    to.unwrap_or_else(unknown),
                    Some(from.unwrap_or_else(unknown)),
                )
            }
            _ => {
                let now = to.or(status).unwrap_or(CampaignStatus::Live);
                (now.clone(), Some(now))
            }
        };
        CampaignInfo {
            id,
            name,
            status,
            previous_status,
            agent: None,
            caller_number: None,
        }
    });
    let summary = match &campaign {
        Some(info) => match kind {
            EventType::StatusChanged => format!(
                "{} ({}): {} -> {}",
                info.name,
                info.id,
                info.previous_status.as_ref().map_or("?", |s| s.as_str()),
                info.status.as_str()
            ),
            _ => format!("{} ({}): {}", info.name, info.id, kind.as_str()),
        },
        None => kind.as_str().to_string(),
    };
    Event {
        version: PAYLOAD_VERSION.into(),
        id: event_id(&["routes-test", kind.as_str(), &summary]),
        kind,
        occurred_at: at,
        campaign,
        upload_errors: UploadErrors::default(),
        changes: vec![],
        hints: vec![],
        summary,
        account: crate::event::default_account(),
        incident: None,
        links: None,
    }
}

fn list_or_none(names: &BTreeSet<&str>) -> String {
    match names.is_empty() {
        true => "no channel".into(),
        false => names.iter().copied().collect::<Vec<_>>().join(", "),
    }
}

fn describe_silence(silence: &Silence) -> String {
    format!(
        "silence {} ({}: campaign \"{}\"{}, {} to {})",
        silence.id,
        terminal(&silence.reason),
        terminal(&silence.campaign),
        silence
            .event
            .map(|kind| format!(", {}", kind.as_str()))
            .unwrap_or_default(),
        stamp(silence.created_at),
        stamp(silence.expires_at)
    )
}

fn print_lines(
    event: &Event,
    decision: &Decision,
    source: &str,
    known_campaign: bool,
    at: DateTime<Utc>,
    settings: &crate::config::Settings,
    shaping: &BTreeMap<String, Shaping>,
) {
    let what = match &event.campaign {
        Some(info) => {
            let transition = match (event.kind, &info.previous_status) {
                (EventType::StatusChanged, Some(from)) => {
                    format!(
                        " {} -> {}",
                        terminal(from.as_str()),
                        terminal(info.status.as_str())
                    )
                }
                (EventType::StatusChanged, None) => {
                    format!(" -> {}", terminal(info.status.as_str()))
                }
                _ => String::new(),
            };
            let name = match info.name == info.id {
                true => String::new(),
                false => format!(" ({})", terminal(&info.name)),
            };
            format!(
                "{}{transition}, campaign {}{name}{}",
                event.kind.as_str(),
                terminal(&info.id),
                if known_campaign { ", as stored" } else { "" }
            )
        }
        None => event.kind.as_str().to_string(),
    };
    say!(
        "event: {what}, account {}, at {}",
        event.account().unwrap_or_default(),
        stamp(at)
    );
    say!("from: {source}");
    let routing = &decision.routing;
    if routing.by_default {
        say!(
            "rules: none configured: {}",
            match event.kind {
                EventType::SettingsChanged =>
                    "campaign.settings_changed goes nowhere without a rule",
                _ => "every event goes to every channel",
            }
        );
    } else if routing.matched.is_empty() {
        let count = settings.rules.len();
        say!(
            "rules: no rule matches ({count} rule{} configured)",
            if count == 1 { "" } else { "s" }
        );
    } else {
        for matched in &routing.matched {
            say!(
                "rule \"{}\" matches -> {}",
                terminal(&matched.rule),
                matched.channels.join(", ")
            );
        }
    }
    match (&decision.silenced_by, decision.sent_despite_silence) {
        (None, _) => {}
        (Some(silence), false) => say!(
            "silenced by {}: kept in history, sent nowhere",
            describe_silence(silence)
        ),
        (Some(silence), true) => say!(
            "covered by {}, but sent: it ends a condition whose start was sent",
            describe_silence(silence)
        ),
    }
    if decision.ends_episode {
        match decision.followers.is_empty() {
            true => say!("it ends a condition: plus every channel that got its start"),
            false => say!(
                "it ends a condition: plus every channel that got its start -> {}",
                decision.followers.join(", ")
            ),
        }
    }
    for (channel, fate) in &decision.channels {
        let how = match fate {
            Fate::Sent => "sent at once".to_string(),
            Fate::Held { until } => {
                let window = shaping
                    .get(channel)
                    .and_then(|shaping| shaping.quiet.as_ref())
                    .map(|quiet| format!(" ({})", quiet.describe()))
                    .unwrap_or_default();
                format!(
                    "held by quiet hours{} until {}, then sent in their digest",
                    terminal(&window),
                    stamp(*until)
                )
            }
            Fate::Delayed { until, per_minute } => format!(
                "delayed by the rate limit ({per_minute} per minute, reached) until {}",
                stamp(*until)
            ),
        };
        say!("  {channel}: {how}");
    }
    let receivers = decision.receivers();
    match receivers.len() {
        0 => say!("=> no channel would get it"),
        1 => say!("=> 1 channel would get it: {}", receivers[0]),
        n => say!("=> {n} channels would get it: {}", receivers.join(", ")),
    }
}

fn json(
    event: &Event,
    decision: &Decision,
    source: &str,
    known_campaign: bool,
    at: DateTime<Utc>,
    failed: Option<&str>,
) -> serde_json::Value {
    let channels: Vec<serde_json::Value> = decision
        .channels
        .iter()
        .map(|(channel, fate)| match fate {
            Fate::Sent => serde_json::json!({"channel": channel, "fate": "sent"}),
            Fate::Held { until } => {
                serde_json::json!({"channel": channel, "fate": "held", "until": until})
            }
            Fate::Delayed { until, per_minute } => serde_json::json!({
                "channel": channel, "fate": "delayed", "until": until, "max_per_minute": per_minute
            }),
        })
        .collect();
    let rules: Vec<serde_json::Value> = decision
        .routing
        .matched
        .iter()
        .map(|matched| serde_json::json!({"rule": matched.rule, "channels": matched.channels}))
        .collect();
    serde_json::json!({
        "event": event,
        "at": at,
        "account": event.account(),
        "campaign_known": known_campaign,
        "source": source,
        "default_routing": decision.routing.by_default,
        "rules": rules,
        "silenced_by": decision.silenced_by,
        "sent_despite_silence": decision.sent_despite_silence,
        "channels": channels,
        "ends_episode": decision.ends_episode,
        "followers": decision.followers,
        "receivers": decision.receivers(),
        "ok": failed.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_utc_wall_clock() {
        let expected = DateTime::parse_from_rfc3339("2026-11-26T22:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for text in [
            "2026-11-26T22:10:00Z",
            "2026-11-26T23:10:00+01:00",
            "2026-11-26 22:10",
            "2026-11-26 22:10:00",
            "2026-11-26T22:10",
        ] {
            assert_eq!(parse_time(text).ok(), Some(expected), "{text}");
        }
        assert!(parse_time("tomorrow").is_err());
    }
}
