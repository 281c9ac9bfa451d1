//! `Idempotency-Key` on the POSTs that create something: the same key with the same
//! request within 24 hours answers what the first one answered (a check, a session, a
//! Quick Link made once however often a client retries); the same key with another
//! request is refused with its own code. Keys belong to the credential that sent them.
//!
//! Only a success is kept: a refused request (a bad field, a wrong key, a rate limit)
//! leaves the key free, so the corrected request may use it again.

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use chrono::Utc;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::Idempotent;

/// How long a key's first answer is kept.
pub const KEEP: chrono::Duration = chrono::Duration::hours(24);
/// A claimed key whose request never answered (the process died) is free after this.
const STALE: chrono::Duration = chrono::Duration::minutes(2);
const MAX_KEY: usize = 255;

pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let (Some(key), true) = (key, req.method() == actix_web::http::Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match key {
        Ok(k) if (1..=MAX_KEY).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => k,
        _ => {
            return Ok(refuse(
                req,
                ApiError::invalid("Idempotency-Key must be 1 to 255 visible ASCII characters"),
            ))
        }
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Larger than any create body (a base64 reference image and its JSON, or a verify
    // image as multipart); the handler's own limit still applies after.
    let cap = state.config.checks.max_frame_bytes * 2 + 64 * 1024;
    let body = match read_body(&mut req, cap).await {
        Ok(b) => b,
        Err(e) => return Ok(refuse(req, e)),
    };
    let scope = crate::secrets::digest_hex(&credential(&req));
    let request = request_digest(&req, &body);
    req.set_payload(actix_web::dev::Payload::from(body));

    let store = &state.store;
    let now = Utc::now();
    let found = store
        .begin_idempotent(&scope, &key, &request, now, now - STALE, now - KEEP)
        .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => return Ok(refuse(req, ApiError::from(e))),
    };
    match found {
        Idempotent::Claimed => {}
        Idempotent::Answered { status, body } => {
            let status = actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::OK);
            let replay = HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("idempotent-replayed", "true"))
                .body(body);
            return Ok(req.into_response(replay));
        }
        Idempotent::InFlight => {
            return Ok(refuse(
                req,
                ApiError::new(
                    ErrorCode::IdempotencyKeyInUse,
                    "a request with this Idempotency-Key is still running; retry when it ends",
                ),
            ))
        }
        Idempotent::Mismatch => {
            return Ok(refuse(
                req,
                ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "this Idempotency-Key was used with another request in the last 24 hours",
                ),
            ))
        }
    }

    let res = next.call(req).await;
    let res = match res {
        Ok(res) if res.status().is_success() && res.response().error().is_none() => res,
        other => {
            let _ = store.abandon_idempotent(&scope, &key).await;
            return Ok(other?.map_into_boxed_body());
        }
    };
    let status = res.status().as_u16();
    let (req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body).await.unwrap_or_default();
    let saved = store.finish_idempotent(&scope, &key, status, &bytes).await;
    if saved.is_err() {
        tracing::error!("could not keep an idempotent answer");
    }
    let mut response = head.set_body(BoxBody::new(bytes));
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("false"),
    );
    Ok(ServiceResponse::new(req, response))
}

/// The error as the API answers it (the request-id middleware adds its id).
fn refuse(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    let (req, _) = req.into_parts();
    ServiceResponse::new(req, HttpResponse::from_error(e)).map_into_boxed_body()
}

/// The credential the request came with (an API key in any of its headers, or a Quick
/// Link's bearer token): keys of one caller never meet another's.
fn credential(req: &ServiceRequest) -> String {
    ["authorization", "x-api-key", "ocp-apim-subscription-key"]
        .iter()
        .filter_map(|h| req.headers().get(*h).and_then(|v| v.to_str().ok()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn read_body(req: &mut ServiceRequest, cap: usize) -> Result<Bytes, ApiError> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::from_status(e.status_code(), e.to_string()))?;
        if body.len() + chunk.len() > cap {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is larger than {cap} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What makes two requests the same: method, path, query, media type and body. A
/// multipart body's boundary is the client's random choice, different on each retry,
/// so it is left out of both.
fn request_digest(req: &ServiceRequest, body: &[u8]) -> String {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .next()
        .filter(|b| !b.is_empty());
    let media = content_type.split(';').next().unwrap_or("").trim();
    let mut h = Sha256::new();
    for part in [req.method().as_str(), req.path(), req.query_string(), media] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    match boundary {
        Some(b) => {
            for (i, piece) in split_on(body, b.as_bytes()).enumerate() {
                if i > 0 {
                    h.update(b"--boundary--");
                }
                h.update(piece);
            }
        }
        None => h.update(body),
    }
    hex::encode(h.finalize())
}

/// `haystack` split at every occurrence of `needle` (not empty).
fn split_on<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(haystack);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(needle.len()).position(|w| w == needle) {
            Some(i) => {
                rest = Some(&r[i + needle.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::split_on;

    #[test]
    fn a_body_splits_at_each_boundary() {
        let parts: Vec<&[u8]> = split_on(b"--XYZ\r\na\r\n--XYZ--", b"XYZ").collect();
        assert_eq!(parts, [&b"--"[..], b"\r\na\r\n--", b"--"]);
        let whole: Vec<&[u8]> = split_on(b"no boundary", b"XYZ").collect();
        assert_eq!(whole, [&b"no boundary"[..]]);
    }
}
