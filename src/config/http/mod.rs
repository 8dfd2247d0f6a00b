//! `[http]`: the listener, and who may use the board and the API on it
//! (`[http.users.NAME]` with bcrypt hashes, `[http.tokens.NAME]` read from
//! files). The guard that enforces it is `http/access/`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::setting::bounds::duration_within;
use crate::setting::secret::{read_secret_file, Secret};
use crate::setting::suggest::did_you_mean;

/// Tokens shorter than this are guessable; `openssl rand -hex 32` makes 64.
pub const MIN_TOKEN_CHARS: usize = 16;
/// bcrypt costs below this verify in a few milliseconds: fine for tests, weak
/// against an offline attack on a leaked hash (warned, not refused).
pub const MIN_RECOMMENDED_COST: u32 = 10;
const MINUTE: Duration = Duration::from_secs(60);
/// The largest `max_connections_per_client` (the listener serves at most 4096).
const MOST_CONNECTIONS_PER_CLIENT: usize = 4096;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSettings {
    #[serde(default = "default_http_listen")]
    pub listen: String,
    /// The address browsers use to reach the board, e.g. `https://watcher.example.com`
    /// (behind an Ingress or a proxy). It is the origin state-changing requests must
    /// come from, and `https` here marks the session cookie `Secure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// A browser session ends this long after its login (and at logout).
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Users who log in to the board (or send Basic credentials), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, UserSettings>,
    /// Tokens for scripts (`Authorization: Bearer`), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, TokenSettings>,
    /// Connections one client address may hold open at once (default: half
    /// the listener's bound, 8-128). Behind a proxy every client shares
    /// the proxy's address: set it above the proxy's connection pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_client: Option<usize>,
}

/// `[http.users.NAME]`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSettings {
    /// A bcrypt hash (`campaign-watcher hash-password` prints one); never the password.
    pub password_hash: Secret,
    /// `read` (the board and the read API) or `admin` (also silences and replays).
    pub role: String,
}

/// `[http.tokens.NAME]`: the token itself is only ever read from `token_file`,
/// so it is in no configuration text, environment variable or `check-config` output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSettings {
    pub token_file: PathBuf,
    /// `read` or `admin`.
    pub role: String,
    /// What `token_file` held, filled at load.
    #[serde(skip)]
    pub token: TokenValue,
}

/// A token file's content, or why it could not be read (reported by validation,
/// with the other `[http]` problems, so every one shows at once).
#[derive(Clone, Default)]
pub enum TokenValue {
    #[default]
    NotRead,
    Read(Secret),
    Unreadable(String),
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenValue::NotRead => f.write_str("NotRead"),
            TokenValue::Read(_) => f.write_str("Read(<redacted>)"),
            TokenValue::Unreadable(why) => write!(f, "Unreadable({why:?})"),
        }
    }
}

/// What a user or token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The board and the read API.
    Read,
    /// Everything `Read` may, and the state-changing actions (silences, replays).
    Admin,
}

impl Role {
    pub const NAMES: [&'static str; 2] = ["read", "admin"];

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: default_http_listen(),
            external_url: None,
            session_ttl: default_session_ttl(),
            users: BTreeMap::new(),
            tokens: BTreeMap::new(),
            max_connections_per_client: None,
        }
    }
}

pub(super) fn default_http_listen() -> String {
    "127.0.0.1:9464".into()
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}

