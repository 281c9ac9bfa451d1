//! Webhook events: signed bodies, the durable outbox (rows written in the same
//! transaction as the status change), and the worker that delivers them with retries.
//!
//! Each POST carries two signatures over the raw body:
//! - `Signature`: hex HMAC-SHA256 keyed with the check's `secret` string as given;
//! - Standard Webhooks: `webhook-id` (the delivery id, stable across retries),
//!   `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64>` =
//!   HMAC-SHA256 keyed with the base64-decoded part of `whsec_…`, over `id.timestamp.body`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::model::{Attempt, Check, Delivery, DeliveryState, Status};
use crate::store::{NewDelivery, OutboxStore};

type HmacSha256 = Hmac<Sha256>;

/// Whether `ip` is outside the public Internet: any block the IANA special-purpose
/// address registries mark not globally reachable (this host, private and shared
/// networks, link-local, documentation, benchmarking, multicast, reserved, broadcast,
/// unique-local, deprecated site-local, discard), and IPv6 forms that carry such an
/// IPv4 address inside them (IPv4-mapped, IPv4-compatible, SIIT, NAT64, 6to4).
/// A customer's webhook must not reach any of them unless allowed.
pub fn is_private_ip(ip: std::net::IpAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    let in4 = |v4: Ipv4Addr, net: [u8; 4], bits: u32| {
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        (u32::from(v4) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
    };
    match ip {
        IpAddr::V4(v4) => [
            ([0, 0, 0, 0], 8),
            ([10, 0, 0, 0], 8),
            ([100, 64, 0, 0], 10),
            ([127, 0, 0, 0], 8),
            ([169, 254, 0, 0], 16),
            ([172, 16, 0, 0], 12),
            ([192, 0, 0, 0], 24),
            ([192, 0, 2, 0], 24),
            ([192, 88, 99, 0], 24),
            ([192, 168, 0, 0], 16),
            ([198, 18, 0, 0], 15),
            ([198, 51, 100, 0], 24),
            ([203, 0, 113, 0], 24),
            ([224, 0, 0, 0], 4),
            ([240, 0, 0, 0], 4),
        ]
        .iter()
        .any(|&(net, bits)| in4(v4, net, bits)),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let o = v6.octets();
            let tail4 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
            let in6 = |net: [u16; 8], bits: u32| {
                let (a, b) = (u128::from(v6), u128::from(std::net::Ipv6Addr::from(net)));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                (a & mask) == (b & mask)
            };
            // ::/96 (unspecified, loopback, IPv4-compatible), ::ffff:0:0/96 (mapped),
            // ::ffff:0:0:0/96 (SIIT), 64:ff9b::/96 (NAT64): an IPv4 address inside.
            let embeds_tail = in6([0; 8], 96)
                || in6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
                || in6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96)
                || in6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
            // 2002::/16 (6to4): the IPv4 address is in segments 1 and 2.
            let six_to_four = (s[0] == 0x2002).then(|| {
                Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8)
            });
            (embeds_tail && (in6([0; 8], 96) || is_private_ip(tail4.into())))
                || six_to_four.is_some_and(|v4| is_private_ip(v4.into()))
                || [
                    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
                    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
                    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
                    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
                    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
                    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
                    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
                    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
                    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
                    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
                ]
                .iter()
                .any(|&(net, bits)| in6(net, bits))
        }
    }
}

/// Whether a URL names this machine or a private network literally (an IP address or
/// `localhost`); names that resolve there are caught at connect time by `PublicOnly`.
pub fn is_private_host(value: &str) -> bool {
    let Ok(u) = url::Url::parse(value) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_private_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_private_ip(ip.into()),
        None => false,
    }
}

/// Resolves webhook hosts keeping only public addresses, so a public name that points
/// into the verifier's own network is refused when connecting.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// `Signature` header value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac(secret.as_bytes(), &[body]))
}

