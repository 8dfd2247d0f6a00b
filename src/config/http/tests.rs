use super::*;

/// `hash-password --cost 4` of "correct horse".
fn hash() -> String {
    bcrypt::hash("correct horse", 4).unwrap()
}

fn token(value: &str) -> TokenSettings {
    TokenSettings {
        token_file: PathBuf::from("/run/secrets/t"),
        role: "read".into(),
        token: TokenValue::Read(Secret::new(value)),
    }
}

#[test]
fn bcrypt_hashes_are_told_from_everything_else() {
    let good = hash();
    let apache = good.replacen("$2b$", "$2y$", 1);
    let too_costly = good.replacen("$04$", "$99$", 1);
    let cases: [(&str, bool); 7] = [
        (&good, true),
        (&apache, true),
        ("hunter2", false),
        ("$2b$12$short", false),
        ("$1$abcdefgh$abcdefghijklmnopqrstuv", false),
        (&too_costly, false),
        ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", false),
    ];
    for (hash, valid) in cases {
        assert_eq!(check_bcrypt(hash).is_ok(), valid, "{hash}");
    }
}

#[test]
fn roles_parse_and_rank() {
    assert_eq!(Role::parse("read"), Some(Role::Read));
    assert_eq!(Role::parse("admin"), Some(Role::Admin));
    assert_eq!(Role::parse("Admin"), None);
    let table = [
        (Role::Read, Role::Read, true),
        (Role::Read, Role::Admin, false),
        (Role::Admin, Role::Read, true),
        (Role::Admin, Role::Admin, true),
    ];
    for (has, needed, allowed) in table {
        assert_eq!(has.allows(needed), allowed, "{has:?} for {needed:?}");
    }
}

#[test]
fn external_urls_give_their_origin() {
    let table = [
        (
            "https://watcher.example.com",
            Ok("https://watcher.example.com"),
        ),
        (
            "https://watcher.example.com:443/board/",
            Ok("https://watcher.example.com"),
        ),
        ("http://10.0.0.5:9464", Ok("http://10.0.0.5:9464")),
        ("ftp://watcher.example.com", Err(())),
        ("watcher.example.com", Err(())),
        ("https://ops:pw@watcher.example.com", Err(())),
    ];
    for (url, expected) in table {
        assert_eq!(
            external_origin(url).map_err(|_| ()),
            expected.map(str::to_string),
            "{url}"
        );
    }
}

#[test]
fn an_external_url_with_credentials_is_refused_without_showing_the_password() {
    let settings = HttpSettings {
        external_url: Some("https://admin:Hunter2Password@watcher.example.com".into()),
        ..HttpSettings::default()
    };
    let mut problems = Vec::new();
    settings.check(&mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("must not hold credentials"),
        "{problems:?}"
    );
    assert!(!problems[0].contains("Hunter2"), "{problems:?}");
}

#[test]
fn every_problem_of_the_section_is_reported_at_once_without_the_secrets() {
    let mut settings = HttpSettings {
        external_url: Some("watcher.example.com".into()),
        ..HttpSettings::default()
    };
    settings.users.insert(
        "alice".into(),
        UserSettings {
            password_hash: Secret::new("hunter2-plain"),
            role: "admn".into(),
        },
    );
    settings.users.insert(
        "bob:x".into(),
        UserSettings {
            password_hash: Secret::new(hash()),
            role: "read".into(),
        },
    );
    settings.tokens.insert("short".into(), token("abc"));
    settings.tokens.insert(
        "gone".into(),
        TokenSettings {
            token: TokenValue::Unreadable("cannot read \"/nope\": No such file".into()),
            ..token("")
        },
    );
    settings
        .tokens
        .insert("ci".into(), token("0123456789abcdef0123"));
    settings
        .tokens
        .insert("ci2".into(), token("0123456789abcdef0123"));
    let mut problems = Vec::new();
    settings.check(&mut problems);
    let expected = [
        "http.external_url: \"watcher.example.com\" is not a URL",
        "http.users.alice.password_hash: is not a bcrypt hash",
        "http.users.alice.role: \"admn\" is not a role (did you mean \"admin\"?)",
        "http.users.bob:x: the name may only contain",
        "http.users.bob:x: a user name cannot contain ':'",
        "http.tokens.short.token_file: the token is shorter than 16 characters",
        "http.tokens.gone.token_file: cannot read \"/nope\"",
        "http.tokens.ci2.token_file: holds the same token as http.tokens.ci",
    ];
    for start in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(start)),
            "{start} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    let all = problems.join("\n");
    assert!(
        !all.contains("hunter2-plain") && !all.contains("0123456789abcdef"),
        "{all}"
    );
}

#[test]
fn a_cheap_hash_is_warned_about() {
    let mut settings = HttpSettings::default();
    settings.users.insert(
        "alice".into(),
        UserSettings {
            password_hash: Secret::new(hash()),
            role: "read".into(),
        },
    );
    let warnings = settings.warnings();
    assert!(
        warnings[0].contains("bcrypt cost 4 is below 10"),
        "{warnings:?}"
    );
}

#[test]
fn users_and_tokens_load_from_the_file_the_environment_and_token_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ci-token"), "0123456789abcdef0123\n").unwrap();
    let toml = format!(
        "[http]\nlisten = \"0.0.0.0:9464\"\n[http.users.alice]\npassword_hash = \"{}\"\nrole = \"read\"\n[http.tokens.ci]\ntoken_file = \"{}\"\nrole = \"admin\"\n",
        hash(),
        dir.path().join("ci-token").display()
    );
    let env = [(
        "CAMPAIGN_WATCHER__HTTP__USERS__ALICE__ROLE".to_string(),
        "admin".to_string(),
    )];
    let settings = crate::config::Settings::load_from_str_with_env(&toml, "t.toml", env).unwrap();
    assert_eq!(
        settings.http.users["alice"].role, "admin",
        "the environment wins"
    );
    let TokenValue::Read(token) = &settings.http.tokens["ci"].token else {
        panic!(
            "the token file is read: {:?}",
            settings.http.tokens["ci"].token
        );
    };
    assert_eq!(token.expose(), "0123456789abcdef0123");
    let shown = settings.to_redacted_toml();
    assert!(
        !shown.contains("0123456789abcdef") && !shown.contains(&hash()[..10]),
        "{shown}"
    );
    assert!(settings
        .secret_values()
        .iter()
        .any(|s| s == "0123456789abcdef0123"));
}

#[test]
fn a_misspelt_key_or_a_token_in_the_text_is_named_with_what_to_write() {
    let toml = "[http.users.alice]\npasword_hash = \"x\"\nrole = \"read\"\n[http.tokens.ci]\ntoken = \"inline-secret-value\"\ntoken_file = \"/nope\"\nrole = \"read\"\n";
    let error = crate::config::Settings::load_from_str(toml, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "unknown key \"http.users.alice.pasword_hash\" (did you mean \"password_hash\"?)"
        ),
        "{error}"
    );
    assert!(
        error.contains("http.tokens.ci.token: a token is never written in the configuration; put it in a file and name that file in token_file"),
        "{error}"
    );
    assert!(!error.contains("inline-secret-value"), "{error}");
}
