//! Throwaway PostgreSQL databases for the test suites and the benchmark: each
//! gets its own `cw_test_<random>` database on the server named by
//! `CAMPAIGN_WATCHER_TEST_POSTGRES` (default: trust auth on 127.0.0.1:5432),
//! dropped again when the value is dropped, even after a failed assertion.
//! No server is a loud failure, never a skip.

use std::str::FromStr;

use rand::Rng;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

pub const TEST_SERVER_ENV: &str = "CAMPAIGN_WATCHER_TEST_POSTGRES";
pub const DEFAULT_TEST_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct ScratchDatabase {
    admin: PgConnectOptions,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Create a new empty database; panics with a sentence naming the server
    /// and the variable to set when the server cannot be used.
    pub async fn create() -> Self {
        let server =
            std::env::var(TEST_SERVER_ENV).unwrap_or_else(|_| DEFAULT_TEST_SERVER.to_string());
        let shown = crate::setting::url::redact_url(&server);
        let admin = PgConnectOptions::from_str(&server)
            .unwrap_or_else(|_| panic!("{TEST_SERVER_ENV}={shown} is not a postgres:// url"));
        let mut conn = admin.connect().await.unwrap_or_else(|error| {
            panic!(
                "these tests need PostgreSQL at {shown} ({error}); start it (.ci/run does) or point {TEST_SERVER_ENV} at one"
            )
        });
        let name = format!("cw_test_{:016x}", rand::thread_rng().gen::<u64>());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|error| panic!("cannot create a test database on {shown}: {error}"));
        let _ = conn.close().await;
        let url = with_database(&server, &name);
        Self { admin, name, url }
    }

    /// The database's url, for `[state] url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// `server` with its path (the database name) replaced by `name`, query kept.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let after_scheme = base.find("://").map_or(0, |at| at + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |at| after_scheme + at);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop runs outside async (and maybe inside a runtime): a thread of its own.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut conn = admin.connect().await.ok()?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_replaces_the_path() {
        let table = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/cw_x",
            ),
            (
                "postgresql://u:p@h/db?sslmode=disable",
                "postgresql://u:p@h/cw_x?sslmode=disable",
            ),
            ("postgres://h", "postgres://h/cw_x"),
        ];
        for (server, expected) in table {
            assert_eq!(super::with_database(server, "cw_x"), expected);
        }
    }
}