/// `webhook-signature` header value (Standard Webhooks, v1).
pub fn standard_signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let ts = timestamp.to_string();
    let sig = hmac(&key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(sig))
}

#[derive(Serialize)]
struct EventBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: DateTime<Utc>,
    data: EventData<'a>,
}

#[derive(Serialize)]
struct EventData<'a> {
    check_id: &'a str,
    status: &'a str,
    passed: bool,
    failure_reason: Option<&'a str>,
    user_id: Option<&'a str>,
    metadata: Option<&'a serde_json::Value>,
}

/// The outbox rows for a check moving to `to` (none when it has no webhook URL).
///
/// A decided capture, passed or not, fires `complete` (the GlobalData document's event
/// for "the user has finished the capture flow", with `passed` in its data); one not
/// passed also fires `failed`, an extra type for receivers that want failures alone.
pub fn new_deliveries(
    check: &Check,
    to: Status,
    passed: bool,
    failure_reason: Option<&str>,
    at: DateTime<Utc>,
) -> Vec<NewDelivery> {
    let Some(url) = check.webhook_url.clone() else {
        return Vec::new();
    };
    let kinds: &[&str] = match to {
        Status::Completed => &["complete"],
        Status::Failed => &["complete", "failed"],
        Status::Expired => &["expired"],
        Status::Cancelled => &["cancelled"],
        Status::Pending | Status::InProgress => &[],
    };
    kinds
        .iter()
        .filter_map(|kind| {
            let id = format!("msg_{}", crate::secrets::new_id());
            let body = serde_json::to_string(&EventBody {
                id: &id,
                kind,
                created_at: at,
                data: EventData {
                    check_id: &check.id,
                    status: to.as_str(),
                    passed,
                    failure_reason,
                    user_id: check.user_id.as_deref(),
                    metadata: check.metadata.as_ref(),
                },
            })
            .ok()?;
            Some(NewDelivery {
                id,
                event: kind.to_string(),
                url: url.clone(),
                body,
                secret: check.secret.clone(),
            })
        })
        .collect()
}

/// Attempts in flight to one receiver (scheme, host and port) at most: a receiver that
/// never answers holds this many, and every other receiver's events go out meanwhile.
const PER_RECEIVER: usize = 4;
/// Attempts in flight in all.
const IN_FLIGHT: usize = 64;
/// Time to open a connection (the whole attempt has `webhooks.timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A receiver that gave no answer is left alone for 1 s, doubling with each further
/// such attempt, up to this.
const MAX_COOL_DOWN: Duration = Duration::from_secs(60);
/// A delivery's lease outlasts its attempt's timeout by this (time to record it).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

pub struct Deliverer {
    /// The outbox alone: a deliverer touches nothing else of the store.
    pub store: Arc<dyn OutboxStore + Send + Sync>,
    pub client: reqwest::Client,
    pub schedule: Vec<Duration>,
    pub allow_private_targets: bool,
    /// How long an attempt holds its delivery's lease: longer than the attempt may take,
    /// so no other process sends it meanwhile, and short enough that a delivery whose
    /// process died goes out again soon.
    lease: Duration,
    traffic: Mutex<Traffic>,
}

/// What is in flight, and which receivers are cooling down.
#[derive(Default)]
struct Traffic {
    deliveries: HashSet<String>,
    per_receiver: HashMap<String, usize>,
    /// Until when a receiver is skipped, and how many unanswered attempts in a row.
    cooling: HashMap<String, (Instant, u32)>,
}

impl Traffic {
    /// Whether `d` may go now; if so it is counted in flight.
    fn admit(&mut self, d: &Delivery, receiver: &str, now: Instant) -> bool {
        let busy = self.per_receiver.get(receiver).copied().unwrap_or(0);
        let cooling = self
            .cooling
            .get(receiver)
            .is_some_and(|(until, _)| now < *until);
        if cooling
            || busy >= PER_RECEIVER
            || self.deliveries.len() >= IN_FLIGHT
            || self.deliveries.contains(&d.id)
        {
            return false;
        }
        self.deliveries.insert(d.id.clone());
        *self.per_receiver.entry(receiver.to_string()).or_default() += 1;
        true
    }

