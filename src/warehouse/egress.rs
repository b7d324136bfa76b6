//! Where per-environment warehouse connections may point. An environment admin chooses the URL,
//! so lift must not become their way into the operator's network (cloud metadata, databases on
//! loopback, private ranges) nor a port scanner.
//!
//! Rule: a connection's host must resolve, and every address it resolves to must be public, or
//! be listed (as an address or a network) in `LIFT_WAREHOUSE_ALLOWED_HOSTS`, or the host name
//! itself must be listed. The server-wide `LIFT_CLICKHOUSE_URL` is the operator's and is not
//! checked.
//!
//! The check runs when a connection is created (a clear `BAD_USER_INPUT`) and again on every new
//! TCP connection to the warehouse: `http://` targets connect through [`GuardedConnector`], whose
//! resolver returns only checked addresses and which checks IP literals itself, so the address
//! connected to is the address checked and DNS rebinding cannot get past it. `https://` targets
//! use the ClickHouse client's TLS stack, which lift cannot hand a resolver: their host is
//! resolved and checked again right before every query ([`EgressPolicy::check_host`]).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;

/// The setting that lists what per-environment connections may reach besides public addresses.
pub const SETTING: &str = "LIFT_WAREHOUSE_ALLOWED_HOSTS";

/// How long a name may take to resolve before it counts as unresolvable (refused).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// One entry of `LIFT_WAREHOUSE_ALLOWED_HOSTS`: a host name (exact, case-insensitive), an IP
/// address (`10.0.0.5`, `::1`, `[::1]`) or a network in CIDR notation (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// Every address this name resolves to is allowed.
    Name(String),
    /// Addresses whose first `prefix` bits equal `network`'s.
    Network { network: IpAddr, prefix: u8 },
}

impl FromStr for AllowedHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let entry = text.trim();
        let bad = || {
            format!(
                "{entry:?} is not a host name, an IP address or a CIDR network (e.g. ch.internal, 10.0.0.5, 10.0.0.0/8, fd00::/8)"
            )
        };
        if let Some((address, prefix)) = entry.split_once('/') {
            let network = parse_ip(address).ok_or_else(bad)?;
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            let max = if network.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(bad());
            }
            return Ok(AllowedHost::Network { network, prefix });
        }
        if let Some(address) = parse_ip(entry) {
            let prefix = if address.is_ipv4() { 32 } else { 128 };
            return Ok(AllowedHost::Network {
                network: address,
                prefix,
            });
        }
        let name = normalize_name(entry);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if valid {
            Ok(AllowedHost::Name(name))
        } else {
            Err(bad())
        }
    }
}

/// `::1` or `[::1]` or `10.0.0.1`, nothing else (no shorthand like `127.1`).
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.parse().ok()
}

fn normalize_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A host was refused. The message names the setting that allows it, not the host (it reaches
/// whoever reads the failed query's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the warehouse host is not allowed: it does not resolve, or resolves to a loopback, \
             private, shared, link-local (cloud metadata), multicast or reserved address; an \
             operator can allow hosts, addresses and networks with {SETTING}"
        )
    }
}

impl Error for Refused {}

/// Why a connection URL was refused when it was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Not a URL lift can read, or it has a path, query or fragment.
    Shape(&'static str),
    /// The host is internal and not allowed.
    Host,
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlRefusal::Shape(reason) => f.write_str(reason),
            UrlRefusal::Host => Refused.fmt(f),
        }
    }
}

/// What per-environment connections may reach (`LIFT_WAREHOUSE_ALLOWED_HOSTS`).
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allowed: Arc<[AllowedHost]>,
}

impl EgressPolicy {
    pub fn new(allowed: &[AllowedHost]) -> Self {
        EgressPolicy {
            allowed: allowed.into(),
        }
    }

    fn allows_name(&self, host: &str) -> bool {
        let host = normalize_name(host);
        self.allowed
            .iter()
            .any(|entry| matches!(entry, AllowedHost::Name(name) if *name == host))
    }

