//! The capture protocol shared by the SDK and the verifier: the script the verifier
//! issues at the claim (its shape, not its content: challenges and light colours are
//! revealed one at a time in the answers to frame uploads, `timeline`), and signed
//! frame envelopes chained so that frames cannot be dropped, reordered, replayed or
//! moved to another session unnoticed.
//!
//! ## Canonical byte layout of a frame (all integers big-endian)
//! ```text
//! "LCFRAME1"                      8 bytes, domain tag
//! len(session_id) : u16, session_id (UTF-8)
//! seq             : u32           0 for the first frame, then +1 each frame
//! t_ms            : u64           capture time, ms since the capture started
//! challenge_index : u16           index into the script, 0xFFFF = baseline (none)
//! image_sha256    : 32 bytes      SHA-256 of the uploaded image bytes
//! prev_mac        : 32 bytes      MAC of frame seq-1; for seq 0 the chain seed
//! ```
//! `mac = HMAC-SHA256(frame_key, layout)`. The chain seed is
//! `SHA-256("LCCHAIN1" || len(session_id):u16 || session_id || nonce)`, with `nonce`
//! the script's 32 random bytes, so a chain belongs to one issued script.

pub mod answers;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

pub const FRAME_TAG: &[u8; 8] = b"LCFRAME1";
pub const CHAIN_TAG: &[u8; 8] = b"LCCHAIN1";
const NO_CHALLENGE: u16 = 0xFFFF;

/// What the client must capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureParams {
    pub width: u32,
    pub height: u32,
    /// Frames before this time (ms since capture start) are the neutral baseline.
    pub baseline_ms: u64,
    pub max_frames: u32,
    pub max_frame_bytes: u64,
}

impl Default for CaptureParams {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            baseline_ms: 1000,
            max_frames: 120,
            max_frame_bytes: 10 * 1024 * 1024,
        }
    }
}

/// What the claim tells the client of its capture: how many challenges follow the
/// baseline and how long each may take, and whether a light sequence runs; not which
/// challenges or colours (each is revealed when its time comes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeScript {
    pub session_id: String,
    /// 32 random bytes, hex.
    pub nonce: String,
    /// Challenges after the baseline. To get the next one revealed, the client tags
    /// its frames with that challenge's index.
    pub challenge_count: u16,
    /// Time the user has for each challenge, from its reveal.
    pub window_ms: u64,
    /// A light sequence runs during the baseline: paint the colour each frame's answer
    /// gives around the preview, until an answer says the light is done.
    pub light: bool,
    pub capture: CaptureParams,
}

impl ChallengeScript {
    /// The capture time the script allows, ms: the baseline and every challenge's
    /// window (the same rule as `CapturePlan::capture_ms`, which it is made from).
    pub fn capture_ms(&self) -> u64 {
        self.capture.baseline_ms + self.window_ms * u64::from(self.challenge_count)
    }
}

/// One frame's signed envelope, sent beside the image bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameEnvelope {
    pub session_id: String,
    pub seq: u32,
    pub t_ms: u64,
    /// The challenge being prompted, or the next one to reveal (the client asks for it
    /// by tagging a frame with its index); `None` during the baseline.
    pub challenge_index: Option<u16>,
    /// SHA-256 of the image bytes, hex.
    pub image_sha256: String,
    /// HMAC-SHA256 over the canonical layout, hex.
    pub mac: String,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("frame belongs to another session")]
    WrongSession,
    #[error("frame {got} was already received (next expected {expected})")]
    Replayed { expected: u32, got: u32 },
    #[error("frame {got} is out of order (expected {expected})")]
    OutOfOrder { expected: u32, got: u32 },
    #[error("frame time {got} ms is before the previous frame's {previous} ms")]
    TimeReversed { previous: u64, got: u64 },
    #[error("image bytes do not match the envelope's digest")]
    ImageMismatch,
    #[error("these image bytes were already received in this session")]
    ReplayedImage,
    #[error("frame signature does not verify")]
    BadSignature,
}

impl EnvelopeError {
    /// Stable snake_case code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "invalid_envelope",
            Self::WrongSession => "wrong_session",
            Self::Replayed { .. } => "replayed_frame",
            Self::OutOfOrder { .. } => "out_of_order",
            Self::TimeReversed { .. } => "out_of_order",
            Self::ImageMismatch => "image_digest_mismatch",
            Self::ReplayedImage => "replayed_frame",
            Self::BadSignature => "invalid_signature",
        }
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn decode_hex32(s: &str, what: &str) -> Result<[u8; 32], EnvelopeError> {
    let v = hex::decode(s).map_err(|_| EnvelopeError::Malformed(format!("{what} is not hex")))?;
    v.try_into()
        .map_err(|_| EnvelopeError::Malformed(format!("{what} must be 32 bytes")))
}

