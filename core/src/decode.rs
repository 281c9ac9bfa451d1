//! Image decoding for files and uploads: JPEG, PNG, WebP and PPM, EXIF orientation
//! applied, sizes bounded before any pixel buffer is allocated. Also splits MJPEG
//! streams (concatenated JPEGs) into frames.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};
use thiserror::Error;

use crate::frame::{RgbaImage, MAX_SIDE, MIN_SIDE};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not a JPEG, PNG, WebP or PPM image")]
    UnsupportedFormat,
    #[error(
        "image is {width}x{height}; each side must be between {MIN_SIDE} and {MAX_SIDE} pixels"
    )]
    BadSize { width: u32, height: u32 },
    #[error("image data is corrupt or truncated: {0}")]
    Corrupt(String),
}

/// Which format the bytes are, by their signature.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Pnm) => {
            Some(f)
        }
        _ => None,
    }
}

/// Which upload format the bytes are: JPEG, PNG or WebP, the formats the API takes
/// (PPM is for local files only).
pub fn sniff_upload(bytes: &[u8]) -> Option<ImageFormat> {
    sniff(bytes).filter(|f| *f != ImageFormat::Pnm)
}

/// Decodes an uploaded image (JPEG, PNG or WebP) into upright RGBA.
pub fn decode_upload(bytes: &[u8]) -> Result<RgbaImage, DecodeError> {
    sniff_upload(bytes).ok_or(DecodeError::UnsupportedFormat)?;
    decode(bytes)
}

/// Decodes bytes into upright RGBA.
pub fn decode(bytes: &[u8]) -> Result<RgbaImage, DecodeError> {
    let format = sniff(bytes).ok_or(DecodeError::UnsupportedFormat)?;
    // The JPEG decoder pads a cut-off stream with grey; a frame that lost its end is
    // refused instead of judged.
    if format == ImageFormat::Jpeg && jpeg_end(bytes, 0).is_none() {
        return Err(DecodeError::Corrupt(
            "truncated JPEG (no end-of-image marker)".into(),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => DecodeError::BadSize {
            width: 0,
            height: 0,
        },
        other => DecodeError::Corrupt(other.to_string()),
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
        return Err(DecodeError::BadSize { width, height });
    }
    let orientation = decoder.orientation().map_err(corrupt)?;
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    let rgba = img.into_rgba8();
    Ok(RgbaImage {
        width: rgba.width(),
        height: rgba.height(),
        data: rgba.into_raw(),
    })
}

/// Splits an MJPEG stream (JPEG images back to back) into its images by walking each
/// image's marker segments, so thumbnails inside EXIF blocks are not mistaken for
/// frames. Trailing bytes that do not form a whole image are ignored.
pub fn split_mjpeg(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some(start) = find_soi(bytes, pos) {
        match jpeg_end(bytes, start) {
            Some(end) => {
                frames.push(&bytes[start..end]);
                pos = end;
            }
            None => break,
        }
    }
    frames
}

fn find_soi(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(1)).find(|&i| bytes[i] == 0xFF && bytes[i + 1] == 0xD8)
}

/// Index just past the EOI of the JPEG that starts at `start`.
fn jpeg_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 2;
    loop {
        // Skip fill bytes before a marker.
        while *bytes.get(i)? == 0xFF && *bytes.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        match marker {
            0xD9 => return Some(i + 2),
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let len = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
                i += 2 + len;
                if marker == 0xDA {
                    // Entropy-coded data: runs to the next marker that is not a stuffed
                    // 0xFF00 or a restart marker.
                    loop {
                        if *bytes.get(i)? == 0xFF {
                            let next = *bytes.get(i + 1)?;
                            if next != 0x00 && !(0xD0..=0xD7).contains(&next) {
                                break;
                            }
                            i += 2;
                        } else {
                            i += 1;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_an_image() {
        assert_eq!(
            decode(b"hello, this is text"),
            Err(DecodeError::UnsupportedFormat)
        );
        assert_eq!(decode(&[]), Err(DecodeError::UnsupportedFormat));
    }

    #[test]
    fn ppm_is_read_from_files_but_not_taken_as_an_upload() {
        let mut ppm = b"P6\n64 64\n255\n".to_vec();
        ppm.extend(std::iter::repeat_n(128u8, 64 * 64 * 3));
        assert_eq!(decode(&ppm).map(|i| i.width), Ok(64));
        assert_eq!(sniff_upload(&ppm), None);
        assert_eq!(decode_upload(&ppm), Err(DecodeError::UnsupportedFormat));
    }

    #[test]
    fn mjpeg_splits_on_markers() {
        // SOI, APP1 holding a nested SOI/EOI "thumbnail", SOS with stuffed data, EOI; twice.
        let one: &[u8] = &[
            0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 0x00, 0x02,
            0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        let stream = [one, one, &[0xFF, 0xD8, 0x00]].concat();
        let frames = split_mjpeg(&stream);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], one);
    }
}