    /// Public, or inside a listed address or network.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        internal_range(address).is_none()
            || self.allowed.iter().any(|entry| match entry {
                AllowedHost::Network { network, prefix } => {
                    in_network(address, canonical(*network), *prefix)
                }
                AllowedHost::Name(_) => false,
            })
    }

    /// Resolves `host` (a name, or an IP literal with or without brackets) and checks every
    /// address; returns them (port 0) when all are allowed.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Refused> {
        if let Some(address) = parse_ip(host) {
            return if self.allows_address(address) {
                Ok(vec![SocketAddr::new(address, 0)])
            } else {
                Err(Refused)
            };
        }
        let name_allowed = self.allows_name(host);
        let lookup = tokio::net::lookup_host((host, 0));
        let addresses: Vec<SocketAddr> = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .map_err(|_| Refused)?
            .map_err(|_| Refused)?
            .collect();
        if addresses.is_empty()
            || !(name_allowed || addresses.iter().all(|a| self.allows_address(a.ip())))
        {
            return Err(Refused);
        }
        Ok(addresses)
    }

    /// Resolves and checks the host of `url` (for the re-check before each `https://` query).
    pub async fn check_host(&self, url: &str) -> Result<(), Refused> {
        let uri: Uri = url.parse().map_err(|_| Refused)?;
        self.resolve(uri.host().ok_or(Refused)?).await.map(|_| ())
    }

    /// The check of a submitted connection URL: only `scheme://host[:port]` (an empty path or
    /// `/`), and a host that passes [`EgressPolicy::resolve`].
    pub async fn vet(&self, url: &str) -> Result<(), UrlRefusal> {
        let uri: Uri = url
            .parse()
            .map_err(|_| UrlRefusal::Shape("url must be an http:// or https:// address"))?;
        let host = uri
            .host()
            .ok_or(UrlRefusal::Shape("url must name a host"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() || url.contains('#') {
            return Err(UrlRefusal::Shape(
                "url must be the server only (scheme, host and port), without a path or query",
            ));
        }
        self.resolve(host)
            .await
            .map(|_| ())
            .map_err(|_| UrlRefusal::Host)
    }
}

/// The connector of guarded `http://` clients: IP literals are checked here (hyper connects to
/// them without asking the resolver), names by [`GuardedResolver`].
#[derive(Clone)]
pub struct GuardedConnector {
    inner: HttpConnector<GuardedResolver>,
    policy: EgressPolicy,
}

impl GuardedConnector {
    pub fn new(policy: EgressPolicy, keepalive: Duration) -> Self {
        let mut inner = HttpConnector::new_with_resolver(GuardedResolver {
            policy: policy.clone(),
        });
        inner.set_keepalive(Some(keepalive));
        GuardedConnector { inner, policy }
    }
}

type BoxError = Box<dyn Error + Send + Sync>;

impl tower::Service<Uri> for GuardedConnector {
    type Response = <HttpConnector<GuardedResolver> as tower::Service<Uri>>::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let literal = destination.host().and_then(parse_ip);
        if literal.is_some_and(|address| !self.policy.allows_address(address)) {
            return Box::pin(std::future::ready(Err(Refused.into())));
        }
        let connecting = self.inner.call(destination);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

/// Resolves names and hands hyper only addresses that passed the policy.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: EgressPolicy,
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Refused>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Refused>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move { Ok(policy.resolve(name.as_str()).await?.into_iter()) })
    }
}

/// Whether `err` (or anything it wraps) is a refusal by this policy.
pub fn is_refusal(err: &(dyn Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<Refused>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are their IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            prefix_eq(u32::from(a).into(), u32::from(n).into(), 32, prefix)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix_eq(u128::from(a), u128::from(n), 128, prefix),
        _ => false,
    }
}

fn prefix_eq(a: u128, b: u128, width: u32, prefix: u8) -> bool {
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        return true;
    }
    let shift = width - prefix;
    (a >> shift) == (b >> shift)
}

