//! The browser's side of a check. The single-use link is the credential: claiming it
//! binds the check to one browser (a client token, also set as a cookie for the hosted
//! page), which then uploads signed frames and finishes. Nothing the client says about
//! its own checks is used: the decision is re-made from the pixels.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use livecheck_core::decision::FailureReason;
use livecheck_core::decode::{decode_upload, sniff_upload, SizeLimit};
use livecheck_core::protocol::{CaptureParams, ChainState, ChallengeScript, FrameEnvelope};
use livecheck_core::timeline::{CapturePlan, ClockLimits, Cue, LightPlan};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bearer, blocking};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::judge::{judge, JudgeInput};
use crate::lifecycle::{self, Ended};
use crate::model::{
    CaptureState, Check, FrameRef, ImageKind, LightOutcome, Status, StoredFrame, WayBack,
};
use crate::reference::match_probe;
use crate::risk::{FinishIn, RiskSignals};
use crate::secrets;
use crate::state::AppState;
use crate::store::{NextAttempt, StoreError};

/// Time the user has for each challenge of the script.
pub const CHALLENGE_WINDOW_MS: u64 = 5000;
/// The neutral baseline before the first challenge.
pub const BASELINE_MS: u64 = 1000;
/// A passive capture: this long of the user simply looking at the camera.
pub const PASSIVE_CAPTURE_MS: u64 = 3000;
/// Neutral time kept after the light sequence: its last step is measured at rest, and
/// anti-spoof runs on frames in plain light.
pub const LIGHT_TAIL_MS: u64 = 800;
pub const CLIENT_COOKIE: &str = "lc_client";
pub const ENVELOPE_HEADER: &str = "livecheck-envelope";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Claimed {
    /// Sent back as `Authorization: Bearer …` on every capture call.
    pub client_token: String,
    /// The challenge script (core's `ChallengeScript`).
    #[schema(value_type = Object)]
    pub script: ChallengeScript,
    /// Per-session frame-signing key, hex.
    pub frame_key: String,
    pub expires_at: DateTime<Utc>,
    /// Uploads are refused after this time.
    pub capture_deadline: DateTime<Utc>,
    pub can_cancel: bool,
}

