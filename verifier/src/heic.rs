//! HEIC photos (an iPhone's default), which VerifyHQ accepts: decoded by the system's
//! libheif (Debian's `libheif-dev`, through `libheif-rs`) and re-encoded once as a JPEG,
//! the form every later step keeps and judges. The size is checked from the file's
//! header before any pixel is decoded, as for the other formats.
//!
//! libheif-rs is pinned to 0.18 over libheif-sys 1.14, whose API is within Debian 12's
//! libheif 1.15 (newer libheif-rs releases require libheif 1.17).

use image::codecs::jpeg::JpegEncoder;
use libheif_rs::{ColorSpace, HeifContext, RgbChroma};
use livecheck_core::decode::{DecodeError, SizeLimit};

/// JPEG quality of the re-encoded photo: a face judged after it reads as before.
const QUALITY: u8 = 95;

/// An ISO-BMFF file whose major brand is one of HEIF's image brands.
pub fn is_heic(bytes: &[u8]) -> bool {
    bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(
            &bytes[8..12],
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1"
        )
}

/// The HEIC's primary image (its rotation and mirroring applied) as a JPEG, or why not.
pub fn to_jpeg(bytes: &[u8], limit: SizeLimit) -> Result<Vec<u8>, DecodeError> {
    let corrupt = |e: libheif_rs::HeifError| DecodeError::Corrupt(format!("HEIC: {e}"));
    let ctx = HeifContext::read_from_bytes(bytes).map_err(corrupt)?;
    let handle = ctx.primary_image_handle().map_err(corrupt)?;
    let (width, height) = (handle.width(), handle.height());
    if width.max(height) > limit.max_side || u64::from(width) * u64::from(height) > limit.max_pixels
    {
        return Err(DecodeError::TooLarge {
            width,
            height,
            max_side: limit.max_side,
            max_pixels: limit.max_pixels,
        });
    }
    let image = handle
        .decode(ColorSpace::Rgb(RgbChroma::Rgb), None)
        .map_err(corrupt)?;
    let planes = image.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| DecodeError::Corrupt("HEIC: no RGB plane".into()))?;
    let (w, h) = (plane.width as usize, plane.height as usize);
    if plane.stride < w * 3 || plane.data.len() < plane.stride * h.saturating_sub(1) + w * 3 {
        return Err(DecodeError::Corrupt("HEIC: short RGB plane".into()));
    }
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in plane.data.chunks(plane.stride).take(h) {
        rgb.extend_from_slice(&row[..w * 3]);
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode(
            &rgb,
            plane.width,
            plane.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| DecodeError::Corrupt(format!("HEIC: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heic_is_recognised_by_its_brand() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert!(is_heic(&heic));
        assert!(!is_heic(b"\xff\xd8\xff\xe0 not heic at all"));
        let mut mp4 = vec![0, 0, 0, 24];
        mp4.extend_from_slice(b"ftypisom\0\0\0\0");
        assert!(!is_heic(&mp4));
        // Only its header: refused as corrupt, not a panic.
        assert!(matches!(
            to_jpeg(&heic, SizeLimit::PHOTO),
            Err(DecodeError::Corrupt(_))
        ));
    }
}
