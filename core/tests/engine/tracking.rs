//! Following a face on its mesh between detections (the browser's first pass): the
//! followed frames must see what detection on every frame sees.

use livecheck_core::challenge::{detect_events, ChallengeRules};
use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::engine::{Observation, ObserveOptions};
use livecheck_core::geometry::BoundingBox;
use livecheck_core::tracking::{FaceTrack, Follower};
use livecheck_core::ChallengeKind;
use livecheck_core::RgbaImage;

use crate::helpers::{engine, image, observe_clip, testdata};

const D18: &str = "video/lp_d18_actions_640x480_30fps.mjpeg";
const S32: &str = "video/lp_s32_turns_640x480_30fps.mjpeg";

const MESH_ONLY: ObserveOptions = ObserveOptions {
    mesh: true,
    anti_spoof: false,
    descriptor: false,
    appearance: false,
};

/// The clip every `step`-th frame, through a `Follower` asked to detect on every
/// `detect_every`-th of those; each observation with whether it was detected.
fn followed_clip(rel: &str, step: usize, detect_every: usize) -> Vec<(Observation, bool)> {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    let mut follower = Follower::default();
    split_mjpeg(&bytes)
        .iter()
        .enumerate()
        .step_by(step)
        .enumerate()
        .map(|(n, (i, jpeg))| {
            let img = decode(jpeg).unwrap();
            let frame = img.frame().unwrap();
            let t = (i as u64 * 1000) / 30;
            follower
                .observe(engine(), &frame, t, MESH_ONLY, n % detect_every == 0)
                .unwrap()
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
        .observe_followed(&frame, 0, &track, MESH_ONLY)
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
        .observe_followed(&blank.frame().unwrap(), 100, &track, MESH_ONLY)
        .unwrap()
        .expect("a face was followed");
    assert_eq!(gone.faces, 0);
    assert!(gone.face.is_none() && gone.mesh.is_none());
    track.update(&gone, false);
    assert!(track.next_face().is_none(), "a lost face is not followed");
}

/// `img` with its pixels moved `dx` to the right (grey where they left).
fn shifted(img: &RgbaImage, dx: usize) -> RgbaImage {
    let w = img.width as usize;
    let mut data = vec![128; img.data.len()];
    for (row, out) in img.data.chunks(w * 4).zip(data.chunks_mut(w * 4)) {
        out[dx * 4..].copy_from_slice(&row[..(w - dx) * 4]);
    }
    RgbaImage {
        data,
        ..img.clone()
    }
}

#[test]
fn the_follower_detects_again_where_following_could_hide_something() {
    let img = image("live_frames/lp_d18_t0.5_neutral.png");
    let observe = |f: &mut Follower, img: &RgbaImage, detect| {
        f.observe(engine(), &img.frame().unwrap(), 0, MESH_ONLY, detect)
            .unwrap()
    };
    // Nothing to follow before a detection.
    let mut f = Follower::default();
    assert!(observe(&mut f, &img, false).1);
    assert!(!observe(&mut f, &img, false).1, "the same face is followed");

    // A face that jumped further than a head moves between two frames (a cut): the
    // mesh still finds it in its old region, but the detector measures it.
    let width = observe(&mut f, &img, true).0.face.unwrap().bbox.width;
    let jumped = shifted(&img, (width * 0.35) as usize);
    let mut track = FaceTrack::default();
    track.update(
        &engine()
            .observe(&img.frame().unwrap(), 0, MESH_ONLY)
            .unwrap(),
        true,
    );
    let followed = engine()
        .observe_followed(&jumped.frame().unwrap(), 100, &track, MESH_ONLY)
        .unwrap()
        .unwrap();
    assert_eq!(followed.faces, 1, "the mesh alone would have followed it");
    let (obs, detected) = observe(&mut f, &jumped, false);
    assert!(detected);
    let moved = obs.face.unwrap().bbox.x - followed.face.unwrap().bbox.x;
    assert!(
        moved.abs() > 1.0,
        "the detector's box, not the followed one"
    );

    // A lost face is looked for again on the same frame.
    let blank = RgbaImage {
        data: vec![128; img.data.len()],
        ..img.clone()
    };
    let (obs, detected) = observe(&mut f, &blank, false);
    assert!(detected && obs.faces == 0);

    // Two faces side by side: every frame is detected while both are in view.
    let w = img.width as usize * 4;
    let mut data = Vec::with_capacity(img.data.len() * 2);
    for row in img.data.chunks(w) {
        data.extend_from_slice(row);
        data.extend_from_slice(row);
    }
    let pair = RgbaImage {
        width: img.width * 2,
        height: img.height,
        data,
    };
    let mut f = Follower::default();
    for _ in 0..4 {
        let (obs, detected) = observe(&mut f, &pair, false);
        assert!(detected);
        assert_eq!(obs.faces, 2);
    }
    // One face again: followed from the next frame on.
    assert!(observe(&mut f, &img, false).1);
    assert!(!observe(&mut f, &img, false).1);
}