/// The claim's optional JSON body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimIn {
    /// The user declined the light challenge's colours (photosensitivity); the result
    /// records it.
    pub light_opt_out: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FrameAccepted {
    pub seq: u32,
    pub frames: u32,
    /// What to show now (core's `timeline::Cue`): `challenge` (the latest revealed:
    /// `{index, type, revealed_ms, window_ms}`), `light` (`[r, g, b]` to paint around
    /// the preview, or null) and `light_done`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub cue: Cue,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Finished {
    /// `in_progress` when another attempt is offered.
    pub status: Status,
    pub passed: bool,
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
    /// Where the browser goes next: `return_url?lc_token=…` (`&error=<code>` when not
    /// passed). Null while another attempt is offered.
    pub redirect_url: Option<String>,
    /// The attempt was refused for something the user can put right (the reason says
    /// what) and another may start: `POST …/retry` when the user is ready, or cancel.
    pub retry: Option<RetryOffer>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RetryOffer {
    /// The attempt just refused, 1 for the first.
    pub attempt: u32,
    pub max_attempts: u32,
}

/// The next attempt's start: its own script and time; the client token and frame key
/// stay those of the claim.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Retried {
    /// 2 for the second.
    pub attempt: u32,
    #[schema(value_type = Object)]
    pub script: ChallengeScript,
    /// Uploads are refused after this time.
    pub capture_deadline: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Cancelled {
    pub status: Status,
    pub redirect_url: String,
}

/// A claimed check's capture plan: its challenges and their window, the neutral
/// baseline (longer when the light sequence runs in it) and the light sequence.
pub fn plan(check: &Check) -> CapturePlan {
    let light = check.capture.light.clone();
    let base = if check.is_passive() {
        PASSIVE_CAPTURE_MS
    } else {
        BASELINE_MS
    };
    let baseline_ms = match &light {
        Some(l) => base.max(l.start_ms + l.total_ms() + LIGHT_TAIL_MS),
        None => base,
    };
    CapturePlan {
        challenges: check.challenges.clone(),
        window_ms: CHALLENGE_WINDOW_MS,
        baseline_ms,
        light,
    }
}

/// What the claim hands out: the capture's shape, not its challenges or colours.
pub fn script(check: &Check, state: &AppState) -> ChallengeScript {
    let plan = plan(check);
    ChallengeScript {
        session_id: check.id.clone(),
        nonce: check.nonce.clone(),
        challenge_count: plan.challenges.len() as u16,
        window_ms: plan.window_ms,
        light: plan.light.is_some(),
        capture: CaptureParams {
            // Passive: no prompts; the whole capture is the neutral span the SDK holds.
            baseline_ms: plan.baseline_ms,
            max_frames: state.config.checks.max_frames,
            max_frame_bytes: state.config.checks.max_frame_bytes as u64,
            ..CaptureParams::default()
        },
    }
}

/// An attempt's capture state as it starts: a light sequence drawn now (secret until
/// each step is shown) unless the user declined it, which the log records.
fn starting_capture(check: &Check, light_opted_out: bool) -> CaptureState {
    let mut capture = CaptureState {
        light: (check.light_challenge && !light_opted_out)
            .then(|| LightPlan::from_seed(&secrets::random_bytes::<32>())),
        ..CaptureState::default()
    };
    if light_opted_out {
        capture.log.opt_out_of_light();
    }
    capture
}

/// Capture time the plan allows, ms.
fn plan_ms(plan: &CapturePlan) -> u64 {
    plan.baseline_ms + plan.window_ms * plan.challenges.len() as u64
}

fn deadline(check: &Check, state: &AppState) -> DateTime<Utc> {
    let span = plan_ms(&plan(check)) + state.config.checks.capture_grace.as_millis() as u64;
    let start = check.claimed_at.unwrap_or(check.created_at);
    (start + chrono::Duration::milliseconds(span as i64)).min(check.expires_at)
}

async fn by_link(state: &web::Data<AppState>, link: String) -> ApiResult<Check> {
    let store = state.store.clone();
    blocking(move || store.check_by_link(&link))
        .await?
        .ok_or_else(|| ApiError::not_found("link"))
}

pub fn client_token(req: &HttpRequest) -> Option<String> {
    bearer(req).or_else(|| req.cookie(CLIENT_COOKIE).map(|c| c.value().to_string()))
}

/// The claimed, open check this browser holds.
async fn session(state: &web::Data<AppState>, req: &HttpRequest, link: String) -> ApiResult<Check> {
    let check = by_link(state, link).await?;
    if !check.held_by(client_token(req).as_deref()) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this browser does not hold the link",
        ));
    }
    if check.is_expired(Utc::now()) {
        return Err(ApiError::expired());
    }
    if check.status != Status::InProgress {
        return Err(ApiError::invalid_state(format!(
            "the check is {}",
            check.status.as_str()
        )));
    }
    Ok(check)
}

