use livecheck_core::challenge::StillRules;
use livecheck_core::challenge::{ChallengeKind, ChallengeRules, ChallengeWindow};
use livecheck_core::consistency::{check, ConsistencyLimits};
use livecheck_core::continuity::ContinuityLimits;
use livecheck_core::decision::{decide, decide_stills, DecisionInput, FailureReason, StillsInput};
use livecheck_core::engine::Observation;
use livecheck_core::light::LightLimits;
use livecheck_core::ChallengeKind::*;

use crate::helpers::{
    clip_descriptors, handheld_photo, image, observe_all, observe_clip, still_clip,
};

/// Windows open from the end of a one-second baseline to the end of the capture.
pub fn windows(kinds: &[ChallengeKind]) -> Vec<ChallengeWindow> {
    kinds
        .iter()
        .map(|&k| ChallengeWindow::new(k, 1000, u64::MAX))
        .collect()
}

pub fn input<'a>(obs: &'a [Observation], windows: &'a [ChallengeWindow]) -> DecisionInput<'a> {
    DecisionInput {
        observations: obs,
        windows,
        baseline_ms: 1000,
        threshold: 70.0,
        rules: ChallengeRules::default(),
        consistency: ConsistencyLimits::default(),
        continuity: ContinuityLimits::default(),
        light: None,
        light_limits: LightLimits::default(),
    }
}

#[test]
fn d18_capture_with_blink_then_smile_passes() {
    let obs = observe_clip("video/lp_d18_actions_640x480_30fps.mjpeg", 3, true);
    let script = windows(&[Blink, Smile]);
    let d = decide(&input(&obs, &script));
    assert!(d.passed, "{d:#?}");
    assert_eq!(d.failure_reason, None);
    assert!(d.anti_spoof_score.unwrap() >= 70.0 && d.confidence >= 70.0);
}

#[test]
fn printed_and_screen_photos_repeated_are_refused_as_spoofs() {
    for file in [
        "spoof/silentface_F1_print_upright.jpg",
        "spoof/silentface_F2_screen_upright.jpg",
    ] {
        let obs = still_clip(&image(file), 3);
        let script = windows(&[Blink]);
        let d = decide(&input(&obs, &script));
        assert!(!d.passed, "{file}");
        assert_eq!(
            d.failure_reason,
            Some(FailureReason::SpoofDetected),
            "{file}"
        );
        assert!(!d.challenges[0].passed, "{file}");
    }
}

#[test]
fn a_capture_that_switches_faces_is_inconsistent() {
    // The mesh every 6th frame, with the identity descriptor as the verifier takes it.
    let with_descriptors = |rel: &str| {
        let mut obs = observe_clip(rel, 6, false);
        for (o, d) in obs.iter_mut().zip(clip_descriptors(rel, 6)) {
            o.descriptor = d.descriptor;
        }
        obs
    };
    let d18 = with_descriptors("video/lp_d18_actions_640x480_30fps.mjpeg");
    let s32 = with_descriptors("video/lp_s32_turns_640x480_30fps.mjpeg");
    let same = check(&d18, &ConsistencyLimits::default());
    assert!(same.consistent, "{same:?}");
    let same = check(&s32, &ConsistencyLimits::default());
    assert!(same.consistent, "{same:?}");
    let mut mixed: Vec<Observation> = d18[..18].to_vec();
    mixed.extend(s32[..18].iter().cloned().map(|mut o| {
        o.t_ms += 3600;
        o
    }));
    let c = check(&mixed, &ConsistencyLimits::default());
    assert!(!c.consistent, "{c:?}");
}

#[test]
fn descriptors_keep_one_person_through_head_turns_and_catch_a_second() {
    // Only the identity check: geometry and continuity limits out of the way.
    let limits = ConsistencyLimits {
        max_shape_distance: f32::INFINITY,
        max_jump: f32::INFINITY,
        ..ConsistencyLimits::default()
    };
    let d18 = clip_descriptors("video/lp_d18_actions_640x480_30fps.mjpeg", 36);
    let s32 = clip_descriptors("video/lp_s32_turns_640x480_30fps.mjpeg", 30);
    for (name, clip) in [("d18", &d18), ("s32", &s32)] {
        let c = check(clip, &limits);
        println!("{name}: {c:?}");
        assert!(c.identity_frames >= 5, "{name}: {c:?}");
        assert!(c.consistent, "{name}: {c:?}");
    }
    let mut mixed = d18[..3].to_vec();
    mixed.extend(s32[3..].iter().cloned());
    let c = check(&mixed, &limits);
    println!("mixed: {c:?}");
    assert!(!c.consistent && c.max_identity_distance > 0.55, "{c:?}");
}

#[test]
fn a_passive_capture_passes_a_live_face_and_not_a_live_photo_held_up() {
    // Passive: no script. 2 s of d18 sitting still (no action before 2.2 s).
    let live: Vec<Observation> = observe_clip("video/lp_d18_actions_640x480_30fps.mjpeg", 3, true)
        .into_iter()
        .filter(|o| o.t_ms < 2000)
        .collect();
    let d = decide(&input(&live, &[]));
    assert!(d.passed, "{d:#?}");
    assert!(d.live_signs.as_ref().is_some_and(|s| s.present));
    // T1's pixels are a live face (anti-spoof 99.9 here): the motion check decides.
    let photo = handheld_photo(&image("live/silentface_T1_live_upright.jpg"), 3);
    let d = decide(&input(&photo, &[]));
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::NoLiveMotion),
        "{d:#?}"
    );
}

#[test]
fn no_frames_is_its_own_failure() {
    let d = decide(&input(&[], &[]));
    assert_eq!(d.failure_reason, Some(FailureReason::NoFrames));
}

#[test]
fn one_photo_per_challenge_passes_one_person_showing_each() {
    let decide_photos = |photos: &[(livecheck_core::ChallengeKind, &str)]| {
        let photos: Vec<_> = photos.iter().map(|(k, f)| (*k, observe_all(f))).collect();
        decide_stills(&StillsInput {
            photos: &photos,
            threshold: 70.0,
            rules: StillRules::default(),
            consistency: ConsistencyLimits::default(),
        })
    };
    let closed = "live_frames/lp_d18_t3.2_eyes_closed.png";
    let smile = "live_frames/lp_d18_t3.8_smile.png";
    let d = decide_photos(&[(Blink, closed), (Smile, smile)]);
    assert!(d.passed, "{d:#?}");
    assert_eq!(d.consistency.identity_frames, 2);
    // Someone else's smile.
    let d = decide_photos(&[
        (Blink, closed),
        (Smile, "live/fr_obama_official_portrait.jpg"),
    ]);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::FaceMismatch),
        "{d:#?}"
    );
    // The photos swapped: each shows the other challenge.
    let d = decide_photos(&[(Blink, smile), (Smile, closed)]);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::ChallengeFailed),
        "{d:#?}"
    );
}
