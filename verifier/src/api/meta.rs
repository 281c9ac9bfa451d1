//! Service endpoints: health, readiness, the JWKS and the OpenAPI document.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::state::{AppState, ModelsState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// `loading` until the background load ends; `failed` stays until a restart.
    pub models: ModelsState,
    pub models_loaded: bool,
    pub store_reachable: bool,
}

#[utoipa::path(get, operation_id = "meta_healthz", path = "/healthz", responses((status = 200, description = "the process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, operation_id = "meta_readyz", path = "/readyz",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_reachable = state.store.ping().await.is_ok();
    let models = state.models_state();
    let models_loaded = models == ModelsState::Loaded;
    let r = Readiness {
        ready: store_reachable && models_loaded,
        models,
        models_loaded,
        store_reachable,
    };
    if r.ready {
        HttpResponse::Ok().json(r)
    } else {
        HttpResponse::ServiceUnavailable().json(r)
    }
}

#[utoipa::path(get, operation_id = "meta_jwks", path = "/.well-known/jwks.json",
    responses((status = 200, description = "public keys that sign lc_tokens")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(state.tokens.jwks())
}
