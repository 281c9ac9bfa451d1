//! HEIC photos (an iPhone's default), which VerifyHQ accepts: decoded by the system's
//! libheif (Debian's `libheif-dev`, through `libheif-rs`) and re-encoded once as a JPEG,
//! the form every later step keeps and judges. The size is checked from the file's
//! header before any pixel is decoded, as for the other formats.
//!
//! libheif-rs is pinned to 0.18 over libheif-sys 1.14, whose API is within Debian 12's
//! libheif 1.15 (newer libheif-rs releases require libheif 1.17).
//!
//! libheif believes the HEVC stream over the file's header: the fuzz target found a
//! 578-byte file declaring 64×48 that decodes to 16384×12288 (600 MB of RGB, 2 s). So the
//! verifier never decodes HEIC in its own process: `to_jpeg_isolated` runs the
//! `livecheck-heic` helper beside its binary under `prlimit`, with its address space,
//! CPU time and wall time capped.

use image::codecs::jpeg::JpegEncoder;
use libheif_rs::{ColorSpace, HeifContext, RgbChroma};
use livecheck_core::decode::{DecodeError, SizeLimit};
use livecheck_core::frame::{MAX_SIDE, MIN_SIDE};

/// JPEG quality of the re-encoded photo: a face judged after it reads as before.
const QUALITY: u8 = 95;
/// The helper's address space: a 16.8 MP photo's planes and JPEG fit with room to spare;
/// the 16384×12288 bomb does not.
const HELPER_MEMORY: u64 = 512 << 20;
/// The helper's CPU seconds, and its wall time before it is killed.
const HELPER_CPU_SECS: u64 = 5;
const HELPER_WALL: std::time::Duration = std::time::Duration::from_secs(10);

/// The `livecheck-heic` helper beside the running binary.
pub fn helper() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let helper = exe.parent()?.join("livecheck-heic");
    helper.is_file().then_some(helper)
}

/// As `to_jpeg`, in the `helper` process under `prlimit` (memory, CPU and wall time
/// capped): whatever the file makes libheif do happens there.
pub fn to_jpeg_isolated(
    helper: &std::path::Path,
    bytes: &[u8],
    limit: SizeLimit,
) -> Result<Vec<u8>, DecodeError> {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let failed = |what: String| DecodeError::Corrupt(format!("HEIC: {what}"));
    let mut child = Command::new("prlimit")
        .arg(format!("--as={HELPER_MEMORY}"))
        .arg(format!("--cpu={HELPER_CPU_SECS}"))
        .arg("--")
        .arg(helper)
        .arg(limit.max_side.to_string())
        .arg(limit.max_pixels.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("the decoder did not start: {e}")))?;
    let (mut stdin, mut stdout, mut stderr) =
        match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(i), Some(o), Some(e)) => (i, o, e),
            _ => return Err(failed("the decoder's pipes are missing".into())),
        };
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    // A JPEG of the largest photo is far below this.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout).take(256 << 20).read_to_end(&mut out);
        out
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = (&mut stderr).take(4096).read_to_string(&mut text);
        text
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < HELPER_WALL => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed("decoding took too long".into()));
            }
        }
    };
    let _ = writer.join();
    let jpeg = reader.join().unwrap_or_default();
    let reason = errors.join().unwrap_or_default();
    if status.success() {
        Ok(jpeg)
    } else {
        let reason = reason.trim().trim_start_matches("HEIC: ");
        Err(failed(if reason.is_empty() {
            format!("the decoder stopped ({status})")
        } else {
            reason.to_string()
        }))
    }
}

/// HEIC to JPEG as the verifier does it: in the helper when it is installed beside the
/// binary (always, in a build or a release laid out as the README says), refused when
/// it is not (never in this process).
pub fn convert(bytes: &[u8], limit: SizeLimit) -> Result<Vec<u8>, DecodeError> {
    match helper() {
        Some(h) => to_jpeg_isolated(&h, bytes, limit),
        None => Err(DecodeError::Corrupt(
            "HEIC: the livecheck-heic decoder is not installed beside the verifier".into(),
        )),
    }
}

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
    too_small(width, height)?;
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
    // The pixels decoded may differ from what the header declared (found by the fuzz
    // target: a damaged file decoded to 0×0 and to 23×48): checked again.
    too_small(plane.width, plane.height)?;
    if plane.width > width || plane.height > height {
        return Err(DecodeError::Corrupt(
            "HEIC: decoded larger than its header".into(),
        ));
    }
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

/// Core's bounds on a picture's sides, as for every other format.
fn too_small(width: u32, height: u32) -> Result<(), DecodeError> {
    if width.min(height) < MIN_SIDE || width.max(height) > MAX_SIDE {
        return Err(DecodeError::BadSize { width, height });
    }
    Ok(())
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
