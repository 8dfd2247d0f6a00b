//! Link-local and cloud-metadata destinations: refused by host at build (and
//! load) time, and dropped from every DNS answer at connect time.
//!
//! Loopback and private ranges stay allowed: the configuration is the
//! operator's, and receivers on the same host or network are normal. What is
//! refused is where a cloud instance's credentials are served from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Names that resolve to a metadata service inside some cloud (the bare
/// `metadata` through Google Cloud's DNS search path).
const METADATA_NAMES: [&str; 5] = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// AWS's IPv6 instance metadata endpoint (inside a private range, so named here).
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
/// Alibaba Cloud's metadata service (inside the shared 100.64.0.0/10 range).
const ALIBABA_METADATA: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);

/// A destination the guard refuses; shows the host only (a URL's path or
/// query may be the credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the host {host} is {what}; set allow_link_local = true if this is really meant")]
pub struct BlockedDestination {
    pub host: String,
    what: &'static str,
}

/// Whether a connection to `ip` could reach a link-local or metadata service,
/// including IPv4 addresses written inside IPv6 ones (mapped, compatible, NAT64).
pub fn is_blocked_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let link_local = segments[0] & 0xffc0 == 0xfe80;
            // The last 32 bits are an IPv4 address: NAT64's well-known prefix
            // (64:ff9b::/96), its local-use one (64:ff9b:1::/48, as /96), and
            // SIIT's IPv4-translated form (::ffff:0:0/96).
            let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || segments[..3] == [0x64, 0xff9b, 1]
                || segments[..6] == [0, 0, 0, 0, 0xffff, 0];
            let embedded = v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()).or_else(|| {
                nat64.then(|| {
                    let [.., high, low] = segments;
                    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
                })
            });
            link_local || v6 == AWS_METADATA_V6 || embedded.is_some_and(is_blocked_v4)
        }
    }
}

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    ip.is_link_local() || ip == ALIBABA_METADATA
}

fn is_metadata_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    METADATA_NAMES.contains(&host.as_str())
}

/// The host check, without DNS. The `url` crate has already turned every IPv4
/// spelling of an http(s) URL (decimal `2852039166`, hex `0xa9fea9fe`, octal,
/// shorthand) into dotted form, and IPv6 hosts into an address.
pub fn check_destination(url: &Url) -> Result<(), BlockedDestination> {
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    let what = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) if is_blocked_ip(ip) => "a link-local or cloud-metadata address",
        Ok(_) => return Ok(()),
        Err(_) if is_metadata_name(host) => "a cloud metadata service",
        Err(_) => return Ok(()),
    };
    Err(BlockedDestination {
        host: host.to_string(),
        what,
    })
}

/// [`check_destination`] of configuration text; text that is not a URL passes
/// here, because the URL check reports it.
pub fn check_destination_text(text: &str) -> Result<(), BlockedDestination> {
    match Url::parse(text.trim()) {
        Ok(url) => check_destination(&url),
        Err(_) => Ok(()),
    }
}

/// Where the guarded resolver gets its answers.
enum Lookup {
    /// The system resolver (getaddrinfo), as reqwest's default does.
    System,
    /// Fixed answers, so a test can make a name resolve to 169.254.x without
    /// /etc/hosts and without ever connecting there.
    #[cfg(test)]
    Fixed(Vec<(String, Vec<IpAddr>)>),
}

/// Resolves names, then drops every link-local or metadata address; a name
/// left with none fails to connect, so nothing is ever sent there.
pub(super) struct GuardedResolver {
    lookup: Lookup,
}

impl GuardedResolver {
    pub(super) fn system() -> Self {
        Self {
            lookup: Lookup::System,
        }
    }

    #[cfg(test)]
    pub(super) fn fixed(answers: Vec<(String, Vec<IpAddr>)>) -> Self {
        Self {
            lookup: Lookup::Fixed(answers),
        }
    }

    fn answers(&self, name: String) -> Resolving {
        match &self.lookup {
            Lookup::System => Box::pin(async move {
                let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
                keep_allowed(&name, found.collect())
            }),
            #[cfg(test)]
            Lookup::Fixed(answers) => {
                let found: Vec<SocketAddr> = answers
                    .iter()
                    .filter(|(known, _)| *known == name)
                    .flat_map(|(_, ips)| ips.iter().map(|ip| SocketAddr::new(*ip, 0)))
                    .collect();
                Box::pin(async move { keep_allowed(&name, found) })
            }
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_string();
        if is_metadata_name(&name) {
            let refused = BlockedDestination {
                host: name,
                what: "a cloud metadata service",
            };
            return Box::pin(async move { Err(refused.into()) });
        }
        self.answers(name)
    }
}

fn keep_allowed(
    name: &str,
    found: Vec<SocketAddr>,
) -> Result<Addrs, Box<dyn std::error::Error + Send + Sync>> {
    let any_found = !found.is_empty();
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|address| !is_blocked_ip(address.ip()))
        .collect();
    if allowed.is_empty() && any_found {
        return Err(BlockedDestination {
            host: name.to_string(),
            what: "resolved only to link-local or cloud-metadata addresses",
        }
        .into());
    }
    if allowed.is_empty() {
        return Err(format!("{name} did not resolve to any address").into());
    }
    Ok(Box::new(allowed.into_iter()))
}
