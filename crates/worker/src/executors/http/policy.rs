//! Where an `http` task may send a request (SSRF protection): a worker refuses loopback,
//! link-local (which holds the cloud metadata services), unspecified, multicast and broadcast
//! addresses, and the metadata services' names, unless the host is allowed by name; hosts
//! in the deny list are always refused. The checks run on the URL's host, on every address a
//! name resolves to (the client connects only to addresses that passed, so a name that
//! resolves to a refused address at request time — DNS rebinding — gets nowhere), and on every
//! redirect's target.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The names of cloud metadata services, refused unless allowed.
const METADATA_NAMES: &[&str] = &["metadata.google.internal", "metadata", "instance-data"];

/// The hosts an `http` task may and may not reach, set by the worker's operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Hosts (names or addresses) allowed even when they are, or resolve to, an address the
    /// worker refuses by default (`127.0.0.1` for a local service).
    pub allow_hosts: Vec<String>,
    /// Hosts always refused.
    pub deny_hosts: Vec<String>,
}

impl HttpPolicy {
    fn listed(list: &[String], host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        list.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether `host` is allowed by name (the address checks are then skipped).
    pub(crate) fn allowed(&self, host: &str) -> bool {
        Self::listed(&self.allow_hosts, host)
    }

    /// Why a request to `host` is refused before anything is resolved, if it is.
    pub(crate) fn check_host(&self, host: &str) -> Result<(), String> {
        if Self::listed(&self.deny_hosts, host) {
            return Err(format!("`{host}` is in the worker's list of refused hosts"));
        }
        if self.allowed(host) {
            return Ok(());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return check_ip(host, ip);
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return Err(refusal(host, "a loopback address"));
        }
        if METADATA_NAMES.contains(&name.as_str()) {
            return Err(refusal(host, "a cloud metadata service"));
        }
        Ok(())
    }

    /// The addresses of `host` a request may connect to: all of them for an allowed host,
    /// else those that pass [`check_ip`]; an error when none does.
    pub(crate) fn filter(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, String> {
        if self.allowed(host) {
            return Ok(addrs);
        }
        let mut first_refusal = None;
        let kept: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match check_ip(host, a.ip()) {
                Ok(()) => true,
                Err(e) => {
                    first_refusal.get_or_insert(e);
                    false
                }
            })
            .collect();
        match (kept.is_empty(), first_refusal) {
            (true, Some(refused)) => Err(refused),
            (true, None) => Err(format!("`{host}` resolves to no address")),
            (false, _) => Ok(kept),
        }
    }
}

fn refusal(host: &str, what: &str) -> String {
    format!(
        "`{host}` is {what}, which http tasks may not reach unless the worker allows the host (--http-allow-host {host})"
    )
}

/// Why a connection to `ip` (of `host`) is refused by default, if it is.
fn check_ip(host: &str, ip: IpAddr) -> Result<(), String> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let what = match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match what {
        Some(what) if bare.parse::<IpAddr>().is_ok() => Err(refusal(host, what)),
        Some(what) => Err(refusal(host, &format!("{what} ({ip})"))),
        None => Ok(()),
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
    let link_local = (ip.segments()[0] & 0xffc0) == 0xfe80;
    if ip.is_loopback() {
        Some("a loopback address")
    } else if link_local {
        Some("a link-local address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not a host address")
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata service")
    } else {
        None
    }
}

/// The client's resolver: the system's, with every address checked against the policy.
pub(crate) struct CheckedResolver(pub(crate) Arc<HttpPolicy>);

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

    fn policy(allow: &[&str], deny: &[&str]) -> HttpPolicy {
        HttpPolicy {
            allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
            deny_hosts: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn loopback_link_local_and_metadata_are_refused_unless_allowed() {
        let p = policy(&[], &[]);
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "localhost",
            "a.localhost",
            "169.254.169.254",
            "[fe80::1]",
            "[::ffff:127.0.0.1]",
            "0.0.0.0",
            "metadata.google.internal",
            "100.100.100.200",
            "[fd00:ec2::254]",
        ] {
            assert!(p.check_host(host).is_err(), "{host} should be refused");
        }
        for host in ["example.test", "10.0.0.5", "192.168.1.2", "[2001:db8::1]"] {
            assert!(p.check_host(host).is_ok(), "{host} should be allowed");
        }
        let p = policy(&["127.0.0.1", "localhost"], &["bad.test"]);
        assert!(p.check_host("127.0.0.1").is_ok());
        assert!(p.check_host("LOCALHOST").is_ok());
        assert!(p
            .check_host("bad.test")
            .unwrap_err()
            .contains("refused hosts"));
    }

    #[test]
    fn a_name_that_resolves_to_a_refused_address_keeps_only_the_others() {
        let p = policy(&[], &[]);
        let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let public: SocketAddr = "93.184.215.14:0".parse().unwrap();
        assert_eq!(p.filter("h.test", vec![lo, public]).unwrap(), [public]);
        let e = p.filter("h.test", vec![lo]).unwrap_err();
        assert!(
            e.contains("loopback") && e.contains("--http-allow-host h.test"),
            "{e}"
        );
        assert_eq!(
            policy(&["h.test"], &[]).filter("h.test", vec![lo]).unwrap(),
            [lo]
        );
    }
}
