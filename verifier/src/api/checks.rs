//! The customer API: create a check, read its result, list, erase, redeem an lc_token,
//! fetch images and inspect webhook deliveries.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use livecheck_core::challenge::ChallengeKind;
use livecheck_core::decision::FailureReason;
use livecheck_core::face_match::{MatchThresholds, MatchVerdict};
use livecheck_core::manifest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Customer;
use crate::checks::create::{self, CreateCheck};
use crate::checks::reference::attach_reference;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Attempt, Check, DeliveryState, ImageKind, Outcome, Status};
use crate::state::AppState;
use crate::store::{Erased, StoreError};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckCreated {
    pub id: String,
    /// For `GET /liveness_check?token=`.
    pub token: String,
    /// The single-use capture link to open in the user's browser.
    pub url: String,
    /// Webhook signing secret (`whsec_…`), shown only here.
    pub secret: String,
    pub webhook_url: Option<String>,
    pub expires_at: DateTime<Utc>,
    #[schema(value_type = Vec<String>)]
    pub challenges: Vec<ChallengeKind>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChallengeResult {
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: ChallengeKind,
    pub passed: bool,
    /// Capture time of the action's peak, ms since capture start.
    pub t_ms: Option<u64>,
    /// The signal measured: baseline, start, peak, end.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelRef {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    pub id: String,
    /// pending | in_progress | completed | failed | cancelled | expired
    pub status: Status,
    /// Null until decided.
    pub passed: Option<bool>,
    /// 0–100.
    pub confidence: Option<f32>,
    pub threshold: u8,
    /// 0–100, higher = more live.
    pub anti_spoof_score: Option<f32>,
    /// active | passive
    pub mode: String,
    #[schema(value_type = Vec<String>)]
    pub script: Vec<ChallengeKind>,
    pub challenges: Vec<ChallengeResult>,
    /// Passive checks, once decided: the signs of a live face the frames showed.
    pub live_signs: Option<LiveSignsView>,
    /// Stable code: no_frames, face_not_found, multiple_faces, face_mismatch,
    /// spoof_detected, repeated_frames, capture_discontinuous, light_not_reflected,
    /// challenge_failed, no_live_motion (passive), unsuitable_capture (grey-scale,
    /// too small or too noisy a face to judge: not an attack).
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
    /// Capture attempts the user may make.
    pub max_attempts: u8,
    /// Every attempt judged so far, oldest first; once decided, the last is the one
    /// the fields above describe.
    pub attempts: Vec<AttemptView>,
    /// Once decided: whether the frames were one continuous take (repeated pictures
    /// set aside, the fastest motion as a share of a head's, flickers, the longest gap
    /// inside an action, non-rigid motion at rest, and the rule broken if any).
    #[schema(value_type = Option<Object>)]
    pub continuity: Option<livecheck_core::continuity::Continuity>,
    /// Checks with the light challenge, once decided: `opted_out`, and the verdict
    /// (`passed`, `correlation`, `gain`, `delay_ms`, steps measured and shown).
    #[schema(value_type = Option<Object>)]
    pub light_challenge: Option<crate::model::LightOutcome>,
    /// Once decided: the camera the SDK reported (and any known virtual camera its
    /// label names) and the frames' timing. They inform; they do not decide.
    pub risk_signals: Option<crate::risk::RiskSignals>,
    /// Whether a reference selfie is attached (at create or with PUT …/reference).
    pub reference_image: bool,
    /// match | no_match | uncertain: the probe image's face against the reference.
    /// Null without a reference, before the decision, or when the probe shows no face.
    /// Face match is reported beside `passed`, which is liveness alone.
    #[schema(value_type = Option<String>)]
    pub face_match: Option<MatchVerdict>,
    /// 0–100, `100 × (1 − distance / 1.2)`: dlib's operating point 0.6 reads as 50.
    pub face_match_score: Option<f32>,
    /// Euclidean distance of the two 128-d descriptors.
    pub face_match_distance: Option<f32>,
    /// The distances applied: match at most `match_at_most`, no match above
    /// `no_match_above`, uncertain in between.
    #[schema(value_type = Option<Object>)]
    pub face_match_thresholds: Option<MatchThresholds>,
    /// URL of the probe image (API key required).
    pub probe_image: Option<String>,
    pub audit_images: Vec<String>,
    pub frames: Option<usize>,
    pub user_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub erased_at: Option<DateTime<Utc>>,
    pub models: Vec<ModelRef>,
}

/// One capture attempt as judged.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first.
    pub attempt: u32,
    pub passed: bool,
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
    /// 0–100.
    pub confidence: f32,
    /// 0–100, higher = more live.
    pub anti_spoof_score: Option<f32>,
    pub challenges: Vec<ChallengeResult>,
    pub frames: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LiveSignsView {
    pub present: bool,
    /// Frames with a face mesh that were measured.
    pub frames: usize,
    /// Landmark motion no flat picture can make (after the best affine fit), percent of
    /// the outer eye corners' distance, 90th percentile over frames; 2 or more counts.
    pub non_rigid_motion: f32,
    /// Actions the user made unprompted.
    #[schema(value_type = Vec<String>)]
    pub events: Vec<ChallengeKind>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckPage {
    pub items: Vec<CheckResult>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Redeem {
    pub lc_token: String,
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub event: String,
    pub url: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn challenge_results(o: &Outcome) -> Vec<ChallengeResult> {
    o.challenges
        .iter()
        .map(|v| ChallengeResult {
            kind: v.kind,
            passed: v.passed,
            t_ms: v.t_ms,
            values: serde_json::to_value(&v.values).unwrap_or_default(),
        })
        .collect()
}

pub fn view(state: &AppState, check: &Check, probe: bool, audits: u32) -> CheckResult {
    let base = format!("{}/liveness_check/{}/images", state.public_url, check.id);
    let o = check.outcome.as_ref();
    let face_match = o.and_then(|o| o.face_match.as_ref());
    CheckResult {
        id: check.id.clone(),
        // Expired from the moment the link ran out, as the token lookup's 410 says,
        // not only once the sweeper has marked it.
        status: if check.is_expired(Utc::now()) {
            Status::Expired
        } else {
            check.status
        },
        passed: o.map(|o| o.passed),
        confidence: o.map(|o| o.confidence),
        threshold: check.threshold,
        anti_spoof_score: o.and_then(|o| o.anti_spoof_score),
        mode: if check.is_passive() {
            "passive"
        } else {
            "active"
        }
        .to_string(),
        script: check.challenges.clone(),
        live_signs: o
            .and_then(|o| o.live_signs.as_ref())
            .map(|s| LiveSignsView {
                present: s.present,
                frames: s.frames,
                non_rigid_motion: s.non_rigid_motion,
                events: s.events.iter().map(|e| e.kind).collect(),
            }),
        challenges: o.map(challenge_results).unwrap_or_default(),
        failure_reason: o.and_then(|o| o.failure_reason),
        max_attempts: check.max_attempts,
        attempts: check
            .attempts
            .iter()
            .chain(o)
            .zip(1..)
            .map(|(o, attempt)| AttemptView {
                attempt,
                passed: o.passed,
                failure_reason: o.failure_reason,
                confidence: o.confidence,
                anti_spoof_score: o.anti_spoof_score,
                challenges: challenge_results(o),
                frames: o.frames,
            })
            .collect(),
        continuity: o.and_then(|o| o.continuity.clone()),
        light_challenge: o.and_then(|o| o.light.clone()),
        risk_signals: o.and_then(|o| o.risk.clone()),
        reference_image: check.reference.is_some(),
        face_match: face_match.map(|m| m.verdict),
        face_match_score: face_match.map(|m| m.score),
        face_match_distance: face_match.map(|m| m.distance),
        face_match_thresholds: face_match.map(|m| m.thresholds),
        probe_image: probe.then(|| format!("{base}/probe")),
        audit_images: (0..audits).map(|i| format!("{base}/audit/{i}")).collect(),
        frames: o.map(|o| o.frames),
        user_id: check.user_id.clone(),
        metadata: check.metadata.clone(),
        created_at: check.created_at,
        expires_at: check.expires_at,
        completed_at: check.completed_at,
        erased_at: check.erased_at,
        models: state
            .models
            .iter()
            .map(|(name, sha256)| ModelRef {
                name: name.clone(),
                sha256: sha256.clone(),
            })
            .collect(),
    }
}

pub fn model_refs() -> Vec<(String, String)> {
    manifest::entries()
        .iter()
        .filter(|e| e.runs_in.iter().any(|r| r == "server"))
        .map(|e| (e.name.clone(), e.sha256.clone()))
        .collect()
}

/// `load_view` of each, in order (the pages of checks).
async fn load_views(
    state: &web::Data<AppState>,
    checks: Vec<Check>,
) -> ApiResult<Vec<CheckResult>> {
    let mut views = Vec::with_capacity(checks.len());
    for c in checks {
        views.push(load_view(state, c).await?);
    }
    Ok(views)
}

async fn load_view(state: &web::Data<AppState>, check: Check) -> ApiResult<CheckResult> {
    let (probe, audits) = state.store.image_counts(&check.id).await?;
    Ok(view(state, &check, probe, audits))
}

/// The caller's own check, or 404 (another key's check does not exist for it).
pub(crate) async fn owned(
    state: &web::Data<AppState>,
    customer: &Customer,
    id: String,
) -> ApiResult<Check> {
    match state.store.check(&id).await? {
        Some(c) if c.api_key_id == customer.0.id => Ok(c),
        _ => Err(ApiError::not_found("check")),
    }
}

#[utoipa::path(post, operation_id = "checks_create", path = "/liveness_check", request_body = CreateCheck,
    responses((status = 201, body = CheckCreated), (status = 400, description = "invalid_request"),
              (status = 401, description = "unauthorized"), (status = 429, description = "rate_limited")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<CreateCheck>,
) -> ApiResult<HttpResponse> {
    let check = create::create(&state, &customer.0, body.into_inner(), |_| {}).await?;
    Ok(HttpResponse::Created().json(CheckCreated {
        id: check.id.clone(),
        token: check.token.clone(),
        url: capture_url(&state, &check),
        secret: check.secret.clone(),
        webhook_url: check.webhook_url.clone(),
        expires_at: check.expires_at,
        challenges: check.challenges.clone(),
    }))
}

/// The single-use capture link of a check.
pub(crate) fn capture_url(state: &AppState, check: &Check) -> String {
    format!("{}/l/{}", state.public_url, check.link)
}

#[utoipa::path(get, operation_id = "checks_get_by_token", path = "/liveness_check", params(("token" = String, Query)),
    responses((status = 200, body = CheckResult), (status = 404, description = "not_found"),
              (status = 410, description = "expired")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn get_by_token(
    state: web::Data<AppState>,
    customer: Customer,
    query: web::Query<TokenQuery>,
) -> ApiResult<HttpResponse> {
    let token = query
        .into_inner()
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid("token is required"))?;
    let check = match state.store.check_by_token(&token).await? {
        Some(c) if c.api_key_id == customer.0.id => c,
        _ => return Err(ApiError::not_found("check")),
    };
    if check.is_expired(Utc::now()) {
        return Err(ApiError::expired());
    }
    Ok(HttpResponse::Ok().json(load_view(&state, check).await?))
}

#[utoipa::path(get, operation_id = "checks_get_by_id", path = "/liveness_check/{id}", params(("id" = String, Path)),
    responses((status = 200, body = CheckResult), (status = 404, description = "not_found")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn get_by_id(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = owned(&state, &customer, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(load_view(&state, check).await?))
}

#[utoipa::path(get, operation_id = "checks_by_user", path = "/liveness_check/user/{user_id}",
    params(("user_id" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = CheckPage)), security(("api_key" = []), ("api_key_header" = [])))]
pub async fn by_user(
    state: web::Data<AppState>,
    customer: Customer,
    user_id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (page, limit) = page_and_limit(&query)?;
    let offset = (page - 1).saturating_mul(limit);
    let (checks, total) = state
        .store
        .checks_by_user(&customer.0.id, &user_id, false, offset, limit)
        .await?;
    Ok(HttpResponse::Ok().json(CheckPage {
        items: load_views(&state, checks).await?,
        page,
        limit,
        total,
    }))
}

/// `page` (from 1, default 1) and `limit` (1–100, default 20).
pub(crate) fn page_and_limit(query: &PageQuery) -> ApiResult<(u32, u32)> {
    let page = query.page.unwrap_or(1);
    let limit = query.limit.unwrap_or(20);
    if page == 0 || !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("page starts at 1; limit is 1 to 100"));
    }
    Ok((page, limit))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// pending | in_progress | completed | failed | expired | cancelled
    pub status: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// 1–100, default 20.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckList {
    /// Newest first.
    pub data: Vec<CheckResult>,
    pub has_more: bool,
    /// For the next page (`?cursor=`), while `has_more`; the same filters must be sent.
    pub next_cursor: Option<String>,
}

/// A cursor: where a page ended, as the list orders (created time in ms, then id).
fn cursor_of(check: &Check) -> String {
    use base64::Engine as _;
    let raw = format!("{}:{}", check.created_at.timestamp_millis(), check.id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn parse_cursor(cursor: &str) -> ApiResult<(DateTime<Utc>, String)> {
    use base64::Engine as _;
    let bad = || ApiError::invalid("cursor is not one this API gave");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (ms, id) = raw.split_once(':').ok_or_else(bad)?;
    let at = ms
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(bad)?;
    Ok((at, id.to_string()))
}

#[utoipa::path(get, operation_id = "checks_list", path = "/liveness_checks", params(ListQuery),
    responses((status = 200, body = CheckList), (status = 400, description = "invalid_request")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    customer: Customer,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit is 1 to 100"));
    }
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "status must be pending, in_progress, completed, failed, expired or cancelled, not {s:?}"
                ))
            })
        })
        .transpose()?;
    let filter = crate::store::CheckFilter {
        status,
        created_from: q.created_from,
        created_before: q.created_before,
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        now: Utc::now(),
    };
    // One more than asked: whether another page follows.
    let key = &customer.0.id;
    let mut checks = state.store.list_checks(key, &filter, limit + 1).await?;
    let has_more = checks.len() > limit as usize;
    checks.truncate(limit as usize);
    let next_cursor = has_more.then(|| checks.last().map(cursor_of)).flatten();
    Ok(HttpResponse::Ok().json(CheckList {
        data: load_views(&state, checks).await?,
        has_more,
        next_cursor,
    }))
}

