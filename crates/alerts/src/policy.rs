//! Where a channel may send (SSRF protection), the rules of the `http` task's policy applied
//! to alerts: a project editor's webhook may not reach loopback, link-local (cloud metadata),
//! unspecified, multicast or broadcast addresses, nor the metadata services' names, unless
//! the server allows the host (`--alert-allow-host`). The checks run on the URL's host and on
//! every address a name resolves to (the client connects only to addresses that passed, so
//! DNS rebinding gets nowhere); redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

const METADATA_NAMES: &[&str] = &["metadata.google.internal", "metadata", "instance-data"];

/// The hosts channels may reach although the default refuses them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendPolicy {
    /// Hosts (names or addresses) allowed although they are, or resolve to, a refused address.
    pub allow_hosts: Vec<String>,
}

fn bare(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

fn refusal(host: &str, what: &str) -> String {
    format!(
        "`{host}` is {what}, which alert channels may not reach unless the server allows the host (--alert-allow-host {})",
        bare(host)
    )
}

impl SendPolicy {
    /// Whether `host` is allowed by name.
    pub fn allowed(&self, host: &str) -> bool {
        let host = bare(host);
        self.allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Why sending to `host` is refused before anything is resolved, if it is.
    pub fn check_host(&self, host: &str) -> Result<(), String> {
        if self.allowed(host) {
            return Ok(());
        }
        if let Ok(ip) = bare(host).parse::<IpAddr>() {
            return match class(ip) {
                Some(what) => Err(refusal(host, what)),
                None => Ok(()),
            };
        }
        let name = bare(host).trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return Err(refusal(host, "a loopback address"));
        }
        if METADATA_NAMES.contains(&name.as_str()) {
            return Err(refusal(host, "a cloud metadata service"));
        }
        Ok(())
    }

    /// The addresses of `host` a send may connect to: all for an allowed host, else those
    /// that are not refused; an error when none is left.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        if self.allowed(host) {
            return Ok(addrs);
        }
        let mut refused = None;
        let kept: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match class(a.ip()) {
                Some(what) => {
                    refused.get_or_insert_with(|| refusal(host, &format!("{what} ({})", a.ip())));
                    false
                }
                None => true,
            })
            .collect();
        match (kept.is_empty(), refused) {
            (true, Some(r)) => Err(r),
            (true, None) => Err(format!("`{host}` resolves to no address")),
            (false, _) => Ok(kept),
        }
    }
}

/// What kind of refused address `ip` is, if it is one.
fn class(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address (where cloud metadata services live)")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        Some("not a host address")
    } else if ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("a cloud metadata service")
    } else {
        None
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("a loopback address")
    } else if (ip.segments()[0] & 0xffc0) == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not a host address")
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata service")
    } else {
        None
    }
}

/// The HTTP client's resolver: the system's, each address checked against the policy.
pub(crate) struct CheckedResolver(pub(crate) Arc<SendPolicy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = policy
                .filter(&host, addrs)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_link_local_and_metadata_are_refused_unless_allowed() {
        let p = SendPolicy::default();
        for host in [
            "127.0.0.1",
            "[::1]",
            "localhost",
            "169.254.169.254",
            "[fe80::1]",
            "[::ffff:127.0.0.1]",
            "0.0.0.0",
            "metadata.google.internal",
            "100.100.100.200",
        ] {
            let e = p.check_host(host).unwrap_err();
            assert!(e.contains("--alert-allow-host"), "{host}: {e}");
        }
        for host in ["hooks.slack.com", "10.0.0.5", "[2001:db8::1]"] {
            assert!(p.check_host(host).is_ok(), "{host}");
        }
        let p = SendPolicy {
            allow_hosts: vec!["127.0.0.1".into()],
        };
        assert!(p.check_host("127.0.0.1").is_ok());
        assert!(p.check_host("localhost").is_err());
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let p = SendPolicy::default();
        let lo: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let ok: SocketAddr = "93.184.216.34:80".parse().unwrap();
        assert_eq!(p.filter("x.test", vec![lo, ok]).unwrap(), vec![ok]);
        assert!(p
            .filter("x.test", vec![lo])
            .unwrap_err()
            .contains("loopback"));
    }
}
