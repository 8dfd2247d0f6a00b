//! `campaign-watcher healthcheck`: ask a running daemon's `/healthz` (or
//! `/readyz`) from the same machine or container, for a container HEALTHCHECK,
//! a compose file or a script. The image has no shell and no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// What one probe found, as the one line the command prints.
#[derive(Debug)]
pub enum Probe {
    Healthy(String),
    Unhealthy(String),
}

/// Why no base URL can be told from `http.listen`; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ListenAddressError {
    #[error("http.listen \"{listen}\" is not an IP address and port; pass --url")]
    NotAnAddress { listen: String },
    #[error("http.listen \"{listen}\" picks a random port, so the healthcheck cannot know it; pass --url or set a fixed port")]
    RandomPort { listen: String },
}

/// Why the probe could not be sent at all (an unanswered probe is [`Probe::Unhealthy`]).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot build an HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The base URL to reach a daemon that listens on `listen` from this host: an
/// unspecified address (0.0.0.0, ::) is reached over loopback. `Err` says what
/// to fix when there is no way to tell the port.
pub fn local_base_url(listen: &str) -> Result<String, ListenAddressError> {
    let address: SocketAddr = listen
        .parse()
        .map_err(|_| ListenAddressError::NotAnAddress {
            listen: listen.to_string(),
        })?;
    if address.port() == 0 {
        return Err(ListenAddressError::RandomPort {
            listen: listen.to_string(),
        });
    }
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(format!("http://{}", SocketAddr::new(ip, address.port())))
}

/// GET `{base}{path}` once, within `timeout`; healthy on 200 only.
pub async fn probe(base: &str, path: &str, timeout: Duration) -> Result<Probe, ProbeError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    // No proxy: an HTTP_PROXY meant for the outside must not answer for the daemon.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = match client.get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            let reason = if error.is_timeout() {
                format!("no answer within {}s", timeout.as_secs())
            } else if error.is_connect() {
                "nothing is listening there (is the daemon running?)".to_string()
            } else {
                error.without_url().to_string()
            };
            return Ok(Probe::Unhealthy(format!("{url}: {reason}")));
        }
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let line = answer_line(&url, status.as_u16(), &body);
    Ok(match status.as_u16() {
        200 => Probe::Healthy(line),
        _ => Probe::Unhealthy(line),
    })
}

/// The one line an answer is shown as: its status and the first line of its
/// body, or, for a page that is not a health answer (a 404, any HTML), what
/// to check instead of the page.
fn answer_line(url: &str, status: u16, body: &str) -> String {
    let first = body.lines().next().unwrap_or("").trim();
    if status == 404 {
        return format!(
            "{url} answered 404: nothing is served at that path; give --url the daemon's base URL (http://HOST:PORT, as [http] listen)"
        );
    }
    match first {
        "" => format!("{url} answered {status}"),
        html if html.starts_with('<') => {
            format!("{url} answered {status} with an HTML page, not a health answer")
        }
        text => format!("{url} answered {status}: {}", crate::text::cap(text, 200)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_one_line_and_never_a_page() {
        let url = "http://127.0.0.1:9464/healthz";
        assert_eq!(
            answer_line(url, 503, "unhealthy: no cycle for 180s\nmore"),
            format!("{url} answered 503: unhealthy: no cycle for 180s")
        );
        let missing = answer_line(url, 404, "<!DOCTYPE html>\n<html>");
        assert!(
            missing.contains("answered 404: nothing is served"),
            "{missing}"
        );
        assert!(!missing.contains("DOCTYPE"), "{missing}");
        let html = answer_line(url, 502, "<html><body>Bad Gateway</body></html>");
        assert!(
            html.ends_with("with an HTML page, not a health answer"),
            "{html}"
        );
        assert_eq!(answer_line(url, 200, ""), format!("{url} answered 200"));
    }

    #[test]
    fn the_probe_reaches_the_listen_address_from_this_host() {
        let cases = [
            ("127.0.0.1:9464", Ok("http://127.0.0.1:9464")),
            ("0.0.0.0:9464", Ok("http://127.0.0.1:9464")),
            ("[::]:9464", Ok("http://[::1]:9464")),
            ("[::1]:8080", Ok("http://[::1]:8080")),
            ("10.0.0.5:9464", Ok("http://10.0.0.5:9464")),
            ("127.0.0.1:0", Err("random port")),
            ("localhost:9464", Err("not an IP address")),
        ];
        for (listen, expected) in cases {
            match (local_base_url(listen), expected) {
                (Ok(url), Ok(wanted)) => assert_eq!(url, wanted, "{listen}"),
                (Err(error), Err(wanted)) => {
                    let message = error.to_string();
                    assert!(message.contains(wanted), "{listen}: {message}");
                    assert!(message.contains("--url"), "{listen}: {message}");
                }
                (got, wanted) => panic!("{listen}: got {got:?}, wanted {wanted:?}"),
            }
        }
    }
}
