use livecheck_core::analysis::key_points;
use livecheck_core::liveness::{aggregate_score, DEFAULT_THRESHOLD};

use crate::helpers::{image, observe};

const LIVE: [&str; 4] = [
    "live/skimage_astronaut.png",
    "live/fr_obama_official_portrait.jpg",
    "live/silentface_T1_live_rot90.jpg",
    "live/silentface_T1_live_upright.jpg",
];

#[test]
fn every_live_photo_has_exactly_one_face_with_landmarks_on_eyes_nose_and_mouth() {
    for file in LIVE {
        let o = observe(&image(file), 0, false);
        assert_eq!(o.faces, 1, "{file}");
        let face = o.face.as_ref().unwrap();
        let kp = key_points(&o).unwrap_or_else(|| panic!("{file}: no mesh"));
        let [re, le, nose, mr, ml] = face.landmarks;
        let eye_gap = re.distance(le);
        // Two independent models (detector points, mesh) agree on each feature.
        let near = |a: [f32; 2], x: f32, y: f32, what: &str| {
            let d = ((a[0] - x).powi(2) + (a[1] - y).powi(2)).sqrt();
            assert!(
                d < 0.25 * eye_gap,
                "{file}: {what} mesh {a:?} vs detector ({x}, {y}), {d:.1} px"
            );
        };
        near(kp.right_eye, re.x, re.y, "right eye");
        near(kp.left_eye, le.x, le.y, "left eye");
        near(kp.nose_tip, nose.x, nose.y, "nose");
        near(
            kp.mouth_centre,
            (mr.x + ml.x) / 2.0,
            (mr.y + ml.y) / 2.0,
            "mouth",
        );
        // Upright faces: subject's right eye on the image left, eyes above nose above mouth.
        assert!(kp.right_eye[0] < kp.left_eye[0], "{file}");
        assert!(
            kp.right_eye[1].max(kp.left_eye[1]) < kp.nose_tip[1]
                && kp.nose_tip[1] < kp.mouth_centre[1],
            "{file}"
        );
        assert!(o.mesh.as_ref().unwrap().presence > 0.9, "{file}");
    }
}

#[test]
fn exif_orientation_is_applied_so_rotated_originals_match_upright_copies() {
    let a = observe(&image("live/silentface_T1_live_rot90.jpg"), 0, false);
    let b = observe(&image("live/silentface_T1_live_upright.jpg"), 0, false);
    assert_eq!((a.width, a.height), (480, 640));
    let (fa, fb) = (a.face.unwrap().bbox, b.face.unwrap().bbox);
    assert!(
        (fa.x - fb.x).abs() < 2.0 && (fa.y - fb.y).abs() < 2.0,
        "{fa:?} vs {fb:?}"
    );
}

#[test]
fn silent_face_live_sample_scores_live_and_print_and_screen_score_spoof() {
    let score = |file: &str| {
        let o = observe(&image(file), 0, true);
        aggregate_score(&[o.live_probability.unwrap()]).unwrap()
    };
    let live = score("live/silentface_T1_live_upright.jpg");
    let print = score("spoof/silentface_F1_print_upright.jpg");
    let screen = score("spoof/silentface_F2_screen_upright.jpg");
    assert!(live >= DEFAULT_THRESHOLD, "live scored {live}");
    assert!(print < DEFAULT_THRESHOLD, "print scored {print}");
    assert!(screen < DEFAULT_THRESHOLD, "screen scored {screen}");
}

#[test]
fn d18_frames_show_blink_smile_and_open_mouth_against_the_neutral_frame() {
    let rules = livecheck_core::challenge::ChallengeRules::default();
    let expr = |f: &str| observe(&image(f), 0, false).mesh.unwrap().expression;
    let neutral = expr("live_frames/lp_d18_t0.5_neutral.png");
    let closed = expr("live_frames/lp_d18_t3.2_eyes_closed.png");
    let smile = expr("live_frames/lp_d18_t3.8_smile.png");
    let open = expr("live_frames/lp_d18_t2.6_mouth_open.png");
    // Neutral: no action is showing.
    assert!(
        neutral.eye_closure < 0.35 && neutral.smile < 0.15 && neutral.jaw_open < 0.3,
        "{neutral:?}"
    );
    assert!(
        closed.eye_closure - neutral.eye_closure >= rules.blink_rise,
        "{closed:?}"
    );
    assert!(smile.smile - neutral.smile >= rules.smile_rise, "{smile:?}");
    assert!(
        open.jaw_open - neutral.jaw_open >= rules.open_mouth_rise,
        "{open:?}"
    );
    // And each frame shows only its own action.
    assert!(
        smile.eye_closure - neutral.eye_closure < rules.blink_rise,
        "{smile:?}"
    );
    assert!(open.smile - neutral.smile < rules.smile_rise, "{open:?}");
    assert!(
        closed.smile - neutral.smile < rules.smile_rise,
        "{closed:?}"
    );
}

