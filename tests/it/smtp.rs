//! SMTP servers for the email tests: Debian's aiosmtpd (a real server, storing
//! into a Maildir; also as a server that takes only AUTH XOAUTH2 with the token
//! the test names) and a tiny scripted responder for the replies aiosmtpd
//! cannot give (4xx, 5xx, 535).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Debian's python, which has python3-aiosmtpd (the pyenv one first on PATH does not).
const PYTHON: &str = "/usr/bin/python3";
/// aiosmtpd on a port of its choosing (see the script).
const SERVER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/aiosmtpd_server.py");
const OPENSSL: &str = "/usr/bin/openssl";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    Plain,
    StartTls,
    Implicit,
}

/// Files of the XOAUTH2-only server: the token it accepts now, and one line
/// per AUTH attempt (`accepted` or `refused`).
const ACCEPTED_TOKEN: &str = "accepted-token";
const AUTH_LOG: &str = "auth-attempts";

/// A throwaway CA and a leaf for 127.0.0.1/localhost signed by it (webpki
/// refuses a CA certificate as the server's own, so a bare self-signed one won't do).
pub struct TestCertificates {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_certificates(dir: &Path) -> TestCertificates {
    let run = |args: &[&str]| {
        let output = Command::new(OPENSSL)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (install it: apt-get install -y openssl)");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509"];
    ca_args.extend(ec);
    ca_args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=campaign-watcher test CA",
        "-days",
        "1",
    ]);
    run(&ca_args);
    let mut leaf_args = vec!["req", "-x509"];
    leaf_args.extend(ec);
    leaf_args.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.pem",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-days",
        "1",
    ]);
    run(&leaf_args);
    TestCertificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    }
}

/// `python3 -m aiosmtpd` storing every message in a Maildir; killed on drop.
pub struct Aiosmtpd {
    child: Child,
    pub port: u16,
    pub tls: SmtpTls,
    dir: TempDir,
    /// The CA that signed the server certificate (TLS modes only).
    pub ca_file: Option<PathBuf>,
}

/// One stored message, parsed.
pub struct Mail {
    pub raw: Vec<u8>,
}

impl Mail {
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).expect("the stored message parses as MIME")
    }

    pub fn header(&self, name: &str) -> String {
        use mailparse::MailHeaderMap;
        self.parsed()
            .headers
            .get_first_value(name)
            .unwrap_or_default()
    }

    /// The decoded body of the first part with this MIME type.
    pub fn part(&self, mime: &str) -> String {
        fn find(mail: &mailparse::ParsedMail<'_>, mime: &str) -> Option<String> {
            if mail.subparts.is_empty() && mail.ctype.mimetype == mime {
                return mail.get_body().ok();
            }
            mail.subparts.iter().find_map(|part| find(part, mime))
        }
        find(&self.parsed(), mime).unwrap_or_else(|| panic!("no {mime} part"))
    }
}

