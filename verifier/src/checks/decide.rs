//! A captured attempt decided: under a finish lease (no frame is added meanwhile), the
//! verifier's own judgement of the frames, the face match against a reference, and
//! then either another attempt (a refusal the user can put right) or the check's end.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use livecheck_core::decision::FailureReason;
use livecheck_core::protocol::answers::{CaptureStatus, Finished, RetryOffer};
use livecheck_core::timeline::ClockLimits;

use super::capture::{attempt, plan};
use super::compute;
use super::lifecycle;
use crate::error::{ApiError, ApiResult};
use crate::judge::{judge, JudgeInput};
use crate::model::{Check, FrameRef, ImageKind, LightOutcome, Status, WayBack};
use crate::reference::match_probe;
use crate::risk::{FinishIn, RiskSignals};
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// How long a finish's lease holds (`checks.finish_lease`): a finish takes seconds; a
/// lease this old was left by a process that died mid-finish, and another finish
/// (on any process) may take it over.
fn lease(state: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(state.config.checks.finish_lease)
        .unwrap_or(chrono::Duration::minutes(2))
}

/// Whether a finish holds the check's lease at `now`.
pub fn finishing(state: &AppState, check: &Check, now: DateTime<Utc>) -> bool {
    check.finishing_at.is_some_and(|at| at > now - lease(state))
}

/// Releases the finish lease however the finish ends (after a decision the check is
/// no longer in progress, and the release changes nothing).
struct FinishLease {
    store: Arc<dyn Store>,
    check_id: String,
}

impl Drop for FinishLease {
    fn drop(&mut self) {
        let (store, id) = (self.store.clone(), std::mem::take(&mut self.check_id));
        // Drop cannot wait: the release runs as a task of its own. Without a runtime (it
        // is shutting down) the lease is left to go stale, as a dead process's does.
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(check = %id, "finish lease left to expire: no runtime");
            return;
        };
        rt.spawn(async move {
            if let Err(e) = store.end_finish(&id).await {
                tracing::error!(error = %e, "could not release a finish lease");
            }
        });
    }
}

/// Finishes the attempt under way of the check the holder of `client_token` holds;
/// `report` is what the SDK says it saw (risk signals only, never the decision).
pub async fn finish(
    state: &Arc<AppState>,
    link: String,
    client_token: Option<&str>,
    report: FinishIn,
) -> ApiResult<Finished> {
    let check = attempt(state, link, client_token).await?;
    state.engine()?;
    // The lease first: from here on no frame is added, so the frames and the capture's
    // log read next are the whole capture.
    let now = Utc::now();
    let stale = now - lease(state);
    match state.store.begin_finish(&check.id, now, stale).await {
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
    let store = &state.store;
    let check = store.check(&check.id).await?.ok_or(StoreError::NotFound)?;
    let frames = store.frame_refs(&check.id).await?;
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
    let rt = tokio::runtime::Handle::current();
    let judgement = compute(move || {
        let engine = st.engine()?;
        // Frames are read one at a time as the models reach them, so a decision holds one
        // frame's bytes. The blocking pool may wait on the store's future.
        // A frame gone meanwhile: the check was erased or ended under the finish.
        let load = |f: &FrameRef| -> ApiResult<Vec<u8>> {
            rt.block_on(st.store.frame_bytes(&id, f.seq))
                .map_err(|e| match e {
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
    .await?;

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
    let reference = state
        .store
        .check(&check.id)
        .await?
        .and_then(|c| c.reference);
    let probe = judgement
        .images
        .iter()
        .find(|i| i.kind == ImageKind::Probe)
        .map(|i| i.bytes.clone());
    if let (Some(reference), Some(probe)) = (reference, probe) {
        let st = state.clone();
        outcome.face_match = compute(move || match_probe(st.engine()?, &probe, &reference)).await?;
    }
    let now = Utc::now();
    if check.may_retry(&outcome, now) {
        // Refused for something the user can put right: the attempt is kept, its frames
        // go, and the check waits for the next one.
        let mut attempts = check.attempts.clone();
        attempts.push(outcome.clone());
        let n = attempts.len() as u32;
        state.store.end_attempt(&check.id, &attempts).await?;
        tracing::info!(check = %check.id, attempt = n, reason = ?outcome.failure_reason, "attempt refused; another offered");
        return Ok(Finished {
            status: CaptureStatus::InProgress,
            passed: false,
            failure_reason: outcome.failure_reason,
            redirect_url: None,
            retry: Some(RetryOffer {
                attempt: n,
                max_attempts: check.max_attempts as u32,
            }),
        });
    }
    let status = Status::decided(outcome.passed);
    let (jwt, claims) = state
        .tokens
        .issue(&check.id, outcome.passed, status.as_str(), now)
        .map_err(ApiError::internal)?;
    let exp = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
    let token = Some((claims.jti, exp));
    let images = judgement.images;
    lifecycle::decide(state.store.as_ref(), &check, &outcome, images, token, now).await?;
    tracing::info!(check = %check.id, passed = outcome.passed, frames = outcome.frames, "check decided");

    let back = check.back_to(WayBack::Decided {
        lc_token: &jwt,
        error: outcome.failure_reason.map(FailureReason::code),
    });
    Ok(Finished {
        status: CaptureStatus::decided(outcome.passed),
        passed: outcome.passed,
        failure_reason: outcome.failure_reason,
        redirect_url: Some(back),
        retry: None,
    })
}