/// The kind of non-public range `address` is in, or `None` for a public address.
pub fn internal_range(address: IpAddr) -> Option<&'static str> {
    match canonical(address) {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

const V4_RANGES: [([u8; 4], u8, &str); 15] = [
    ([0, 0, 0, 0], 8, "unspecified"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared (CGNAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([192, 88, 99, 0], 24, "6to4 relay"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved"),
];

fn v4_range(address: Ipv4Addr) -> Option<&'static str> {
    let a = u128::from(u32::from(address));
    V4_RANGES
        .iter()
        .find(|(network, prefix, _)| {
            prefix_eq(a, u32::from(Ipv4Addr::from(*network)).into(), 32, *prefix)
        })
        .map(|(_, _, kind)| *kind)
}

const V6_RANGES: [(u128, u8, &str); 9] = [
    (0, 96, "IPv4-compatible, loopback or unspecified"),
    (0x0064_ff9b_0001 << 80, 48, "local NAT64"),
    (0x0100 << 112, 64, "discard"),
    (0x2001 << 112, 32, "Teredo"),
    (0x2001_0db8 << 96, 32, "documentation"),
    (0xfc00 << 112, 7, "unique local (private)"),
    (0xfe80 << 112, 10, "link-local"),
    (0xfec0 << 112, 10, "site-local"),
    (0xff00 << 112, 8, "multicast"),
];

fn v6_range(address: Ipv6Addr) -> Option<&'static str> {
    let a = u128::from(address);
    // Translated prefixes carry an IPv4 address that is reached in the end: judge that one.
    if prefix_eq(a, 0x0064_ff9b << 96, 128, 96) {
        return v4_range(Ipv4Addr::from((a & 0xffff_ffff) as u32))
            .map(|_| "NAT64 of an internal IPv4");
    }
    if prefix_eq(a, 0x2002 << 112, 128, 16) {
        return v4_range(Ipv4Addr::from(((a >> 80) & 0xffff_ffff) as u32))
            .map(|_| "6to4 of an internal IPv4");
    }
    V6_RANGES
        .iter()
        .find(|(network, prefix, _)| prefix_eq(a, *network, 128, *prefix))
        .map(|(_, _, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn internal_addresses_of_every_family_are_refused_without_an_allow_list() {
        let policy = EgressPolicy::default();
        for internal in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "192.0.0.192",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
        ] {
            assert!(!policy.allows_address(ip(internal)), "{internal}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(policy.allows_address(ip(public)), "{public}");
        }
    }

    #[test]
    fn listed_addresses_and_networks_are_allowed_and_nothing_else() {
        let entries: Vec<AllowedHost> =
            ["10.0.0.0/8", "[::1]", "127.0.0.1", "ClickHouse.Internal."]
                .iter()
                .map(|e| e.parse().expect("an entry"))
                .collect();
        assert_eq!(entries[3], AllowedHost::Name("clickhouse.internal".into()));
        let policy = EgressPolicy::new(&entries);
        for allowed in [
            "10.200.0.1",
            "::1",
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(policy.allows_address(ip(allowed)), "{allowed}");
        }
        for refused in ["127.0.0.2", "192.168.0.1", "169.254.169.254", "fd00::1"] {
            assert!(!policy.allows_address(ip(refused)), "{refused}");
        }
        assert!(policy.allows_name("CLICKHOUSE.internal"));
        assert!(!policy.allows_name("other.internal"));
    }

    #[test]
    fn allow_list_entries_that_are_neither_names_addresses_nor_networks_are_rejected() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "a b",
            "http://x",
            "*",
        ] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn urls_with_a_path_or_query_are_refused_before_any_lookup() {
        let policy = EgressPolicy::new(&["127.0.0.1".parse().expect("entry")]);
        for bad in [
            "http://127.0.0.1:8123/x",
            "http://127.0.0.1/?user=a",
            "http://127.0.0.1/#f",
        ] {
            assert!(
                matches!(policy.vet(bad).await, Err(UrlRefusal::Shape(_))),
                "{bad}"
            );
        }
        assert_eq!(policy.vet("http://127.0.0.1:8123/").await, Ok(()));
    }
}
