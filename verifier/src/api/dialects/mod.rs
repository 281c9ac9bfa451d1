//! The other products' APIs, each a dialect of the one check model: a module that owns
//! its routes (`configure`) and its OpenAPI paths (`Doc`). A new dialect is a module
//! here and a line in each of the two lists below; no other file changes.

use actix_web::web;
use utoipa::OpenApi;

pub mod azure;
pub mod glair;
pub mod verifyhq;

/// Every dialect's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(azure::configure)
        .configure(glair::configure)
        .configure(verifyhq::configure);
}

/// Every dialect's paths and schemas, to merge into the service's document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = azure::Doc::openapi();
    doc.merge(glair::Doc::openapi());
    doc.merge(verifyhq::Doc::openapi());
    doc
}