impl HttpSettings {
    /// Whether anyone is configured: then every guarded route asks who is calling.
    pub fn has_credentials(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// Whether `other` grants the same access (users, hashes, roles, tokens,
    /// `external_url`, `session_ttl`): a reload cannot change them in a running daemon.
    pub fn same_access(&self, other: &HttpSettings) -> bool {
        let users = |s: &HttpSettings| -> Vec<(String, String, String)> {
            s.users
                .iter()
                .map(|(name, user)| {
                    (
                        name.clone(),
                        user.password_hash.expose().to_string(),
                        user.role.clone(),
                    )
                })
                .collect()
        };
        let tokens = |s: &HttpSettings| -> Vec<(String, PathBuf, String, Option<String>)> {
            s.tokens
                .iter()
                .map(|(name, token)| {
                    let value = match &token.token {
                        TokenValue::Read(value) => Some(value.expose().to_string()),
                        _ => None,
                    };
                    (
                        name.clone(),
                        token.token_file.clone(),
                        token.role.clone(),
                        value,
                    )
                })
                .collect()
        };
        self.external_url == other.external_url
            && self.session_ttl == other.session_ttl
            && users(self) == users(other)
            && tokens(self) == tokens(other)
    }

    /// Reads every `token_file` (a relative path in `$CREDENTIALS_DIRECTORY`
    /// when set); a failure is kept for [`HttpSettings::check`].
    pub(super) fn read_token_files(&mut self, credentials_dir: Option<&std::path::Path>) {
        for token in self.tokens.values_mut() {
            token.token = match read_secret_file(&token.token_file, credentials_dir) {
                Ok(text) => TokenValue::Read(Secret::new(text)),
                Err(problem) => TokenValue::Unreadable(problem.to_string()),
            };
        }
    }

    /// Every problem of the section, one sentence each, never echoing a hash or a token.
    pub(super) fn check(&self, problems: &mut Vec<String>) {
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "http.listen: \"{}\" is not a socket address such as 127.0.0.1:9464",
                self.listen
            ));
        }
        if let Some(url) = &self.external_url {
            if let Err(why) = external_origin(url) {
                // Shown with its userinfo password replaced: it may hold one.
                let shown = crate::setting::url::redact_url(url);
                problems.push(format!("http.external_url: \"{shown}\" {why}"));
            }
        }
        if self.session_ttl < MINUTE {
            problems.push(format!(
                "http.session_ttl: {} is below the 1m minimum",
                humantime::format_duration(self.session_ttl)
            ));
        } else {
            duration_within(
                problems,
                "http.session_ttl",
                self.session_ttl,
                MINUTE..=WEEK,
            );
        }
        if let Some(count) = self.max_connections_per_client {
            if !(1..=MOST_CONNECTIONS_PER_CLIENT).contains(&count) {
                problems.push(format!(
                    "http.max_connections_per_client: {count} is outside 1..={MOST_CONNECTIONS_PER_CLIENT}"
                ));
            }
        }
        for (name, user) in &self.users {
            let at = format!("http.users.{name}");
            check_name(&at, name, problems);
            if name.contains(':') {
                problems.push(format!(
                    "{at}: a user name cannot contain ':' (Basic credentials split there)"
                ));
            }
            if let Err(why) = check_bcrypt(user.password_hash.expose()) {
                problems.push(format!(
                    "{at}.password_hash: {why}; put the output of `campaign-watcher hash-password` here"
                ));
            }
            check_role(&format!("{at}.role"), &user.role, problems);
        }
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (name, token) in &self.tokens {
            let at = format!("http.tokens.{name}");
            check_name(&at, name, problems);
            match &token.token {
                TokenValue::Read(value) => {
                    let value = value.expose();
                    if value.chars().count() < MIN_TOKEN_CHARS {
                        problems.push(format!(
                            "{at}.token_file: the token is shorter than {MIN_TOKEN_CHARS} characters; make one with `openssl rand -hex 32`"
                        ));
                    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        problems.push(format!(
                            "{at}.token_file: the token contains spaces or control characters; write it on one line"
                        ));
                    }
                    if let Some((other, _)) = seen.iter().find(|(_, known)| *known == value) {
                        problems.push(format!(
                            "{at}.token_file: holds the same token as http.tokens.{other}; give each script its own"
                        ));
                    }
                    seen.push((name, value));
                }
                TokenValue::Unreadable(why) => problems.push(format!("{at}.token_file: {why}")),
                TokenValue::NotRead => {
                    problems.push(format!("{at}.token_file: was not read"));
                }
            }
            check_role(&format!("{at}.role"), &token.role, problems);
        }
    }

    /// Doubtful but usable: weak hashes, an exposed listener with plain `http`.
    pub(super) fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (name, user) in &self.users {
            if let Ok(parts) = user.password_hash.expose().parse::<bcrypt::HashParts>() {
                if parts.get_cost() < MIN_RECOMMENDED_COST {
                    warnings.push(format!(
                        "http.users.{name}.password_hash: bcrypt cost {} is below {MIN_RECOMMENDED_COST}; a leaked hash would be cheap to crack (hash-password --cost 12)",
                        parts.get_cost()
                    ));
                }
            }
        }
        warnings
    }
}

/// `scheme://host[:port]` of an external URL (what a browser sends as `Origin`),
/// or why it cannot be one.
pub fn external_origin(url: &str) -> Result<String, &'static str> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| "is not a URL such as https://watcher.example.com")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must start with https:// (or http://)");
    }
    if parsed.host_str().is_none() {
        return Err("has no host");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold credentials");
    }
    Ok(parsed.origin().ascii_serialization())
}

fn check_name(at: &str, name: &str, problems: &mut Vec<String>) {
    if name.is_empty() {
        problems.push(format!("{at}: the name is empty"));
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
    {
        problems.push(format!(
            "{at}: the name may only contain letters, digits, '_', '-', '.' and '@'"
        ));
    }
}

fn check_role(at: &str, role: &str, problems: &mut Vec<String>) {
    if Role::parse(role).is_none() {
        problems.push(format!(
            "{at}: \"{role}\" is not a role{}; use \"read\" or \"admin\"",
            did_you_mean(role, &Role::NAMES)
        ));
    }
}

/// A bcrypt hash in modular crypt form: `$2b$12$` and 53 characters of salt and hash.
fn check_bcrypt(hash: &str) -> Result<(), &'static str> {
    let looks_right = hash.len() == 60
        && ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|prefix| hash.starts_with(prefix));
    if !looks_right {
        return Err("is not a bcrypt hash ($2b$, a cost and 53 characters)");
    }
    match hash.parse::<bcrypt::HashParts>() {
        Ok(parts) if (4..=31).contains(&parts.get_cost()) => Ok(()),
        _ => Err("is not a valid bcrypt hash (cost 04 to 31, then 53 characters of salt and hash)"),
    }
}

#[cfg(test)]
mod tests;