/// The held check's attempt under way (not the pause after a refused one).
async fn attempt(state: &web::Data<AppState>, req: &HttpRequest, link: String) -> ApiResult<Check> {
    let check = session(state, req, link).await?;
    if check.awaiting_retry {
        return Err(ApiError::invalid_state(
            "the attempt was refused: start the next one (POST …/retry) or cancel",
        ));
    }
    Ok(check)
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
    state.limiter.check(
        format!("claim:{client}"),
        state.config.limits.claims_per_minute,
    )?;
    let claim_in: ClaimIn = if body.iter().all(u8::is_ascii_whitespace) {
        ClaimIn::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("claim body: {e}")))?
    };
    let link = link.into_inner();
    let check = by_link(&state, link.clone()).await?;
    if check.is_expired(Utc::now()) {
        return Err(ApiError::expired());
    }
    if check.status != Status::Pending {
        return Err(ApiError::new(
            ErrorCode::LinkAlreadyUsed,
            "this link was already used",
        ));
    }
    let token = secrets::new_token();
    let opted_out = check.light_challenge && claim_in.light_opt_out == Some(true);
    let capture = starting_capture(&check, opted_out);
    let now = Utc::now();
    let store = state.store.clone();
    let (id, hash) = (check.id.clone(), secrets::digest_hex(&token));
    let stored = capture.clone();
    match web::block(move || store.claim(&id, &hash, now, &stored)).await? {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::LinkAlreadyUsed,
                "this link was already used",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let claimed_check = Check {
        claimed_at: Some(now),
        capture,
        ..check
    };
    let body = Claimed {
        client_token: token.clone(),
        script: script(&claimed_check, &state),
        frame_key: claimed_check.frame_key.clone(),
        expires_at: claimed_check.expires_at,
        capture_deadline: deadline(&claimed_check, &state),
        can_cancel: claimed_check.cancel_url.is_some(),
    };
    let cookie = Cookie::build(CLIENT_COOKIE, token)
        .path(format!("/l/{link}"))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .finish();
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .insert_header(("cache-control", "no-store"))
        .json(body))
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
    let check = attempt(&state, &req, link.into_inner()).await?;
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
    if check.frames >= state.config.checks.max_frames {
        return Err(ApiError::new(
            ErrorCode::FrameLimitReached,
            format!(
                "a session holds at most {} frames",
                state.config.checks.max_frames
            ),
        ));
    }
    let max_bytes = state.config.checks.max_session_bytes;
    if check.frame_bytes + body.len() as u64 > max_bytes {
        return Err(ApiError::new(
            ErrorCode::FrameLimitReached,
            format!("a session holds at most {max_bytes} bytes of frames"),
        ));
    }
    let plan = plan(&check);
    let grace = state.config.checks.capture_grace.as_millis() as u64;
    if envelope.t_ms > plan_ms(&plan) + grace || Utc::now() > deadline(&check, &state) {
        return Err(ApiError::new(
            ErrorCode::OutsideTimeWindow,
            "the frame is outside the session's capture time window",
        ));
    }
    if finishing(&check, Utc::now()) {
        return Err(ApiError::invalid_state("the check is being finished"));
    }
    // The envelope first (cheap, and a forged frame costs us no decoding), then the
    // frame's time against the verifier's clock, read as the frame arrived.
    let clock_ms = (Utc::now() - check.claimed_at.unwrap_or(check.created_at))
        .num_milliseconds()
        .max(0) as u64;
    let mut chain = check.chain.clone();
    let key = hex::decode(&check.frame_key).map_err(ApiError::internal)?;
    chain.accept(&key, &envelope, &body)?;
    let mut capture = check.capture.clone();
    let cue = capture.log.admit(
        &plan,
        &ClockLimits::default(),
        envelope.t_ms,
        clock_ms,
        envelope.challenge_index,
    )?;
    // One decode per frame position at a time, and a bounded number in all.
    let _slot = UploadSlot::take(&state, &check.id, envelope.seq)?;
    let _permit = state.decoding.acquire().await.map_err(ApiError::internal)?;
    let bytes = body.to_vec();
    let decoded =
        web::block(move || decode_upload(&bytes, SizeLimit::FRAME).map(|_| bytes)).await?;
    let bytes = decoded.map_err(|e| ApiError::bad_image("frame", &e))?;
    let frame = StoredFrame {
        seq: envelope.seq,
        t_ms: envelope.t_ms,
        content_type: format.to_mime_type().to_string(),
        bytes,
    };
    let store = state.store.clone();
    let (id, expected) = (check.id.clone(), check.frames);
    let stored_chain = chain.clone();
    match web::block(move || {
        store.add_frame(&id, expected, &stored_chain, &capture, &frame, max_bytes)
    })
    .await?
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            // A finish took the lease meanwhile, or a concurrent upload won.
            let store = state.store.clone();
            let id = check.id.clone();
            let now = blocking(move || store.check(&id)).await?;
            return Err(match now {
                Some(c) if finishing(&c, Utc::now()) || c.status != Status::InProgress => {
                    ApiError::invalid_state("the check is being finished")
                }
                _ => ApiError::new(
                    ErrorCode::ReplayedFrame,
                    "this sequence number was already received",
                ),
            });
        }
        Err(e) => return Err(e.into()),
    }
    Ok(HttpResponse::Created().json(FrameAccepted {
        seq: envelope.seq,
        frames: chain.next_seq,
        cue,
    }))
}

/// A frame position being uploaded in this process, released however the upload ends.
struct UploadSlot<'a> {
    state: &'a AppState,
    key: (String, u32),
}

impl<'a> UploadSlot<'a> {
    fn take(state: &'a AppState, check_id: &str, seq: u32) -> ApiResult<Self> {
        let key = (check_id.to_string(), seq);
        let mut set = state.uploading.lock().map_err(ApiError::internal)?;
        if !set.insert(key.clone()) {
            return Err(ApiError::new(
                ErrorCode::ReplayedFrame,
                "this sequence number is already being received",
            ));
        }
        Ok(Self { state, key })
    }
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.state.uploading.lock() {
            set.remove(&self.key);
        }
    }
}

