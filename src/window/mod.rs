//! Weekly windows in a time zone: `Mon-Fri 09:00-18:00, Sat 10:00-14:00`.
//!
//! One grammar for every "when" an operator writes by the week: maintenance
//! windows (`[[maintenance]] every`, `silence add --every`) and calling hours
//! (`[[expect]] live`). A window is ranges joined by `,`; a range is an
//! optional day or span of days (`Mon`, `Mon-Fri`, `Fri-Mon`; none means every
//! day) and a time span `HH:MM-HH:MM`. `24:00` may end a span; a span whose
//! end is not after its start (`22:00-02:00`) belongs to its start day and
//! ends the next morning. `00:00-24:00` is all day.
//!
//! Wall-clock times become instants as quiet hours do: a time in a skipped
//! hour (spring forward) falls when the clock resumes, an ambiguous one (fall
//! back) takes its first instant. Ranges that touch or overlap are one
//! occurrence, so `Mon-Sun 00:00-24:00` never closes.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

const MINUTES_PER_DAY: u16 = 24 * 60;
/// Days around an instant searched for the occurrence holding it: a window
/// open for a whole week never closes, so a week and a day each way finds
/// every real edge.
const SEARCH_DAYS: u64 = 8;

/// A parsed weekly window and its zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyWindow {
    ranges: Vec<Range>,
    zone: Tz,
}

/// Days of the week (Monday first) and a span of minutes from midnight; an
/// `end` not after `start` runs into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    days: [bool; 7],
    start: u16,
    end: u16,
}

/// One stretch of time a window is open, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Why a window cannot be used; `Display` is a sentence fragment for
/// `KEY: ...`, quoting the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("is empty: write ranges such as \"Mon-Fri 09:00-18:00\"")]
    Empty,
    #[error(
        "\"{0}\" is not a range: write a day or days and a time span, e.g. \"Mon-Fri 09:00-18:00\""
    )]
    NotARange(String),
    #[error("\"{0}\" is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun")]
    NotADay(String),
    #[error("\"{0}\" is not a time span: write HH:MM-HH:MM (24-hour clock; 24:00 may end a span)")]
    NotATimeSpan(String),
    #[error("\"{0}\" starts and ends at the same time; for all day write 00:00-24:00")]
    EmptySpan(String),
    #[error("\"{0}\" is not an IANA time zone (e.g. Europe/Berlin)")]
    UnknownZone(String),
}

impl WeeklyWindow {
    /// Parses `text` in the zone named `zone`; every range is checked and the
    /// first problem is returned.
    pub fn parse(text: &str, zone: &str) -> Result<Self, WindowError> {
        let zone: Tz = zone
            .trim()
            .parse()
            .map_err(|_| WindowError::UnknownZone(zone.to_string()))?;
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            ranges.push(parse_range(part)?);
        }
        if ranges.is_empty() {
            return Err(WindowError::Empty);
        }
        Ok(Self { ranges, zone })
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Whether the window is open at `at`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.occurrence_at(at).is_some()
    }

    /// The occurrence open at `at`, with its real start and end; `None` when
    /// the window is closed then. A window open around the clock all week
    /// reports the search horizon as its edges.
    pub fn occurrence_at(&self, at: DateTime<Utc>) -> Option<Occurrence> {
        let today = at.with_timezone(&self.zone).date_naive();
        let from = today.checked_sub_days(Days::new(SEARCH_DAYS))?;
        let to = today.checked_add_days(Days::new(SEARCH_DAYS))?;
        self.merged(from, to)
            .into_iter()
            .find(|occurrence| occurrence.start <= at && at < occurrence.end)
    }

    /// Up to `count` occurrences that end after `after`, in order (the one
    /// open at `after` first, if any): what a preview shows.
    pub fn next_occurrences(&self, after: DateTime<Utc>, count: usize) -> Vec<Occurrence> {
        let today = after.with_timezone(&self.zone).date_naive();
        let Some(from) = today.checked_sub_days(Days::new(SEARCH_DAYS)) else {
            return Vec::new();
        };
        // Each week holds at least one occurrence, so `count` weeks and the
        // search margin hold `count` of them.
        let weeks = u64::try_from(count).unwrap_or(u64::MAX).saturating_add(2);
        let Some(to) = today.checked_add_days(Days::new(weeks.saturating_mul(7).min(3660))) else {
            return Vec::new();
        };
        self.merged(from, to)
            .into_iter()
            .filter(|occurrence| occurrence.end > after)
            .take(count)
            .collect()
    }

    /// Every occurrence of ranges starting on the local days `from..=to`,
    /// touching and overlapping ones joined, in order.
    fn merged(&self, from: NaiveDate, to: NaiveDate) -> Vec<Occurrence> {
        let mut all = Vec::new();
        for day in from.iter_days().take_while(|day| *day <= to) {
            let weekday = day.weekday().num_days_from_monday() as usize;
            for range in self.ranges.iter().filter(|range| range.days[weekday]) {
                all.push(self.occurrence(day, range));
            }
        }
        all.sort_by_key(|occurrence| occurrence.start);
        let mut merged: Vec<Occurrence> = Vec::with_capacity(all.len());
        for occurrence in all {
            match merged.last_mut() {
                Some(last) if occurrence.start <= last.end => {
                    last.end = last.end.max(occurrence.end)
                }
                _ => merged.push(occurrence),
            }
        }
        merged
    }

    fn occurrence(&self, day: NaiveDate, range: &Range) -> Occurrence {
        let at = |minutes: u16| {
            let date = day + TimeDelta::days(i64::from(minutes / MINUTES_PER_DAY));
            let minutes = u32::from(minutes % MINUTES_PER_DAY);
            let time = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap_or_default();
            local_instant(self.zone, date.and_time(time))
        };
        let end = if range.end > range.start {
            range.end
        } else {
            range.end + MINUTES_PER_DAY
        };
        Occurrence {
            start: at(range.start),
            end: at(end),
        }
    }
}

