//! Waiting between attempts: full-jitter backoff and `Retry-After`, shared by the
//! API client (fetch) and the outbox dispatcher (deliver).

use std::time::{Duration, SystemTime};

use rand::Rng;

/// The uncapped exponential step: `base · 2^attempt`, capped at `cap`.
pub fn exponential(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(30));
    base.saturating_mul(factor).min(cap)
}

/// Full jitter (AWS architecture blog): uniform in `[0, min(cap, base · 2^attempt)]`.
pub fn full_jitter(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let ceiling = exponential(base, cap, attempt);
    let millis = ceiling.as_millis().min(u64::MAX as u128) as u64;
    if millis == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
}

/// Delivery backoff: the exponential step with ±20 % jitter, so retries of many
/// rows spread out but still grow, starting near `initial` and settling near `max`.
pub fn jittered_exponential(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let step = exponential(initial, max, attempt);
    let jitter: f64 = rand::thread_rng().gen_range(0.8..=1.2);
    step.mul_f64(jitter).min(max).max(initial.min(max))
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds));
        }
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(600);
        let steps: Vec<u64> = (0..9)
            .map(|n| exponential(base, cap, n).as_secs())
            .collect();
        assert_eq!(steps, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(exponential(base, cap, 500), cap);
    }

    #[test]
    fn full_jitter_stays_within_its_ceiling() {
        for attempt in 0..6 {
            let ceiling = exponential(Duration::from_millis(100), Duration::from_secs(2), attempt);
            for _ in 0..50 {
                assert!(
                    full_jitter(Duration::from_millis(100), Duration::from_secs(2), attempt)
                        <= ceiling
                );
            }
        }
    }

    #[test]
    fn jittered_exponential_is_bounded() {
        let initial = Duration::from_secs(5);
        let max = Duration::from_secs(600);
        for _ in 0..100 {
            let first = jittered_exponential(initial, max, 0);
            assert!(first >= initial && first <= Duration::from_secs(6));
            assert!(jittered_exponential(initial, max, 20) <= max);
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 2 ", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