/// How long a finish's lease holds: a finish takes seconds; a lease this old was left
/// by a process that died mid-finish, and another finish may take it over.
const FINISH_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// Whether a finish holds the check's lease at `now`.
fn finishing(check: &Check, now: DateTime<Utc>) -> bool {
    check.finishing_at.is_some_and(|at| at > now - FINISH_LEASE)
}

/// Releases the finish lease however the finish ends (after a decision the check is
/// no longer in progress, and the release changes nothing).
struct FinishLease {
    store: std::sync::Arc<dyn crate::store::Store>,
    check_id: String,
}

impl Drop for FinishLease {
    fn drop(&mut self) {
        let (store, id) = (self.store.clone(), std::mem::take(&mut self.check_id));
        // Drop cannot wait; the store call is short and runs on its own thread.
        std::thread::spawn(move || {
            if let Err(e) = store.end_finish(&id) {
                tracing::error!(error = %e, "could not release a finish lease");
            }
        });
    }
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
    let report: FinishIn = if body.iter().all(u8::is_ascii_whitespace) {
        FinishIn::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("finish body: {e}")))?
    };
    let check = attempt(&state, &req, link.into_inner()).await?;
    state.engine()?;
    // The lease first: from here on no frame is added, so the frames and the capture's
    // log read next are the whole capture.
    let (store, id, now) = (state.store.clone(), check.id.clone(), Utc::now());
    match web::block(move || store.begin_finish(&id, now, now - FINISH_LEASE)).await? {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::invalid_state(
                "the check is already being finished",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let _lease = FinishLease {
        store: state.store.clone(),
        check_id: check.id.clone(),
    };
    // The decision's turn before any frame is read: waiting finishes hold nothing.
    let _turn = state.judging.acquire().await.map_err(ApiError::internal)?;
    let store = state.store.clone();
    let id = check.id.clone();
    let (check, frames) = blocking(move || {
        let check = store.check(&id)?.ok_or(StoreError::NotFound)?;
        Ok((check, store.frame_refs(&id)?))
    })
    .await?;
    let plan = plan(&check);
    let log = check.capture.log.clone();
    let limits = ClockLimits::default();
    let windows = log.windows(&plan, &limits);
    let baseline_ms = log.baseline_end_ms(&plan, &limits);
    let light = log.light_shown(&plan).map(|(shown, off)| {
        let last = log.frames.last().map(|f| f.t_ms).unwrap_or(0);
        (shown, off.unwrap_or(last))
    });
    let st = state.clone();
    let audit = check.audit_images as usize;
    let threshold = check.threshold as f32;
    let id = check.id.clone();
    let judgement = web::block(move || {
        let engine = st.engine()?;
        // A frame gone meanwhile: the check was erased or ended under the finish.
        let load = |f: &FrameRef| -> ApiResult<Vec<u8>> {
            st.store.frame_bytes(&id, f.seq).map_err(|e| match e {
                StoreError::NotFound => ApiError::invalid_state("the check ended while judged"),
                e => e.into(),
            })
        };
        judge(
            engine,
            &JudgeInput {
                frames: &frames,
                windows: &windows,
                baseline_ms,
                light: light.as_ref().map(|(s, off)| (s.as_slice(), *off)),
                threshold,
                audit_images: audit,
                anti_spoof_frames: st.config.checks.anti_spoof_frames,
            },
            load,
        )
    })
    .await??;

    let mut outcome = judgement.outcome;
    if check.light_challenge {
        outcome.light = Some(LightOutcome {
            opted_out: log.light_opted_out,
            result: judgement.light,
        });
    }
    outcome.risk = Some(RiskSignals::new(report, &log.frames));
    // Face match: the probe against the reference, read again now in case it was
    // attached while the frames were being judged.
    let store = state.store.clone();
    let id = check.id.clone();
    let reference = blocking(move || store.check(&id))
        .await?
        .and_then(|c| c.reference);
    let probe = judgement
        .images
        .iter()
        .find(|i| i.kind == ImageKind::Probe)
        .map(|i| i.bytes.clone());
    if let (Some(reference), Some(probe)) = (reference, probe) {
        let st = state.clone();
        outcome.face_match =
            web::block(move || match_probe(st.engine()?, &probe, &reference)).await??;
    }
    let now = Utc::now();
    if check.may_retry(&outcome, now) {
        // Refused for something the user can put right: the attempt is kept, its frames
        // go, and the check waits for the next one.
        let mut attempts = check.attempts.clone();
        attempts.push(outcome.clone());
        let store = state.store.clone();
        let id = check.id.clone();
        let n = attempts.len() as u32;
        blocking(move || store.end_attempt(&id, &attempts)).await?;
        tracing::info!(check = %check.id, attempt = n, reason = ?outcome.failure_reason, "attempt refused; another offered");
        return Ok(HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(Finished {
                status: Status::InProgress,
                passed: false,
                failure_reason: outcome.failure_reason,
                redirect_url: None,
                retry: Some(RetryOffer {
                    attempt: n,
                    max_attempts: check.max_attempts as u32,
                }),
            }));
    }
    let status = Status::decided(outcome.passed);
    let (jwt, claims) = state
        .tokens
        .issue(&check.id, outcome.passed, status.as_str(), now)
        .map_err(ApiError::internal)?;
    let exp = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
    let store = state.store.clone();
    let (decided, stored, images) = (check.clone(), outcome.clone(), judgement.images);
    blocking(move || {
        let token = Some((claims.jti, exp));
        lifecycle::decide(store.as_ref(), &decided, &stored, &images, token, now)
    })
    .await?;
    tracing::info!(check = %check.id, passed = outcome.passed, frames = outcome.frames, "check decided");

    let back = check.back_to(WayBack::Decided {
        lc_token: &jwt,
        error: outcome.failure_reason.map(FailureReason::code),
    });
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Finished {
            status,
            passed: outcome.passed,
            failure_reason: outcome.failure_reason,
            redirect_url: Some(back),
            retry: None,
        }))
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
    let check = session(&state, &req, link.into_inner()).await?;
    if !check.awaiting_retry {
        return Err(ApiError::invalid_state("no attempt is awaited"));
    }
    // A new script (the same actions in a new order, each revealed only when due) and a
    // new nonce, so no frame signed for the last attempt fits this one; the chain keeps
    // every image the check received, so none is accepted twice.
    let mut challenges = check.challenges.clone();
    challenges.shuffle(&mut rand::rngs::OsRng);
    let nonce = hex::encode(secrets::random_bytes::<32>());
    let mut chain = ChainState::new(&check.id, &nonce).map_err(ApiError::internal)?;
    chain.seen_images = check.chain.seen_images.clone();
    let capture = starting_capture(&check, check.capture.log.light_opted_out);
    let now = Utc::now();
    let store = state.store.clone();
    let id = check.id.clone();
    let (c, n, ch, cap) = (
        challenges.clone(),
        nonce.clone(),
        chain.clone(),
        capture.clone(),
    );
    let next = move || {
        store.next_attempt(
            &id,
            &NextAttempt {
                challenges: &c,
                nonce: &n,
                chain: &ch,
                capture: &cap,
            },
            now,
        )
    };
    match web::block(next).await? {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::invalid_state("no attempt is awaited"))
        }
        Err(e) => return Err(e.into()),
    }
    let next = Check {
        challenges,
        nonce,
        chain,
        capture,
        claimed_at: Some(now),
        awaiting_retry: false,
        ..check
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Retried {
            attempt: next.attempts.len() as u32 + 1,
            script: script(&next, &state),
            capture_deadline: deadline(&next, &state),
        }))
}

