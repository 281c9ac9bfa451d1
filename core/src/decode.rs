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
    #[error("image is {width}x{height}; at most {max_side} pixels a side and {max_pixels} in all")]
    TooLarge {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
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

/// The largest image an upload may declare: its header is read and checked against
/// this before any pixel is decoded, so a small file that declares a huge picture costs
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeLimit {
    pub max_side: u32,
    pub max_pixels: u64,
}

impl SizeLimit {
    /// A camera frame: 1920×1080 at most, either way up (8 MB of RGBA).
    pub const FRAME: SizeLimit = SizeLimit {
        max_side: 1920,
        max_pixels: 1920 * 1080,
    };
    /// A photo (a reference selfie, a VerifyHQ challenge photo): a 12 MP phone
    /// picture fits, 4096 a side and 16.8 MP at most (67 MB of RGBA).
    pub const PHOTO: SizeLimit = SizeLimit {
        max_side: 4096,
        max_pixels: 4096 * 4096,
    };
    /// Local files (the analyze tools): core's own bounds.
    pub const FILE: SizeLimit = SizeLimit {
        max_side: MAX_SIDE,
        max_pixels: MAX_SIDE as u64 * MAX_SIDE as u64,
    };
}

/// Decodes an uploaded image (JPEG, PNG or WebP) no larger than `limit` into upright RGBA.
pub fn decode_upload(bytes: &[u8], limit: SizeLimit) -> Result<RgbaImage, DecodeError> {
    sniff_upload(bytes).ok_or(DecodeError::UnsupportedFormat)?;
    decode_within(bytes, limit)
}

/// Whether `decode_upload` would take the bytes: every check it makes and every pixel
/// decoded, without the upright RGBA copy, for an upload kept as its bytes.
pub fn check_upload(bytes: &[u8], limit: SizeLimit) -> Result<(), DecodeError> {
    sniff_upload(bytes).ok_or(DecodeError::UnsupportedFormat)?;
    decoded(bytes, limit).map(|_| ())
}

/// Decodes bytes into upright RGBA.
pub fn decode(bytes: &[u8]) -> Result<RgbaImage, DecodeError> {
    decode_within(bytes, SizeLimit::FILE)
}

/// Decodes bytes no larger than `limit` (checked from the header) into upright RGBA.
pub fn decode_within(bytes: &[u8], limit: SizeLimit) -> Result<RgbaImage, DecodeError> {
    let (mut img, orientation) = decoded(bytes, limit)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let data = match img {
        // A JPEG's pixels: the alpha added here, as `into_rgba8` does it but without its
        // walk through colour-space casts (a 640×480 frame 0.19 → 0.14 ms; under load
        // that walk was about 2 % of the verifier's CPU).
        image::DynamicImage::ImageRgb8(rgb) => {
            let mut data = vec![0; rgb.len() / 3 * 4];
            for (to, p) in data.chunks_exact_mut(4).zip(rgb.as_raw().chunks_exact(3)) {
                to.copy_from_slice(&[p[0], p[1], p[2], u8::MAX]);
            }
            data
        }
        other => other.into_rgba8().into_raw(),
    };
    Ok(RgbaImage {
        width,
        height,
        data,
    })
}

/// The decoded picture, as stored, and its EXIF orientation.
fn decoded(
    bytes: &[u8],
    limit: SizeLimit,
) -> Result<(image::DynamicImage, image::metadata::Orientation), DecodeError> {
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
    // The decoded picture and the RGBA copy made of it, and no more.
    limits.max_alloc = Some((limit.max_pixels * 4 * 2).min(512 * 1024 * 1024));
    reader.limits(limits);
    let too_large = |width, height| DecodeError::TooLarge {
        width,
        height,
        max_side: limit.max_side,
        max_pixels: limit.max_pixels,
    };
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => too_large(0, 0),
        other => DecodeError::Corrupt(other.to_string()),
    };
    // The header only: the declared size is judged before any pixel is decoded.
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(DecodeError::BadSize { width, height });
    }
    if width.max(height) > limit.max_side.min(MAX_SIDE)
        || width as u64 * height as u64 > limit.max_pixels
    {
        return Err(too_large(width, height));
    }
    let orientation = decoder.orientation().map_err(corrupt)?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok((img, orientation))
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

    /// A JPEG of many colours, and the RGBA the image crate's own conversion makes of it.
    fn jpeg_and_its_rgba() -> (Vec<u8>, Vec<u8>) {
        let img = image::RgbImage::from_fn(96, 64, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 7 + x) as u8, (x * y) as u8])
        });
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let theirs = image::load_from_memory(&jpeg)
            .unwrap()
            .into_rgba8()
            .into_raw();
        (jpeg, theirs)
    }

    /// The hand-made RGBA of a JPEG is the image crate's, byte for byte, opaque.
    #[test]
    fn a_jpeg_becomes_the_rgba_the_image_crate_makes() {
        let (jpeg, theirs) = jpeg_and_its_rgba();
        let ours = decode_upload(&jpeg, SizeLimit::FRAME).unwrap();
        assert_eq!((ours.width, ours.height), (96, 64));
        assert_eq!(ours.data, theirs);
        assert!(ours.data.chunks(4).all(|p| p[3] == 255));
        assert!(
            ours.data.chunks(4).any(|p| p[0] != p[1]),
            "a grey picture tests little"
        );
    }

    /// The check takes what the decode takes and refuses what it refuses, pixels too: a
    /// PNG whose header is sound and whose pixel data is not.
    #[test]
    fn the_upload_check_agrees_with_the_decode() {
        let (jpeg, _) = jpeg_and_its_rgba();
        assert_eq!(check_upload(&jpeg, SizeLimit::FRAME), Ok(()));
        let mut png = Vec::new();
        let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 9]));
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert_eq!(check_upload(&png, SizeLimit::FRAME), Ok(()));
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let mut bad_pixels = png.clone();
        bad_pixels[idat + 8] ^= 0x55;
        let cut = &jpeg[..jpeg.len() - 2];
        for bytes in [
            cut,
            &bad_pixels,
            b"P6 2 2 255 abcdefghijkl",
            &jpeg[..60],
            b"hello",
        ] {
            let (checked, decoded) = (
                check_upload(bytes, SizeLimit::FRAME),
                decode_upload(bytes, SizeLimit::FRAME).map(|_| ()),
            );
            assert!(checked.is_err(), "{checked:?}");
            assert_eq!(checked, decoded);
        }
    }

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
        assert_eq!(
            decode_upload(&ppm, SizeLimit::FRAME),
            Err(DecodeError::UnsupportedFormat)
        );
    }

    #[test]
    fn a_size_over_the_limit_is_refused_from_the_header_alone() {
        // A 2000×2000 grey PNG (a few kB: one colour compresses to nothing).
        let img = image::GrayImage::new(2000, 2000);
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(matches!(
            decode_upload(&png, SizeLimit::FRAME),
            Err(DecodeError::TooLarge {
                width: 2000,
                height: 2000,
                ..
            })
        ));
        assert_eq!(
            decode_upload(&png, SizeLimit::PHOTO).map(|i| i.width),
            Ok(2000)
        );
        // The header is all that is read: a truncated body behind it changes nothing.
        assert!(matches!(
            decode_upload(&png[..60], SizeLimit::FRAME),
            Err(DecodeError::TooLarge { .. })
        ));
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
