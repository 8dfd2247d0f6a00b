use crate::config::ConfigError;
use crate::deliver::email::EmailSettings;

const BASE: &str = r#"
    [sigmamind]
    api_key = "k"
    [watch]
    campaigns = ["camp_1"]
"#;

fn load(
    extra: &str,
    env: &[(&str, &str)],
) -> Result<super::super::Settings, super::super::ConfigError> {
    super::super::Settings::load_from_str_with_env(
        // Top-level keys (instance) must come before the first table.
        &match extra.split_once("#top-end") {
            Some((top, rest)) => format!("{top}\n{BASE}\n{rest}"),
            None => format!("{BASE}\n{extra}"),
        },
        "test.toml",
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn a_complete_email_channel_validates_and_check_config_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("smtp_password");
    std::fs::write(&password, "hunter2\n").unwrap();
    let settings = load(
        &format!(
            r#"
            instance = "prod-eu"
            #top-end
            [channels.mail]
            kind = "email"
            smtp_url = "smtps://smtp.example.com"
            from = "Campaign Watcher <watcher@example.com>"
            to = ["ops@example.com", "Oncall <oncall@example.com>"]
            username = "watcher"
            password_file = "{}"
            timezone = "Europe/Berlin"
            group = false
            "#,
            password.display()
        ),
        &[],
    )
    .unwrap();
    settings.validate().unwrap();
    assert_eq!(settings.instance_name(), "prod-eu");
    let mail: &EmailSettings = settings.channels["mail"].kind.get().unwrap();
    assert_eq!(mail.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(mail.group, Some(false));
    let shown = settings.to_redacted_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("smtp_url = \"smtps://smtp.example.com\""),
        "{shown}"
    );

    let inline = load(
        r#"
        [channels.mail]
        kind = "email"
        smtp_url = "smtps://watcher:hunter2@smtp.example.com"
        from = "watcher@example.com"
        to = ["ops@example.com"]
        "#,
        &[],
    )
    .unwrap();
    inline.validate().unwrap();
    let shown = inline.to_redacted_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("smtps://watcher:<redacted>@smtp.example.com"),
        "{shown}"
    );
    assert!(!format!("{inline:?}").contains("hunter2"));
}

#[test]
fn recipients_and_instance_can_come_from_the_environment() {
    let settings = load(
        r#"
        [channels.ops-mail]
        kind = "email"
        smtp_url = "smtp://127.0.0.1:2525"
        from = "watcher@example.com"
        "#,
        &[
            (
                "CAMPAIGN_WATCHER__CHANNELS__OPS_MAIL__TO",
                "a@example.com, b@example.com",
            ),
            ("CAMPAIGN_WATCHER__INSTANCE", "staging"),
        ],
    )
    .unwrap();
    settings.validate().unwrap();
    assert_eq!(
        settings.channels["ops-mail"]
            .kind
            .get::<EmailSettings>()
            .unwrap()
            .to,
        ["a@example.com", "b@example.com"]
    );
    assert_eq!(settings.instance.as_deref(), Some("staging"));
}

#[test]
fn every_email_problem_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let broken = dir.path().join("subject.txt");
    std::fs::write(&broken, "{{ headline ").unwrap();
    let settings = load(
        &format!(
            r#"
            [channels.bare]
            kind = "email"
            [channels.mail]
            kind = "email"
            smtp_url = "smtp://smtp.example.com:25"
            from = "not an address"
            to = ["ops@example.com", "nobody"]
            ca_file = "{}"
            timezone = "Mars/Olympus"
            subject_template = "{}"
            [channels.auth]
            kind = "email"
            smtp_url = "smtps://u:hunter2@smtp.example.com"
            username = "u2"
            password = "other"
            from = "w@example.com"
            to = ["o@example.com"]
            [channels.nouser]
            kind = "email"
            smtp_url = "smtps://smtp.example.com"
            password = "hunter2"
            from = "w@example.com"
            to = ["o@example.com"]
            "#,
            not_pem.display(),
            broken.display()
        ),
        &[],
    )
    .unwrap();
    let found = settings.validate().unwrap_err();
    let expected = [
        "channels.auth.username: the user is also in smtp_url",
        "channels.auth.password: the password is also in smtp_url",
        "channels.bare.smtp_url: an email channel needs smtp_url",
        "channels.bare.from: an email channel needs a sender",
        "channels.bare.to: an email channel needs at least one recipient",
        "channels.mail.smtp_url: \"smtp://smtp.example.com:25\" is plain smtp://",
        "channels.mail.from: \"not an address\" is not an address",
        "channels.mail.to[1]: \"nobody\" is not an email address",
        "channels.mail.ca_file:",
        "channels.mail.timezone: \"Mars/Olympus\" is not an IANA time zone",
        "channels.mail: template \"",
        "channels.nouser.username: a password is set but no user name",
    ];
    for prefix in expected {
        assert!(
            found.iter().any(|problem| problem.starts_with(prefix)),
            "missing {prefix:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    assert!(!format!("{found:?}").contains("hunter2"));
}

#[test]
fn email_keys_on_other_channels_name_the_kind() {
    let Err(ConfigError::Invalid {
        problems: found, ..
    }) = load(
        r#"
        [channels.hook]
        kind = "webhook"
        url = "https://hooks.example.com/x"
        to = ["ops@example.com"]
        "#,
        &[],
    )
    else {
        panic!("a key of another kind is an error");
    };
    assert_eq!(
        found,
        ["channels.hook.to: is a key of email channels; this channel is kind \"webhook\""]
    );
}
