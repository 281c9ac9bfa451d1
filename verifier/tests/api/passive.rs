//! Passive checks over HTTP: no challenges, 3 s of the user looking at the camera;
//! a live face passes, a still photo (a fresh JPEG each frame) does not.

use serde_json::json;

use crate::harness::{clip_frames, still_frames, Capture};
use crate::shared;

#[test]
fn a_passive_check_passes_a_live_face_and_refuses_a_still_photo() {
    let shared = shared();
    let v = &*shared;
    let live = v.create(json!({"return_url": "https://customer.example/r", "mode": "passive"}));
    assert_eq!(live["challenges"], json!([]));
    let mut cap = Capture::claim(v, &live);
    assert_eq!(cap.script.challenge_count, 0);
    assert_eq!(cap.script.capture.baseline_ms, 3000);
    // The first 3 s of d18: sitting still, then opening the mouth at 2.2 s.
    for (t, jpeg) in clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3)
        .into_iter()
        .filter(|(t, _)| *t < 3000)
    {
        let (s, body) = cap.upload(t, &jpeg);
        assert_eq!(s, 201, "{body}");
    }
    let (s, fin) = cap.finish();
    assert_eq!((s, &fin["passed"]), (200, &json!(true)), "{fin}");
    let (_, r) = v.get(&format!("/liveness_check/{}", live["id"].as_str().unwrap()));
    assert_eq!(r["mode"], "passive", "{r}");
    assert_eq!(r["live_signs"]["present"], true, "{r}");
    assert!(
        r["live_signs"]["non_rigid_motion"].as_f64().unwrap() >= 2.0,
        "{r}"
    );

    let photo = v.create(json!({"return_url": "https://customer.example/r", "mode": "passive"}));
    let mut cap = Capture::claim(v, &photo);
    for (t, jpeg) in still_frames("live/silentface_T1_live_upright.jpg", 3) {
        let (s, body) = cap.upload(t, &jpeg);
        assert_eq!(s, 201, "{body}");
    }
    let (s, fin) = cap.finish();
    assert_eq!((s, &fin["passed"]), (200, &json!(false)), "{fin}");
    let (_, r) = v.get(&format!(
        "/liveness_check/{}",
        photo["id"].as_str().unwrap()
    ));
    // T1 is a photo of a live face: anti-spoof accepts its pixels; it is the same
    // picture every frame (only a corner block of noise differs).
    assert_eq!(r["failure_reason"], "repeated_frames", "{r}");
}

#[test]
fn mode_is_checked() {
    let shared = shared();
    let v = &*shared;
    for body in [
        json!({"return_url": "https://customer.example/r", "mode": "passive", "challenges": ["BLINK"]}),
        json!({"return_url": "https://customer.example/r", "mode": "sleepy"}),
    ] {
        let (s, r) = v.post("/liveness_check", &body);
        assert_eq!(
            (s, r["code"].as_str()),
            (400, Some("invalid_request")),
            "{r}"
        );
    }
    let active = v.create(json!({"return_url": "https://customer.example/r", "mode": "active"}));
    let n = active["challenges"].as_array().unwrap().len();
    assert!((2..=3).contains(&n), "{active}");
}
