//! VerifyHQ's liveness sessions, as a dialect of the one check model. A session is an
//! active check driven from the customer's server: its token is the `sessionToken`,
//! each challenge is answered by one photo (multipart), judged alone by core's absolute
//! `StillRules` (no baseline exists), and after the last photo core's `decide_stills`
//! decides: every photo passed its challenge, one face in each, the same person in all,
//! anti-spoof over all photos. One photo per challenge, in order; no retries.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use livecheck_core::challenge::ChallengeKind;
use livecheck_core::decision::FailureReason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::checks::PageQuery;
use crate::api::form::Form;
use crate::api::Customer;
use crate::checks::create::{self, CreateCheck};
use crate::checks::photos;
use crate::checks::reference::attach_reference;
use crate::error::{ApiError, ApiResult};
use crate::model::{Check, Status};
use crate::state::AppState;

const SESSION_MINUTES: i64 = 10;

/// The dialect's routes, at the document's `/v1/verifications/…` and without the
/// version prefix.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::server::at;
    for prefix in ["", "/v1"] {
        let path = |p: &str| format!("{prefix}/verifications/liveness{p}");
        cfg.service(
            at!(&path("/session"), POST => create).wrap(actix_web::middleware::from_fn(
                crate::idempotency::idempotent,
            )),
        )
        .service(at!(&path("/challenge"), POST => answer))
        .service(at!(&path("/reference-selfie"), POST => reference_selfie))
        .service(at!(&path("/user/{user_id}"), GET => by_user))
        .service(at!(&path("/{id}"), GET => get));
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, answer, reference_selfie, get, by_user))]
pub struct Doc;

/// Other fields are ignored (a drop-in does not refuse what the service took).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
// Both dialects call theirs CreateSession: one name in the document would describe
// one dialect's body as the other's.
#[schema(as = VerifyHqCreateSession)]
pub struct CreateSession {
    pub user_id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    /// `ch_001`, `ch_002`, … in the order they must be answered.
    pub id: String,
    /// BLINK | TURN_LEFT | TURN_RIGHT | LOOK_UP | SMILE | OPEN_MOUTH
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: ChallengeKind,
    pub instruction: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = VerifyHqSessionCreated)]