/// The MAC chain's starting value for a script.
pub fn chain_seed(session_id: &str, nonce: &[u8]) -> Result<[u8; 32], EnvelopeError> {
    let len = u16::try_from(session_id.len())
        .map_err(|_| EnvelopeError::Malformed("session id too long".into()))?;
    let mut h = Sha256::new();
    h.update(CHAIN_TAG);
    h.update(len.to_be_bytes());
    h.update(session_id.as_bytes());
    h.update(nonce);
    Ok(h.finalize().into())
}

/// The canonical bytes a frame's MAC covers.
pub fn canonical_bytes(
    session_id: &str,
    seq: u32,
    t_ms: u64,
    challenge_index: Option<u16>,
    image_sha256: &[u8; 32],
    prev_mac: &[u8; 32],
) -> Result<Vec<u8>, EnvelopeError> {
    let len = u16::try_from(session_id.len())
        .map_err(|_| EnvelopeError::Malformed("session id too long".into()))?;
    if challenge_index == Some(NO_CHALLENGE) {
        return Err(EnvelopeError::Malformed(
            "challenge index 65535 is reserved".into(),
        ));
    }
    let mut out = Vec::with_capacity(8 + 2 + session_id.len() + 4 + 8 + 2 + 64);
    out.extend_from_slice(FRAME_TAG);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(session_id.as_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&t_ms.to_be_bytes());
    out.extend_from_slice(&challenge_index.unwrap_or(NO_CHALLENGE).to_be_bytes());
    out.extend_from_slice(image_sha256);
    out.extend_from_slice(prev_mac);
    Ok(out)
}

fn mac(key: &[u8], bytes: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(bytes);
    m
}

/// Client side: signs frames in order.
#[derive(Clone)]
pub struct FrameSigner {
    key: Vec<u8>,
    session_id: String,
    next_seq: u32,
    prev_mac: [u8; 32],
}

impl FrameSigner {
    pub fn new(key: &[u8], session_id: &str, nonce_hex: &str) -> Result<Self, EnvelopeError> {
        let nonce = decode_hex32(nonce_hex, "nonce")?;
        Ok(Self {
            key: key.to_vec(),
            session_id: session_id.to_string(),
            next_seq: 0,
            prev_mac: chain_seed(session_id, &nonce)?,
        })
    }

    pub fn sign(
        &mut self,
        t_ms: u64,
        challenge_index: Option<u16>,
        image: &[u8],
    ) -> Result<FrameEnvelope, EnvelopeError> {
        let digest = sha256(image);
        let bytes = canonical_bytes(
            &self.session_id,
            self.next_seq,
            t_ms,
            challenge_index,
            &digest,
            &self.prev_mac,
        )?;
        let tag: [u8; 32] = mac(&self.key, &bytes).finalize().into_bytes().into();
        let env = FrameEnvelope {
            session_id: self.session_id.clone(),
            seq: self.next_seq,
            t_ms,
            challenge_index,
            image_sha256: hex::encode(digest),
            mac: hex::encode(tag),
        };
        self.prev_mac = tag;
        self.next_seq += 1;
        Ok(env)
    }
}

/// Server side: the chain's state between uploads (persist it with the session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    pub session_id: String,
    pub next_seq: u32,
    /// hex
    pub prev_mac: String,
    pub last_t_ms: Option<u64>,
    /// Digests of images already accepted, hex.
    pub seen_images: Vec<String>,
}

impl ChainState {
    pub fn new(session_id: &str, nonce_hex: &str) -> Result<Self, EnvelopeError> {
        let nonce = decode_hex32(nonce_hex, "nonce")?;
        Ok(Self {
            session_id: session_id.to_string(),
            next_seq: 0,
            prev_mac: hex::encode(chain_seed(session_id, &nonce)?),
            last_t_ms: None,
            seen_images: Vec::new(),
        })
    }

