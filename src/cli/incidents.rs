//! `incidents`: the open incidents, one episode of a condition each (a pause,
//! upload errors, a campaign gone or unreadable, an account's API down):
//! since when, and the channels told, which its end will reach.

use std::path::Path;

use chrono::Utc;
use clap::Args;

use super::failure::Failure;
use super::store_access::{open_store_of, print_json, read, stamp, store_settings};
use crate::render::human_duration;
use crate::state::Incident;
use crate::text::terminal;

/// `incidents` lists at most this many.
const INCIDENTS_LIMIT: u32 = 10_000;

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// Only this SigmaMind account's incidents (default: every account's and the watcher's own).
    #[arg(long)]
    account: Option<String>,
    /// Ended incidents too, newest first.
    #[arg(long)]
    all: bool,
    /// Print one JSON document instead of lines.
    #[arg(long)]
    json: bool,
}

impl IncidentsArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let settings = store_settings(config)?;
        if let Some(wanted) = &self.account {
            let accounts = settings.account_names();
            if !accounts.iter().any(|known| known == wanted) {
                return Err(Failure::usage(format!(
                    "--account \"{}\" is not an account of {} (accounts: {})",
                    terminal(wanted),
                    config.display(),
                    accounts.join(", ")
                )));
            }
        }
        let store = open_store_of(&settings).await?;
        let incidents: Vec<Incident> = store
            .incidents(!self.all, INCIDENTS_LIMIT)
            .await
            .map_err(read)?
            .into_iter()
            .filter(|incident| {
                self.account
                    .as_deref()
                    .map_or(true, |wanted| incident.account.as_deref() == Some(wanted))
            })
            .collect();
        if self.json {
            print_json(&incidents);
            return Ok(());
        }
        let now = Utc::now();
        for incident in &incidents {
            say!(
                "{}",
                incident_line(incident, now, settings.account_names().len() > 1)
            );
        }
        say!("{}", counted(incidents.len(), self.all));
        Ok(())
    }
}

/// One incident on one line: id, what it is about, since when, who was told.
fn incident_line(
    incident: &Incident,
    now: chrono::DateTime<Utc>,
    several_accounts: bool,
) -> String {
    let subject = match (&incident.account, several_accounts) {
        (Some(account), true) if account != &incident.subject => {
            format!("{account}/{}", incident.subject)
        }
        _ => incident.subject.clone(),
    };
    let when = match incident.ended_at {
        None => format!(
            "since {} ({})",
            stamp(incident.started_at),
            human_duration((now - incident.started_at).num_seconds())
        ),
        Some(ended) => format!(
            "{} to {} ({})",
            stamp(incident.started_at),
            stamp(ended),
            human_duration((ended - incident.started_at).num_seconds())
        ),
    };
    let told = match incident.channels_told.is_empty() {
        true => "no channel told".to_string(),
        false => {
            let names: Vec<&str> = incident.channels_told.iter().map(String::as_str).collect();
            format!("told {}", names.join(", "))
        }
    };
    let acknowledged = match &incident.acknowledged_by {
        Some(by) => format!("; acknowledged by {by}"),
        None => String::new(),
    };
    terminal(&format!(
        "{}  {subject}  {}  {when}  {told}{acknowledged}",
        incident.id, incident.condition
    ))
    .into_owned()
}

fn counted(count: usize, all: bool) -> String {
    let which = if all { "" } else { "open " };
    match count {
        0 => format!("no {which}incidents"),
        1 => format!("1 {which}incident"),
        n => format!("{n} {which}incidents"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn paused() -> Incident {
        let at = Utc.with_ymd_and_hms(2026, 12, 8, 1, 0, 0).unwrap();
        let mut incident = Incident::open(
            Some("acme".into()),
            "camp_\u{1b}[31m1".into(),
            "paused",
            "evt_1",
            at,
        );
        incident.channels_told.insert("pagerduty".into());
        incident.channels_told.insert("slack".into());
        incident
    }

    #[test]
    fn a_line_says_what_since_when_and_who_was_told_with_api_text_made_inert() {
        let incident = paused();
        let now = incident.started_at + chrono::TimeDelta::minutes(133);
        let line = incident_line(&incident, now, true);
        assert!(line.starts_with(&incident.id), "{line}");
        assert!(line.contains("acme/camp_"), "{line}");
        assert!(
            !line.contains('\u{1b}'),
            "an escape from the API is not printed raw: {line}"
        );
        assert!(line.contains("paused  since 2026-12-08"), "{line}");
        assert!(line.contains(&human_duration(133 * 60)), "{line}");
        assert!(line.ends_with("told pagerduty, slack"), "{line}");

        let single = incident_line(&incident, now, false);
        assert!(
            !single.contains("acme/"),
            "one account needs no prefix: {single}"
        );
    }

    #[test]
    fn an_ended_or_acknowledged_incident_says_so() {
        let mut incident = paused();
        incident.ended_at = Some(incident.started_at + chrono::TimeDelta::hours(2));
        incident.acknowledged_by = Some("dana".into());
        let line = incident_line(&incident, Utc::now(), false);
        assert!(
            line.contains(&format!("({})", human_duration(7200))),
            "{line}"
        );
        assert!(line.ends_with("; acknowledged by dana"), "{line}");
        assert_eq!(counted(0, false), "no open incidents");
        assert_eq!(counted(2, true), "2 incidents");
    }
}