pub struct SessionCreated {
    /// The session's id, for `GET /verifications/liveness/{id}`.
    pub id: String,
    pub session_token: String,
    pub expires_at: DateTime<Utc>,
    pub challenges: Vec<Challenge>,
    pub instructions: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LivenessResult {
    pub is_alive: bool,
    /// 0–1: the anti-spoof score scaled by the share of challenges passed.
    pub confidence: f32,
    /// 0–1, higher = more live.
    pub anti_spoof_score: Option<f32>,
    /// 0–1 against the reference selfie (null without one).
    pub face_match_score: Option<f32>,
    /// Null when alive; else no_frames, face_not_found, multiple_faces, face_mismatch,
    /// spoof_detected, unsuitable_capture (grey-scale, too small or too noisy a face to judge) or
    /// challenge_failed.
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub session_token: String,
    /// IN_PROGRESS | COMPLETED
    pub status: String,
    pub challenges_completed: usize,
    pub challenges_total: usize,
    pub is_complete: bool,
    /// What to do next, in words (while IN_PROGRESS): "Submit photo for remaining 1
    /// challenge(s)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    /// The challenge to answer next (while IN_PROGRESS); an extension of livecheck's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_challenge: Option<Challenge>,
    /// Once COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<LivenessResult>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub user_id: Option<String>,
    /// PENDING | IN_PROGRESS | COMPLETED | EXPIRED | CANCELLED
    pub status: String,
    pub challenges: Vec<Challenge>,
    pub challenges_completed: usize,
    pub challenges_total: usize,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub result: Option<LivenessResult>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionPage {
    pub items: Vec<Session>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

/// The document's wording, except where a still photo must show more than it says: a
/// blink is a photo with the eyes shut, and an open mouth must be open wide (a resting
/// mouth reads 0.02–0.36 jaw-open on the test photos, a slightly open one 0.28–0.36).
fn instruction(kind: ChallengeKind) -> &'static str {
    match kind {
        ChallengeKind::Blink => "Blink both eyes: take the photo with them closed",
        ChallengeKind::TurnLeft => "Turn your head to the left",
        ChallengeKind::TurnRight => "Turn your head to the right",
        ChallengeKind::LookUp => "Look upward",
        ChallengeKind::Smile => "Smile naturally",
        ChallengeKind::OpenMouth => "Open your mouth wide",
    }
}

/// Scores are 0–1 in this dialect (the document's samples: 0.95, 0.98, 0.92), 0–100 in
/// the check model; four decimals, as the model's own two.
fn unit(score: f32) -> f32 {
    (score / 100.0 * 10_000.0).round() / 10_000.0
}

fn challenge(i: usize, kind: ChallengeKind) -> Challenge {
    Challenge {
        id: format!("ch_{:03}", i + 1),
        kind,
        instruction: instruction(kind).into(),
    }
}

fn challenges(check: &Check) -> Vec<Challenge> {
    check
        .challenges
        .iter()
        .enumerate()
        .map(|(i, k)| challenge(i, *k))
        .collect()
}

fn result(check: &Check) -> Option<LivenessResult> {
    let o = check.outcome.as_ref()?;
    Some(LivenessResult {
        is_alive: o.passed,
        confidence: unit(o.confidence),
        anti_spoof_score: o.anti_spoof_score.map(unit),
        face_match_score: o.face_match.as_ref().map(|m| unit(m.score)),
        failure_reason: o.failure_reason,
    })
}

fn session(check: &Check) -> Session {
    let status = if check.is_expired(Utc::now()) {
        "EXPIRED"
    } else {
        match check.status {
            Status::Pending => "PENDING",
            Status::InProgress => "IN_PROGRESS",
            Status::Completed | Status::Failed => "COMPLETED",
            Status::Cancelled => "CANCELLED",
            Status::Expired => "EXPIRED",
        }
    };
    Session {
        id: check.id.clone(),
        user_id: check.user_id.clone(),
        status: status.into(),
        challenges: challenges(check),
        challenges_completed: check.frames as usize,
        challenges_total: check.challenges.len(),
        created_at: check.created_at,
        expires_at: check.expires_at,
        completed_at: check.completed_at,
        result: result(check),
    }
}

/// The caller's photo session by its token, or by its id (other checks are not
/// VerifyHQ sessions and do not exist here).
async fn by_token_or_id(
    state: &web::Data<AppState>,
    customer: &Customer,
    key: String,
) -> ApiResult<Check> {
    let found = match state.store.check_by_token(&key).await? {
        Some(c) => Some(c),
        None => state.store.check(&key).await?,
    };
    match found {
        Some(c) if c.api_key_id == customer.0.id && c.photo_session => Ok(c),
        _ => Err(ApiError::not_found("session")),
    }
}

#[utoipa::path(post, operation_id = "verifyhq_create", path = "/v1/verifications/liveness/session", request_body = CreateSession,
    responses((status = 201, body = SessionCreated), (status = 400, description = "invalid_request"),
              (status = 401, description = "unauthorized")),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<CreateSession>,
) -> ApiResult<HttpResponse> {
    let req = CreateCheck {
        // No browser comes back from a server-driven session; the field is required.
        return_url: format!("{}/end", state.public_url),
        link_valid_mins: Some(SESSION_MINUTES),
        user_id: Some(body.into_inner().user_id),
        // Photos answered one by one: no screen to light the face.
        light_challenge: Some(false),
        // Photos answered one by one over the API: the API's caller retries.
        max_attempts: Some(1),
        ..CreateCheck::default()
    };
    let check = create::create(&state, &customer.0, req, |c| c.photo_session = true).await?;
    Ok(HttpResponse::Created().json(SessionCreated {
        id: check.id.clone(),
        session_token: check.token.clone(),
        expires_at: check.expires_at,
        challenges: challenges(&check),
        instructions: format!(
            "Submit a photo for each challenge using POST /verifications/liveness/challenge. \
             Complete all challenges within {SESSION_MINUTES} minutes."
        ),
    }))
}

#[utoipa::path(post, operation_id = "verifyhq_answer", path = "/v1/verifications/liveness/challenge",
    request_body(content = String, content_type = "multipart/form-data",
        description = "sessionToken, challengeId, photo (file)"),
    responses((status = 200, body = Progress), (status = 400, description = "invalid_request"),
        (status = 401, description = "unauthorized"), (status = 404, description = "not_found"),
        (status = 409, description = "invalid_state (finished, or not the next challenge)"),
        (status = 410, description = "expired"), (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type"),
        (status = 422, description = "invalid_image")),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn answer(
    state: web::Data<AppState>,
    customer: Customer,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut form = Form::read(
        req.headers(),
        payload,
        &["photo"],
        state.config.checks.max_frame_bytes,
    )
    .await?;
    let token = form.text("sessionToken")?.to_string();
    let challenge_id = form.text("challengeId")?.to_string();
    let photo = form.image("photo")?;
    let check = by_token_or_id(&state, &customer, token).await?;
    if check.is_expired(Utc::now()) {
        return Err(ApiError::expired());
    }
    if check.status.is_terminal() {
        return Err(ApiError::invalid_state(format!(
            "the session is {}",
            check.status.as_str()
        )));
    }
    let next = check.frames as usize;
    let total = check.challenges.len();
    let Some(&kind) = check.challenges.get(next) else {
        // Every photo arrived but the decision was not recorded (an error while judging):
        // decide now instead of leaving the session stuck.
        let decided = photos::decide(&state, check).await?;
        return Ok(HttpResponse::Ok().json(completed(&decided)));
    };
    let expected = challenge(next, kind);
    if challenge_id != expected.id {
        return Err(ApiError::invalid_state(format!(
            "the next challenge is {}",
            expected.id
        )));
    }
    photos::add(&state, &check, next as u32, photo).await?;
    let done = next + 1;
    if done < total {
        return Ok(HttpResponse::Ok().json(Progress {
            session_token: check.token.clone(),
            status: "IN_PROGRESS".into(),
            challenges_completed: done,
            challenges_total: total,
            is_complete: false,
            next_step: Some(format!(
                "Submit photo for remaining {} challenge(s)",
                total - done
            )),
            next_challenge: Some(challenge(done, check.challenges[done])),
            result: None,
        }));
    }
    let decided = photos::decide(&state, check).await?;
    Ok(HttpResponse::Ok().json(completed(&decided)))
}

fn completed(check: &Check) -> Progress {
    let total = check.challenges.len();
    Progress {
        session_token: check.token.clone(),
        status: "COMPLETED".into(),
        challenges_completed: total,
        challenges_total: total,
        is_complete: true,
        next_step: None,
        next_challenge: None,
        result: result(check),
    }
}

#[utoipa::path(post, operation_id = "verifyhq_reference_selfie", path = "/v1/verifications/liveness/reference-selfie",
    request_body(content = String, content_type = "multipart/form-data",
        description = "sessionToken, selfie (file)"),
    responses((status = 200, body = Session), (status = 404, description = "not_found"),
        (status = 413, description = "payload_too_large"),
        (status = 415, description = "unsupported_media_type"),
        (status = 422, description = "invalid_image, reference_no_face, reference_multiple_faces")),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn reference_selfie(
    state: web::Data<AppState>,
    customer: Customer,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut form = Form::read(
        req.headers(),
        payload,
        &["selfie"],
        state.config.checks.max_frame_bytes,
    )
    .await?;
    let token = form.text("sessionToken")?.to_string();
    let selfie = form.image("selfie")?;
    let check = by_token_or_id(&state, &customer, token).await?;
    let check = attach_reference(&state, check, selfie).await?;
    Ok(HttpResponse::Ok().json(session(&check)))
}

#[utoipa::path(get, operation_id = "verifyhq_get", path = "/v1/verifications/liveness/{id}",
    params(("id" = String, Path, description = "the session's id or its sessionToken")),
    responses((status = 200, body = Session), (status = 404, description = "not_found")),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = by_token_or_id(&state, &customer, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(session(&check)))
}

#[utoipa::path(get, operation_id = "verifyhq_by_user", path = "/v1/verifications/liveness/user/{user_id}",
    params(("user_id" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = SessionPage)),
    security(("api_key_header" = []), ("api_key" = [])))]
pub async fn by_user(
    state: web::Data<AppState>,
    customer: Customer,
    user_id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (page, limit) = crate::api::checks::page_and_limit(&query)?;
    let offset = (page - 1).saturating_mul(limit);
    let (checks, total) = state
        .store
        .checks_by_user(&customer.0.id, &user_id, true, offset, limit)
        .await?;
    Ok(HttpResponse::Ok().json(SessionPage {
        items: checks.iter().map(session).collect(),
        page,
        limit,
        total,
    }))
}