    /// Verifies one frame against the chain and, only if it is valid, advances the chain.
    pub fn accept(
        &mut self,
        key: &[u8],
        env: &FrameEnvelope,
        image: &[u8],
    ) -> Result<(), EnvelopeError> {
        let claimed_digest = decode_hex32(&env.image_sha256, "image_sha256")?;
        let tag = decode_hex32(&env.mac, "mac")?;
        if env.session_id != self.session_id {
            return Err(EnvelopeError::WrongSession);
        }
        if env.seq < self.next_seq {
            return Err(EnvelopeError::Replayed {
                expected: self.next_seq,
                got: env.seq,
            });
        }
        if env.seq > self.next_seq {
            return Err(EnvelopeError::OutOfOrder {
                expected: self.next_seq,
                got: env.seq,
            });
        }
        let digest = sha256(image);
        if digest != claimed_digest {
            return Err(EnvelopeError::ImageMismatch);
        }
        let prev = decode_hex32(&self.prev_mac, "chain state")?;
        let bytes = canonical_bytes(
            &env.session_id,
            env.seq,
            env.t_ms,
            env.challenge_index,
            &digest,
            &prev,
        )?;
        // Constant-time comparison.
        mac(key, &bytes)
            .verify_slice(&tag)
            .map_err(|_| EnvelopeError::BadSignature)?;
        if let Some(previous) = self.last_t_ms.filter(|p| env.t_ms < *p) {
            return Err(EnvelopeError::TimeReversed {
                previous,
                got: env.t_ms,
            });
        }
        let digest_hex = hex::encode(digest);
        if self.seen_images.contains(&digest_hex) {
            return Err(EnvelopeError::ReplayedImage);
        }
        self.seen_images.push(digest_hex);
        self.prev_mac = env.mac.to_ascii_lowercase();
        self.next_seq += 1;
        self.last_t_ms = Some(env.t_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7u8; 32];
    const NONCE: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// Test vectors computed independently from the documented layout (Python hmac/hashlib).
    #[test]
    fn signatures_match_the_documented_test_vectors() {
        let mut s = FrameSigner::new(&KEY, "ses_test", NONCE).unwrap();
        let a = s.sign(0, None, b"frame-0").unwrap();
        let b = s.sign(100, Some(1), b"frame-1").unwrap();
        assert_eq!(a.mac, VECTOR_0);
        assert_eq!(b.mac, VECTOR_1);
    }

    const VECTOR_0: &str = "8b965882cec98191c41904ea2e7fdc23b02638fffb14934a27938020ee7256e0";
    const VECTOR_1: &str = "5d6c6ce7e23245c890186efc65447c89c1c86910f942fbf17ca9869a2bd55cad";

    fn signed(n: usize) -> Vec<(FrameEnvelope, Vec<u8>)> {
        let mut s = FrameSigner::new(&KEY, "ses_a", NONCE).unwrap();
        (0..n)
            .map(|i| {
                let img = format!("image {i}").into_bytes();
                (s.sign(i as u64 * 100, Some(0), &img).unwrap(), img)
            })
            .collect()
    }

    #[test]
    fn chain_accepts_frames_in_order() {
        let mut st = ChainState::new("ses_a", NONCE).unwrap();
        for (env, img) in signed(3) {
            st.accept(&KEY, &env, &img).unwrap();
        }
        assert_eq!(st.next_seq, 3);
    }

    #[test]
    fn dropped_reordered_and_replayed_frames_are_refused() {
        let frames = signed(3);
        let mut st = ChainState::new("ses_a", NONCE).unwrap();
        assert_eq!(
            st.accept(&KEY, &frames[1].0, &frames[1].1),
            Err(EnvelopeError::OutOfOrder {
                expected: 0,
                got: 1
            })
        );
        st.accept(&KEY, &frames[0].0, &frames[0].1).unwrap();
        assert_eq!(
            st.accept(&KEY, &frames[0].0, &frames[0].1),
            Err(EnvelopeError::Replayed {
                expected: 1,
                got: 0
            })
        );
        // Renumbering frame 2 as 1 breaks the MAC.
        let mut forged = frames[2].0.clone();
        forged.seq = 1;
        assert_eq!(
            st.accept(&KEY, &forged, &frames[2].1),
            Err(EnvelopeError::BadSignature)
        );
        assert_eq!(
            st.next_seq, 1,
            "a refused frame leaves the chain where it was"
        );
    }

    #[test]
    fn frame_of_another_session_or_key_is_refused() {
        let frames = signed(1);
        let mut other = ChainState::new("ses_b", NONCE).unwrap();
        assert_eq!(
            other.accept(&KEY, &frames[0].0, &frames[0].1),
            Err(EnvelopeError::WrongSession)
        );
        let mut st = ChainState::new("ses_a", NONCE).unwrap();
        assert_eq!(
            st.accept(&[8u8; 32], &frames[0].0, &frames[0].1),
            Err(EnvelopeError::BadSignature)
        );
    }

    #[test]
    fn swapped_image_bytes_are_refused() {
        let frames = signed(1);
        let mut st = ChainState::new("ses_a", NONCE).unwrap();
        assert_eq!(
            st.accept(&KEY, &frames[0].0, b"another image"),
            Err(EnvelopeError::ImageMismatch)
        );
    }

    #[test]
    fn same_image_twice_is_a_replay() {
        let mut s = FrameSigner::new(&KEY, "ses_a", NONCE).unwrap();
        let a = s.sign(0, None, b"same").unwrap();
        let b = s.sign(50, None, b"same").unwrap();
        let mut st = ChainState::new("ses_a", NONCE).unwrap();
        st.accept(&KEY, &a, b"same").unwrap();
        assert_eq!(
            st.accept(&KEY, &b, b"same"),
            Err(EnvelopeError::ReplayedImage)
        );
    }
}
