//! Reference selfies for face match: the one face in a customer's reference image
//! becomes a descriptor (the image itself is not kept), and a decided check's probe
//! image is compared with it.

use livecheck_core::decode::{decode, decode_upload, SizeLimit};
use livecheck_core::face_match::{FaceDescriptor, FaceMatch, MatchThresholds};
use livecheck_core::Engine;

use crate::error::{ApiError, ErrorCode};

/// The descriptor of the one face in `bytes` (JPEG, PNG, WebP or HEIC), or the caller's
/// error: not an image we read (415), undecodable (422), no face (422
/// `reference_no_face`), or more than one face (422 `reference_multiple_faces`).
pub fn reference_descriptor(engine: &Engine, bytes: &[u8]) -> Result<FaceDescriptor, ApiError> {
    let jpeg;
    let bytes = if crate::heic::is_heic(bytes) {
        jpeg = crate::heic::convert(bytes, SizeLimit::PHOTO)
            .map_err(|e| ApiError::bad_image("reference_image", &e))?;
        &jpeg[..]
    } else {
        bytes
    };
    let img = decode_upload(bytes, SizeLimit::PHOTO)
        .map_err(|e| ApiError::bad_image("reference_image", &e))?;
    let frame = img
        .frame()
        .map_err(|e| ApiError::new(ErrorCode::InvalidImage, format!("reference_image: {e}")))?;
    let faces = engine.detect(&frame).map_err(ApiError::internal)?;
    let Some(main) = faces.first() else {
        return Err(ApiError::new(
            ErrorCode::ReferenceNoFace,
            "the reference image shows no face",
        ));
    };
    // Whose face is this? Stricter than a capture frame's quality check: any second
    // face a third as wide as the main one (a tenth of its area) makes it ambiguous.
    let others = faces[1..]
        .iter()
        .filter(|f| f.bbox.area() >= 0.1 * main.bbox.area())
        .count();
    if others > 0 {
        return Err(ApiError::new(
            ErrorCode::ReferenceMultipleFaces,
            format!(
                "the reference image shows {} faces; it must show one",
                others + 1
            ),
        ));
    }
    engine
        .describe(&frame, main)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("the face recognition model is not loaded"))
}

/// The probe image's face compared with the reference; `None` when the probe has no
/// usable face (a failed capture may have none).
pub fn match_probe(
    engine: &Engine,
    probe: &[u8],
    reference: &FaceDescriptor,
) -> Result<Option<FaceMatch>, ApiError> {
    let Ok(img) = decode(probe) else {
        return Ok(None);
    };
    let Ok(frame) = img.frame() else {
        return Ok(None);
    };
    let Some(face) = engine
        .detect(&frame)
        .map_err(ApiError::internal)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let descriptor = engine.describe(&frame, &face).map_err(ApiError::internal)?;
    Ok(descriptor
        .and_then(|d| d.distance(reference))
        .map(|d| MatchThresholds::default().judge(d)))
}
