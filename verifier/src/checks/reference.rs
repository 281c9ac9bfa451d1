//! A check's reference selfie: read from base64 or bytes, described once (only the
//! descriptor is kept), and compared with the probe of a check already decided.

use std::sync::Arc;

use livecheck_core::face_match::FaceDescriptor;

use super::compute;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::model::{Check, ImageKind};
use crate::reference::{match_probe, reference_descriptor};
use crate::state::AppState;

/// The bytes of a base64 `reference_image`, within the upload limit.
pub fn reference_bytes(b64: &str, max: usize) -> ApiResult<Vec<u8>> {
    use base64::Engine as _;
    let data = match b64.strip_prefix("data:") {
        Some(url) => url.split_once(',').map(|(_, d)| d).unwrap_or(""),
        None => b64,
    };
    // Decoded size is about 3/4 of the text: refuse early what cannot fit.
    if data.len() / 4 * 3 > max + 3 {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("reference_image is larger than {max} bytes"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::invalid(format!("reference_image is not valid base64: {e}")))?;
    if bytes.len() > max {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("reference_image is larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

pub async fn describe_reference(
    state: &Arc<AppState>,
    bytes: Vec<u8>,
) -> ApiResult<FaceDescriptor> {
    state.engine()?;
    let _permit = state.decoding.acquire().await.map_err(ApiError::internal)?;
    let st = state.clone();
    compute(move || reference_descriptor(st.engine()?, &bytes)).await
}

/// Sets `check`'s reference selfie from image bytes; on a decided check, compares it
/// with the probe image at once. Returns the check as stored.
pub async fn attach_reference(
    state: &Arc<AppState>,
    mut check: Check,
    bytes: Vec<u8>,
) -> ApiResult<Check> {
    if check.erased_at.is_some() {
        return Err(ApiError::invalid_state("the check was erased"));
    }
    let reference = describe_reference(state, bytes).await?;
    let probe = state.store.image(&check.id, ImageKind::Probe, 0).await?;
    if let (Some(outcome), Some(probe)) = (check.outcome.as_mut(), probe) {
        let st = state.clone();
        let r = reference.clone();
        outcome.face_match = compute(move || match_probe(st.engine()?, &probe.bytes, &r)).await?;
    }
    // A check erased meanwhile is a conflict (409 invalid_state), not a silent write.
    let outcome = check.outcome.as_ref();
    state
        .store
        .set_reference(&check.id, &reference, outcome)
        .await?;
    check.reference = Some(reference);
    Ok(check)
}
