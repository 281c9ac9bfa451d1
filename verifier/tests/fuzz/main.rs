//! Fuzz targets for what reads attacker bytes first: the frame envelope and its chain,
//! an image's header and decode, a HEIC photo through libheif, multipart forms, and
//! lc_tokens. They run on stable
//! Rust under the mutation harness in `mutate.rs` (cargo-fuzz would build the verifier
//! and tract a second time with nightly and sanitizers). `cargo test` runs each for 3 s;
//! `scripts/fuzz.sh SECONDS` runs them longer and keeps inputs with new outcomes in
//! `tests/fuzz/corpus/`.
//!
//! Each target states a property beyond "does not panic or hang":
//! - a frame is accepted only as it was signed (no forgery through any envelope text);
//! - a decoded upload is within the endpoint's limits, and its format was sniffed;
//! - a HEIC comes out as a JPEG within the photo limit, or as an error;
//! - a parsed form keeps text fields within their limit;
//! - a token verifies only with claims the issuer signed.

#![allow(clippy::unwrap_used)]

mod mutate;

use std::io::Cursor;

use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use actix_web::web::Bytes;
use livecheck_core::decode::{decode_upload, sniff_upload, SizeLimit};
use livecheck_core::frame::MIN_SIDE;
use livecheck_core::protocol::{ChainState, FrameEnvelope, FrameSigner};
use livecheck_verifier::api::form::Form;
use livecheck_verifier::lc_token::{Claims, TokenIssuer};
use livecheck_verifier::store::SqliteStore;
use mutate::{class, fuzz, Target};

const KEY: [u8; 32] = [7; 32];
const NONCE: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Envelope JSON, a NUL byte, then the image bytes.
struct Envelope {
    chain: ChainState,
    signed: (FrameEnvelope, Vec<u8>),
}

impl Envelope {
    fn new() -> Self {
        let body = b"\xff\xd8 a frame's bytes".to_vec();
        let env = FrameSigner::new(&KEY, "ses_fuzz", NONCE)
            .unwrap()
            .sign(40, Some(0), &body)
            .unwrap();
        Self {
            chain: ChainState::new("ses_fuzz", NONCE).unwrap(),
            signed: (env, body),
        }
    }
}

impl Target for Envelope {
    const NAME: &'static str = "frame_envelope";
    const MAX_LEN: usize = 4096;

    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let (env, body) = &self.signed;
        let mut seed = serde_json::to_vec(env).unwrap();
        seed.push(0);
        seed.extend_from_slice(body);
        vec![seed]
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let split = input.iter().position(|b| *b == 0).unwrap_or(input.len());
        let (text, body) = (&input[..split], input.get(split + 1..).unwrap_or(&[]));
        let Ok(env) = serde_json::from_slice::<FrameEnvelope>(text) else {
            return Ok("json".into());
        };
        let mut chain = self.chain.clone();
        match chain.accept(&KEY, &env, body) {
            Err(e) => Ok(e.code().to_string()),
            Ok(()) => {
                let (signed, signed_body) = &self.signed;
                let mut same = env.clone();
                same.mac = same.mac.to_ascii_lowercase();
                same.image_sha256 = same.image_sha256.to_ascii_lowercase();
                if same != *signed || body != signed_body.as_slice() {
                    return Err(format!("a frame it did not sign was accepted: {env:?}"));
                }
                Ok("accepted".into())
            }
        }
    }
}

/// An upload's bytes, judged as a camera frame.
struct Image;

fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

impl Target for Image {
    const NAME: &'static str = "image_decode";

    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let rgb = image::RgbImage::from_fn(48, 40, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 6) as u8, ((x + y) * 3) as u8])
        });
        let gray = image::GrayImage::from_fn(40, 33, |x, y| image::Luma([((x ^ y) * 7) as u8]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 50)
            .encode_image(&rgb)
            .unwrap();
        vec![
            jpeg,
            encoded(rgb.clone().into(), image::ImageFormat::Png),
            encoded(gray.into(), image::ImageFormat::Png),
            encoded(rgb.into(), image::ImageFormat::WebP),
        ]
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let limit = SizeLimit::FRAME;
        match decode_upload(input, limit) {
            Err(e) => Ok(class(&e.to_string())),
            Ok(img) => {
                let (w, h) = (img.width, img.height);
                if w < MIN_SIDE
                    || h < MIN_SIDE
                    || w.max(h) > limit.max_side
                    || w as u64 * h as u64 > limit.max_pixels
                {
                    return Err(format!("decoded {w}x{h}, outside the frame limits"));
                }
                if sniff_upload(input).is_none() {
                    return Err("decoded bytes of no accepted format".into());
                }
                Ok("decoded".into())
            }
        }
    }
}

/// A HEIC photo (VerifyHQ's iPhone uploads): libheif, C code, reads it first.
struct Heic;

impl Target for Heic {
    const NAME: &'static str = "heic_decode";

