//! Hostile input gets a typed error, never a panic.

use livecheck_core::decode::{decode, split_mjpeg, DecodeError};
use livecheck_core::engine::ObserveOptions;
use livecheck_core::protocol::{ChainState, FrameEnvelope};
use livecheck_core::Frame;
use proptest::prelude::*;

use crate::helpers::{engine, testdata};

#[test]
fn truncated_jpeg_is_a_corrupt_image_error() {
    let bytes = std::fs::read(testdata("live/silentface_T1_live_upright.jpg")).unwrap();
    for cut in [10, 200, bytes.len() / 2, bytes.len() - 10] {
        assert!(
            matches!(decode(&bytes[..cut]), Err(DecodeError::Corrupt(_))),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_blank_frame_has_no_face_and_the_engine_says_so() {
    let buf = vec![128u8; 640 * 480 * 4];
    let o = engine()
        .observe(
            &Frame::new(640, 480, &buf).unwrap(),
            0,
            ObserveOptions::default(),
        )
        .unwrap();
    assert_eq!(o.faces, 0);
    assert_eq!(
        o.quality.issues,
        vec![livecheck_core::quality::QualityIssue::NoFace]
    );
    assert!(o.mesh.is_none() && o.live_probability.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = decode(&bytes);
        let _ = split_mjpeg(&bytes);
    }

    #[test]
    fn random_bytes_behind_an_image_signature_are_errors(tail in proptest::collection::vec(any::<u8>(), 0..2048), sig in 0usize..3) {
        let head: &[u8] = [&[0xFF, 0xD8, 0xFF][..], b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBPVP8 "][sig];
        let bytes = [head, &tail].concat();
        prop_assert!(decode(&bytes).is_err());
    }

    #[test]
    fn frames_of_any_claimed_size_are_checked(w in 0u32..20_000, h in 0u32..20_000, len in 0usize..100_000) {
        let buf = vec![0u8; len];
        if let Ok(f) = Frame::new(w, h, &buf) {
            prop_assert_eq!(f.width() as usize * f.height() as usize * 4, len);
        }
    }

    #[test]
    fn garbage_envelopes_are_refused_with_a_code(json in ".{0,300}", seq in any::<u32>(), mac in "[0-9a-f]{0,80}", digest in "[0-9a-zA-Z]{0,80}") {
        let _ = serde_json::from_str::<FrameEnvelope>(&json);
        let env = FrameEnvelope { session_id: "ses_x".into(), seq, t_ms: 0, challenge_index: Some(0), image_sha256: digest, mac };
        let mut st = ChainState::new("ses_x", &"ab".repeat(32)).unwrap();
        let err = st.accept(&[1; 32], &env, b"img").unwrap_err();
        prop_assert!(!err.code().is_empty());
        prop_assert_eq!(st.next_seq, 0);
    }
}
