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
    /// Filled once the models have loaded, or failed to (`/readyz` reports which).
    pub engine: Arc<OnceLock<Result<Engine, ModelsFailed>>>,
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

/// The models did not load (a file missing or not the pinned one): the process stays up
/// and unready instead of looking as if it were still loading. Why is in the log only,
/// which names paths a caller has no business seeing.
#[derive(Debug)]
pub struct ModelsFailed;

/// Where the models are, as `/readyz` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelsState {
    Loading,
    Loaded,
    Failed,
}

impl AppState {
    pub fn engine(&self) -> Result<&Engine, ApiError> {
        match self.engine.get() {
            Some(Ok(engine)) => Ok(engine),
            Some(Err(ModelsFailed)) => Err(ApiError::new(
                ErrorCode::NotReady,
                "the models failed to load; the verifier's log says why",
            )),
            None => Err(ApiError::new(
                ErrorCode::NotReady,
                "models are still loading",
            )),
        }
    }

    pub fn models_state(&self) -> ModelsState {
        match self.engine.get() {
            Some(Ok(_)) => ModelsState::Loaded,
            Some(Err(ModelsFailed)) => ModelsState::Failed,
            None => ModelsState::Loading,
        }
    }
}
