//! The client's address: the peer, or for a peer among the trusted proxies, the address the
//! nearest untrusted hop of `X-Forwarded-For` names, walking from the right.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// Headers by which a proxy says it forwarded a request.
const FORWARDING: [&str; 5] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
];

pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer(parts)?;
    Some(walk(peer, &parts.headers, trusted))
}

/// Whether the request came straight from a client on this machine: a loopback peer that is
/// not a trusted proxy and forwarded nothing. A request that came through a proxy, even one
/// on loopback, is never loopback.
pub fn is_direct_loopback(parts: &Parts, trusted: &[IpNet]) -> bool {
    let Some(peer) = peer(parts) else {
        return false;
    };
    let forwarded = FORWARDING.iter().any(|h| parts.headers.contains_key(*h));
    peer.is_loopback() && !forwarded && !is_trusted(trusted, &peer)
}

fn is_trusted(trusted: &[IpNet], ip: &IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(peer.to_canonical())
}

/// From the peer leftward through `X-Forwarded-For` (all its fields, in order): each trusted
/// hop hands on to the entry before it; the first untrusted address is the client. An entry
/// that does not parse (after its port and brackets) ends the walk, and the client is then
/// the last trusted hop.
fn walk(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(trusted, &peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(trusted, &ip) {
            break;
        }
    }
    client
}

/// An address as proxies write it: bare, `ip:port`, `[v6]` or `[v6]:port`; IPv4-mapped IPv6
/// addresses as the IPv4 address.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(peer: &str, xff: &[&str]) -> Parts {
        let mut builder = Request::builder();
        for value in xff {
            builder = builder.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    fn client(peer: &str, xff: &[&str], trusted: &[&str]) -> String {
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        client_ip(&parts(peer, xff), &trusted).unwrap().to_string()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            client("203.0.113.9:1000", &["1.2.3.4"], &trusted),
            "203.0.113.9"
        );
        assert_eq!(
            client(
                "10.0.0.2:1000",
                &["1.2.3.4, 198.51.100.7, 10.0.0.3"],
                &trusted
            ),
            "198.51.100.7"
        );
    }

    #[test]
    fn ports_and_brackets_are_parsed_so_the_leftmost_entry_cannot_win() {
        let trusted = ["10.0.0.0/8"];
        for xff in [
            "6.6.6.6, 198.51.100.7:4711",
            "6.6.6.6, [2001:db8::7]:4711",
            "6.6.6.6, [2001:db8::7]",
        ] {
            let found = client("10.0.0.2:1000", &[xff], &trusted);
            assert_ne!(found, "6.6.6.6", "{xff}");
            assert!(
                found == "198.51.100.7" || found == "2001:db8::7",
                "{xff}: {found}"
            );
        }
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            client("10.0.0.2:1000", &["6.6.6.6, garbage, 10.0.0.3"], &trusted),
            "10.0.0.3"
        );
        assert_eq!(
            client("10.0.0.2:1000", &["6.6.6.6, "], &trusted),
            "10.0.0.2"
        );
        // Several fields count as one list, in order.
        assert_eq!(
            client("10.0.0.2:1000", &["6.6.6.6", "198.51.100.7"], &trusted),
            "198.51.100.7"
        );
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        assert_eq!(client("[::ffff:203.0.113.9]:1000", &[], &[]), "203.0.113.9");
        assert_eq!(
            client("10.0.0.2:1000", &["::ffff:198.51.100.7"], &["10.0.0.0/8"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn requests_through_a_proxy_are_never_loopback() {
        let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(is_direct_loopback(&parts("127.0.0.1:1000", &[]), &[]));
        assert!(!is_direct_loopback(&parts("127.0.0.1:1000", &[]), &trusted));
        assert!(!is_direct_loopback(
            &parts("127.0.0.1:1000", &["127.0.0.1"]),
            &[]
        ));
        assert!(!is_direct_loopback(&parts("203.0.113.9:1000", &[]), &[]));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn entry() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string()),
            (any::<std::net::Ipv4Addr>(), any::<u16>())
                .prop_map(|(ip, port)| format!("{ip}:{port}")),
            (any::<std::net::Ipv6Addr>(), any::<u16>())
                .prop_map(|(ip, port)| format!("[{ip}]:{port}")),
            Just("10.0.0.7".to_owned()),
            "\\PC{0,12}",
        ]
    }

    proptest! {
        /// Whatever the header holds, the client is the peer or an address the header named,
        /// and an untrusted peer is always taken for itself.
        #[test]
        fn the_walk_names_the_peer_or_an_entry(entries in prop::collection::vec(entry(), 0..8)) {
            let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
            let header = entries.join(",");
            let Ok(value) = axum::http::HeaderValue::from_str(&header) else {
                return Ok(());
            };
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", value);
            let peer: IpAddr = "10.0.0.2".parse().unwrap();
            let client = walk(peer, &headers, &trusted);
            let named: Vec<IpAddr> = entries.iter().filter_map(|e| parse_entry(e)).collect();
            prop_assert!(client == peer || named.contains(&client));
            let outsider: IpAddr = "203.0.113.9".parse().unwrap();
            prop_assert_eq!(walk(outsider, &headers, &trusted), outsider);
        }
    }
}