/// Everything the engine reads of one photo.
fn observe_stills(img: &livecheck_core::RgbaImage) -> livecheck_core::Observation {
    crate::helpers::engine()
        .observe(
            &img.frame().unwrap(),
            0,
            livecheck_core::ObserveOptions::default(),
        )
        .unwrap()
}

/// The photo flow's decision at the default pass mark.
fn decide_stills_at_70(
    photos: Vec<(livecheck_core::ChallengeKind, livecheck_core::Observation)>,
) -> livecheck_core::decision::Decision {
    use livecheck_core::challenge::StillRules;
    use livecheck_core::consistency::ConsistencyLimits;
    use livecheck_core::decision::{decide_stills, StillsInput};
    decide_stills(&StillsInput {
        photos: &photos,
        threshold: 70.0,
        rules: StillRules::default(),
        consistency: ConsistencyLimits::default(),
    })
}

/// The picture in grey (Rec. 601 luma in all three channels).
fn grey(img: &livecheck_core::RgbaImage) -> livecheck_core::RgbaImage {
    let mut out = img.clone();
    for px in out.data.chunks_exact_mut(4) {
        let y = (0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32) as u8;
        px[..3].copy_from_slice(&[y, y, y]);
    }
    out
}

/// The picture shrunk `k` times (box filter).
fn shrunk(img: &livecheck_core::RgbaImage, k: u32) -> livecheck_core::RgbaImage {
    let (w, h) = (img.width / k, img.height / k);
    let mut data = vec![0u8; (w * h * 4) as usize];
    for y in 0..h {
        for x in 0..w {
            for c in 0..4 {
                let mut sum = 0u32;
                for dy in 0..k {
                    for dx in 0..k {
                        let i = (((y * k + dy) * img.width + x * k + dx) * 4 + c) as usize;
                        sum += img.data[i] as u32;
                    }
                }
                data[((y * w + x) * 4 + c) as usize] = (sum / (k * k)) as u8;
            }
        }
    }
    livecheck_core::RgbaImage {
        width: w,
        height: h,
        data,
    }
}

#[test]
fn grey_scale_and_tiny_faces_are_unsuitable_captures_not_spoofs() {
    use livecheck_core::decision::FailureReason;
    use livecheck_core::quality::QualityIssue;
    use livecheck_core::ChallengeKind;

    let observe_all = observe_stills;
    let files = [
        "live_frames/lp_d18_t3.2_eyes_closed.png",
        "live_frames/lp_d18_t3.8_smile.png",
        "live/fr_obama_official_portrait.jpg",
        "live/skimage_astronaut.png",
        "spoof/silentface_F1_print_upright.jpg",
    ];
    for f in files {
        let colour = observe_all(&image(f));
        let grey = observe_all(&grey(&image(f)));
        println!(
            "{f}: chroma {:.1} in colour, {:.1} in grey; anti-spoof {:.2} → {:.2}",
            colour.quality.chroma,
            grey.quality.chroma,
            colour.live_probability.unwrap_or(0.0),
            grey.live_probability.unwrap_or(0.0),
        );
        assert!(
            !colour.quality.issues.contains(&QualityIssue::Greyscale),
            "{f}"
        );
        assert!(
            grey.quality.issues.contains(&QualityIssue::Greyscale),
            "{f}"
        );
    }

    let decide = decide_stills_at_70;
    let closed = image("live_frames/lp_d18_t3.2_eyes_closed.png");
    let smile = image("live_frames/lp_d18_t3.8_smile.png");
    // d18 in grey: the anti-spoof models refuse it (0.18 for the smile), but it is a
    // camera without colour, not an attack.
    let d = decide(vec![
        (ChallengeKind::Blink, observe_all(&grey(&closed))),
        (ChallengeKind::Smile, observe_all(&grey(&smile))),
    ]);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::UnsuitableCapture),
        "{d:#?}"
    );
    // So small the face is a few dozen pixels high.
    let tiny = observe_all(&shrunk(&smile, 8));
    println!(
        "d18 smile at 1/8: face {:.0} px high, anti-spoof {:.2}",
        tiny.face.as_ref().map_or(0.0, |f| f.bbox.height),
        tiny.live_probability.unwrap_or(0.0)
    );
    assert!(tiny.quality.issues.contains(&QualityIssue::FaceTooSmall));
    let d = decide(vec![(ChallengeKind::Smile, tiny)]);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::UnsuitableCapture),
        "{d:#?}"
    );
    // A printed photo in colour stays a spoof.
    let print = observe_all(&image("spoof/silentface_F1_print_upright.jpg"));
    let d = decide(vec![(ChallengeKind::Smile, print)]);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::SpoofDetected),
        "{d:#?}"
    );
}

