//! The email channel against a real SMTP server (aiosmtpd), over plain SMTP to
//! loopback, STARTTLS and implicit TLS, plus a scripted responder for 4xx, 5xx
//! and 535 replies.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use campaign_watcher::config::{ChannelSettings, Settings};
use campaign_watcher::deliver::email::EmailSettings;
use campaign_watcher::deliver::{Channel, ChannelSet, Deliver, SendOutcome};
use campaign_watcher::event::{Event, EventType};
use campaign_watcher::render::sample_event;
use campaign_watcher::setting::secret::Secret;
use chrono::Utc;

use crate::helpers::{run_cli, write_config, TestApp};
use crate::smtp::{Aiosmtpd, Mail, Responder, SmtpTls};

const PASSWORD: &str = "hunter2-SMTP-SECRET";

fn email_settings(url: &str, ca_file: Option<&Path>) -> ChannelSettings {
    let mut mail = ChannelSettings::new(EmailSettings {
        smtp_url: Some(url.to_string()),
        from: Some("Campaign Watcher <watcher@example.com>".into()),
        to: vec![
            "ops@example.com".into(),
            "On Call <oncall@example.com>".into(),
        ],
        ca_file: ca_file.map(Path::to_path_buf),
        ..EmailSettings::default()
    });
    mail.text.timezone = Some("Europe/Berlin".into());
    mail.shared.retry_initial_backoff = Duration::from_millis(100);
    mail.shared.retry_max_backoff = Duration::from_millis(400);
    mail
}

fn email(mail: &mut ChannelSettings) -> &mut EmailSettings {
    mail.kind.get_mut().expect("an email channel")
}

/// Email as the only channel, so drain reports count email rows only.
fn only_mail(settings: &mut Settings, mail: ChannelSettings) {
    settings.channels.clear();
    settings.channels.insert("mail".into(), mail);
    settings.instance = Some("it-watcher".into());
}

fn pause(app: &TestApp, indexes: std::ops::Range<usize>) {
    for index in indexes {
        app.sim.control.set_status(&app.id(index), "paused");
    }
}

