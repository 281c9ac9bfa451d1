//! Azure AI Face liveness sessions (v1.2) and Quick Link, as a dialect of the one check
//! model. A session allows 1–3 attempts; each attempt is a check of its own, opened
//! through a single-use Quick Link (`POST /api/s` with the session's auth token, then
//! `/?s=<uuid>` in the user's browser, which lands on the usual hosted page). `Passive`
//! sessions run passive checks; `PassiveActive` adds prompted challenges.
//!
//! An attempt is `Succeeded` once decided (`livenessDecision` realface when the check
//! passed, else spoofface) and `Failed` when it ended undecided (no usable face,
//! cancelled, expired). The session is `Succeeded` once an attempt is, `Canceled` after
//! DELETE, `Failed` when its attempts or its time ran out undecided, `NotStarted` before
//! the first attempt and `Running` otherwise. With a verify image, a decided attempt
//! carries `verifyResult {matchConfidence (0–1: face match score / 100), isIdentical
//! (face match verdict "match")}`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use livecheck_core::decision::FailureReason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::form::Form;
use crate::api::html::{escape, page};
use crate::api::{bearer, Customer};
use crate::checks::create::{self, check_url, CreateCheck};
use crate::checks::lifecycle;
use crate::checks::reference::describe_reference;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{with_params, Check, LivenessSession, Status};
use crate::secrets;
use crate::state::AppState;
use crate::store::{SessionKey, Store, StoreError};

/// Azure's routes: its two session kinds and Quick Link's `/api/s`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::server::at;
    let idempotent = || actix_web::middleware::from_fn(crate::idempotency::idempotent);
    cfg.service(at!("/face/v1.2/detectLiveness-sessions", POST => create).wrap(idempotent()))
        .service(at!(
            "/face/v1.2/detectLiveness-sessions/{sessionId}",
            GET => get,
            DELETE => delete
        ))
        .service(
            at!("/face/v1.2/detectLivenessWithVerify-sessions", POST => create_with_verify)
                .wrap(idempotent()),
        )
        .service(at!(
            "/face/v1.2/detectLivenessWithVerify-sessions/{sessionId}",
            GET => get,
            DELETE => delete
        ))
        .service(at!("/api/s", POST => quick_link).wrap(idempotent()))
        // A Quick Link opens at the verifier's root, `/?s=<uuid>[&callbackUrl=<url>]`;
        // without `s` the root is the verifier's own page.
        .service(
            web::resource("/")
                .guard(actix_web::guard::fn_guard(|ctx| {
                    query(ctx.head().uri.query().unwrap_or(""), "s").is_some()
                }))
                .route(web::get().to(open)),
        );
}

