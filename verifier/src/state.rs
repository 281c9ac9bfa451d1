//! What every handler shares.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

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
