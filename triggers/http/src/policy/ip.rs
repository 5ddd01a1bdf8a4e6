//! IP allow and deny lists (CIDR, IPv4 and IPv6), and the client's address
//! as fenn believes it: the peer's, or the one a trusted proxy forwarded.

use axum::http::HeaderMap;
use fenn_runtime::trigger::BindingError;
use ipnet::IpNet;
use std::net::IpAddr;

/// Most entries of one list.
pub const MAX_ENTRIES: usize = 1024;

/// Most `X-Forwarded-For` entries looked at, from the right.
const MAX_HOPS: usize = 16;

/// An allow list and a deny list; deny wins, and an empty allow list
/// allows every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpList {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl IpList {
    /// The lists of `allow` and `deny`, as written (`10.0.0.0/8`,
    /// `::1`, `192.168.1.7`).
    ///
    /// # Errors
    ///
    /// An entry that is not an address or a CIDR block, named by its key.
    pub fn parse(allow: &[String], deny: &[String]) -> Result<Self, BindingError> {
        Ok(Self {
            allow: nets("allow", allow)?,
            deny: nets("deny", deny)?,
        })
    }

    /// No address is refused.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// `ip` is on no deny list and, where there is an allow list, on it.
    pub fn admits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !self.deny.iter().any(|net| net.contains(&ip))
            && (self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&ip)))
    }
}

/// Addresses and CIDR blocks as written under `key`.
///
/// # Errors
///
/// The first entry that is neither, as `key[i]`.
pub fn nets(key: &str, texts: &[String]) -> Result<Vec<IpNet>, BindingError> {
    if texts.len() > MAX_ENTRIES {
        return Err(BindingError::new(
            key,
            format!("more than {MAX_ENTRIES} entries"),
        ));
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map(|net| match net {
                    // An IPv4 block written as IPv6 (::ffff:10.0.0.0/104)
                    // matches as the IPv4 one; addresses are compared so.
                    IpNet::V6(v6) => match (v6.addr().to_ipv4_mapped(), v6.prefix_len()) {
                        (Some(v4), len) if len >= 96 => {
                            IpNet::new(IpAddr::V4(v4), len - 96).unwrap_or(net)
                        }
                        _ => net,
                    },
                    IpNet::V4(_) => net,
                })
                .map_err(|_| {
                    BindingError::new(
                        &format!("{key}[{i}]"),
                        format!("'{text}' is not an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8"),
                    )
                })
        })
        .collect()
}

/// The client's address: `peer`'s, unless `peer` is one of `trusted`
/// proxies, when it is the rightmost `X-Forwarded-For` address that is not
/// itself a trusted proxy (the leftmost ones are the client's to write).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|value| {
            let text = value.to_str().unwrap_or("");
            text.rsplit(',').map(str::trim)
        })
        .take(MAX_HOPS);
    let mut client = peer;
    for hop in hops {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            // Garbage past the trusted hops: the last address believed.
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or one with a port
/// (`203.0.113.9:443`, `[2001:db8::1]:443`) or in brackets, as some
/// proxies write them.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|at| at.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn list(allow: &[&str], deny: &[&str]) -> IpList {
        let owned = |texts: &[&str]| texts.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        IpList::parse(&owned(allow), &owned(deny)).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn deny_wins_over_allow_for_v4_and_v6() {
        let list = list(&["10.0.0.0/8", "fd00::/8"], &["10.0.0.13", "fd00::bad/128"]);
        assert!(list.admits(ip("10.1.2.3")));
        assert!(!list.admits(ip("10.0.0.13")));
        assert!(!list.admits(ip("192.168.0.1")));
        assert!(list.admits(ip("fd00::1")));
        assert!(!list.admits(ip("fd00::bad")));
        // An IPv4 client on a dual-stack socket is matched as IPv4.
        assert!(!list.admits(ip("::ffff:10.0.0.13")));
        assert!(list.admits(ip("::ffff:10.0.0.14")));
    }

    #[test]
    fn an_empty_allow_list_allows_all_but_the_denied() {
        let list = list(&[], &["127.0.0.1"]);
        assert!(list.admits(ip("::1")));
        assert!(!list.admits(ip("127.0.0.1")));
        assert!(IpList::default().is_open());
    }

    #[test]
    fn an_entry_that_does_not_parse_is_named_by_its_key() {
        let error = IpList::parse(&["10.0.0.0/8".into(), "10.0.0.0/33".into()], &[]).unwrap_err();
        assert_eq!(error.field, "allow[1]");
        assert!(error.reason.contains("'10.0.0.0/33'"), "{}", error.reason);
    }

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let trusted = nets("trusted", &["10.0.0.0/8".into()]).unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.7"));
        // The proxy at 10.0.0.1 forwarded for 10.0.0.7 (trusted), which
        // forwarded for 203.0.113.9: the client. 6.6.6.6 is its own claim.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
        // From an untrusted peer the header is the client's to write.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &headers, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &[]), ip("10.0.0.1"));
        let mut ported = HeaderMap::new();
        ported.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9:443"),
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &ported, &trusted),
            ip("203.0.113.9")
        );
        ported.insert(
            "x-forwarded-for",
            HeaderValue::from_static("[2001:db8::1]:443"),
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &ported, &trusted),
            ip("2001:db8::1")
        );
        let mut garbage = HeaderMap::new();
        garbage.insert("x-forwarded-for", HeaderValue::from_static("nonsense"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.0.0.1")
        );
    }
}