    /// `d` is no longer in flight; `answered` says whether the receiver gave any answer.
    fn release(&mut self, d: &Delivery, receiver: &str, answered: bool, now: Instant) {
        self.forget(d, receiver);
        if answered {
            self.cooling.remove(receiver);
        } else {
            let misses = self.cooling.get(receiver).map_or(0, |(_, m)| *m) + 1;
            let wait = Duration::from_secs(1 << (misses - 1).min(6)).min(MAX_COOL_DOWN);
            self.cooling
                .insert(receiver.to_string(), (now + wait, misses));
        }
    }

    /// `d` is no longer in flight and was never sent (another process holds it).
    fn forget(&mut self, d: &Delivery, receiver: &str) {
        self.deliveries.remove(&d.id);
        if let Some(n) = self.per_receiver.get_mut(receiver) {
            *n -= 1;
            if *n == 0 {
                self.per_receiver.remove(receiver);
            }
        }
    }
}

/// A retry delay drawn within ±10 % of `wait`, so the deliveries that failed together
/// (a receiver's outage) come back spread out rather than all at once.
pub fn jittered(wait: Duration) -> Duration {
    use rand::Rng;
    wait.mul_f64(rand::thread_rng().gen_range(0.9..=1.1))
}

/// The receiver a URL names: its scheme, host and port.
fn receiver(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_string())
}

