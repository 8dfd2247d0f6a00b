//! Patterns over account names, as rules' `accounts`, `silence add
//! --account` and the API's silences take them.

/// Whether `pattern` can pick accounts (rules' `accounts`, `silence add
/// --account`, the API's silences): a valid glob, and a plain name must be
/// one of `known` (a typo would otherwise quietly match nothing).
pub fn check_account_pattern(pattern: &str, known: &[String]) -> Result<(), AccountPatternError> {
    match account_glob_problem(pattern).or_else(|| unknown_account_problem(pattern, known)) {
        Some(problem) => Err(AccountPatternError(problem)),
        None => Ok(()),
    }
}

/// Why a pattern picks no account; `Display` is the sentence, without the key
/// it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AccountPatternError(String);

/// Why `pattern` is not a glob, if it is not.
pub fn account_glob_problem(pattern: &str) -> Option<String> {
    let error = globset::Glob::new(pattern).err()?;
    Some(format!(
        "\"{}\" is not a valid glob: {}",
        pattern.chars().take(64).collect::<String>(),
        error.kind()
    ))
}

/// Why `pattern`, a plain name (no glob characters), names no configured account.
pub fn unknown_account_problem(pattern: &str, known: &[String]) -> Option<String> {
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    let plain = !pattern.contains(['*', '?', '[', '{']);
    (plain && !names.contains(&pattern)).then(|| {
        format!(
            "\"{}\" is not a configured account{} (known: {})",
            pattern.chars().take(64).collect::<String>(),
            super::suggest::did_you_mean(pattern, &names),
            names.join(", ")
        )
    })
}
