//! What every handler shares.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use livecheck_core::Engine;

use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::lc_token::TokenIssuer;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    /// Origin of capture links, lc_token issuer and JWKS, without a trailing slash.
    pub public_url: String,
    pub store: Arc<dyn Store>,
    /// Filled once the models are loaded (`/readyz` reports it).
    pub engine: Arc<OnceLock<Engine>>,
    /// `(name, sha256)` of the models the engine runs, reported with each result.
    pub models: Vec<(String, String)>,
    pub tokens: TokenIssuer,
    /// Decisions run at most one per core; more finishes wait their turn.
    pub judging: tokio::sync::Semaphore,
    /// Uploads decode at most one per core at a time (memory stays bounded however
    /// many arrive at once).
    pub decoding: tokio::sync::Semaphore,
    /// `(check, seq)` of the frame uploads being decoded: a second upload of the same
    /// frame is refused before it costs a decode (the store still decides the winner
    /// across processes).
    pub uploading: Mutex<HashSet<(String, u32)>>,
    pub limiter: RateLimiter,
    /// Whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
    pub proxies: crate::proxy::TrustedProxies,
    /// Demo mode's API key: the demo pages call the API with it, as a customer would.
    pub demo_key: Option<String>,
    /// The SDK and model files the browser downloads, gzipped once.
    pub assets: crate::asset_cache::AssetCache,
}

impl AppState {
    pub fn engine(&self) -> Result<&Engine, ApiError> {
        self.engine
            .get()
            .ok_or_else(|| ApiError::new(ErrorCode::NotReady, "models are still loading"))
    }
}

/// Fixed one-minute windows per key: cheap, and enough to stop a runaway client.
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn check(&self, key: String, per_minute: u32) -> Result<(), ApiError> {
        if per_minute == 0 {
            return Ok(());
        }
        let mut w = self
            .windows
            .lock()
            .map_err(|_| ApiError::internal("rate limiter lock poisoned"))?;
        let now = Instant::now();
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now.duration_since(*start).as_secs() < 60);
        }
        let entry = w.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0).as_secs() >= 60 {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > per_minute {
            // When this key's window opens again, in whole seconds.
            let wait = 60 - now.duration_since(entry.0).as_secs().min(59);
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!("too many requests; retry in {wait} s"),
            )
            .with_header("retry-after", wait.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn limiter_refuses_past_the_limit_per_key() {
        let l = RateLimiter::default();
        for _ in 0..3 {
            l.check("a".into(), 3).unwrap();
        }
        let refused = l.check("a".into(), 3).unwrap_err();
        assert_eq!(refused.code, crate::error::ErrorCode::RateLimited);
        assert_eq!(refused.headers, [("retry-after", "60".to_string())]);
        l.check("b".into(), 3).unwrap();
        l.check("a".into(), 0).unwrap();
    }
}
