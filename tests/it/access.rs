//! Access to the board and the API on the real binary (issue 16, items 9-11):
//! open on loopback, closed on an exposed listener without users (probes still
//! answer), logins, sessions, Basic and Bearer, rate limits, CSRF and Origin,
//! the browser-safety headers, and no password, hash or token in any log.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use reqwest::redirect::Policy;
use tokio::io::AsyncWriteExt;

use crate::helpers::{eventually, run_cli, spawn_daemon, spawn_daemon_with, BinaryApp, BIN};

const ALICE_PASSWORD: &str = "alice-Pass-7f3e9c";
const BOB_PASSWORD: &str = "bob-Pass-2d8a41";
const WRONG_PASSWORD: &str = "WRONG-guess-5b1c";
const TOKEN: &str = "tok_ci_6c1f0e9a8b7d6c5e4f3a2b1c";
const EXTERNAL: &str = "https://watcher.example.com";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn client() -> reqwest::Client {
    client_from("127.0.0.1".parse().unwrap())
}

/// A client whose connections leave from `local` (any 127/8 address is this machine).
fn client_from(local: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .local_address(local)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn assert_safe(response: &reqwest::Response) {
    let headers = response.headers();
    let url = response.url().path();
    assert_eq!(headers["content-security-policy"], CSP, "{url}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{url}");
    assert_eq!(headers["x-frame-options"], "DENY", "{url}");
}

/// Rewrites the test config's `[http]` section: `listen` and more keys, and
/// appends `tables` (users, tokens).
pub(crate) fn expose(app: &BinaryApp, listen: &str, keys: &str, tables: &str) {
    let text = std::fs::read_to_string(&app.config).unwrap();
    let text = text.replace(
        "[http]\nlisten = \"127.0.0.1:0\"\n",
        &format!("[http]\nlisten = \"{listen}\"\n{keys}\n"),
    );
    std::fs::write(&app.config, format!("{text}\n{tables}\n")).unwrap();
}

/// The loopback address on the port an exposed (0.0.0.0) daemon bound.
pub(crate) fn on_loopback(bound: SocketAddr) -> String {
    format!("http://127.0.0.1:{}", bound.port())
}

fn cookie_pair(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn counter(metrics: &str, line_start: &str) -> u64 {
    metrics
        .lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn loopback_without_users_is_open_and_still_wants_csrf_from_browsers() {
    let app = BinaryApp::spawn(1, "").await;
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let base = format!("http://{}", daemon.http_addr().await);

    let who = client()
        .get(format!("{base}/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    assert_safe(&who);
    let nonce = cookie_pair(&who);
    let body: serde_json::Value = who.json().await.unwrap();
    assert_eq!(body["user"], serde_json::Value::Null);
    assert_eq!(body["role"], "admin");
    let token = body["csrf_token"].as_str().unwrap().to_string();

    for path in ["/healthz", "/metrics", "/no-such-page", "/login"] {
        let answer = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_safe(&answer);
    }

    // A DNS-rebinding page reaches the loopback listener under its own name.
    let rebound = client()
        .get(format!("{base}/api/v1/whoami"))
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);

    let logout = |origin: &str, token: Option<&str>| {
        let mut request = client()
            .post(format!("{base}/logout"))
            .header("origin", origin.to_string())
            .header("cookie", &nonce);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token.to_string());
        }
        request.send()
    };
    let foreign = logout("https://evil.example", Some(&token)).await.unwrap();
    assert_eq!(foreign.status(), 403);
    assert_safe(&foreign);
    assert!(foreign
        .text()
        .await
        .unwrap()
        .contains("comes from another site"));
    let tokenless = logout(&base, None).await.unwrap();
    assert_eq!(tokenless.status(), 403);
    assert!(tokenless.text().await.unwrap().contains("CSRF token"));
    assert_eq!(logout(&base, Some(&token)).await.unwrap().status(), 303);
    // A local script (no Origin, no cookie) is let in, as the CLI is.
    let script = client()
        .post(format!("{base}/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 303);
    daemon.terminate(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_exposed_listener_without_users_refuses_the_board_but_not_the_probes() {
    let app = BinaryApp::spawn(1, "").await;
    expose(&app, "0.0.0.0:0", "", "");
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let base = on_loopback(daemon.http_addr().await);

    for (method, path) in [
        ("GET", "/api/v1/whoami"),
        ("GET", "/login"),
        ("POST", "/login"),
    ] {
        let answer = client()
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("origin", &base)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{method} {path}");
        assert_safe(&answer);
        let text = answer.text().await.unwrap();
        assert!(
            text.contains("which is not a loopback address, and no users or tokens are configured")
                && text.contains("hash-password"),
            "{text}"
        );
        assert_eq!(
            text.trim_end().matches(". ").count(),
            0,
            "one sentence: {text}"
        );
    }
    for path in ["/healthz", "/metrics"] {
        let answer = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
    let mut ready = false;
    for _ in 0..100 {
        let answer = client().get(format!("{base}/readyz")).send().await.unwrap();
        if answer.status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz answers 200 once a cycle has run");
    daemon.terminate(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn users_log_in_scripts_use_basic_or_bearer_and_nothing_secret_is_logged() {
    let alice_hash = bcrypt::hash(ALICE_PASSWORD, 4).unwrap();
    let bob_hash = bcrypt::hash(BOB_PASSWORD, 4).unwrap();
    let app = BinaryApp::spawn(1, "").await;
    let token_file = app.dir.path().join("ci-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    expose(
        &app,
        "0.0.0.0:0",
        &format!("external_url = \"{EXTERNAL}\"\nsession_ttl = \"1h\""),
        &format!(
            "[http.users.alice]\npassword_hash = \"{alice_hash}\"\nrole = \"admin\"\n\
             [http.users.bob]\npassword_hash = \"{bob_hash}\"\nrole = \"read\"\n\
             [http.tokens.ci]\ntoken_file = \"{}\"\nrole = \"read\"\n",
            token_file.display()
        ),
    );
    let mut daemon = spawn_daemon_with(&app.config, app.dir.path(), "", &[("RUST_LOG", "trace")]);
    let base = on_loopback(daemon.http_addr().await);
    let metrics = || async {
        client()
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    // Nobody: 401 with both schemes.
    let nobody = client()
        .get(format!("{base}/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), 401);
    assert_safe(&nobody);
    let challenges: Vec<&str> = nobody
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic"))
            && challenges.iter().any(|c| c.starts_with("Bearer"))
    );

    let log_in = |client: reqwest::Client, origin: &'static str, password: &'static str| {
        client
            .post(format!("{base}/login"))
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("username", "alice"),
                ("password", password),
                ("next", "/campaigns"),
            ]))
            .send()
    };
    let wrong = log_in(client(), EXTERNAL, WRONG_PASSWORD).await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_safe(&wrong);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Wrong user name or password"));
    assert!(
        eventually(Duration::from_secs(5), || daemon.logs().lines().any(
            |line| line.contains("login refused")
                && line.contains("alice")
                && line.contains("127.0.0.1")
        ))
        .await,
        "the failure is logged with the user and the address: {}",
        daemon.logs()
    );

    // Login CSRF: another site's form cannot log anyone in.
    let foreign = log_in(client(), "https://evil.example", ALICE_PASSWORD)
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    let good = log_in(client(), EXTERNAL, ALICE_PASSWORD).await.unwrap();
    assert_eq!(good.status(), 303);
    assert_eq!(good.headers()["location"], "/campaigns");
    let set_cookie = good.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("__Host-cw_session="), "{set_cookie}");
    for attribute in [
        "; Path=/",
        "; HttpOnly",
        "; SameSite=Strict",
        "; Max-Age=3600",
        "; Secure",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let session = cookie_pair(&good);

    let who = client()
        .get(format!("{base}/api/v1/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    let body: serde_json::Value = who.json().await.unwrap();
    assert_eq!(
        (body["user"].as_str(), body["role"].as_str()),
        (Some("alice"), Some("admin"))
    );
    let csrf = body["csrf_token"].as_str().unwrap().to_string();

    // Logout is state-changing: the session's token and this watcher's Origin.
    let logout = |origin: &'static str, token: Option<String>| {
        let mut request = client()
            .post(format!("{base}/logout"))
            .header("cookie", &session)
            .header("origin", origin);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        request.send()
    };
    assert_eq!(logout(EXTERNAL, None).await.unwrap().status(), 403);
    assert_eq!(
        logout("https://evil.example", Some(csrf.clone()))
            .await
            .unwrap()
            .status(),
        403
    );
    let out = logout(EXTERNAL, Some(csrf)).await.unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = client()
        .get(format!("{base}/api/v1/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session ended at logout");

    // Scripts: a Bearer token from its file; a wrong one is refused.
    let bearer = client()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let body: serde_json::Value = bearer.json().await.unwrap();
    assert_eq!(
        (body["user"].as_str(), body["role"].as_str()),
        (Some("token:ci"), Some("read"))
    );
    let forged = client()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth("tok_ci_not-the-token-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    // Basic: one bcrypt check, then remembered.
    let matched = r#"campaign_watcher_http_password_checks_total{result="match"}"#;
    let before = counter(&metrics().await, matched);
    for _ in 0..3 {
        let basic = client()
            .get(format!("{base}/api/v1/whoami"))
            .basic_auth("bob", Some(BOB_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 200);
    }
    assert_eq!(
        counter(&metrics().await, matched),
        before + 1,
        "three requests, one check"
    );

    // Wrong tokens are never counted nor held back: the right one still works
    // from the same address (behind a proxy, everyone's).
    let attacker = || client_from("127.0.2.3".parse().unwrap());
    for _ in 0..8 {
        let forged = attacker()
            .get(format!("{base}/api/v1/whoami"))
            .bearer_auth("tok_ci_not-the-token-at-all")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
    }
    let right = attacker()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200, "wrong tokens hold nobody back");

    // A user's password failures from one network (/24) are held back;
    // other users there, and other networks, are not.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            log_in(attacker(), EXTERNAL, WRONG_PASSWORD)
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let held = log_in(attacker(), EXTERNAL, ALICE_PASSWORD).await.unwrap();
    assert_eq!(held.status(), 429, "even the right password waits");
    assert!(held.headers().contains_key("retry-after"));
    let same_network = log_in(
        client_from("127.0.2.77".parse().unwrap()),
        EXTERNAL,
        ALICE_PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(same_network.status(), 429, "the /24 is one network");
    let other_user = attacker()
        .post(format!("{base}/login"))
        .header("origin", EXTERNAL)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("username", "bob"), ("password", BOB_PASSWORD)]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_user.status(),
        303,
        "bob is not held back by alice's failures"
    );
    let elsewhere = log_in(
        client_from("127.0.3.4".parse().unwrap()),
        EXTERNAL,
        ALICE_PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(elsewhere.status(), 303);
    assert!(
        counter(
            &metrics().await,
            "campaign_watcher_http_logins_held_back_total"
        ) >= 2
    );

    daemon.terminate(Duration::from_secs(10)).await;
    let logs = daemon.logs();
    let checked = run_cli(
        &[
            "--config",
            &app.config.display().to_string(),
            "check-config",
        ],
        &[],
    )
    .await;
    assert_eq!(checked.code, Some(0), "{}", checked.all_output());
    for (what, secret) in [
        ("alice's password", ALICE_PASSWORD),
        ("bob's password", BOB_PASSWORD),
        ("the wrong password", WRONG_PASSWORD),
        ("the token", TOKEN),
        ("alice's hash", &alice_hash[7..]),
        ("bob's hash", &bob_hash[7..]),
    ] {
        assert!(!logs.contains(secret), "{what} in the logs");
        assert!(
            !checked.all_output().contains(secret),
            "{what} in check-config"
        );
    }
}

#[tokio::test]
async fn hash_password_reads_stdin_never_the_command_line() {
    let hash = |input: &'static str, args: &'static [&'static str]| async move {
        let mut child = tokio::process::Command::new(BIN)
            .arg("hash-password")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        let output = child.wait_with_output().await.unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, _) = hash("s3cret-passw0rd\n", &["--cost", "4"]).await;
    assert_eq!(code, Some(0));
    let printed = stdout.trim();
    assert!(printed.starts_with("$2b$04$"), "{printed}");
    assert!(bcrypt::verify("s3cret-passw0rd", printed).unwrap());

    let (code, _, stderr) = hash("", &["s3cret-passw0rd"]).await;
    assert_eq!(
        code,
        Some(2),
        "a password on the command line is refused: {stderr}"
    );
    let (code, _, stderr) = hash("short\n", &["--cost", "4"]).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("shorter than 8 characters"), "{stderr}");
    let (code, _, stderr) = hash("s3cret-passw0rd\n", &["--cost", "3"]).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--cost 3 is outside 4..=31"), "{stderr}");
}

#[tokio::test]
async fn check_config_names_every_access_problem_at_once() {
    let app = BinaryApp::spawn(1, "").await;
    expose(
        &app,
        "0.0.0.0:9464",
        "",
        "[http.users.alice]\npassword_hash = \"plain-text-password\"\nrole = \"admn\"\n\
         [http.tokens.ci]\ntoken_file = \"/nonexistent/ci-token\"\nrole = \"read\"\n",
    );
    let checked = run_cli(
        &[
            "--config",
            &app.config.display().to_string(),
            "check-config",
        ],
        &[],
    )
    .await;
    assert_eq!(checked.code, Some(2), "{}", checked.all_output());
    let output = checked.all_output();
    for problem in [
        "http.users.alice.password_hash: is not a bcrypt hash",
        "http.users.alice.role: \"admn\" is not a role (did you mean \"admin\"?)",
        "http.tokens.ci.token_file: cannot read \"/nonexistent/ci-token\"",
    ] {
        assert!(output.contains(problem), "{problem} in {output}");
    }
    assert!(!output.contains("plain-text-password"), "{output}");
}

#[tokio::test]
async fn a_reload_ends_the_access_of_removed_or_changed_users() {
    let hash = bcrypt::hash(ALICE_PASSWORD, 4).unwrap();
    let app = BinaryApp::spawn(1, "").await;
    let user = |name: &str, role: &str| {
        format!("[http.users.{name}]\npassword_hash = \"{hash}\"\nrole = \"{role}\"\n")
    };
    expose(
        &app,
        "0.0.0.0:0",
        "",
        &format!("{}{}", user("alice", "admin"), user("bob", "read")),
    );
    let written = std::fs::read_to_string(&app.config).unwrap();
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let base = on_loopback(daemon.http_addr().await);
    let login = client()
        .post(format!("{base}/login"))
        .header("origin", &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("username", "alice"), ("password", ALICE_PASSWORD)]))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let session = cookie_pair(&login);
    let alice = || {
        client()
            .get(format!("{base}/api/v1/whoami"))
            .header("cookie", &session)
            .send()
    };
    let bob = || {
        client()
            .get(format!("{base}/api/v1/whoami"))
            .basic_auth("bob", Some(ALICE_PASSWORD))
            .send()
    };
    assert_eq!(bob().await.unwrap().status(), 200);

    // bob removed, alice unchanged: bob is out at once, alice's session stays.
    std::fs::write(&app.config, written.replace(&user("bob", "read"), "")).unwrap();
    daemon.signal("-HUP");
    let mut refused = false;
    for _ in 0..100 {
        if bob().await.unwrap().status() == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "bob is refused after the reload: {}",
        daemon.logs()
    );
    assert_eq!(alice().await.unwrap().status(), 200);

    // alice's role changes: her session ends.
    let demoted = written
        .replace(&user("bob", "read"), "")
        .replace(&user("alice", "admin"), &user("alice", "read"));
    std::fs::write(&app.config, demoted).unwrap();
    daemon.signal("-HUP");
    let mut ended = false;
    for _ in 0..100 {
        if alice().await.unwrap().status() == 401 {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ended,
        "alice's session ends when her role changes: {}",
        daemon.logs()
    );
    daemon.terminate(Duration::from_secs(10)).await;
}