fn query(q: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /?s=<uuid>[&callbackUrl=<url>]`: opens a Quick Link.
async fn open(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let (link, callback) = (
        query(req.query_string(), "s"),
        query(req.query_string(), "callbackUrl"),
    );
    open_quick_link(&state, link.unwrap_or_default(), callback).await
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(create, create_with_verify, get, delete, quick_link))]
pub struct Doc;

/// Fields Azure documents and this dialect does not use are accepted; any other field is
/// ignored as well, so a client written for Azure's service (which adds fields over its
/// versions) is never refused for one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
// Both dialects call theirs CreateSession: one name in the document would describe
// one dialect's body as the other's.
#[schema(as = AzureCreateSession)]
pub struct CreateSession {
    /// Passive | PassiveActive
    pub liveness_operation_mode: String,
    pub device_correlation_id: Option<String>,
    /// Accepted for compatibility; the Quick Link page does not need it.
    pub device_correlation_id_set_in_client: Option<bool>,
    /// Accepted for compatibility; the probe image is always kept.
    pub enable_session_image: Option<bool>,
    /// Accepted for compatibility; there is one model set.
    pub liveness_model_version: Option<String>,
    /// 60–86400, default 600.
    pub auth_token_time_to_live_in_seconds: Option<i64>,
    /// 1–3, default 1.
    pub number_of_client_attempts_allowed: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AzureSessionCreated)]
pub struct SessionCreated {
    pub session_id: String,
    /// For `POST /api/s` (Quick Link); valid for authTokenTimeToLiveInSeconds.
    pub auth_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    pub match_confidence: f32,
    pub is_identical: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptResult {
    /// realface | spoofface
    pub liveness_decision: String,
    /// The attempt's check, for the livecheck API.
    pub check_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_result: Option<VerifyResult>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LivenessAttempt {
    pub attempt_id: usize,
    /// Running | Succeeded | Failed
    pub attempt_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<AttemptResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AttemptError>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResults {
    pub attempts: Vec<LivenessAttempt>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session_id: String,
    /// NotStarted | Running | Succeeded | Failed | Canceled
    pub status: String,
    pub liveness_operation_mode: String,
    pub auth_token_time_to_live_in_seconds: u32,
    pub number_of_client_attempts_allowed: u32,
    pub device_correlation_id: Option<String>,
    pub created_date_time: DateTime<Utc>,
    pub expected_expiration_date_time: DateTime<Utc>,
    pub results: SessionResults,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuickLinkRequest {
    /// Where the browser goes when the user finishes, abandons or times out, with
    /// `sessionId` appended (and `lc_token`, `error` or `outcome=canceled`).
    pub callback_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuickLink {
    /// Relative to this verifier: `/?s=<uuid>`, single use.
    pub url: String,
}

fn parse_create(req: &CreateSession) -> ApiResult<(bool, u32, u32)> {
    let passive = match req.liveness_operation_mode.as_str() {
        "Passive" => true,
        "PassiveActive" => false,
        other => {
            return Err(ApiError::invalid(format!(
                "livenessOperationMode must be Passive or PassiveActive, not {other:?}"
            )))
        }
    };
    let ttl = req.auth_token_time_to_live_in_seconds.unwrap_or(600);
    if !(60..=86_400).contains(&ttl) {
        return Err(ApiError::invalid(
            "authTokenTimeToLiveInSeconds must be 60 to 86400",
        ));
    }
    let attempts = req.number_of_client_attempts_allowed.unwrap_or(1);
    if !(1..=3).contains(&attempts) {
        return Err(ApiError::invalid(
            "numberOfClientAttemptsAllowed must be 1 to 3",
        ));
    }
    if req
        .device_correlation_id
        .as_ref()
        .is_some_and(|d| d.is_empty() || d.len() > 128)
    {
        return Err(ApiError::invalid(
            "deviceCorrelationId must be 1 to 128 characters",
        ));
    }
    Ok((passive, ttl as u32, attempts as u32))
}

async fn create_session(
    state: &web::Data<AppState>,
    customer: &Customer,
    req: CreateSession,
    verify_image: Option<Vec<u8>>,
) -> ApiResult<HttpResponse> {
    crate::checks::rate_limit::admit(
        state,
        format!("create:{}", customer.0.id),
        state.config.limits.creates_per_minute,
    )
    .await?;
    let (passive, ttl, attempts) = parse_create(&req)?;
    let with_verify = verify_image.is_some();
    let verify = match verify_image {
        Some(bytes) => Some(describe_reference(state, bytes).await?),
        None => None,
    };
    let token = secrets::new_token();
    let now = Utc::now();
    let session = LivenessSession {
        id: uuid(),
        api_key_id: customer.0.id.clone(),
        token_hash: secrets::digest_hex(&token),
        passive,
        device_correlation_id: req.device_correlation_id,
        token_ttl_secs: ttl,
        attempts_allowed: attempts,
        verify,
        with_verify,
        created_at: now,
        expires_at: now + chrono::Duration::seconds(ttl as i64),
        deleted_at: None,
        callback_url: None,
        quick_link: None,
        attempts: Vec::new(),
        revision: 0,
    };
    state.store.insert_session(&session).await?;
    Ok(HttpResponse::Ok().json(SessionCreated {
        session_id: session.id,
        auth_token: token,
    }))
}

/// A random UUID (version 4 layout), as Azure's ids and Quick Links look.
fn uuid() -> String {
    let mut b = secrets::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[utoipa::path(post, operation_id = "azure_create", path = "/face/v1.2/detectLiveness-sessions", request_body = CreateSession,
    responses((status = 200, body = SessionCreated), (status = 400, description = "invalid_request"),
              (status = 401, description = "unauthorized")),
    security(("ocp_apim_subscription_key" = []), ("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<CreateSession>,
) -> ApiResult<HttpResponse> {
    create_session(&state, &customer, body.into_inner(), None).await
}

#[utoipa::path(post, operation_id = "azure_create_with_verify", path = "/face/v1.2/detectLivenessWithVerify-sessions",
    request_body(content = String, content_type = "multipart/form-data",
        description = "Parameters (the JSON of detectLiveness-sessions), VerifyImage (file)"),
    responses((status = 200, body = SessionCreated), (status = 400, description = "invalid_request"),
        (status = 401, description = "unauthorized"),
        (status = 415, description = "unsupported_media_type"),
        (status = 422, description = "invalid_image, reference_no_face, reference_multiple_faces")),
    security(("ocp_apim_subscription_key" = []), ("api_key" = [])))]
pub async fn create_with_verify(
    state: web::Data<AppState>,
    customer: Customer,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut form = Form::read(
        req.headers(),
        payload,
        &["VerifyImage"],
        state.config.checks.max_frame_bytes,
    )
    .await?;
    let req: CreateSession = serde_json::from_str(form.text("Parameters")?)
        .map_err(|e| ApiError::invalid(format!("Parameters: {e}")))?;
    let image = form.image("VerifyImage")?;
    create_session(&state, &customer, req, Some(image)).await
}

async fn owned_session(
    state: &web::Data<AppState>,
    customer: &Customer,
    id: String,
) -> ApiResult<LivenessSession> {
    match state.store.session(SessionKey::Id(id)).await? {
        Some(s) if s.api_key_id == customer.0.id => Ok(s),
        _ => Err(ApiError::not_found("session")),
    }
}

fn attempt(i: usize, check: &Check, with_verify: bool, now: DateTime<Utc>) -> LivenessAttempt {
    let failed = |code: &str, message: &str| LivenessAttempt {
        attempt_id: i + 1,
        attempt_status: "Failed".into(),
        result: None,
        error: Some(AttemptError {
            code: code.into(),
            message: message.into(),
        }),
    };
    if check.is_expired(now) {
        return failed("expired", "the attempt's time ran out");
    }
    match (check.status, &check.outcome) {
        (Status::Pending | Status::InProgress, _) => LivenessAttempt {
            attempt_id: i + 1,
            attempt_status: "Running".into(),
            result: None,
            error: None,
        },
        (Status::Cancelled, _) => failed("cancelled", "the user left the capture"),
        (_, Some(o))
            if matches!(
                o.failure_reason,
                Some(
                    FailureReason::NoFrames
                        | FailureReason::FaceNotFound
                        | FailureReason::MultipleFaces
                )
            ) =>
        {
            let code = o.failure_reason.map_or("", FailureReason::code);
            failed(code, "the capture had no usable face")
        }
        (_, Some(o)) if o.failure_reason == Some(FailureReason::UnsuitableCapture) => failed(
            FailureReason::UnsuitableCapture.code(),
            "the camera gave no colour, or the face was too small to judge",
        ),
        (_, Some(o)) => LivenessAttempt {
            attempt_id: i + 1,
            attempt_status: "Succeeded".into(),
            result: Some(AttemptResult {
                liveness_decision: if o.passed { "realface" } else { "spoofface" }.into(),
                check_id: check.id.clone(),
                verify_result: with_verify.then(|| VerifyResult {
                    match_confidence: o.face_match.as_ref().map_or(0.0, |m| m.score / 100.0),
                    is_identical: o.face_match.as_ref().is_some_and(|m| {
                        m.verdict == livecheck_core::face_match::MatchVerdict::Match
                    }),
                }),
            }),
            error: None,
        },
        _ => failed("expired", "the attempt ended undecided"),
    }
}

async fn view(state: &web::Data<AppState>, session: &LivenessSession) -> ApiResult<SessionView> {
    let mut checks = Vec::with_capacity(session.attempts.len());
    for id in &session.attempts {
        checks.push(state.store.check(id).await?);
    }
    let now = Utc::now();
    let attempts: Vec<LivenessAttempt> = checks
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| attempt(i, c, session.with_verify, now))
        .collect();
    let any = |s: &str| attempts.iter().any(|a| a.attempt_status == s);
    let status = if session.deleted_at.is_some() {
        "Canceled"
    } else if any("Succeeded") {
        "Succeeded"
    } else if any("Running") {
        "Running"
    } else if attempts.len() as u32 >= session.attempts_allowed || now >= session.expires_at {
        "Failed"
    } else if attempts.is_empty() {
        "NotStarted"
    } else {
        "Running"
    };
    Ok(SessionView {
        session_id: session.id.clone(),
        status: status.into(),
        liveness_operation_mode: if session.passive {
            "Passive"
        } else {
            "PassiveActive"
        }
        .into(),
        auth_token_time_to_live_in_seconds: session.token_ttl_secs,
        number_of_client_attempts_allowed: session.attempts_allowed,
        device_correlation_id: session.device_correlation_id.clone(),
        created_date_time: session.created_at,
        expected_expiration_date_time: session.expires_at,
        results: SessionResults { attempts },
    })
}

#[utoipa::path(get, operation_id = "azure_get", path = "/face/v1.2/detectLiveness-sessions/{sessionId}",
    params(("sessionId" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, description = "not_found")),
    security(("ocp_apim_subscription_key" = []), ("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let session = owned_session(&state, &customer, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(&state, &session).await?))
}

#[utoipa::path(delete, operation_id = "azure_delete", path = "/face/v1.2/detectLiveness-sessions/{sessionId}",
    params(("sessionId" = String, Path)),
    responses((status = 204, description = "deleted: the auth token and any Quick Link stop working"),
              (status = 404, description = "not_found")),
    security(("ocp_apim_subscription_key" = []), ("api_key" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let session = owned_session(&state, &customer, id.into_inner()).await?;
    if session.deleted_at.is_none() {
        let now = Utc::now();
        delete_session(state.store.as_ref(), session, now).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a session: deletion wins, so an attempt started or a link issued meanwhile
/// is read again and ended with the rest; an attempt still open ends as cancelled (one
/// decided meanwhile stays).
async fn delete_session(
    store: &dyn Store,
    mut session: LivenessSession,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    loop {
        session.deleted_at = Some(now);
        session.quick_link = None;
        match store.update_session(&session).await {
            Err(StoreError::Conflict(_)) => {}
            done => break done?,
        }
        session = store
            .session(SessionKey::Id(session.id.clone()))
            .await?
            .ok_or(StoreError::NotFound)?;
        if session.deleted_at.is_some() {
            return Ok(());
        }
    }
    for id in &session.attempts {
        if let Some(c) = store.check(id).await? {
            if !c.status.is_terminal() {
                lifecycle::cancel(store, &c, now).await?;
            }
        }
    }
    Ok(())
}

/// The optional body of `POST /api/s`: none (as Azure's own samples send it), or JSON.
/// Anything else is the caller's mistake, said so rather than ignored.
fn quick_link_body(req: &HttpRequest, body: &[u8]) -> ApiResult<Option<QuickLinkRequest>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body of /api/s must be JSON (content-type: application/json)",
        ));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("/api/s body: {e}")))
}

#[utoipa::path(post, operation_id = "azure_quick_link", path = "/api/s", request_body = Option<QuickLinkRequest>,
    responses((status = 200, body = QuickLink),
        (status = 401, description = "invalid_token (unknown, expired or deleted session)"),
        (status = 409, description = "invalid_state (no attempts left, or already succeeded)")),
    security(("auth_token" = [])))]
pub async fn quick_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let token = bearer(&req).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidToken,
            "Authorization: Bearer <authToken> is required",
        )
    })?;
    let hash = secrets::digest_hex(&token);
    let found = state.store.session(SessionKey::TokenHash(hash)).await?;
    let mut session = match found {
        Some(s) if s.deleted_at.is_none() && Utc::now() < s.expires_at => s,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the auth token is unknown, expired or its session was deleted",
            ))
        }
    };
    let current = view(&state, &session).await?;
    if current.status == "Succeeded" || session.attempts.len() as u32 >= session.attempts_allowed {
        return Err(ApiError::invalid_state(format!(
            "the session is {} with {} of {} attempts used",
            current.status,
            session.attempts.len(),
            session.attempts_allowed
        )));
    }
    if current.status == "Running"
        && current
            .results
            .attempts
            .iter()
            .any(|a| a.attempt_status == "Running")
    {
        return Err(ApiError::invalid_state("an attempt is still running"));
    }
    if let Some(url) = quick_link_body(&req, &body)?.and_then(|b| b.callback_url) {
        check_url("callbackUrl", &url)?;
        session.callback_url = Some(url);
    }
    let link = uuid();
    session.quick_link = Some(link.clone());
    let written = match state.store.update_session(&session).await {
        Err(StoreError::Conflict(_)) => false,
        other => other.map(|()| true)?,
    };
    if !written {
        // An attempt started (or another link was issued) since the session was read:
        // this link could be one attempt too many.
        return Err(ApiError::invalid_state(
            "the session changed while the link was made; ask again",
        ));
    }
    Ok(HttpResponse::Ok().json(QuickLink {
        url: format!("/?s={link}"),
    }))
}

/// What opening a Quick Link led to.
enum Opened {
    /// An attempt started: its capture page.
    Capture(String),
    /// No attempt can start; where the browser goes back to, if anywhere.
    Ended {
        title: &'static str,
        callback: Option<String>,
    },
}

/// `/?s=<uuid>[&callbackUrl=<url>]`: opens the Quick Link once, starting an attempt, and
/// sends the browser to its capture page. The callback rides on the link (Azure's form)
/// or was given to `/api/s`. A link that cannot start an attempt returns the browser to
/// that callback with `outcome` and `error` (an expired or deleted session, or a link
/// opened before: then only to the callback the session remembered, never to one
/// written on the URL, so a used link redirects nowhere it is told); an unknown link,
/// or one with no callback, ends on a page of its own.
async fn open_quick_link(
    state: &web::Data<AppState>,
    link: String,
    callback: Option<String>,
) -> HttpResponse {
    if let Some(Err(e)) = callback.as_deref().map(|u| check_url("callbackUrl", u)) {
        return page(
            actix_web::http::StatusCode::BAD_REQUEST,
            crate::i18n::english(),
            "This link is not valid",
            &format!("<p>{}</p>", escape(&e.message)),
        );
    }
    match start_attempt(state, link, callback).await {
        Ok(Opened::Capture(location))
        | Ok(Opened::Ended {
            callback: Some(location),
            ..
        }) => HttpResponse::SeeOther()
            .insert_header(("location", location))
            .insert_header(("cache-control", "no-store"))
            .finish(),
        Ok(Opened::Ended {
            title,
            callback: None,
        }) => page(
            actix_web::http::StatusCode::GONE,
            crate::i18n::english(),
            title,
            "<p>Ask the service that sent you for a new link. You can close this window.</p>",
        ),
        // Opened at the same moment by another browser.
        Err(e) if e.status.is_client_error() => page(
            actix_web::http::StatusCode::GONE,
            crate::i18n::english(),
            "This link was already used",
            "<p>Ask the service that sent you for a new link. You can close this window.</p>",
        ),
        Err(e) => {
            tracing::error!(error = %e.message, "quick link");
            page(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                crate::i18n::english(),
                "Something went wrong",
                "<p>Please try again in a moment.</p>",
            )
        }
    }
}

/// `callback` with the session's id and `outcome` (and `error`, the API's code for why
/// it ended) appended.
fn back_to_callback(
    callback: Option<&str>,
    session: &LivenessSession,
    outcome: &str,
    error: Option<&str>,
) -> Option<String> {
    callback.map(|u| {
        let mut params = vec![("sessionId", session.id.as_str()), ("outcome", outcome)];
        params.extend(error.map(|e| ("error", e)));
        with_params(u, &params)
    })
}

async fn start_attempt(
    state: &web::Data<AppState>,
    link: String,
    from_link: Option<String>,
) -> ApiResult<Opened> {
    let store = &state.store;
    let (found, used) = match store.session(SessionKey::QuickLink(link.clone())).await? {
        Some(s) => (Some(s), None),
        None => (
            None,
            store
                .session(SessionKey::UsedQuickLink(link.clone()))
                .await?,
        ),
    };
    let Some(mut session) = found else {
        return Ok(match used {
            Some(s) => Opened::Ended {
                title: "This link was already used",
                callback: back_to_callback(
                    s.callback_url.as_deref(),
                    &s,
                    "used",
                    Some("link_already_used"),
                ),
            },
            None => Opened::Ended {
                title: "This link is not valid",
                callback: None,
            },
        });
    };
    let callback = from_link.or_else(|| session.callback_url.clone());
    let now = Utc::now();
    if session.deleted_at.is_some() {
        return Ok(Opened::Ended {
            title: "This check was cancelled",
            callback: back_to_callback(
                callback.as_deref(),
                &session,
                "canceled",
                Some("cancelled"),
            ),
        });
    }
    if now >= session.expires_at {
        return Ok(Opened::Ended {
            title: "This link has expired",
            callback: back_to_callback(callback.as_deref(), &session, "expired", Some("expired")),
        });
    }
    // Remembered: a second opening of this link returns here.
    session.callback_url = callback;
    let back = |extra: &[(&str, &str)]| {
        session.callback_url.as_ref().map(|u| {
            let mut params = vec![("sessionId", session.id.as_str())];
            params.extend_from_slice(extra);
            with_params(u, &params)
        })
    };
    let mins = ((session.expires_at - now).num_seconds() + 59) / 60;
    let req = CreateCheck {
        // With no callback, the verifier's own end page (not the API's index).
        return_url: back(&[]).unwrap_or_else(|| format!("{}/end", state.public_url)),
        cancel_url: back(&[("outcome", "canceled")]),
        link_valid_mins: Some(mins.clamp(1, 1440)),
        mode: session.passive.then(|| "passive".to_string()),
        // The session holds the attempts (numberOfClientAttemptsAllowed), each a check.
        max_attempts: Some(1),
        ..CreateCheck::default()
    };
    let check = create::create_in_session(state, session, link, req, |c| {
        c.return_params.outcome = true;
    })
    .await?;
    let location = format!("/l/{}", check.link);
    Ok(Opened::Capture(location))
}
