//! The browser's capture API over HTTP: each handler reads the link, the client token
//! (bearer or the hosted page's cookie) and the body, calls `checks::capture` or
//! `checks::decide`, and answers core's protocol bodies (`protocol::answers`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use livecheck_core::decode::sniff_upload;
use livecheck_core::protocol::answers::{
    Cancelled, CaptureStatus, ClaimIn, Claimed, Finished, FrameAccepted, Retried,
};
use livecheck_core::protocol::FrameEnvelope;

use super::bearer;
use crate::checks::capture::{self as capture, FrameIn};
use crate::checks::decide;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::risk::FinishIn;
use crate::state::AppState;

pub const CLIENT_COOKIE: &str = "lc_client";
pub const ENVELOPE_HEADER: &str = "livecheck-envelope";

pub fn client_token(req: &HttpRequest) -> Option<String> {
    bearer(req).or_else(|| req.cookie(CLIENT_COOKIE).map(|c| c.value().to_string()))
}

/// An optional JSON body: empty (or blank) is the default.
fn optional_json<T: Default + serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("{what}: {e}")))
    }
}

fn no_store(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header(("cache-control", "no-store"));
    res
}

#[utoipa::path(post, operation_id = "capture_claim", path = "/capture/{link}/claim", params(("link" = String, Path)),
    request_body(content = Option<ClaimIn>, content_type = "application/json",
        description = "optional: `{\"light_opt_out\": true}` declines the light challenge"),
    responses((status = 200, body = Claimed), (status = 404, description = "not_found"),
              (status = 409, description = "link_already_used"), (status = 410, description = "expired")))]
pub async fn claim(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    // Per client: behind a trusted proxy, the address it forwarded for.
    let client = req
        .peer_addr()
        .map(|a| {
            let forwarded = req.headers().get_all("x-forwarded-for");
            state
                .proxies
                .client(a.ip(), forwarded.filter_map(|v| v.to_str().ok()))
                .to_string()
        })
        .unwrap_or_default();
    let claim_in: ClaimIn = optional_json(&body, "claim body")?;
    let link = link.into_inner();
    let claimed: Claimed = capture::claim(
        &state,
        link.clone(),
        &client,
        claim_in.light_opt_out == Some(true),
    )
    .await?;
    let cookie = Cookie::build(CLIENT_COOKIE, claimed.client_token.clone())
        .path(format!("/l/{link}"))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .finish();
    Ok(no_store(HttpResponse::Ok()).cookie(cookie).json(claimed))
}

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];

#[utoipa::path(post, operation_id = "capture_upload_frame", path = "/capture/{link}/frames", params(("link" = String, Path),
        ("livecheck-envelope" = String, Header, description = "the frame's signed envelope, JSON")),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = FrameAccepted),
        (status = 400, description = "invalid_envelope, wrong_session, image_digest_mismatch"),
        (status = 401, description = "invalid_signature, unauthorized"),
        (status = 409, description = "replayed_frame, out_of_order, outside_time_window, frame_ahead_of_clock, frame_too_late, frame_rate_exceeded, frame_limit_reached"),
        (status = 413, description = "payload_too_large"), (status = 415, description = "unsupported_media_type"),
        (status = 422, description = "invalid_image")))]
pub async fn upload_frame(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let check = capture::attempt(&state, link.into_inner(), client_token(&req).as_deref()).await?;
    let declared = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // Declared as an image, and one of the three by its bytes (kept and served as what
    // the bytes are, whatever was declared).
    let Some(format) = sniff_upload(&body).filter(|_| IMAGE_TYPES.contains(&declared.as_str()))
    else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "frames must be JPEG, PNG or WebP images",
        ));
    };
    let envelope: FrameEnvelope = req
        .headers()
        .get(ENVELOPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidEnvelope,
                "the livecheck-envelope header is missing",
            )
        })
        .and_then(|v| {
            serde_json::from_str(v)
                .map_err(|e| ApiError::new(ErrorCode::InvalidEnvelope, format!("envelope: {e}")))
        })?;
    let frame = FrameIn {
        envelope,
        content_type: format.to_mime_type().to_string(),
        bytes: body.to_vec(),
    };
    let accepted: FrameAccepted = capture::add_frame(&state, check, frame).await?;
    Ok(HttpResponse::Created().json(accepted))
}

#[utoipa::path(post, operation_id = "capture_finish", path = "/capture/{link}/finish", params(("link" = String, Path)),
    request_body(content = Option<FinishIn>, content_type = "application/json",
        description = "optional: what the SDK saw of its camera and frame timing (risk signals only)"),
    responses((status = 200, body = Finished), (status = 409, description = "invalid_state"),
              (status = 410, description = "expired"), (status = 503, description = "not_ready")))]
pub async fn finish(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let report: FinishIn = optional_json(&body, "finish body")?;
    let token = client_token(&req);
    let finished: Finished =
        decide::finish(&state, link.into_inner(), token.as_deref(), report).await?;
    Ok(no_store(HttpResponse::Ok()).json(finished))
}

#[utoipa::path(post, operation_id = "capture_retry", path = "/capture/{link}/retry", params(("link" = String, Path)),
    responses((status = 200, body = Retried),
              (status = 409, description = "invalid_state: no attempt is awaited"),
              (status = 410, description = "expired")))]
pub async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = client_token(&req);
    let retried: Retried = capture::retry(&state, link.into_inner(), token.as_deref()).await?;
    Ok(no_store(HttpResponse::Ok()).json(retried))
}

#[utoipa::path(post, operation_id = "capture_cancel", path = "/capture/{link}/cancel", params(("link" = String, Path)),
    responses((status = 200, body = Cancelled), (status = 409, description = "invalid_state")))]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = client_token(&req);
    let redirect_url = capture::cancel(&state, link.into_inner(), token.as_deref()).await?;
    Ok(HttpResponse::Ok().json(Cancelled {
        status: CaptureStatus::Cancelled,
        redirect_url,
    }))
}