impl Aiosmtpd {
    /// Starts the server and waits until it accepts connections. Fails loudly
    /// when aiosmtpd is missing (`apt-get install -y python3-aiosmtpd`).
    pub async fn start(tls: SmtpTls) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        let certificates = (tls != SmtpTls::Plain).then(|| make_certificates(dir.path()));
        let mut command = Command::new(PYTHON);
        command.arg(SERVER_SCRIPT).arg(&maildir);
        match &certificates {
            None => {
                command.arg("plain");
            }
            Some(certificates) => {
                let mode = match tls {
                    SmtpTls::StartTls => "starttls",
                    _ => "implicit",
                };
                command
                    .arg(mode)
                    .arg(&certificates.cert)
                    .arg(&certificates.key);
            }
        }
        let ca_file = certificates.map(|c| c.ca);
        Self::spawn(command, dir, tls, ca_file).await
    }

    /// Plain SMTP (loopback) offering only AUTH XOAUTH2: it takes mail from
    /// `user` signed in with the token [`Aiosmtpd::accept_token`] named last
    /// (`token` at first), and refuses every other with 535 (as Exchange
    /// Online does).
    pub async fn start_xoauth2(user: &str, token: &str) -> Self {
        Self::xoauth2("xoauth2", user, token).await
    }

    /// [`Aiosmtpd::start_xoauth2`] refusing as Gmail does: an error challenge
    /// (`334` and base64 JSON) before the 535.
    pub async fn start_xoauth2_challenging(user: &str, token: &str) -> Self {
        Self::xoauth2("xoauth2-challenge", user, token).await
    }

    async fn xoauth2(mode: &str, user: &str, token: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ACCEPTED_TOKEN), token).unwrap();
        std::fs::write(dir.path().join(AUTH_LOG), "").unwrap();
        let mut command = Command::new(PYTHON);
        command
            .arg(SERVER_SCRIPT)
            .arg(dir.path().join("Maildir"))
            .arg(mode)
            .arg(user)
            .arg(dir.path().join(ACCEPTED_TOKEN))
            .arg(dir.path().join(AUTH_LOG));
        Self::spawn(command, dir, SmtpTls::Plain, None).await
    }

    /// From now on only `token` signs in (the one before has expired).
    pub fn accept_token(&self, token: &str) {
        std::fs::write(self.dir.path().join(ACCEPTED_TOKEN), token).unwrap();
    }

    /// Each AUTH XOAUTH2 attempt so far: `accepted` or `refused`.
    pub fn auth_attempts(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(AUTH_LOG))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    async fn spawn(
        mut command: Command,
        dir: TempDir,
        tls: SmtpTls,
        ca_file: Option<PathBuf>,
    ) -> Self {
        let stdout = dir.path().join("aiosmtpd.out");
        let stderr = dir.path().join("aiosmtpd.err");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON} ({e}); install python3-aiosmtpd"));
        // The server reports the port it bound once it accepts connections.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let port = loop {
            let printed = std::fs::read_to_string(&stdout).unwrap_or_default();
            if let Some(port) = printed.lines().find_map(|line| {
                line.strip_prefix("listening on 127.0.0.1:")?
                    .trim()
                    .parse()
                    .ok()
            }) {
                break port;
            }
            let errors = || std::fs::read_to_string(&stderr).unwrap_or_default();
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "aiosmtpd exited with {status} (is python3-aiosmtpd installed?): {}",
                    errors()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("aiosmtpd never reported its port: {}", errors());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Self {
            child,
            port,
            tls,
            dir,
            ca_file,
        }
    }

    /// The `smtp_url` reaching this server.
    pub fn url(&self) -> String {
        match self.tls {
            SmtpTls::Plain => format!("smtp://127.0.0.1:{}", self.port),
            SmtpTls::StartTls => format!("smtp://127.0.0.1:{}?tls=required", self.port),
            SmtpTls::Implicit => format!("smtps://127.0.0.1:{}", self.port),
        }
    }

    /// Every stored message, in delivery order.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.path().join("Maildir").join(sub)) {
                for entry in entries.flatten() {
                    let modified = entry.metadata().and_then(|m| m.modified()).ok();
                    files.push((modified, entry.path()));
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| Mail {
                raw: std::fs::read(path).unwrap(),
            })
            .collect()
    }

    /// Polls until at least `count` messages are stored (bounded), then returns all.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let arrived =
            crate::helpers::eventually(Duration::from_secs(10), || self.messages().len() >= count)
                .await;
        assert!(
            arrived,
            "expected {count} messages, got {}",
            self.messages().len()
        );
        self.messages()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the scripted responder saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub auth_attempts: usize,
    /// Each message body received after DATA (also those then refused).
    pub messages: Vec<Vec<u8>>,
}

#[derive(Default)]
struct Script {
    /// Reply to AUTH; None: AUTH not advertised.
    auth: Option<String>,
    /// Replies after each message's final ".", in order; "250 OK" when exhausted.
    after_data: VecDeque<String>,
    /// Reply to every RCPT TO; "250 OK" when None.
    rcpt: Option<String>,
}

/// A minimal SMTP server on 127.0.0.1 whose replies the test chooses.
#[derive(Clone)]
pub struct Responder {
    pub port: u16,
    script: Arc<Mutex<Script>>,
    seen: Arc<Mutex<Seen>>,
}

impl Responder {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let responder = Self {
            port,
            script: Arc::default(),
            seen: Arc::default(),
        };
        let handle = responder.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = handle.converse(stream).await;
                });
            }
        });
        responder
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn reply_to_auth(&self, reply: &str) {
        self.script.lock().unwrap().auth = Some(reply.to_string());
    }

    pub fn reply_after_data(&self, replies: &[&str]) {
        let mut script = self.script.lock().unwrap();
        script
            .after_data
            .extend(replies.iter().map(|r| r.to_string()));
    }

    pub fn reply_to_rcpt(&self, reply: &str) {
        self.script.lock().unwrap().rcpt = Some(reply.to_string());
    }

    pub fn seen<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(&self.seen.lock().unwrap())
    }

    async fn converse(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 responder ESMTP\r\n").await?;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => {
                    let auth = self.script.lock().unwrap().auth.is_some();
                    if auth {
                        "250-responder\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME".to_string()
                    } else {
                        "250-responder\r\n250 8BITMIME".to_string()
                    }
                }
                "AUTH" => {
                    self.seen.lock().unwrap().auth_attempts += 1;
                    let script = self.script.lock().unwrap();
                    script
                        .auth
                        .clone()
                        .unwrap_or_else(|| "502 5.5.1 no AUTH".into())
                }
                "RCPT" => {
                    let script = self.script.lock().unwrap();
                    script.rcpt.clone().unwrap_or_else(|| "250 OK".into())
                }
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await?;
                    let mut body = Vec::new();
                    loop {
                        let mut data_line = String::new();
                        if lines.read_line(&mut data_line).await? == 0 {
                            return Ok(());
                        }
                        if data_line == ".\r\n" {
                            break;
                        }
                        body.extend_from_slice(data_line.as_bytes());
                    }
                    self.seen.lock().unwrap().messages.push(body);
                    let mut script = self.script.lock().unwrap();
                    script
                        .after_data
                        .pop_front()
                        .unwrap_or_else(|| "250 2.0.0 queued".into())
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => "250 OK".to_string(),
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}
