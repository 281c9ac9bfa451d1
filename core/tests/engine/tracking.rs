//! Following a face on its mesh between detections (the browser's first pass): the
//! followed frames must see what detection on every frame sees.

use livecheck_core::challenge::{detect_events, ChallengeRules};
use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::engine::{Observation, ObserveOptions};
use livecheck_core::geometry::BoundingBox;
use livecheck_core::tracking::FaceTrack;
use livecheck_core::ChallengeKind;

use crate::helpers::{engine, image, observe_clip, testdata};

const D18: &str = "video/lp_d18_actions_640x480_30fps.mjpeg";
const S32: &str = "video/lp_s32_turns_640x480_30fps.mjpeg";

const MESH_ONLY: ObserveOptions = ObserveOptions {
    mesh: true,
    anti_spoof: false,
    descriptor: false,
    appearance: false,
};

/// The clip every `step`-th frame, the detector on every `detect_every`-th of those and
/// the face followed in between; each observation with whether it was detected.
fn followed_clip(rel: &str, step: usize, detect_every: usize) -> Vec<(Observation, bool)> {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    let mut track = FaceTrack::default();
    split_mjpeg(&bytes)
        .iter()
        .enumerate()
        .step_by(step)
        .enumerate()
        .map(|(n, (i, jpeg))| {
            let img = decode(jpeg).unwrap();
            let frame = img.frame().unwrap();
            let t = (i as u64 * 1000) / 30;
            let followed = if n % detect_every == 0 {
                None
            } else {
                engine().observe_followed(&frame, t, &track).unwrap()
            };
            let detected = followed.is_none();
            let obs = match followed {
                Some(o) => o,
                None => engine().observe(&frame, t, MESH_ONLY).unwrap(),
            };
            track.update(&obs, detected);
            (obs, detected)
        })
        .collect()
}

fn iou(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let w = (a.x + a.width).min(b.x + b.width) - a.x.max(b.x);
    let h = (a.y + a.height).min(b.y + b.height) - a.y.max(b.y);
    let inter = w.max(0.0) * h.max(0.0);
    inter / (a.area() + b.area() - inter)
}

#[test]
fn followed_frames_match_detection_on_every_frame() {
    for (clip, step) in [(D18, 2), (S32, 2)] {
        let detected = observe_clip(clip, step, false);
        let followed = followed_clip(clip, step, 3);
        assert_eq!(detected.len(), followed.len());
        let mut n = 0;
        let mut gaps = Vec::new();
        let mut quality_differs = Vec::new();
        for ((want, (got, was_detected)), i) in detected.iter().zip(&followed).zip(0..) {
            if *was_detected {
                continue;
            }
            n += 1;
            let (w, g) = (
                want.face.as_ref().unwrap(),
                got.face.as_ref().expect("followed"),
            );
            assert!(
                iou(&w.bbox, &g.bbox) > 0.8,
                "{clip} frame {i}: {:?} vs {:?}",
                w.bbox,
                g.bbox
            );
            assert_eq!(got.faces, 1);
            if want.quality.issues != got.quality.issues {
                quality_differs.push((i, want.quality.issues.clone(), got.quality.issues.clone()));
            }
            let (wm, gm) = (want.mesh.as_ref().unwrap(), got.mesh.as_ref().unwrap());
            let (we, ge) = (wm.expression, gm.expression);
            assert!(
                (wm.pose.yaw - gm.pose.yaw).abs() < 4.0,
                "{clip} {i}: {:?} {:?}",
                wm.pose,
                gm.pose
            );
            assert!(
                (wm.pose.pitch - gm.pose.pitch).abs() < 4.0,
                "{clip} {i}: {:?} {:?}",
                wm.pose,
                gm.pose
            );
            for (a, b) in [
                (we.eye_closure, ge.eye_closure),
                (we.smile, ge.smile),
                (we.jaw_open, ge.jaw_open),
            ] {
                gaps.push((a - b).abs());
            }
        }
        gaps.sort_by(f32::total_cmp);
        let at = |q: f32| gaps[((gaps.len() - 1) as f32 * q) as usize];
        eprintln!(
            "{clip}: {n} followed; expression gaps median {:.3} p90 {:.3} max {:.3}; quality differs on {}",
            at(0.5),
            at(0.9),
            at(1.0),
            quality_differs.len()
        );
        assert!(at(0.5) < 0.03 && at(0.9) < 0.08, "{clip}: {gaps:?}");
        assert!(n * 3 >= followed.len() * 2 - 3, "{clip}: only {n} followed");
        // A box a few pixels off can cross a limit (the face's edge at the frame's).
        assert!(
            quality_differs.len() * 10 <= n,
            "{clip}: {quality_differs:?}"
        );
    }
}

#[test]
fn followed_capture_sees_the_same_actions() {
    let rules = ChallengeRules::default();
    let kinds = |obs: &[Observation]| {
        let mut k: Vec<ChallengeKind> = detect_events(obs, 1000, &rules)
            .iter()
            .map(|e| e.kind)
            .collect();
        k.sort_by_key(|k| k.as_str());
        k.dedup();
        k
    };
    let followed: Vec<Observation> = followed_clip(D18, 2, 3).into_iter().map(|o| o.0).collect();
    assert_eq!(kinds(&followed), kinds(&observe_clip(D18, 2, false)));
    assert!(kinds(&followed).contains(&ChallengeKind::Blink));
}

#[test]
fn nothing_to_follow_before_a_detection_and_a_lost_face_ends_the_track() {
    let track = FaceTrack::default();
    let img = image("live_frames/lp_d18_t0.5_neutral.png");
    let frame = img.frame().unwrap();
    assert!(engine()
        .observe_followed(&frame, 0, &track)
        .unwrap()
        .is_none());

    let mut track = FaceTrack::default();
    let obs = engine().observe(&frame, 0, MESH_ONLY).unwrap();
    track.update(&obs, true);
    assert!(track.next_face().is_some());
    // The face is gone from the next frame: grey where it was.
    let blank = livecheck_core::RgbaImage {
        width: img.width,
        height: img.height,
        data: vec![128; img.data.len()],
    };
    let gone = engine()
        .observe_followed(&blank.frame().unwrap(), 100, &track)
        .unwrap()
        .expect("a face was followed");
    assert_eq!(gone.faces, 0);
    assert!(gone.face.is_none() && gone.mesh.is_none());
    track.update(&gone, false);
    assert!(track.next_face().is_none(), "a lost face is not followed");
}