/// Why a delivery may not be sent to `url` at all, if it may not.
fn refusal(url: &str, allow_private_targets: bool) -> Option<String> {
    (!allow_private_targets && is_private_host(url))
        .then(|| "refused: the URL names a private or special-purpose address".to_string())
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn OutboxStore + Send + Sync>,
        schedule: Vec<Duration>,
        timeout: Duration,
        allow_private_targets: bool,
    ) -> Self {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("livecheck-verifier/", env!("CARGO_PKG_VERSION")));
        if !allow_private_targets {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder.build().unwrap_or_default();
        Self {
            store,
            client,
            schedule,
            allow_private_targets,
            lease: timeout + LEASE_MARGIN,
            traffic: Mutex::default(),
        }
    }

    /// Starts every due delivery that its receiver's share allows, each on its own
    /// task (a slow receiver holds only its own); returns how many were started.
    pub async fn dispatch(self: &Arc<Self>) -> usize {
        let read = self
            .store
            .due_deliveries(Utc::now(), PER_RECEIVER as u32, 4 * IN_FLIGHT as u32)
            .await;
        let due = match read {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "outbox read failed");
                return 0;
            }
        };
        let mut started = 0;
        for d in due {
            let to = receiver(&d.url);
            let admitted = match self.traffic.lock() {
                Ok(mut t) => t.admit(&d, &to, Instant::now()),
                Err(_) => false,
            };
            if !admitted {
                continue;
            }
            started += 1;
            let me = self.clone();
            tokio::spawn(async move {
                // Of the processes sharing the store, the one that leases it sends it.
                if !me.lease(&d).await {
                    if let Ok(mut t) = me.traffic.lock() {
                        t.forget(&d, &to);
                    }
                    return;
                }
                let answered = me.attempt(d.clone()).await;
                if let Ok(mut t) = me.traffic.lock() {
                    t.release(&d, &to, answered, Instant::now());
                }
            });
        }
        started
    }

    /// Whether this process got `d`'s lease (`Store::lease_delivery`).
    async fn lease(&self, d: &Delivery) -> bool {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
        match self.store.lease_delivery(&d.id, now, until).await {
            Ok(leased) => leased,
            _ => {
                tracing::error!(delivery = %d.id, "could not lease a webhook delivery");
                false
            }
        }
    }

    /// One attempt, recorded; whether the receiver answered at all.
    async fn attempt(&self, d: Delivery) -> bool {
        let started = Instant::now();
        let at = Utc::now();
        let ts = at.timestamp();
        // An address in the URL itself never goes through the resolver's filter: the
        // same rule as at create, again before connecting (the setting may have changed
        // since the check was created).
        if let Some(refusal) = refusal(&d.url, self.allow_private_targets) {
            self.record(d, at, started, None, Some(refusal)).await;
            return true;
        }
        let result = self
            .client
            .post(&d.url)
            .header("content-type", "application/json")
            .header("Signature", signature(&d.secret, d.body.as_bytes()))
            .header("webhook-id", &d.id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                standard_signature(&d.secret, &d.id, ts, d.body.as_bytes()),
            )
            .body(d.body.clone())
            .send()
            .await;
        let (status, error) = match result {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("receiver answered {}", r.status())),
            ),
            // The error text names the URL's host only, never the secret.
            Err(e) => (None, Some(describe(&e))),
        };
        self.record(d, at, started, status, error).await;
        status.is_some()
    }

    /// Logs an attempt and moves the delivery on: delivered, retried later, or failed.
    async fn record(
        &self,
        d: Delivery,
        at: chrono::DateTime<Utc>,
        started: Instant,
        status: Option<u16>,
        error: Option<String>,
    ) {
        let attempt = Attempt {
            at,
            status,
            error: error.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let (state, next) = if error.is_none() {
            (DeliveryState::Delivered, None)
        } else {
            match self.schedule.get(d.attempts as usize) {
                Some(wait) => (
                    DeliveryState::Pending,
                    Some(at + chrono::Duration::from_std(jittered(*wait)).unwrap_or_default()),
                ),
                None => (DeliveryState::Failed, None),
            }
        };
        tracing::info!(
            delivery = %d.id,
            check = %d.check_id,
            event = %d.event,
            attempt = d.attempts + 1,
            status = ?status,
            state = state.as_str(),
            "webhook attempt"
        );
        let saved = self
            .store
            .record_attempt(&d.id, &attempt, state, next)
            .await;
        if saved.is_err() {
            tracing::error!(delivery = %d.id, "could not record a webhook attempt");
        }
    }

    pub async fn run(self, poll: Duration) {
        let me = Arc::new(self);
        loop {
            me.dispatch().await;
            tokio::time::sleep(poll).await;
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: &str, url: &str) -> Delivery {
        Delivery {
            id: id.into(),
            check_id: "c".into(),
            event: "failed".into(),
            url: url.into(),
            body: "{}".into(),
            secret: "s".into(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn retries_span_three_days_by_default_and_are_spread_around_their_delay() {
        let schedule = crate::config::Config::defaults().webhooks.retry_schedule;
        let span: Duration = schedule.iter().sum();
        assert!(span >= Duration::from_secs(72 * 3600), "{span:?}");
        let wait = Duration::from_secs(3600);
        let drawn: Vec<Duration> = (0..200).map(|_| jittered(wait)).collect();
        assert!(drawn
            .iter()
            .all(|d| (wait.mul_f64(0.9)..=wait.mul_f64(1.1)).contains(d)));
        // Spread, not one value: the draws cover most of the ±10 % band.
        let (lo, hi) = (drawn.iter().min().unwrap(), drawn.iter().max().unwrap());
        assert!(*hi - *lo > Duration::from_secs(500), "{lo:?}..{hi:?}");
    }

    #[test]
    fn a_receiver_gets_its_share_in_flight_and_cools_down_when_silent() {
        let mut t = Traffic::default();
        let now = Instant::now();
        let a = receiver("https://a.example/hook?x=1");
        assert_eq!(a, receiver("https://A.example:443/other"));
        let to_a: Vec<Delivery> = (0..6)
            .map(|i| delivery(&format!("d{i}"), "https://a.example/hook"))
            .collect();
        let admitted: Vec<bool> = to_a.iter().map(|d| t.admit(d, &a, now)).collect();
        assert_eq!(admitted, [true, true, true, true, false, false]);
        // The same delivery is never in flight twice; another receiver still goes.
        t.release(&to_a[0], &a, true, now);
        assert!(t.admit(&to_a[4], &a, now));
        assert!(!t.admit(&to_a[4], &a, now));
        let b = receiver("https://b.example/hook");
        assert!(t.admit(&delivery("e0", "https://b.example/hook"), &b, now));
        // No answer: the receiver is left alone 1 s, then 2 s; an answer ends that.
        t.release(&to_a[1], &a, false, now);
        assert!(!t.admit(&to_a[5], &a, now + Duration::from_millis(900)));
        t.release(&to_a[2], &a, false, now);
        assert!(!t.admit(&to_a[5], &a, now + Duration::from_millis(1900)));
        assert!(t.admit(&to_a[5], &a, now + Duration::from_millis(2100)));
        t.release(&to_a[3], &a, true, now);
        assert!(!t.cooling.contains_key(&a));
    }

    #[test]
    fn standard_webhooks_signature_matches_the_specs_example() {
        // The example from the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = standard_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn private_and_loopback_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:9/h",
            "http://localhost/h",
            "http://api.localhost/h",
            "http://10.1.2.3/h",
            "http://192.168.0.1/h",
            "http://169.254.169.254/latest",
            "http://0.0.0.0/h",
            "http://[::1]/h",
            "http://[fd00::1]/h",
            "http://[::ffff:10.0.0.1]/h",
            // Shared address space (a cloud's metadata service at 100.100.100.200),
            // IETF protocol assignments, documentation, benchmarking, multicast,
            // reserved and broadcast.
            "http://100.100.100.200/latest",
            "http://192.0.0.8/h",
            "http://192.0.2.10/h",
            "http://198.18.0.1/h",
            "http://224.0.0.1/h",
            "http://240.0.0.1/h",
            "http://255.255.255.255/h",
            // IPv6 forms carrying loopback or metadata addresses, and special blocks.
            "http://[::127.0.0.1]/h",
            "http://[::ffff:0:127.0.0.1]/h",
            "http://[64:ff9b::a9fe:a9fe]/h",
            "http://[2002:7f00:1::1]/h",
            "http://[fec0::1]/h",
            "http://[ff02::1]/h",
            "http://[2001:db8::1]/h",
        ] {
            assert!(is_private_host(url), "{url}");
        }
        for url in [
            "https://hooks.example.com/h",
            "http://8.8.8.8/h",
            "http://100.128.0.1/h",
            "http://[2606:4700:4700::1111]/h",
            "http://[64:ff9b::808:808]/h",
            "http://[2002:808:808::1]/h",
        ] {
            assert!(!is_private_host(url), "{url}");
        }
    }

    #[test]
    fn an_address_in_the_url_is_refused_before_connecting_unless_allowed() {
        assert!(refusal("http://169.254.169.254/latest", false).is_some());
        assert!(refusal("http://[::ffff:127.0.0.1]:9/h", false).is_some());
        assert_eq!(refusal("http://127.0.0.1:9/h", true), None);
        assert_eq!(refusal("https://hooks.example.com/h", false), None);
    }

    #[test]
    fn the_public_only_resolver_refuses_names_that_point_inside() {
        use reqwest::dns::Resolve;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // `localhost` resolves (from /etc/hosts) to loopback only.
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = rt.block_on(PublicOnly.resolve(name)).err().unwrap();
        assert!(err.to_string().contains("no public address"), "{err}");
    }

    #[test]
    fn signature_is_hex_hmac_of_the_raw_body() {
        let s = signature("key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            s,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
