//! Pictures a client chose, sent as a capture: the decision must refuse them, and
//! still pass the real clips. (The verifier's attack suite plays the same attacks over
//! HTTP against the clock; these judge the frames alone.)

use livecheck_core::challenge::{ChallengeKind::*, ChallengeRules};
use livecheck_core::consistency::ConsistencyLimits;
use livecheck_core::continuity::{Break, ContinuityLimits};
use livecheck_core::decision::{decide, DecisionInput, FailureReason, LightInput};
use livecheck_core::engine::Observation;
use livecheck_core::light::{light_face, LightLimits};
use livecheck_core::timeline::{LightPlan, Shown};
use livecheck_core::RgbaImage;

use crate::decisions::{input, windows};
use crate::helpers::{camera_copy, clip_images, image, observe, observe_clip, reencode};

const D18: &str = "video/lp_d18_actions_640x480_30fps.mjpeg";
const S32: &str = "video/lp_s32_turns_640x480_30fps.mjpeg";
const NEUTRAL: &str = "live_frames/lp_d18_t0.5_neutral.png";
const CLOSED: &str = "live_frames/lp_d18_t3.2_eyes_closed.png";
const SMILE: &str = "live_frames/lp_d18_t3.8_smile.png";

/// Frames at 10 fps, each the next picture of `pictures` as a camera would send it.
fn stills(pictures: &[&RgbaImage]) -> Vec<Observation> {
    pictures
        .iter()
        .enumerate()
        .map(|(i, img)| observe(&camera_copy(img, i as u64), i as u64 * 100, true))
        .collect()
}

#[test]
fn the_real_clips_are_continuous_at_ten_and_five_frames_a_second() {
    for (clip, kinds) in [(D18, vec![Blink, Smile]), (S32, vec![TurnLeft, TurnRight])] {
        for step in [3, 6] {
            let obs = observe_clip(clip, step, true);
            let w = windows(&kinds);
            let d = decide(&input(&obs, &w));
            assert_eq!(
                d.continuity.broken, None,
                "{clip} every {step}: {:?}",
                d.continuity
            );
            // A live face held still reads as a repeat now and then (dropped, not failed).
            assert!(
                d.continuity.repeated_frames * 50 <= obs.len(),
                "{clip}: {:?}",
                d.continuity
            );
            assert!(
                d.continuity.rest_motion.unwrap() >= 1.5,
                "{clip}: {:?}",
                d.continuity
            );
        }
    }
}

#[test]
fn stills_of_a_live_person_answering_each_challenge_fail() {
    let (neutral, closed, smile) = (image(NEUTRAL), image(CLOSED), image(SMILE));
    // A second of baseline, then the eyes-closed picture for one frame, then the smile
    // for three: the timing of a real user.
    let mut pictures: Vec<&RgbaImage> = vec![&neutral; 15];
    pictures.push(&closed);
    pictures.extend([&neutral; 8]);
    pictures.extend([&smile; 3]);
    pictures.extend([&neutral; 8]);
    let obs = stills(&pictures);
    let w = windows(&[Blink, Smile]);
    // These pictures are a live face's; with added noise anti-spoof reads them near
    // the pass mark (65 here). Set it aside: the rest of the decision must refuse them.
    let input = |obs, w, rules| DecisionInput {
        threshold: 0.0,
        rules,
        ..input(obs, w)
    };
    let d = decide(&input(&obs, &w, ChallengeRules::default()));
    assert!(!d.passed, "{d:#?}");
    // Neither action rose through intermediate states.
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::ChallengeFailed),
        "{d:#?}"
    );
    assert!(d.challenges.iter().all(|c| !c.passed));
    // With the action rules out of the way, the face between the actions is rigid.
    let lenient = ChallengeRules {
        min_intermediate: 0.0,
        ..ChallengeRules::default()
    };
    let d = decide(&input(&obs, &w, lenient));
    assert!(d.challenges.iter().all(|c| c.passed), "{:?}", d.challenges);
    assert_eq!(
        d.continuity.broken,
        Some(Break::RigidAtRest),
        "{:?}",
        d.continuity
    );
    assert_eq!(d.failure_reason, Some(FailureReason::CaptureDiscontinuous));
    assert!(
        d.continuity.rest_motion.unwrap() < 1.0,
        "{:?}",
        d.continuity
    );
}

