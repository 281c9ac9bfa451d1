//! The client's address behind reverse proxies (`server.trusted_proxies`): a request
//! from a trusted proxy is from the rightmost `X-Forwarded-For` address that is not
//! itself a trusted proxy; from anyone else, from its peer. Without this every user
//! behind one proxy shares one claim rate limit; with it believed from anyone, a client
//! would pick its own address.

use std::net::IpAddr;

/// Addresses and CIDR blocks, each `(network, prefix length)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// `["10.0.0.0/8", "127.0.0.1", "::1"]`; empty entries are skipped.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in list.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (addr, len) = match entry.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (entry, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("{entry:?} is not an IP address or CIDR block"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len =
                match len {
                    Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(|| {
                        format!("{entry:?}: the prefix length must be 0 to {max}")
                    })?,
                    None => max,
                };
            nets.push((ip.to_canonical(), len));
        }
        Ok(Self(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// The client a request came from: `peer`, or, when `peer` is a trusted proxy, the
    /// rightmost address of `forwarded_for` (every `X-Forwarded-For` value, in order)
    /// that is not a trusted proxy. An unreadable entry ends the walk there: what is left
    /// of it was written by someone untrusted.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let t =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into(), "".into()]).unwrap();
        assert!(t.contains(ip("10.1.2.3")) && t.contains(ip("::ffff:127.0.0.1")));
        assert!(!t.contains(ip("11.0.0.1")) && !t.contains(ip("127.0.0.2")));
        // Through two of our proxies: the address the outer one saw. The client wrote
        // "203.0.113.9" itself, left of what our proxy appended: it gains nothing.
        let xff = ["203.0.113.9, 198.51.100.7", "10.0.0.5"];
        assert_eq!(
            t.client(ip("127.0.0.1"), xff.into_iter()),
            ip("198.51.100.7")
        );
        // Not from a proxy: the header is the client's own words, ignored.
        assert_eq!(
            t.client(ip("198.51.100.7"), xff.into_iter()),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last address read.
        let odd = ["not-an-ip, 10.0.0.6"];
        assert_eq!(t.client(ip("127.0.0.1"), odd.into_iter()), ip("10.0.0.6"));
        assert_eq!(
            t.client(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
    }
}