fn names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| event.campaign.as_ref().unwrap().name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cycle_of_changes_is_one_digest_with_text_and_html() {
    let smtp = Aiosmtpd::start(SmtpTls::Plain).await;
    let app = TestApp::spawn_with(4, |s| only_mail(s, email_settings(&smtp.url(), None))).await;
    app.all_live();
    app.cycle().await;
    pause(&app, 0..3);
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 3);

    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "three changes in one cycle are one email");
    let mail = &mails[0];
    let subject = mail.header("Subject");
    assert!(
        subject.starts_with("[campaign-watcher] ")
            && subject.ends_with(" paused, and 2 more changes"),
        "{subject}"
    );
    assert_eq!(
        mail.header("From"),
        "\"Campaign Watcher\" <watcher@example.com>"
    );
    let to = mail.header("To");
    assert!(
        to.contains("ops@example.com") && to.contains("oncall@example.com"),
        "{to}"
    );
    assert!(mail.header("Message-ID").starts_with("<digest_"));
    assert!(mail.header("Message-ID").ends_with("@example.com>"));
    assert_eq!(mail.header("Auto-Submitted"), "auto-generated");
    let ids = mail.header("X-Campaign-Watcher-Event-Id");
    for event in &report.events {
        assert!(ids.contains(&event.id), "{} missing from {ids}", event.id);
    }
    assert!(mail
        .header("Content-Type")
        .starts_with("multipart/alternative"));

    let text = mail.part("text/plain");
    let html = mail.part("text/html");
    assert!(text.contains("3 changes found in one check."), "{text}");
    for (index, name) in names(&report.events).iter().enumerate() {
        let line = format!("== {}. {name}: live → paused", index + 1);
        assert!(text.contains(&line), "{line:?} missing from:\n{text}");
        assert!(html.contains(name.as_str()), "{name} missing from html");
    }
    for part in [&text, &html] {
        assert!(part.contains("it-watcher"), "the instance is named");
        assert!(part.contains(" UTC"));
        assert!(part.contains("(Europe"), "local time is shown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_grouping_each_event_is_its_own_email_with_an_id_from_the_event() {
    let smtp = Aiosmtpd::start(SmtpTls::Plain).await;
    let mut mail = email_settings(&smtp.url(), None);
    email(&mut mail).group = Some(false);
    let app = TestApp::spawn_with(3, |s| only_mail(s, mail)).await;
    app.all_live();
    app.cycle().await;
    pause(&app, 0..2);
    let report = app.cycle().await;
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    for event in &report.events {
        let name = &event.campaign.as_ref().unwrap().name;
        let sent: Vec<&Mail> = mails
            .iter()
            .filter(|m| m.header("X-Campaign-Watcher-Event-Id") == event.id)
            .collect();
        assert_eq!(sent.len(), 1, "one email for {}", event.id);
        assert_eq!(
            sent[0].header("Message-ID"),
            format!("<{}@example.com>", event.id)
        );
        assert_eq!(
            sent[0].header("Subject"),
            format!("[campaign-watcher] {name}: live → paused")
        );
        let text = sent[0].part("text/plain");
        assert!(text.contains(&format!(
            "Campaign:   {name} ({})",
            event.campaign.as_ref().unwrap().id
        )));
        assert!(text.contains("Status:     live → paused"));
    }
}

fn email_channel(set: &ChannelSet) -> &campaign_watcher::deliver::EmailChannel {
    match &set.get("mail").expect("mail channel").channel {
        Channel::Email(email) => email,
        other => panic!("not an email channel: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_keeps_its_message_id() {
    let smtp = Aiosmtpd::start(SmtpTls::Plain).await;
    let set = ChannelSet::build(&BTreeMap::from([(
        "mail".to_string(),
        email_settings(&smtp.url(), None),
    )]))
    .unwrap();
    let email = email_channel(&set);
    let now = Utc::now();
    let digest = vec![
        sample_event(EventType::StatusChanged, now),
        sample_event(EventType::UploadErrorsAdded, now),
    ];
    let single = vec![sample_event(EventType::NotFound, now)];
    // As after a crash between sending and recording: the same batch again.
    for events in [&digest, &digest, &single, &single] {
        let outcome = email.send_batch(events).await.outcome;
        assert!(
            matches!(outcome, SendOutcome::Delivered { .. }),
            "{outcome:?}"
        );
    }
    let mails = smtp.wait_for(4).await;
    let ids: Vec<String> = mails.iter().map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids[0], ids[1], "digest resent with the same Message-ID");
    assert_eq!(ids[2], ids[3], "single resent with the same Message-ID");
    assert_ne!(ids[0], ids[2]);
    assert_eq!(ids[2], format!("<{}@example.com>", single[0].id));
    assert_eq!(
        mails[0].header("X-Campaign-Watcher-Event-Id"),
        format!("{}, {}", digest[0].id, digest[1].id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_digest_is_retried_whole_under_the_same_message_id() {
    let responder = Responder::start().await;
    responder.reply_after_data(&["451 4.3.0 Mailbox busy, try again later"]);
    let app =
        TestApp::spawn_with(3, |s| only_mail(s, email_settings(&responder.url(), None))).await;
    app.all_live();
    app.cycle().await;
    pause(&app, 0..3);
    // `cycle` keeps draining (with the short backoff) until nothing is pending.
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 3);
    let bodies = responder.seen(|seen| seen.messages.clone());
    assert_eq!(bodies.len(), 2, "refused once with 451, then accepted");
    let first = Mail {
        raw: bodies[0].clone(),
    };
    let second = Mail {
        raw: bodies[1].clone(),
    };
    assert_eq!(first.header("Message-ID"), second.header("Message-ID"));
    assert_eq!(
        first.header("X-Campaign-Watcher-Event-Id"),
        second.header("X-Campaign-Watcher-Event-Id")
    );
    assert_eq!(second.header("Subject"), first.header("Subject"));
    let counts = app.daemon.store().outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.pending, counts.dead), (3, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_reply_kills_the_rows_and_keeps_the_servers_reason() {
    let responder = Responder::start().await;
    responder.reply_to_rcpt("550 5.1.1 <ops@example.com>: Recipient address rejected");
    let app =
        TestApp::spawn_with(3, |s| only_mail(s, email_settings(&responder.url(), None))).await;
    app.all_live();
    app.cycle().await;
    pause(&app, 0..2);
    app.daemon.tick().await.unwrap();
    let report = app.daemon.drain().await.unwrap();
    assert_eq!((report.sent, report.retried, report.dead), (0, 0, 2));
    assert_eq!(responder.seen(|seen| seen.messages.len()), 0);
    let recent = app.daemon.store().recent_events(5).await.unwrap();
    let states: Vec<&str> = recent
        .iter()
        .flat_map(|stored| stored.deliveries.iter().map(|(_, state)| state.as_str()))
        .collect();
    assert!(
        states.iter().filter(|s| **s == "dead").count() >= 2,
        "{states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authentication_failure_is_retried_and_stops_the_drain_after_one_attempt() {
    let responder = Responder::start().await;
    responder.reply_to_auth("535 5.7.8 Authentication credentials invalid");
    let mut mail = email_settings(&responder.url(), None);
    email(&mut mail).username = Some("watcher".into());
    email(&mut mail).password = Some(Secret::new(PASSWORD));
    let app = TestApp::spawn_with(3, |s| only_mail(s, mail)).await;
    app.all_live();
    app.cycle().await;
    // Two cycles' worth of changes, pending before the dispatcher runs: two digests.
    pause(&app, 0..1);
    app.daemon.tick().await.unwrap();
    pause(&app, 1..2);
    app.daemon.tick().await.unwrap();
    let report = app.daemon.drain().await.unwrap();
    assert_eq!((report.sent, report.retried, report.dead), (0, 2, 0));
    assert_eq!(
        responder.seen(|seen| seen.auth_attempts),
        1,
        "the second digest is not tried with credentials just refused"
    );
    let counts = app.daemon.store().outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (2, 0));
}

async fn send_test(settings: ChannelSettings) -> SendOutcome {
    let set = ChannelSet::build(&BTreeMap::from([("mail".to_string(), settings)])).unwrap();
    let event = sample_event(EventType::Test, Utc::now());
    set.get("mail").unwrap().channel.send(&event).await
}

async fn tls_round_trip(mode: SmtpTls) {
    let smtp = Aiosmtpd::start(mode).await;
    let ca = smtp.ca_file.clone().unwrap();
    let outcome = send_test(email_settings(&smtp.url(), Some(&ca))).await;
    match outcome {
        SendOutcome::Delivered { detail } => assert!(detail.contains("250"), "{detail}"),
        other => panic!("{mode:?}: {other:?}"),
    }
    let mails = smtp.wait_for(1).await;
    assert_eq!(
        mails[0].header("Subject"),
        "[campaign-watcher] TEST message: no campaign changed"
    );

    // Without the private CA the certificate is not trusted: no mail, a retry.
    let outcome = send_test(email_settings(&smtp.url(), None)).await;
    match outcome {
        SendOutcome::Retry { reason, .. } => {
            assert!(
                reason.contains("tls") || reason.contains("certificate"),
                "{reason}"
            )
        }
        other => panic!("{mode:?} without ca_file: {other:?}"),
    }
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_required_and_verified_through_ca_file() {
    tls_round_trip(SmtpTls::StartTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_is_verified_through_ca_file() {
    tls_round_trip(SmtpTls::Implicit).await;
}

fn mail_config(dir: &Path, smtp_url: &str, extra: &str) -> std::path::PathBuf {
    write_config(
        dir,
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        &format!(
            r#"
[channels.mail]
kind = "email"
smtp_url = "{smtp_url}"
from = "Campaign Watcher <watcher@example.com>"
to = ["ops@example.com"]
{extra}
"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_prints_the_message_and_test_notify_sends_it() {
    let smtp = Aiosmtpd::start(SmtpTls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let config = mail_config(dir.path(), &smtp.url(), "timezone = \"America/New_York\"");
    let config = config.display().to_string();

    let rendered = run_cli(&["--config", &config, "render", "mail"], &[]).await;
    assert_eq!(rendered.code, Some(0), "{}", rendered.all_output());
    for expected in [
        "Subject: [campaign-watcher] Q4 Outreach Campaign: live → paused",
        "From: Campaign Watcher <watcher@example.com>",
        "--- text/plain ---",
        "--- text/html ---",
        "(America/New_York)",
    ] {
        assert!(
            rendered.stdout.contains(expected),
            "{expected:?} in {}",
            rendered.stdout
        );
    }
    let errors = run_cli(
        &[
            "--config",
            &config,
            "render",
            "mail",
            "--event",
            "campaign.upload_errors_added",
        ],
        &[],
    )
    .await;
    assert!(
        errors.stdout.contains("... and 2 more"),
        "{}",
        errors.stdout
    );
    let raw = run_cli(&["--config", &config, "render", "mail", "--raw"], &[]).await;
    assert!(
        raw.stdout.contains("Content-Type: multipart/alternative"),
        "{}",
        raw.stdout
    );
    let bad = run_cli(
        &["--config", &config, "render", "mail", "--event", "nope"],
        &[],
    )
    .await;
    assert_eq!(bad.code, Some(2), "{}", bad.all_output());
    assert!(smtp.messages().is_empty(), "render sends nothing");

    let sent = run_cli(&["--config", &config, "test-notify", "mail"], &[]).await;
    assert_eq!(sent.code, Some(0), "{}", sent.all_output());
    assert!(
        sent.stdout.contains("mail: delivered (smtp://127.0.0.1:"),
        "{}",
        sent.stdout
    );
    assert!(sent.stdout.contains("answered 250"), "{}", sent.stdout);
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].header("Subject").contains("TEST"));
    assert!(mails[0]
        .part("text/plain")
        .starts_with("This is a TEST message"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_notify_reports_a_refusal_and_never_shows_the_password() {
    let responder = Responder::start().await;
    responder.reply_to_auth("235 2.7.0 Authentication successful");
    responder.reply_to_rcpt("550 5.7.1 Relaying denied");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://watcher:{PASSWORD}@127.0.0.1:{}", responder.port);
    let config = mail_config(dir.path(), &url, "");
    let config = config.display().to_string();
    let failed = run_cli(&["--config", &config, "test-notify", "mail"], &[]).await;
    assert_eq!(failed.code, Some(1), "{}", failed.all_output());
    assert!(failed.stdout.contains("mail: FAILED"), "{}", failed.stdout);
    assert!(failed.stdout.contains("550"), "{}", failed.stdout);
    assert!(
        failed.stdout.contains("Relaying denied"),
        "{}",
        failed.stdout
    );
    assert!(!failed.all_output().contains(PASSWORD));

    let checked = run_cli(&["--config", &config, "check-config"], &[]).await;
    assert_eq!(checked.code, Some(0), "{}", checked.all_output());
    assert!(checked
        .stdout
        .contains("smtp://watcher:<redacted>@127.0.0.1"));
    assert!(!checked.all_output().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_templates_and_plain_smtp_to_a_remote_host_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("subject.txt");
    std::fs::write(&template, "{{ headline }").unwrap();
    let config = mail_config(
        dir.path(),
        &format!("smtp://watcher:{PASSWORD}@mail.example.com"),
        &format!("subject_template = \"{}\"", template.display()),
    );
    let config = config.display().to_string();
    for command in [
        &["check-config"][..],
        &["render", "mail"][..],
        &["once"][..],
    ] {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(command);
        let finished = run_cli(&args, &[]).await;
        let output = finished.all_output();
        assert_eq!(finished.code, Some(2), "{command:?}: {output}");
        assert!(!output.contains(PASSWORD), "{command:?}: {output}");
        if command[0] != "render" {
            assert!(
                output.contains("channels.mail.smtp_url"),
                "{command:?}: {output}"
            );
            assert!(
                output.contains("only for loopback hosts"),
                "{command:?}: {output}"
            );
        }
        assert!(
            output.contains(&template.display().to_string()) || command[0] == "render",
            "{command:?}: {output}"
        );
    }
}