#[test]
fn two_stills_alternating_fail_a_passive_check() {
    let (neutral, closed) = (image(NEUTRAL), image(CLOSED));
    let pictures: Vec<&RgbaImage> = (0..30)
        .map(|i| if i % 2 == 0 { &neutral } else { &closed })
        .collect();
    let obs = stills(&pictures);
    let d = decide(&input(&obs, &[]));
    assert!(!d.passed, "{d:#?}");
    assert_eq!(
        d.continuity.broken,
        Some(Break::Flicker),
        "{:?}",
        d.continuity
    );
    assert_eq!(d.failure_reason, Some(FailureReason::CaptureDiscontinuous));
}

#[test]
fn a_picture_sent_again_with_other_bytes_is_a_repeat() {
    let frames = clip_images(D18, 3);
    // Each real frame sent twice: once as it is, once re-encoded at the SDK's quality.
    let obs: Vec<Observation> = frames
        .iter()
        .take(30)
        .enumerate()
        .flat_map(|(i, (img, _))| {
            let t = i as u64 * 100;
            [
                observe(img, t, true),
                observe(&reencode(img, 92), t + 50, true),
            ]
        })
        .collect();
    let d = decide(&input(&obs, &[]));
    assert!(d.continuity.repeated_frames >= 20, "{:?}", d.continuity);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::RepeatedFrames),
        "{d:#?}"
    );
}

/// d18's first 4.5 s at 10 fps, each frame lit by the step shown `delay` ms before it
/// (`None`: not lit at all).
fn lit_capture(plan: &LightPlan, delay: Option<u64>) -> (Vec<Observation>, Vec<Shown>, u64) {
    let mut shown = Vec::new();
    let mut at = plan.start_ms;
    for s in &plan.steps {
        shown.push(Shown {
            at_ms: at,
            colour: s.colour,
        });
        at += s.ms;
    }
    let off = at;
    let obs = clip_images(D18, 3)
        .into_iter()
        .take_while(|(_, t)| *t < off + 500)
        .map(|(mut img, t)| {
            if let Some(delay) = delay {
                let lit = shown
                    .iter()
                    .rev()
                    .find(|s| s.at_ms + delay <= t && t < off + delay);
                if let Some(s) = lit {
                    let face = observe(&img, t, false).face.expect("a face").bbox;
                    light_face(&mut img, &face, s.colour, 0.2);
                }
            }
            observe(&img, t, true)
        })
        .collect();
    (obs, shown, off)
}

#[test]
fn the_light_challenge_passes_a_lit_face_and_fails_an_unlit_or_late_one() {
    let plan = LightPlan::from_seed(&[42; 32]);
    let judge = |obs: &[Observation], shown: &[Shown], off: u64| {
        decide(&DecisionInput {
            observations: obs,
            windows: &[],
            baseline_ms: 1000,
            threshold: 70.0,
            rules: ChallengeRules::default(),
            consistency: ConsistencyLimits::default(),
            continuity: ContinuityLimits::default(),
            light: Some(LightInput { shown, off_ms: off }),
            light_limits: LightLimits::default(),
        })
    };
    let (obs, shown, off) = lit_capture(&plan, Some(150));
    let d = judge(&obs, &shown, off);
    let light = d.light.clone().unwrap();
    println!("lit: {light:?}");
    assert!(light.passed, "{light:?}");
    assert!(d.passed, "{d:#?}");

    let (obs, shown, off) = lit_capture(&plan, None);
    let d = judge(&obs, &shown, off);
    println!("unlit: {:?}", d.light);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::LightNotReflected),
        "{:?}",
        d.light
    );

    let (obs, shown, off) = lit_capture(&plan, Some(1500));
    let d = judge(&obs, &shown, off);
    println!("late: {:?}", d.light);
    assert_eq!(
        d.failure_reason,
        Some(FailureReason::LightNotReflected),
        "{:?}",
        d.light
    );
}