/// Ends a check at the user's request. A pending link may be cancelled by whoever holds
/// it; a claimed one only by the browser that claimed it.
pub async fn cancel_check(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    link: String,
) -> ApiResult<String> {
    let check = by_link(state, link.clone()).await?;
    if check.status == Status::InProgress {
        session(state, req, link).await?;
    } else if check.status != Status::Pending {
        return Err(ApiError::invalid_state(format!(
            "the check is {}",
            check.status.as_str()
        )));
    }
    if check.is_expired(Utc::now()) {
        return Err(ApiError::expired());
    }
    let store = state.store.clone();
    let ending = check.clone();
    let ended = blocking(move || lifecycle::cancel(store.as_ref(), &ending, Utc::now())).await?;
    if ended == Ended::Already {
        return Err(ApiError::invalid_state("the check ended meanwhile"));
    }
    Ok(match &check.cancel_url {
        Some(u) => u.clone(),
        None => check.back_to(WayBack::Cancelled),
    })
}

#[utoipa::path(post, operation_id = "capture_cancel", path = "/capture/{link}/cancel", params(("link" = String, Path)),
    responses((status = 200, body = Cancelled), (status = 409, description = "invalid_state")))]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let redirect_url = cancel_check(&state, &req, link.into_inner()).await?;
    Ok(HttpResponse::Ok().json(Cancelled {
        status: Status::Cancelled,
        redirect_url,
    }))
}
