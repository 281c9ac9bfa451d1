//! Webhook events: signed bodies, the durable outbox (rows written in the same
//! transaction as the status change), and the worker that delivers them with retries.
//!
//! Each POST carries two signatures over the raw body:
//! - `Signature`: hex HMAC-SHA256 keyed with the check's `secret` string as given;
//! - Standard Webhooks: `webhook-id` (the delivery id, stable across retries),
//!   `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64>` =
//!   HMAC-SHA256 keyed with the base64-decoded part of `whsec_…`, over `id.timestamp.body`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::model::{Attempt, Check, Delivery, DeliveryState, Status};
use crate::store::{NewDelivery, Store};

type HmacSha256 = Hmac<Sha256>;

/// Loopback, private, link-local, unique-local or unspecified: this machine or its
/// network, which a customer's webhook must not reach unless allowed.
pub fn is_private_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        std::net::IpAddr::V6(v6) => {
            let seg = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg & 0xfe00) == 0xfc00
                || (seg & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_ip(v4.into()))
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

/// Event name for a terminal status.
pub fn event_for(status: Status) -> Option<&'static str> {
    match status {
        Status::Completed => Some("complete"),
        Status::Failed => Some("failed"),
        Status::Expired => Some("expired"),
        Status::Cancelled => Some("cancelled"),
        Status::Pending | Status::InProgress => None,
    }
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

/// The outbox row for a check moving to `to` (None when it has no webhook URL).
pub fn new_delivery(
    check: &Check,
    to: Status,
    passed: bool,
    failure_reason: Option<&str>,
    at: DateTime<Utc>,
) -> Option<NewDelivery> {
    let url = check.webhook_url.clone()?;
    let kind = event_for(to)?;
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
        url,
        body,
        secret: check.secret.clone(),
    })
}

pub struct Deliverer {
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub schedule: Vec<Duration>,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn Store>,
        schedule: Vec<Duration>,
        timeout: Duration,
        allow_private_targets: bool,
    ) -> Self {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
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
        }
    }

    /// Sends every due delivery once; returns how many were attempted.
    pub async fn run_once(&self) -> usize {
        let store = self.store.clone();
        let due =
            match tokio::task::spawn_blocking(move || store.due_deliveries(Utc::now(), 32)).await {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "outbox read failed");
                    return 0;
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox task failed");
                    return 0;
                }
            };
        let n = due.len();
        futures_util::future::join_all(due.into_iter().map(|d| self.attempt(d))).await;
        n
    }

    async fn attempt(&self, d: Delivery) {
        let started = Instant::now();
        let at = Utc::now();
        let ts = at.timestamp();
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
                    Some(at + chrono::Duration::from_std(*wait).unwrap_or_default()),
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
        let store = self.store.clone();
        let id = d.id.clone();
        let saved =
            tokio::task::spawn_blocking(move || store.record_attempt(&id, &attempt, state, next))
                .await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::error!(delivery = %d.id, "could not record a webhook attempt");
        }
    }

    pub async fn run(self, poll: Duration) {
        loop {
            self.run_once().await;
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
        ] {
            assert!(is_private_host(url), "{url}");
        }
        for url in [
            "https://hooks.example.com/h",
            "http://8.8.8.8/h",
            "http://[2001:db8::1]/h",
        ] {
            assert!(!is_private_host(url), "{url}");
        }
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