/// The picture with Gaussian noise of σ `sigma` added to each channel (a fixed seed):
/// what a camera's gain does in dim light.
fn noisy(img: &livecheck_core::RgbaImage, sigma: f32) -> livecheck_core::RgbaImage {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 11) as f32 + 0.5) / (1u64 << 53) as f32
    };
    let mut out = img.clone();
    for px in out.data.chunks_exact_mut(4) {
        for v in &mut px[..3] {
            let (a, b) = (uniform(), uniform());
            let g = (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos();
            *v = (*v as f32 + sigma * g).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[test]
fn a_dim_cameras_noise_is_an_unsuitable_capture_and_does_not_let_a_print_pass() {
    use livecheck_core::decision::FailureReason;
    use livecheck_core::quality::QualityLimits;
    use livecheck_core::ChallengeKind;

    let (observe, decide) = (observe_stills, decide_stills_at_70);
    let noisy_face = QualityLimits::default().noisy_face;
    let closed = image("live_frames/lp_d18_t3.2_eyes_closed.png");
    let smile = image("live_frames/lp_d18_t3.8_smile.png");
    let print = image("spoof/silentface_F1_print_upright.jpg");
    for (name, img) in [("closed", &closed), ("smile", &smile), ("print", &print)] {
        let (clean, grainy) = (observe(img), observe(&noisy(img, 6.0)));
        println!(
            "{name}: noise {:.2} → {:.2}, anti-spoof {:.2} → {:.2}",
            clean.quality.noise,
            grainy.quality.noise,
            clean.live_probability.unwrap_or(0.0),
            grainy.live_probability.unwrap_or(0.0),
        );
        assert!(clean.quality.noise < noisy_face, "{name}");
        assert!(grainy.quality.noise >= noisy_face, "{name}");
    }

    // d18 clean passes; with σ 6 noise the anti-spoof models refuse the same man, and
    // the reason is the camera, which more light fixes, not an attack.
    let d = decide(vec![
        (ChallengeKind::Blink, observe(&closed)),
        (ChallengeKind::Smile, observe(&smile)),
    ]);
    assert_eq!(d.failure_reason, None, "{d:#?}");
    let d = decide(vec![
        (ChallengeKind::Blink, observe(&noisy(&closed, 6.0))),
        (ChallengeKind::Smile, observe(&noisy(&smile, 6.0))),
    ]);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::UnsuitableCapture),
        "{d:#?}"
    );
    // The attacker's side: noise on a print changes what the refusal says, never that
    // it is one; the clean print stays a spoof.
    for sigma in [0.0, 3.0, 6.0, 12.0] {
        let d = decide(vec![(ChallengeKind::Smile, observe(&noisy(&print, sigma)))]);
        assert!(!d.passed, "σ {sigma}: {d:#?}");
        assert!(
            d.anti_spoof_score.is_some_and(|s| s < 70.0),
            "σ {sigma}: {d:#?}"
        );
        if sigma == 0.0 {
            assert_eq!(d.failure_reason, Some(FailureReason::SpoofDetected));
        }
    }
}
