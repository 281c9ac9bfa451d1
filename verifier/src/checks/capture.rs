//! A check captured by a browser. The single-use link is the credential: claiming it
//! binds the check to one browser (a client token), which then uploads signed frames,
//! finishes (`decide`), starts a next attempt after a refusal, or cancels. Nothing the
//! client says about its own checks is used: the decision is re-made from the pixels.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use livecheck_core::decode::{check_upload, SizeLimit};
use livecheck_core::protocol::answers::{Claimed, FrameAccepted, Retried};
use livecheck_core::protocol::{CaptureParams, ChainState, ChallengeScript, FrameEnvelope};
use livecheck_core::timeline::{CapturePlan, ClockLimits, LightPlan};
use rand::seq::SliceRandom;

use super::compute;
use super::lifecycle::{self, Ended};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{CaptureState, Check, Status, StoredFrame, WayBack};
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

/// A time as the capture API writes it (RFC 3339, UTC, as chrono's own serde does).
pub fn wire_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
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

/// Uploads are refused after this time: the plan's length and the grace from the
/// claim (or the attempt's start), and never after the link's validity.
pub fn deadline(check: &Check, state: &AppState) -> DateTime<Utc> {
    let span = plan(check).capture_ms() + state.config.checks.capture_grace.as_millis() as u64;
    let start = check.claimed_at.unwrap_or(check.created_at);
    (start + chrono::Duration::milliseconds(span as i64)).min(check.expires_at)
}

pub async fn by_link(state: &AppState, link: String) -> ApiResult<Check> {
    state
        .store
        .check_by_link(&link)
        .await?
        .ok_or_else(|| ApiError::not_found("link"))
}

