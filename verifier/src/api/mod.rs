//! HTTP handlers: the customer API (`checks`) and its other dialects (`dialects`:
//! Azure, GLAIR and VerifyHQ, each with its own routes; `form` reads their multipart
//! uploads), the
//! browser's capture API (`capture`),
//! the hosted pages (`pages`, `demo`, built on `html`), the files browsers load (`assets`) and the
//! service endpoints (`meta`).

pub mod assets;
pub mod capture;
pub mod checks;
pub mod demo;
pub mod dialects;
pub mod form;
pub mod html;
pub mod meta;
pub mod pages;

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};

use crate::error::ApiError;
use crate::model::ApiKey;
use crate::secrets::digest_hex;
use crate::state::AppState;

/// The customer calling, from `Authorization: Bearer <key>`, `X-API-Key: <key>` or
/// (the Azure dialect's header) `Ocp-Apim-Subscription-Key: <key>`.
///
/// Keys are looked up by their SHA-256 digest; the digest of a wrong key reveals
/// nothing about a right one, so the lookup's timing leaks nothing useful.
pub struct Customer(pub ApiKey);

pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string())
}

impl FromRequest for Customer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let key = bearer(req).or_else(|| {
            ["x-api-key", "ocp-apim-subscription-key"]
                .iter()
                .find_map(|h| req.headers().get(*h))
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
        });
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(key), Some(state)) = (key, state) else {
                return Err(ApiError::unauthorized());
            };
            let hash = digest_hex(&key);
            match state.store.api_key_by_hash(&hash).await? {
                Some(k) => Ok(Customer(k)),
                None => Err(ApiError::unauthorized()),
            }
        })
    }
}