#[utoipa::path(delete, operation_id = "checks_erase", path = "/liveness_check/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Erased), (status = 404, description = "not_found")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn erase(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = owned(&state, &customer, id.into_inner()).await?;
    let erased = state.store.erase_check(&check.id, Utc::now()).await?;
    tracing::info!(erased = ?erased, "check erased");
    Ok(HttpResponse::Ok().json(erased))
}

#[utoipa::path(post, operation_id = "checks_redeem", path = "/liveness_check/redeem", request_body = Redeem,
    responses((status = 200, body = CheckResult), (status = 401, description = "invalid_token"),
              (status = 409, description = "already_redeemed")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn redeem(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<Redeem>,
) -> ApiResult<HttpResponse> {
    let claims = state
        .tokens
        .verify(&body.lc_token)
        .map_err(|e| ApiError::new(ErrorCode::InvalidToken, e.to_string()))?;
    let check = owned(&state, &customer, claims.sub.clone())
        .await
        .map_err(|_| ApiError::new(ErrorCode::InvalidToken, "the token's check is not yours"))?;
    match state
        .store
        .redeem_token(&claims.jti, &claims.sub, Utc::now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::AlreadyRedeemed,
                "this lc_token was already redeemed",
            ))
        }
        Err(StoreError::NotFound) => {
            return Err(ApiError::new(ErrorCode::InvalidToken, "unknown token"))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(HttpResponse::Ok().json(load_view(&state, check).await?))
}

