//! A check comes to be: the create request (the customer API's body, into which each
//! dialect maps its own), its validation into a new `Check`, and the one insert.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use livecheck_core::challenge::ChallengeKind;
use livecheck_core::protocol::ChainState;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Deserialize;
use utoipa::ToSchema;

use super::reference::{describe_reference, reference_bytes};
use crate::error::{ApiError, ApiResult};
use crate::model::{ApiKey, Check, LivenessSession, Status};
use crate::secrets;
use crate::state::AppState;
use crate::webhooks::is_private_host;

/// An unknown field is refused: in this API a misspelt `webhook_url` must not quietly
/// lose every event (the dialects, drop-ins for other services, ignore them instead).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheck {
    /// Where the browser goes after the capture, with `lc_token` appended.
    pub return_url: String,
    /// Where the browser goes when the user cancels; shows a back button when set.
    pub cancel_url: Option<String>,
    /// Receives the signed `complete`, `failed`, `expired` and `cancelled` events.
    pub webhook_url: Option<String>,
    /// 1–1440, default 10.
    pub link_valid_mins: Option<i64>,
    /// 0–99, default 70: the anti-spoof score a pass needs.
    pub threshold: Option<i64>,
    /// 0–4, default 0: frames kept for audit (erased after the retention time).
    pub audit_images: Option<i64>,
    /// Explicit script (1–6 of BLINK, TURN_LEFT, TURN_RIGHT, LOOK_UP, SMILE,
    /// OPEN_MOUTH); default 2–3 distinct random ones. Not with `mode: "passive"`.
    pub challenges: Option<Vec<String>>,
    /// `active` (default): the user answers prompted challenges. `passive`: no prompts;
    /// the user looks at the camera for 3 s and the verifier decides from anti-spoof
    /// and the face's own small movements.
    pub mode: Option<String>,
    /// Run the light challenge: during the neutral baseline the screen shows a few
    /// colours (revealed one at a time) that the face must reflect, which a replayed
    /// or injected video cannot. The user may opt out (photosensitivity); the result
    /// says so. Default: the `checks.light_challenge` setting (off).
    pub light_challenge: Option<bool>,
    /// 1–3, default 2: capture attempts the user may make. An attempt refused for
    /// something the user can put right (a missed challenge, no face or two faces in
    /// view, an unsuitable camera) offers another, with the reason; one refused as an
    /// attack (spoof, replay, a cut or a swapped face) ends the check. Each attempt is
    /// judged on its own; the result lists them all.
    pub max_attempts: Option<i64>,
    /// The hosted page's language, a BCP 47 tag (`fr`, `pt-BR`) of a built-in language:
    /// en, es, fr, de, pt, id, ja, ar. Default: the user's browser's (`Accept-Language`),
    /// else English.
    pub locale: Option<String>,
    pub user_id: Option<String>,
    /// Any JSON object up to 4 KiB, returned with the result and in webhooks.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// A reference selfie for face match: a JPEG, PNG, WebP or HEIC image showing one face,
    /// base64 (standard alphabet; a `data:` URL prefix is accepted), at most
    /// `checks.max_frame_bytes` once decoded. Only its face descriptor is kept.
    pub reference_image: Option<String>,
}

const MAX_URL: usize = 2048;

pub fn check_url(field: &str, value: &str) -> ApiResult<()> {
    let bad = || ApiError::invalid(format!("{field} must be an absolute http(s) URL"));
    // The URL parser drops tabs and line breaks; they would come back in a Location
    // header (and a CRLF there breaks the response).
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    if value.len() > MAX_URL {
        return Err(ApiError::invalid(format!(
            "{field} is longer than {MAX_URL}"
        )));
    }
    let u = url::Url::parse(value).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(bad());
    }
    Ok(())
}

fn in_range(
    field: &str,
    v: Option<i64>,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> ApiResult<i64> {
    let v = v.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::invalid(format!(
            "{field} must be between {} and {}",
            range.start(),
            range.end()
        )))
    }
}

fn random_challenges() -> Vec<ChallengeKind> {
    let mut rng = rand::rngs::OsRng;
    let mut all = ChallengeKind::ALL.to_vec();
    all.shuffle(&mut rng);
    all.truncate(rng.gen_range(2..=3));
    all
}

