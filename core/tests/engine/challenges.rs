use livecheck_core::challenge::{detect_events, judge_script, ChallengeRules, TimedChallenge};
use livecheck_core::ChallengeKind::{self, *};
use livecheck_core::Observation;

use crate::helpers::{handheld_photo, image, observe, observe_clip, still_clip, warp_affine};

const D18: &str = "video/lp_d18_actions_640x480_30fps.mjpeg";
const S32: &str = "video/lp_s32_turns_640x480_30fps.mjpeg";

fn script(kinds: &[ChallengeKind]) -> Vec<TimedChallenge> {
    kinds
        .iter()
        .map(|&kind| TimedChallenge {
            kind,
            window_ms: 8000,
        })
        .collect()
}

fn first(events: &[livecheck_core::challenge::ActionEvent], kind: ChallengeKind) -> Option<u64> {
    events.iter().find(|e| e.kind == kind).map(|e| e.t_ms)
}

#[test]
fn d18_clip_shows_open_mouth_blink_and_smile_at_the_manifest_times() {
    let obs = observe_clip(D18, 2, false);
    let events = detect_events(&obs, 1000, &ChallengeRules::default());
    let open = first(&events, OpenMouth).expect("OPEN_MOUTH");
    let blink = first(&events, Blink).expect("BLINK");
    let smile = first(&events, Smile).expect("SMILE");
    // Manifest timeline: mouth open 2.2–3.0 s, blink 3.2 s, smile 3.7–5.0 s.
    assert!((2200..=3000).contains(&open), "{events:?}");
    assert!((3000..=3400).contains(&blink), "{events:?}");
    assert!((3700..=5000).contains(&smile), "{events:?}");
    assert!(
        first(&events, TurnLeft).is_none() && first(&events, TurnRight).is_none(),
        "no head turn: {events:?}"
    );
}

#[test]
fn d18_passes_scripts_in_the_clip_order_with_named_frames_and_values() {
    let obs = observe_clip(D18, 2, false);
    let rules = ChallengeRules::default();
    for kinds in [[Blink, Smile], [OpenMouth, Blink]] {
        let v = judge_script(&obs, &script(&kinds), 1000, &rules);
        assert!(v.iter().all(|c| c.passed), "{kinds:?}: {v:#?}");
        for c in &v {
            assert_eq!(c.frames.len(), 3);
            let (start, peak) = (c.values.start.unwrap(), c.values.peak.unwrap());
            assert!(peak - start >= c.values.threshold, "{c:?}");
        }
        assert!(v[0].t_ms < v[1].t_ms);
    }
}

#[test]
fn d18_fails_a_challenge_it_never_performs_and_everything_after_it() {
    let obs = observe_clip(D18, 2, false);
    let v = judge_script(
        &obs,
        &script(&[TurnLeft, Blink]),
        1000,
        &ChallengeRules::default(),
    );
    assert!(!v[0].passed && !v[1].passed, "{v:#?}");
}

#[test]
fn an_action_inside_the_baseline_does_not_count() {
    // d18 blinks at 3.2 s and again at 6.2 s: with the baseline running to 3.4 s only
    // the second blink may answer the prompt.
    let obs = observe_clip(D18, 2, false);
    let v = judge_script(&obs, &script(&[Blink]), 3400, &ChallengeRules::default());
    assert!(v[0].t_ms.is_none_or(|t| t >= 3400), "{v:#?}");
}

#[test]
fn s32_clip_shows_turn_left_and_turn_right() {
    let obs = observe_clip(S32, 2, false);
    let events = detect_events(&obs, 1000, &ChallengeRules::default());
    assert!(first(&events, TurnLeft).is_some(), "{events:?}");
    assert!(first(&events, TurnRight).is_some(), "{events:?}");
    // The clip turns left (1.1 s), right (1.6 s) and left (2.0 s). The first left turn
    // starts inside the 1 s baseline, where actions do not count, so the script that
    // the rest of the clip answers is right, then left.
    let v = judge_script(
        &obs,
        &script(&[TurnRight, TurnLeft]),
        1000,
        &ChallengeRules::default(),
    );
    assert!(v.iter().all(|c| c.passed), "{v:#?}");
}

