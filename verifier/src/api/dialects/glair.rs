//! GLAIR Vision's passive liveness sessions, as a dialect of the one check model: a
//! session is a passive check (its id is the `sid`) whose return URL is the success URL
//! with `sid` appended; the hosted page is the usual one. Same API keys.
//!
//! The result's `spoof_percentage` is on the document's 0–1 scale (its sample: 0.99768,
//! HIGH): `(100 − anti_spoof_score) / 100`, or 1 when the capture showed a presentation
//! attack beyond its pixels (no live motion, or the face changed). Its `status` is the
//! spoof risk: `LOW` (≤ 0.30: the check passed at the default threshold 70), `MODERATE`
//! (0.30–0.60: not passed, doubtful), `HIGH` (> 0.60, or any capture refused as
//! spoof_detected, no_live_motion or face_mismatch). `success_url` and `cancel_url` are
//! kept as given and echoed byte for byte; `sid` is appended only on the way back.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use livecheck_core::decision::FailureReason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::checks::{capture_url, owned};
use crate::api::Customer;
use crate::checks::create::{self, CreateCheck};
use crate::error::ApiResult;
use crate::model::{Check, Status};
use crate::state::AppState;

/// GLAIR's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::server::at;
    cfg.service(
        at!("/face/v1/passive-liveness-sessions", POST => create).wrap(
            actix_web::middleware::from_fn(crate::idempotency::idempotent),
        ),
    )
    .service(at!("/face/v1/passive-liveness-sessions/{sid}", GET => get));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, get))]
pub struct Doc;

/// GLAIR sessions last a day unless they finish first.
const SESSION_MINUTES: i64 = 24 * 60;

/// Other fields are ignored, as a drop-in for GLAIR's service must not refuse a request
/// its own SDK sends.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateGlairSession {
    /// Where the browser goes after a successful capture, with `sid` appended.
    pub success_url: String,
    /// Shows a back button on the capture page that leads here.
    pub cancel_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GlairSession {
    pub sid: String,
    /// PENDING | FINISHED | CANCELLED | EXPIRED
    pub status: String,
    /// End of validity, ms since the Unix epoch.
    pub expired: i64,
    /// The single-use capture link.
    pub url: String,
    pub success_url: String,
    pub cancel_url: Option<String>,
    /// Null until FINISHED.
    pub result: Option<GlairResult>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GlairResult {
    /// `success` when the capture could be judged, `failed` when it could not (no face,
    /// no frames); then `reason` says why.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<GlairSpoof>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GlairSpoof {
    /// 0–1: how likely the face was presented rather than live.
    pub spoof_percentage: f32,
    /// Spoof risk: LOW | MODERATE | HIGH.
    pub status: String,
}

fn spoof(check: &Check) -> Option<GlairResult> {
    let o = check.outcome.as_ref()?;
    let attack = matches!(
        o.failure_reason,
        Some(
            FailureReason::SpoofDetected
                | FailureReason::NoLiveMotion
                | FailureReason::FaceMismatch
        )
    );
    // Grey-scale, too small or too noisy to judge: no spoof risk to report either way.
    let unsuitable = o.failure_reason == Some(FailureReason::UnsuitableCapture);
    let Some(score) = o.anti_spoof_score.filter(|_| !unsuitable) else {
        return Some(GlairResult {
            status: "failed".into(),
            result: None,
            reason: o.failure_reason.map(|r| r.code().to_string()),
        });
    };
    let pct = if matches!(
        o.failure_reason,
        Some(FailureReason::NoLiveMotion | FailureReason::FaceMismatch)
    ) {
        1.0
    } else {
        // Five decimals, as the document's sample.
        ((100.0 - score).clamp(0.0, 100.0) * 1000.0).round() / 100_000.0
    };
    let level = if attack || pct > 0.6 {
        "HIGH"
    } else if pct > 0.3 || !o.passed {
        "MODERATE"
    } else {
        "LOW"
    };
    Some(GlairResult {
        status: "success".into(),
        result: Some(GlairSpoof {
            spoof_percentage: pct,
            status: level.into(),
        }),
        reason: None,
    })
}

fn session(state: &AppState, check: &Check) -> GlairSession {
    let status = if check.is_expired(Utc::now()) {
        "EXPIRED"
    } else {
        match check.status {
            Status::Pending | Status::InProgress => "PENDING",
            Status::Completed | Status::Failed => "FINISHED",
            Status::Cancelled => "CANCELLED",
            Status::Expired => "EXPIRED",
        }
    };
    GlairSession {
        sid: check.id.clone(),
        status: status.into(),
        expired: check.expires_at.timestamp_millis(),
        url: capture_url(state, check),
        success_url: check.return_url.clone(),
        cancel_url: check.cancel_url.clone(),
        result: spoof(check),
    }
}

#[utoipa::path(post, operation_id = "glair_create", path = "/face/v1/passive-liveness-sessions", request_body = CreateGlairSession,
    responses((status = 200, body = GlairSession), (status = 400, description = "invalid_request"),
              (status = 401, description = "unauthorized")),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<CreateGlairSession>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let req = CreateCheck {
        return_url: body.success_url,
        cancel_url: body.cancel_url,
        link_valid_mins: Some(SESSION_MINUTES),
        mode: Some("passive".into()),
        ..CreateCheck::default()
    };
    let check = create::create(&state, &customer.0, req, |c| {
        c.return_params.id = Some("sid".into());
    })
    .await?;
    Ok(HttpResponse::Ok().json(session(&state, &check)))
}

#[utoipa::path(get, operation_id = "glair_get", path = "/face/v1/passive-liveness-sessions/{sid}", params(("sid" = String, Path)),
    responses((status = 200, body = GlairSession), (status = 404, description = "not_found"),
              (status = 401, description = "unauthorized")),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    customer: Customer,
    sid: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = owned(&state, &customer, sid.into_inner()).await?;
    Ok(HttpResponse::Ok().json(session(&state, &check)))
}
