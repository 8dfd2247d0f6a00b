//! "Did you mean": the one place a typo is matched against what is known, for
//! keys, channel kinds, channel names, event types and statuses alike.

/// A known word within two edits of `typo`, the nearest first; else the one
/// known word that begins with it (`pager` for `pagerduty`: a name cut
/// short is as common as a typo, and further away in edits).
pub(crate) fn closest<'a>(typo: &str, known: &[&'a str]) -> Option<&'a str> {
    let near = known
        .iter()
        .map(|candidate| (strsim::levenshtein(typo, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, candidate)| candidate);
    near.or_else(|| only_extension(typo, known))
}

/// The known word `typo` begins, when exactly one does and `typo` is long
/// enough to mean something (three characters).
fn only_extension<'a>(typo: &str, known: &[&'a str]) -> Option<&'a str> {
    const SHORTEST: usize = 3;
    if typo.chars().count() < SHORTEST {
        return None;
    }
    let mut extending = known
        .iter()
        .filter(|candidate| candidate.starts_with(typo) && **candidate != typo);
    match (extending.next(), extending.next()) {
        (Some(only), None) => Some(*only),
        _ => None,
    }
}

/// ` (did you mean "x"?)`, or nothing when no known word is close.
pub(crate) fn did_you_mean(typo: &str, known: &[&str]) -> String {
    closest(typo, known)
        .map(|close| format!(" (did you mean \"{close}\"?)"))
        .unwrap_or_default()
}

/// Environment variables that look like overrides but use single underscores
/// (`CAMPAIGN_WATCHER_WATCH_INTERVAL`): the loader ignores them, so say how
/// they are spelled. The variables the watcher reads by those names are not
/// overrides and are left alone.
pub fn misspelled_overrides(env: impl Iterator<Item = (String, String)>) -> Vec<String> {
    const READ_AS_IS: [&str; 3] = [
        "CAMPAIGN_WATCHER_CONFIG",
        "CAMPAIGN_WATCHER_CRASH_AT",
        "CAMPAIGN_WATCHER_TEST_POSTGRES",
    ];
    let mut names: Vec<String> = env
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with("CAMPAIGN_WATCHER_")
                && !name.starts_with("CAMPAIGN_WATCHER__")
                && !READ_AS_IS.contains(&name.as_str())
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let rest = &name["CAMPAIGN_WATCHER_".len()..];
            let spelled = match rest.split_once('_') {
                Some((section, key)) => format!("CAMPAIGN_WATCHER__{section}__{key}"),
                None => format!("CAMPAIGN_WATCHER__{rest}"),
            };
            format!(
                "environment variable {name} is not an override (they use double underscores between levels); did you mean {spelled}?"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_known_word() {
        let kinds = ["webhook", "email", "slack"];
        assert_eq!(
            did_you_mean("webhok", &kinds),
            " (did you mean \"webhook\"?)"
        );
        assert_eq!(did_you_mean("pagerduty", &kinds), "");
        assert_eq!(closest("emial", &kinds), Some("email"));
    }

    #[test]
    fn a_name_cut_short_gets_the_one_it_begins() {
        let channels = ["pagerduty", "ops-mail", "ops-hook"];
        assert_eq!(
            did_you_mean("pager", &channels),
            " (did you mean \"pagerduty\"?)"
        );
        // Two names begin with it: no guess.
        assert_eq!(did_you_mean("ops-", &channels), "");
        // Too short to mean anything.
        assert_eq!(did_you_mean("pa", &["pagerduty"]), "");
    }

    #[test]
    fn single_underscore_overrides_are_named_with_their_spelling() {
        let env = [
            ("CAMPAIGN_WATCHER_WATCH_INTERVAL", "30s"),
            ("CAMPAIGN_WATCHER__WATCH__ALL", "true"),
            ("CAMPAIGN_WATCHER_CONFIG", "/etc/cw.toml"),
            ("PATH", "/usr/bin"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()));
        let warnings = misspelled_overrides(env.into_iter());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("did you mean CAMPAIGN_WATCHER__WATCH__INTERVAL?"),
            "{warnings:?}"
        );
    }
}