#[test]
fn a_turn_straight_from_one_side_to_the_other_rises_from_the_first_ones_peak() {
    // s32 frames as a sparse capture: resting midway (about −22.6° yaw), then right
    // (49, −27.6°), left (59, −17.7°), and straight back right (45, then 49). The left
    // peak is the only frame a full 7° from the right peak: the right turn starts there.
    let frames = observe_clip(S32, 1, false);
    let at = |i: usize, t_ms: u64| Observation {
        t_ms,
        ..frames[i].clone()
    };
    let obs = [
        at(16, 0),
        at(17, 200),
        at(18, 400),
        at(19, 600),
        at(16, 800),
        at(49, 1100),
        at(54, 1200),
        at(59, 1300),
        at(45, 1400),
        at(49, 1500),
        at(54, 1600),
    ];
    let v = judge_script(
        &obs,
        &script(&[TurnLeft, TurnRight]),
        1000,
        &ChallengeRules::default(),
    );
    assert!(v.iter().all(|c| c.passed), "{v:#?}");
    assert_eq!(v[0].t_ms, Some(1300));
    assert_eq!(v[1].frames[0], 7, "the right turn starts at the left peak");
    assert_eq!(v[1].t_ms, Some(1500));
}

#[test]
fn a_still_photo_repeated_for_three_seconds_passes_no_challenge() {
    let obs = still_clip(&image("live/silentface_T1_live_upright.jpg"), 3);
    assert!(detect_events(&obs, 1000, &ChallengeRules::default()).is_empty());
    for kind in ChallengeKind::ALL {
        let v = judge_script(&obs, &script(&[kind]), 1000, &ChallengeRules::default());
        assert!(!v[0].passed, "{kind:?}");
    }
}

#[test]
fn a_photo_held_up_to_the_camera_passes_no_challenge() {
    // T1 looks down, so her eye-closure measure sits high and wobbles as the print
    // moves: before the peak had to clear her neutral, a dip and a swing back passed
    // BLINK.
    for file in [
        "live/silentface_T1_live_upright.jpg",
        "live/skimage_astronaut.png",
    ] {
        let obs = handheld_photo(&image(file), 6);
        for kind in ChallengeKind::ALL {
            let v = judge_script(&obs, &script(&[kind]), 1000, &ChallengeRules::default());
            assert!(!v[0].passed, "{file}: {kind:?} {:?}", v[0].values);
        }
    }
}

#[test]
fn a_photo_warped_by_an_affine_head_turn_passes_no_turn() {
    // Squeeze the face horizontally about its centre and shear it, as if it turned,
    // and back again: 2-D motion with no 3-D pose change.
    let img = image("live/silentface_T1_live_upright.jpg");
    let c = observe(&img, 0, false).face.unwrap().bbox.centre();
    let mut obs = Vec::new();
    for i in 0..30u64 {
        let phase = (i as f32 / 29.0 * std::f32::consts::PI * 2.0).sin(); // 0 → 1 → 0 → −1 → 0
        let sx = 1.0 + 0.25 * phase.abs(); // source step > 1: the face looks narrower
        let shear = 0.15 * phase;
        let a = [sx, shear, 0.0, 1.0];
        let b = [c.x - sx * c.x - shear * c.y, 0.0];
        let warped = warp_affine(&img, a, b);
        obs.push(observe(&warped, i * 100, false));
    }
    let yaws: Vec<f32> = obs
        .iter()
        .filter_map(|o| o.mesh.as_ref().map(|m| m.pose.yaw))
        .collect();
    for kind in [TurnLeft, TurnRight] {
        let v = judge_script(&obs, &script(&[kind]), 1000, &ChallengeRules::default());
        assert!(
            !v[0].passed,
            "{kind:?} passed on a warped photo; yaws {yaws:?}"
        );
    }
}

#[test]
fn single_photos_pass_only_the_challenge_they_show() {
    use livecheck_core::challenge::{judge_still, StillRules};
    let rules = StillRules::default();
    for (file, shows) in [
        ("live_frames/lp_d18_t0.5_neutral.png", None),
        ("live_frames/lp_d18_t3.2_eyes_closed.png", Some(Blink)),
        ("live_frames/lp_d18_t3.8_smile.png", Some(Smile)),
        ("live_frames/lp_d18_t2.6_mouth_open.png", Some(OpenMouth)),
        // Looking down and a little aside: neither a blink nor a turn.
        ("live/silentface_T1_live_upright.jpg", None),
    ] {
        let o = observe(&image(file), 0, false);
        for kind in ChallengeKind::ALL {
            let v = judge_still(&o, kind, &rules);
            assert_eq!(
                v.passed,
                Some(kind) == shows,
                "{file}: {kind:?} {:?}",
                v.values
            );
        }
    }
    // s32 opens turned well to her right (yaw −28): a right turn, not a left one.
    let s32 = observe_clip(S32, 2, false);
    let v = |kind| judge_still(&s32[0], kind, &rules);
    assert!(v(TurnRight).passed, "{:?}", v(TurnRight).values);
    assert!(!v(TurnLeft).passed);
}