/// The claimed, open check that the holder of `client_token` holds.
pub async fn held(state: &AppState, link: String, client_token: Option<&str>) -> ApiResult<Check> {
    let check = by_link(state, link).await?;
    if !check.held_by(client_token) {
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
pub async fn attempt(
    state: &AppState,
    link: String,
    client_token: Option<&str>,
) -> ApiResult<Check> {
    let check = held(state, link, client_token).await?;
    if check.awaiting_retry {
        return Err(ApiError::invalid_state(
            "the attempt was refused: start the next one (POST …/retry) or cancel",
        ));
    }
    Ok(check)
}

/// Binds a pending check to one browser. `client` names the caller for the rate limit
/// (its address); `light_opt_out` declines the light challenge's colours.
pub async fn claim(
    state: &AppState,
    link: String,
    client: &str,
    light_opt_out: bool,
) -> ApiResult<Claimed> {
    crate::checks::rate_limit::admit(
        state,
        format!("claim:{client}"),
        state.config.limits.claims_per_minute,
    )
    .await?;
    let check = by_link(state, link).await?;
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
    let opted_out = check.light_challenge && light_opt_out;
    let capture = starting_capture(&check, opted_out);
    let now = Utc::now();
    let hash = secrets::digest_hex(&token);
    match state.store.claim(&check.id, &hash, now, &capture).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::LinkAlreadyUsed,
                "this link was already used",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let claimed = Check {
        claimed_at: Some(now),
        capture,
        ..check
    };
    Ok(Claimed {
        client_token: token,
        script: script(&claimed, state),
        frame_key: claimed.frame_key.clone(),
        expires_at: wire_time(claimed.expires_at),
        capture_deadline: wire_time(deadline(&claimed, state)),
        can_cancel: claimed.cancel_url.is_some(),
    })
}

/// One uploaded frame of `check`'s attempt: its signed envelope, its type (as its bytes
/// say, whatever was declared) and the bytes.
pub struct FrameIn {
    pub envelope: FrameEnvelope,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Adds a frame to the attempt under way. The cheap refusals come first (limits, the
/// time window, the envelope's chain, the frame's time against the verifier's clock),
/// so a forged or late frame costs no decoding; then one decode, and one insert that
/// the store orders against other uploads and a finish.
pub async fn add_frame(state: &AppState, check: Check, frame: FrameIn) -> ApiResult<FrameAccepted> {
    let FrameIn {
        envelope,
        content_type,
        bytes,
    } = frame;
    let limits = &state.config.checks;
    if check.frames >= limits.max_frames {
        return Err(ApiError::new(
            ErrorCode::FrameLimitReached,
            format!("a session holds at most {} frames", limits.max_frames),
        ));
    }
    let max_bytes = limits.max_session_bytes;
    if check.frame_bytes + bytes.len() as u64 > max_bytes {
        return Err(ApiError::new(
            ErrorCode::FrameLimitReached,
            format!("a session holds at most {max_bytes} bytes of frames"),
        ));
    }
    let plan = plan(&check);
    let grace = limits.capture_grace.as_millis() as u64;
    if envelope.t_ms > plan.capture_ms() + grace || Utc::now() > deadline(&check, state) {
        return Err(ApiError::new(
            ErrorCode::OutsideTimeWindow,
            "the frame is outside the session's capture time window",
        ));
    }
    if super::decide::finishing(state, &check, Utc::now()) {
        return Err(ApiError::invalid_state("the check is being finished"));
    }
    // The frame's time is read against the verifier's clock as the frame arrived.
    let clock_ms = (Utc::now() - check.claimed_at.unwrap_or(check.created_at))
        .num_milliseconds()
        .max(0) as u64;
    let mut chain = check.chain.clone();
    let key = hex::decode(&check.frame_key).map_err(ApiError::internal)?;
    chain.accept(&key, &envelope, &bytes)?;
    let mut capture = check.capture.clone();
    let cue = capture.log.admit(
        &plan,
        &ClockLimits::default(),
        envelope.t_ms,
        clock_ms,
        envelope.challenge_index,
    )?;
    // One decode per frame position at a time, and a bounded number in all.
    let _slot = UploadSlot::take(state, &check.id, envelope.seq)?;
    let _permit = state.decoding.acquire().await.map_err(ApiError::internal)?;
    let bytes = compute(move || {
        check_upload(&bytes, SizeLimit::FRAME)
            .map(|_| bytes)
            .map_err(|e| ApiError::bad_image("frame", &e))
    })
    .await?;
    let frame = StoredFrame {
        seq: envelope.seq,
        t_ms: envelope.t_ms,
        content_type,
        bytes,
    };
    let added = state
        .store
        .add_frame(&check.id, check.frames, &chain, &capture, &frame, max_bytes)
        .await;
    match added {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            // A finish took the lease meanwhile, or a concurrent upload won.
            let now = state.store.check(&check.id).await?;
            return Err(match now {
                Some(c)
                    if super::decide::finishing(state, &c, Utc::now())
                        || c.status != Status::InProgress =>
                {
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
    Ok(FrameAccepted {
        seq: envelope.seq,
        frames: chain.next_seq,
        cue,
    })
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

/// Starts the next attempt after a refused one: a new script (the same actions in a new
/// order, each revealed only when due) and a new nonce, so no frame signed for the last
/// attempt fits this one; the chain keeps every image the check received, so none is
/// accepted twice.
pub async fn retry(
    state: &AppState,
    link: String,
    client_token: Option<&str>,
) -> ApiResult<Retried> {
    let check = held(state, link, client_token).await?;
    if !check.awaiting_retry {
        return Err(ApiError::invalid_state("no attempt is awaited"));
    }
    let mut challenges = check.challenges.clone();
    challenges.shuffle(&mut rand::rngs::OsRng);
    let nonce = hex::encode(secrets::random_bytes::<32>());
    let mut chain = ChainState::new(&check.id, &nonce).map_err(ApiError::internal)?;
    chain.seen_images = check.chain.seen_images.clone();
    let capture = starting_capture(&check, check.capture.log.light_opted_out);
    let now = Utc::now();
    let next = NextAttempt {
        challenges: challenges.clone(),
        nonce: nonce.clone(),
        chain: chain.clone(),
        capture: capture.clone(),
    };
    match state.store.next_attempt(&check.id, next, now).await {
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
    Ok(Retried {
        attempt: next.attempts.len() as u32 + 1,
        script: script(&next, state),
        capture_deadline: wire_time(deadline(&next, state)),
    })
}

/// Ends a check at the user's request and says where the browser goes. A pending link
/// may be cancelled by whoever holds it; a claimed one only by the browser that
/// claimed it.
pub async fn cancel(
    state: &Arc<AppState>,
    link: String,
    client_token: Option<&str>,
) -> ApiResult<String> {
    let check = by_link(state, link.clone()).await?;
    if check.status == Status::InProgress {
        held(state, link, client_token).await?;
    } else if check.status != Status::Pending {
        return Err(ApiError::invalid_state(format!(
            "the check is {}",
            check.status.as_str()
        )));
    }
    if check.is_expired(Utc::now()) {
        return Err(ApiError::expired());
    }
    let ended = lifecycle::cancel(state.store.as_ref(), &check, Utc::now()).await?;
    if ended == Ended::Already {
        return Err(ApiError::invalid_state("the check ended meanwhile"));
    }
    Ok(match &check.cancel_url {
        Some(u) => u.clone(),
        None => check.back_to(WayBack::Cancelled),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_chronos_serde_writes_them() {
        for t in [
            DateTime::from_timestamp(1_796_000_000, 0).unwrap(),
            DateTime::from_timestamp(1_796_000_000, 123_000_000).unwrap(),
            DateTime::from_timestamp(1_796_000_000, 123_456_789).unwrap(),
        ] {
            let serde = serde_json::to_value(t).unwrap();
            assert_eq!(serde, serde_json::Value::String(wire_time(t)));
        }
    }
}
