//! How long an episode lasted, in words people read at a glance: the end of a
//! condition says it ("live again after 2 h 13 m paused").

use crate::event::{Event, EventType};
use crate::observe::CampaignStatus;

/// `2 h 13 m`: the two largest units, whole (days, hours, minutes, seconds);
/// `0 s` for nothing. Pure, for any number of seconds.
pub fn human_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, unit) in units {
        let count = rest / size;
        rest %= size;
        if count > 0 || !parts.is_empty() {
            parts.push((count, unit));
        }
        if parts.len() == 2 {
            break;
        }
    }
    let shown: Vec<String> = parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count} {unit}"))
        .collect();
    match shown.is_empty() {
        true => "0 s".to_string(),
        false => shown.join(" "),
    }
}

/// What the end of an episode says of its length (`live again after 2 h 13 m
/// paused`), when `event` ends one and carries its duration.
pub fn ended_after(event: &Event) -> Option<String> {
    let seconds = event.incident.as_ref()?.duration_seconds?;
    let took = human_duration(seconds);
    let status = event.campaign.as_ref().map(|campaign| &campaign.status);
    Some(match event.kind {
        EventType::StatusChanged => match status {
            Some(CampaignStatus::Live) | None => format!("live again after {took} paused"),
            Some(status) => format!("{status} after {took} paused"),
        },
        EventType::UploadErrorsCleared => format!("upload errors cleared after {took}"),
        EventType::FoundAgain => format!("found again after {took} missing"),
        EventType::CampaignReadable | EventType::ApiRecovered => {
            format!("readable again after {took}")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_their_two_largest_units() {
        for (seconds, shown) in [
            (-5, "0 s"),
            (0, "0 s"),
            (45, "45 s"),
            (60, "1 m"),
            (61, "1 m 1 s"),
            (7_980, "2 h 13 m"),
            (7_200, "2 h"),
            (7_205, "2 h"),
            (90_061, "1 d 1 h"),
            (86_400 * 3 + 59, "3 d"),
        ] {
            assert_eq!(human_duration(seconds), shown, "{seconds}");
        }
    }
}