/// Validates a create request into a new check (nothing is stored on refusal).
pub fn new_check(
    req: CreateCheck,
    api_key_id: &str,
    allow_private_webhooks: bool,
    now: DateTime<Utc>,
) -> ApiResult<Check> {
    check_url("return_url", &req.return_url)?;
    if let Some(u) = &req.cancel_url {
        check_url("cancel_url", u)?;
    }
    if let Some(u) = &req.webhook_url {
        check_url("webhook_url", u)?;
        if !allow_private_webhooks && is_private_host(u) {
            return Err(ApiError::invalid(
                "webhook_url points at a private or loopback address \
                 (allowed only with webhooks.allow_private_targets)",
            ));
        }
    }
    let mins = in_range("link_valid_mins", req.link_valid_mins, 1..=1440, 10)?;
    let threshold = in_range("threshold", req.threshold, 0..=99, 70)? as u8;
    let audit = in_range("audit_images", req.audit_images, 0..=4, 0)? as u8;
    let max_attempts = in_range("max_attempts", req.max_attempts, 1..=3, 2)? as u8;
    if let Some(tag) = &req.locale {
        let well_formed = (2..=35).contains(&tag.len())
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !well_formed || crate::i18n::by_tag(tag).is_none() {
            return Err(ApiError::invalid(format!(
                "locale must be a language tag of one of {}",
                crate::i18n::tags().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let passive = match req.mode.as_deref() {
        None | Some("active") => false,
        Some("passive") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "mode must be active or passive, not {other:?}"
            )))
        }
    };
    let challenges = match req.challenges {
        None if passive => Vec::new(),
        None => random_challenges(),
        Some(_) if passive => {
            return Err(ApiError::invalid(
                "challenges cannot be given with mode passive",
            ))
        }
        Some(list) => {
            if list.is_empty() || list.len() > 6 {
                return Err(ApiError::invalid("challenges must list 1 to 6 challenges"));
            }
            list.iter()
                .map(|s| {
                    ChallengeKind::parse(s).map_err(|e| {
                        ApiError::invalid(format!(
                            "challenges: {e} (one of BLINK, TURN_LEFT, TURN_RIGHT, LOOK_UP, SMILE, OPEN_MOUTH)"
                        ))
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?
        }
    };
    if let Some(u) = &req.user_id {
        if u.is_empty() || u.len() > 128 {
            return Err(ApiError::invalid("user_id must be 1 to 128 characters"));
        }
    }
    if let Some(m) = &req.metadata {
        if !m.is_object() || m.to_string().len() > 4096 {
            return Err(ApiError::invalid(
                "metadata must be a JSON object of at most 4 KiB",
            ));
        }
    }
    let id = secrets::new_id();
    let nonce = hex::encode(secrets::random_bytes::<32>());
    let chain = ChainState::new(&id, &nonce).map_err(ApiError::internal)?;
    Ok(Check {
        id,
        api_key_id: api_key_id.to_string(),
        token: secrets::new_token(),
        link: secrets::new_token(),
        secret: secrets::new_webhook_secret(),
        webhook_url: req.webhook_url,
        return_url: req.return_url,
        cancel_url: req.cancel_url,
        threshold,
        audit_images: audit,
        challenges,
        user_id: req.user_id,
        metadata: req.metadata,
        status: Status::Pending,
        created_at: now,
        expires_at: now + chrono::Duration::minutes(mins),
        claimed_at: None,
        client_token_hash: None,
        frame_key: hex::encode(secrets::random_bytes::<32>()),
        nonce,
        chain,
        frames: 0,
        outcome: None,
        completed_at: None,
        erased_at: None,
        reference: None,
        photo_session: false,
        light_challenge: req.light_challenge.unwrap_or(false),
        capture: Default::default(),
        finishing_at: None,
        return_params: Default::default(),
        frame_bytes: 0,
        max_attempts,
        attempts: Vec::new(),
        awaiting_retry: false,
        locale: req.locale,
    })
}

/// The one way a check comes to be, whichever API dialect asked: rate limit,
/// validation, the reference selfie, then `adjust` (a dialect's own touches, e.g. its
/// session id in the return URL), then one insert.
pub async fn create(
    state: &Arc<AppState>,
    key: &ApiKey,
    mut req: CreateCheck,
    adjust: impl FnOnce(&mut Check),
) -> ApiResult<Check> {
    crate::checks::rate_limit::admit(
        state,
        format!("create:{}", key.id),
        state.config.limits.creates_per_minute,
    )
    .await?;
    let reference_image = req.reference_image.take();
    let mut check = validated(state, &key.id, req)?;
    if let Some(b64) = reference_image {
        let bytes = reference_bytes(&b64, state.config.checks.max_frame_bytes)?;
        check.reference = Some(describe_reference(state, bytes).await?);
    }
    adjust(&mut check);
    state.store.insert_check(&check).await?;
    Ok(check)
}

/// A check made as the next attempt of a dialect's session (Azure's holds the attempts
/// and the reference, and was rate-limited when created): validated as any create, then
/// stored with the session's change in one transaction, so that opening `link` starts
/// one attempt at most.
pub async fn create_in_session(
    state: &AppState,
    mut session: LivenessSession,
    link: String,
    req: CreateCheck,
    adjust: impl FnOnce(&mut Check),
) -> ApiResult<Check> {
    let mut check = validated(state, &session.api_key_id, req)?;
    check.reference = session.verify.clone();
    adjust(&mut check);
    session.attempts.push(check.id.clone());
    session.quick_link = None;
    state.store.start_attempt(&session, &link, &check).await?;
    Ok(check)
}

/// `new_check` under this verifier's settings (the light challenge's default, private
/// webhook targets), now.
fn validated(state: &AppState, api_key_id: &str, mut req: CreateCheck) -> ApiResult<Check> {
    req.light_challenge
        .get_or_insert(state.config.checks.light_challenge);
    new_check(
        req,
        api_key_id,
        state.config.webhooks.allow_private_targets,
        Utc::now(),
    )
}