#[utoipa::path(put, operation_id = "checks_put_reference", path = "/liveness_check/{id}/reference", params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg",
        description = "a JPEG, PNG, WebP or HEIC image showing one face"),
    responses((status = 200, body = CheckResult), (status = 404, description = "not_found"),
        (status = 409, description = "invalid_state (the check was erased)"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type"),
        (status = 422, description = "invalid_image, reference_no_face, reference_multiple_faces")),
    security(("api_key" = []), ("api_key_header" = [])))]
/// Attaches (or replaces) the reference selfie. On a decided check the face match is
/// computed at once against the stored probe image.
pub async fn put_reference(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let check = owned(&state, &customer, id.into_inner()).await?;
    let check = attach_reference(&state, check, body.to_vec()).await?;
    Ok(HttpResponse::Ok().json(load_view(&state, check).await?))
}

#[utoipa::path(get, operation_id = "checks_probe_image", path = "/liveness_check/{id}/images/probe", params(("id" = String, Path)),
    responses((status = 200, description = "the image bytes"), (status = 404, description = "not_found")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn probe_image(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    image(state, customer, id.into_inner(), ImageKind::Probe, 0).await
}

#[utoipa::path(get, operation_id = "checks_audit_image", path = "/liveness_check/{id}/images/audit/{index}",
    params(("id" = String, Path), ("index" = u32, Path)),
    responses((status = 200, description = "the image bytes"), (status = 404, description = "not_found")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn audit_image(
    state: web::Data<AppState>,
    customer: Customer,
    path: web::Path<(String, u32)>,
) -> ApiResult<HttpResponse> {
    let (id, index) = path.into_inner();
    image(state, customer, id, ImageKind::Audit, index).await
}

async fn image(
    state: web::Data<AppState>,
    customer: Customer,
    id: String,
    kind: ImageKind,
    index: u32,
) -> ApiResult<HttpResponse> {
    let check = owned(&state, &customer, id).await?;
    let img = state
        .store
        .image(&check.id, kind, index)
        .await?
        .ok_or_else(|| ApiError::not_found("image"))?;
    Ok(HttpResponse::Ok()
        .content_type(img.content_type)
        .insert_header(("cache-control", "no-store"))
        .body(img.bytes))
}

#[utoipa::path(get, operation_id = "checks_deliveries", path = "/liveness_check/{id}/deliveries", params(("id" = String, Path)),
    responses((status = 200, body = Vec<DeliveryView>)), security(("api_key" = []), ("api_key_header" = [])))]
pub async fn deliveries(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = owned(&state, &customer, id.into_inner()).await?;
    let list = state.store.deliveries(&check.id).await?;
    let views: Vec<DeliveryView> = list
        .into_iter()
        .map(|(d, attempts)| DeliveryView {
            id: d.id,
            event: d.event,
            url: d.url,
            state: d.state,
            attempts,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(post, operation_id = "checks_retry_delivery", path = "/liveness_check/{id}/deliveries/{delivery_id}/retry",
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, description = "queued"), (status = 404, description = "not_found")),
    security(("api_key" = []), ("api_key_header" = [])))]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    customer: Customer,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, delivery) = path.into_inner();
    let check = owned(&state, &customer, id).await?;
    state
        .store
        .retry_delivery(&check.id, &delivery, Utc::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("delivery"),
            e => e.into(),
        })?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"queued": true})))
}