    fn seeds(&mut self) -> Vec<Vec<u8>> {
        use libheif_rs::{
            Channel, ColorSpace, CompressionFormat, EncoderQuality, HeifContext, Image, RgbChroma,
        };
        let (w, h) = (64u32, 48u32);
        let mut img = Image::new(w, h, ColorSpace::Rgb(RgbChroma::Rgb)).unwrap();
        img.create_plane(Channel::Interleaved, w, h, 8).unwrap();
        let planes = img.planes_mut();
        let plane = planes.interleaved.unwrap();
        for y in 0..h as usize {
            for x in 0..w as usize {
                let at = y * plane.stride + x * 3;
                plane.data[at..at + 3].copy_from_slice(&[(x * 4) as u8, (y * 5) as u8, 90]);
            }
        }
        let mut ctx = HeifContext::new().unwrap();
        let mut encoder = ctx.encoder_for_format(CompressionFormat::Hevc).unwrap();
        encoder.set_quality(EncoderQuality::Lossy(50)).unwrap();
        ctx.encode_image(&img, &mut encoder, None).unwrap();
        vec![ctx.write_to_bytes().unwrap()]
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let limit = SizeLimit::PHOTO;
        // As the verifier runs it: in the helper process, capped.
        let helper = std::path::Path::new(env!("CARGO_BIN_EXE_livecheck-heic"));
        match livecheck_verifier::heic::to_jpeg_isolated(helper, input, limit) {
            Err(e) => Ok(class(&e.to_string())),
            // What comes out is a JPEG the rest of the verifier reads within the limit.
            Ok(jpeg) => match decode_upload(&jpeg, limit) {
                Ok(img) if img.width.max(img.height) <= limit.max_side => Ok("decoded".into()),
                Ok(img) => Err(format!(
                    "decoded {}x{}, outside the photo limit",
                    img.width, img.height
                )),
                Err(e) => Err(format!("the re-encoded JPEG does not decode: {e}")),
            },
        }
    }
}

/// A `multipart/form-data` body with the boundary `XYZ`, fed in two chunks.
struct Multipart {
    runtime: actix_web::rt::SystemRunner,
}

impl Target for Multipart {
    const NAME: &'static str = "multipart";
    const MAX_LEN: usize = 16 * 1024;

    fn seeds(&mut self) -> Vec<Vec<u8>> {
        vec![
            b"--XYZ\r\ncontent-disposition: form-data; name=\"sessionToken\"\r\n\r\nabc\r\n\
              --XYZ\r\ncontent-disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n\
              content-type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0 photo bytes\r\n--XYZ--\r\n"
                .to_vec(),
            b"--XYZ\r\ncontent-disposition: form-data; name=\"Parameters\"\r\n\r\n{\"a\":1}\r\n--XYZ--\r\n"
                .to_vec(),
        ]
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=XYZ"),
        );
        let half = input.len() / 2;
        let chunks = vec![
            Ok(Bytes::copy_from_slice(&input[..half])),
            Ok(Bytes::copy_from_slice(&input[half..])),
        ];
        let body = futures_util::stream::iter(chunks);
        let read = self.runtime.block_on(async {
            let limit = std::time::Duration::from_secs(2);
            tokio::time::timeout(limit, Form::read(&headers, body, &["photo"], 4096)).await
        });
        let Ok(read) = read else {
            return Err("the whole body was given, and the form never came".into());
        };
        match read {
            // actix-multipart's own errors, or ours, which name the field first and
            // end in fixed words ("field X is too long").
            Err(e) if e.message.starts_with("multipart: ") => Ok(class(&e.message)),
            Err(e) => {
                let words: Vec<&str> = e.message.split(' ').collect();
                Ok(class(&words[words.len().saturating_sub(3)..].join(" ")))
            }
            Ok(form) => {
                for name in ["sessionToken", "Parameters", "photo"] {
                    if form.text(name).is_ok_and(|t| t.len() > 4096) {
                        return Err(format!("text field {name} over its limit"));
                    }
                }
                Ok("parsed".into())
            }
        }
    }
}

/// An lc_token's text.
struct Token {
    issuer: TokenIssuer,
    issued: Vec<(String, Claims)>,
    _dir: tempfile::TempDir,
}

impl Token {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let load = TokenIssuer::load(
            &store,
            "http://verifier.test".into(),
            "livecheck".into(),
            std::time::Duration::from_secs(600),
        );
        let issuer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(load)
            .unwrap();
        let now = chrono::Utc::now();
        let issued = vec![
            issuer.issue("c1", true, "completed", now).unwrap(),
            issuer.issue("c2", false, "failed", now).unwrap(),
        ];
        Self {
            issuer,
            issued,
            _dir: dir,
        }
    }
}

impl Target for Token {
    const NAME: &'static str = "lc_token";
    const MAX_LEN: usize = 4096;

    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.issued
            .iter()
            .map(|(jwt, _)| jwt.as_bytes().to_vec())
            .collect()
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let text = String::from_utf8_lossy(input);
        match self.issuer.verify(&text) {
            Err(e) => Ok(class(&e.to_string())),
            Ok(claims) if self.issued.iter().any(|(_, c)| *c == claims) => Ok("verified".into()),
            Ok(claims) => Err(format!("claims it never signed verified: {claims:?}")),
        }
    }
}

#[test]
fn frame_envelope() {
    let r = fuzz(&mut Envelope::new());
    assert!(r.classes >= 3, "only {} outcomes reached", r.classes);
}

#[test]
fn image_decode() {
    let r = fuzz(&mut Image);
    assert!(r.classes >= 3, "only {} outcomes reached", r.classes);
}

#[test]
fn heic_decode() {
    let r = fuzz(&mut Heic);
    assert!(r.classes >= 2, "only {} outcomes reached", r.classes);
}

#[test]
fn multipart() {
    let r = fuzz(&mut Multipart {
        runtime: actix_web::rt::System::new(),
    });
    assert!(r.classes >= 2, "only {} outcomes reached", r.classes);
}

#[test]
fn lc_token() {
    let r = fuzz(&mut Token::new());
    assert!(r.classes >= 3, "only {} outcomes reached", r.classes);
}
