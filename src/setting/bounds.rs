//! "A value within its range": every duration and number the watcher turns into
//! a timer, a date or an allocation is bounded here at validation, so a value
//! that parses but cannot be used (`interval = "500000000years"`) is refused
//! with its range instead of panicking later in the scheduler or on a reload.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The longest duration any key accepts: far beyond any sensible setting, and
/// far inside what `chrono::TimeDelta` and `tokio::time::Instant` can add.
pub const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

/// Pushes "`key`: VALUE is outside MIN..=MAX" unless `value` is in `range`.
pub fn duration_within(
    problems: &mut Vec<String>,
    key: &str,
    value: Duration,
    range: RangeInclusive<Duration>,
) {
    if !range.contains(&value) {
        problems.push(format!(
            "{key}: {} is outside the allowed range {}..={}",
            human(value),
            human(*range.start()),
            human(*range.end())
        ));
    }
}

/// Pushes "`key`: VALUE is outside MIN..=MAX" unless `value` is in `range`.
pub fn number_within<T: PartialOrd + Display>(
    problems: &mut Vec<String>,
    key: &str,
    value: T,
    range: RangeInclusive<T>,
) {
    if !range.contains(&value) {
        problems.push(format!(
            "{key}: {value} is outside the allowed range {}..={}",
            range.start(),
            range.end()
        ));
    }
}

fn human(duration: Duration) -> String {
    if duration.is_zero() {
        "0s".to_string()
    } else {
        humantime::format_duration(duration).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_outside_its_range_names_the_key_and_the_range() {
        let mut problems = Vec::new();
        let range = Duration::from_secs(1)..=Duration::from_secs(3600);
        duration_within(
            &mut problems,
            "watch.interval",
            Duration::from_secs(1),
            range.clone(),
        );
        duration_within(
            &mut problems,
            "watch.interval",
            Duration::from_secs(3601),
            range,
        );
        assert_eq!(
            problems,
            ["watch.interval: 1h 1s is outside the allowed range 1s..=1h"]
        );
    }

    #[test]
    fn a_number_outside_its_range_names_the_key_and_the_range() {
        let mut problems = Vec::new();
        number_within(&mut problems, "watch.unhealthy_after", 0u32, 1..=1000);
        assert_eq!(
            problems,
            ["watch.unhealthy_after: 0 is outside the allowed range 1..=1000"]
        );
    }
}
