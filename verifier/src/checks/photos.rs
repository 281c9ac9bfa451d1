//! A check answered photo by photo from the customer's server (VerifyHQ's sessions):
//! one photo per challenge, in order, each judged alone by core's absolute
//! `StillRules` (no baseline exists); after the last, core's `decide_stills` decides:
//! every photo passed its challenge, one face in each, the same person in all,
//! anti-spoof over all photos.

use std::sync::Arc;

use chrono::Utc;
use livecheck_core::challenge::StillRules;
use livecheck_core::consistency::ConsistencyLimits;
use livecheck_core::decision::{decide_stills, StillsInput};
use livecheck_core::decode::{check_upload, decode, sniff_upload, DecodeError, SizeLimit};
use livecheck_core::{Engine, ObserveOptions};

use super::compute;
use super::lifecycle;
use crate::error::{ApiError, ApiResult};
use crate::heic::{convert, is_heic};
use crate::model::{Check, ImageKind, Outcome, Status, StoredFrame, StoredImage};
use crate::reference::match_probe;
use crate::state::AppState;

/// Stores `photo` (a HEIC is kept as the JPEG it decodes to) as the answer to challenge
/// `seq`, after it decodes within the photo limits. The first photo starts the check:
/// no browser holds a server-driven session's link.
pub async fn add(state: &AppState, check: &Check, seq: u32, photo: Vec<u8>) -> ApiResult<()> {
    let permit = state.decoding.acquire().await.map_err(ApiError::internal)?;
    let checked = compute(move || {
        Ok((|| {
            // An iPhone's HEIC is kept as the JPEG it decodes to.
            let photo = if is_heic(&photo) {
                convert(&photo, SizeLimit::PHOTO)?
            } else {
                photo
            };
            let format = sniff_upload(&photo).ok_or(DecodeError::UnsupportedFormat)?;
            check_upload(&photo, SizeLimit::PHOTO).map(|_| (photo, format))
        })())
    })
    .await?;
    drop(permit);
    let (photo, format) = checked.map_err(|e| ApiError::bad_image("photo", &e))?;
    let content_type = format.to_mime_type().to_string();

    let store = &state.store;
    let frame = StoredFrame {
        seq,
        t_ms: u64::from(seq),
        content_type,
        bytes: photo,
    };
    if check.status == Status::Pending {
        // Server-driven: no browser holds this session's capture link.
        let holder = crate::secrets::digest_hex(&crate::secrets::new_token());
        let start = Default::default();
        store.claim(&check.id, &holder, Utc::now(), &start).await?;
    }
    // One photo per challenge, each within max_frame_bytes: bounded without a cap.
    let (chain, capture) = (&check.chain, &Default::default());
    store
        .add_frame(&check.id, seq, chain, capture, &frame, u64::MAX)
        .await?;

    Ok(())
}

/// Judges the stored photos and records the decision (with its webhook event).
pub async fn decide(state: &Arc<AppState>, mut check: Check) -> ApiResult<Check> {
    // The decision's turn before the photos are read, as a capture's finish.
    let _turn = state.judging.acquire().await.map_err(ApiError::internal)?;
    let frames = state.store.frames(&check.id).await?;
    let st = state.clone();
    let kinds = check.challenges.clone();
    let threshold = check.threshold as f32;
    let reference = check.reference.clone();
    let (outcome, images) = compute(move || -> ApiResult<(Outcome, Vec<StoredImage>)> {
        let engine: &Engine = st.engine()?;
        let mut photos = Vec::with_capacity(frames.len());
        for (f, kind) in frames.iter().zip(&kinds) {
            let img = decode(&f.bytes).map_err(ApiError::internal)?;
            let frame = img.frame().map_err(ApiError::internal)?;
            let o = engine
                .observe(&frame, f.t_ms, ObserveOptions::default())
                .map_err(ApiError::internal)?;
            photos.push((*kind, o));
        }
        let d = decide_stills(&StillsInput {
            photos: &photos,
            threshold,
            rules: StillRules::default(),
            consistency: ConsistencyLimits::default(),
        });
        // The probe, chosen as a capture's is (no baseline among photos).
        let observed: Vec<livecheck_core::Observation> =
            photos.iter().map(|(_, o)| o.clone()).collect();
        let probe = crate::judge::probe(&observed, 0);
        let images: Vec<StoredImage> = probe
            .map(|i| StoredImage {
                kind: ImageKind::Probe,
                index: 0,
                content_type: frames[i].content_type.clone(),
                bytes: frames[i].bytes.clone(),
            })
            .into_iter()
            .collect();
        let face_match = match (&reference, images.first()) {
            (Some(r), Some(p)) => match_probe(engine, &p.bytes, r)?,
            _ => None,
        };
        let mut outcome = Outcome::from_decision(d);
        // Photos taken apart: no take to be continuous.
        outcome.continuity = None;
        outcome.face_match = face_match;
        Ok((outcome, images))
    })
    .await?;
    let now = Utc::now();
    let status =
        lifecycle::decide(state.store.as_ref(), &check, &outcome, images, None, now).await?;
    check.status = status;
    check.frames = check.challenges.len() as u32;
    check.completed_at = Some(now);
    check.outcome = Some(outcome);
    Ok(check)
}
