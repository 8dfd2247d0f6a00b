use super::*;

#[test]
fn smtp_urls_choose_tls_port_and_credentials() {
    use SmtpSecurity::*;
    type Case<'a> = (
        &'a str,
        SmtpSecurity,
        &'a str,
        u16,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: [Case; 8] = [
        (
            "smtps://smtp.example.com",
            ImplicitTls,
            "smtp.example.com",
            465,
            None,
            None,
        ),
        (
            "smtps://u:p@smtp.example.com:2465",
            ImplicitTls,
            "smtp.example.com",
            2465,
            Some("u"),
            Some("p"),
        ),
        (
            "smtp://smtp.example.com?tls=required",
            StartTls,
            "smtp.example.com",
            587,
            None,
            None,
        ),
        (
            "smtp://smtp.example.com:25/?tls=required",
            StartTls,
            "smtp.example.com",
            25,
            None,
            None,
        ),
        (
            "smtp://127.0.0.1:2525",
            Plain,
            "127.0.0.1",
            2525,
            None,
            None,
        ),
        ("smtp://localhost", Plain, "localhost", 25, None, None),
        ("smtp://[::1]:2525", Plain, "::1", 2525, None, None),
        // Percent-encoded user and password are decoded.
        (
            "smtps://ops%40example.com:p%3Ass@smtp.example.com",
            ImplicitTls,
            "smtp.example.com",
            465,
            Some("ops@example.com"),
            Some("p:ss"),
        ),
    ];
    for (url, security, host, port, user, password) in cases {
        let endpoint = parse_smtp_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(endpoint.security, security, "{url}");
        assert_eq!(endpoint.host, host, "{url}");
        assert_eq!(endpoint.port, port, "{url}");
        assert_eq!(endpoint.user.as_deref(), user, "{url}");
        assert_eq!(endpoint.password.as_deref(), password, "{url}");
    }
}

#[test]
fn unsafe_or_malformed_smtp_urls_are_refused_with_a_reason() {
    let cases = [
        ("smtp://smtp.example.com", "only for loopback hosts"),
        ("smtp://10.0.0.5:25", "only for loopback hosts"),
        (
            "smtp://smtp.example.com?tls=opportunistic",
            "use tls=required",
        ),
        (
            "smtp://smtp.example.com?tls=none",
            "the only value is tls=required",
        ),
        (
            "smtps://smtp.example.com?tls=required",
            "smtps:// is always TLS",
        ),
        (
            "smtp://smtp.example.com?tls=required&x=1",
            "unknown parameter \"x\"",
        ),
        ("https://smtp.example.com", "has scheme \"https\""),
        ("smtps://smtp.example.com/inbox", "has a path"),
        ("smtps://:secret@smtp.example.com", "password but no user"),
        ("not a url", "is not a URL"),
    ];
    for (url, expected) in cases {
        let error = parse_smtp_url(url).unwrap_err().to_string();
        assert!(error.contains(expected), "{url}: {error}");
        assert!(!error.contains("secret"), "{url}: {error}");
    }
}

#[test]
fn endpoint_debug_and_display_hide_the_password() {
    let endpoint = parse_smtp_url("smtps://user:hunter2@smtp.example.com").unwrap();
    assert_eq!(endpoint.display(), "smtps://smtp.example.com:465");
    assert!(!format!("{endpoint:?}").contains("hunter2"));
}