impl fmt::Display for WeeklyWindow {
    /// The window in its own grammar, normalised (`Mon-Fri 09:00-18:00`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self.ranges.iter().map(Range::to_string).collect();
        write!(f, "{} {}", ranges.join(", "), self.zone.name())
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clock = |minutes: u16| format!("{:02}:{:02}", minutes / 60, minutes % 60);
        if let Some(days) = describe_days(&self.days) {
            write!(f, "{days} ")?;
        }
        write!(f, "{}-{}", clock(self.start), clock(self.end))
    }
}

/// A local wall-clock time as an instant: in a gap (spring forward), the
/// first instant after it; when ambiguous (fall back), the first of the two.
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..4 {
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(at) => return at.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => probe += TimeDelta::minutes(30),
        }
    }
    Utc.from_utc_datetime(&local)
}

fn parse_range(part: &str) -> Result<Range, WindowError> {
    let mut words = part.split_whitespace();
    let (days, span) = match (words.next(), words.next(), words.next()) {
        (Some(span), None, None) => ([true; 7], span),
        (Some(days), Some(span), None) => (parse_days(days)?, span),
        _ => return Err(WindowError::NotARange(part.to_string())),
    };
    let not_a_span = || WindowError::NotATimeSpan(span.to_string());
    let (start, end) = span.split_once('-').ok_or_else(not_a_span)?;
    let start = minutes(start)
        .filter(|m| *m < MINUTES_PER_DAY)
        .ok_or_else(not_a_span)?;
    let end = minutes(end).ok_or_else(not_a_span)?;
    if start == end {
        return Err(WindowError::EmptySpan(span.to_string()));
    }
    Ok(Range { days, start, end })
}

/// `Mon`, or a span `Mon-Fri` (which may wrap: `Fri-Mon`).
fn parse_days(text: &str) -> Result<[bool; 7], WindowError> {
    let day = |name: &str| {
        name.parse::<Weekday>()
            .map(|day| day.num_days_from_monday() as usize)
            .map_err(|_| WindowError::NotADay(name.to_string()))
    };
    let mut days = [false; 7];
    match text.split_once('-') {
        None => days[day(text)?] = true,
        Some((first, last)) => {
            let (first, last) = (day(first)?, day(last)?);
            let mut index = first;
            loop {
                days[index] = true;
                if index == last {
                    break;
                }
                index = (index + 1) % 7;
            }
        }
    }
    Ok(days)
}

/// `HH:MM` as minutes from midnight; `24:00` is 1440.
fn minutes(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let valid = (hours < 24 && minutes < 60) || (hours == 24 && minutes == 0);
    valid.then_some(hours * 60 + minutes)
}

/// `Mon-Fri`, `Fri-Mon`, `Sat`, or `None` for every day. A range's days are
/// always one span of the week, as they were written.
fn describe_days(days: &[bool; 7]) -> Option<String> {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    if days.iter().all(|day| *day) {
        return None;
    }
    let first = (0..7).find(|&day| days[day] && !days[(day + 6) % 7])?;
    let mut last = first;
    while days[(last + 1) % 7] {
        last = (last + 1) % 7;
    }
    Some(if first == last {
        NAMES[first].to_string()
    } else {
        format!("{}-{}", NAMES[first], NAMES[last])
    })
}

#[cfg(test)]
mod tests;
