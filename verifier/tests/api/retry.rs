//! Retries within one check: a capture refused for something the user can put right
//! offers another attempt (up to `max_attempts`), each judged on its own and all in the
//! result; one refused as an attack ends the check. The attacker's side: frames of the
//! refused attempt sent again, or signed for it, do not enter the next one.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{clip_frames, clip_frames_from, still_frames, Capture, Receiver};
use crate::shared;

const D18: &str = "video/lp_d18_actions_640x480_30fps.mjpeg";

/// d18 smiles from 3.7 s to 5.0 s: asked for the smile at 5.3 s, the user has missed it.
const TOO_LATE: [u64; 1] = [5300];
/// Asked at 3 s, the smile comes inside its window.
const IN_TIME: [u64; 1] = [3000];

#[test]
fn a_missed_challenge_offers_another_attempt_which_passes_and_both_are_reported() {
    let v = &*shared();
    let hook = Receiver::start(vec![]);
    let created = v.create(json!({
        "return_url": "https://customer.example/done",
        "webhook_url": hook.url,
        "challenges": ["SMILE"],
    }));
    let token = created["token"].as_str().unwrap();
    let frames = clip_frames(D18, 3);

    let mut cap = Capture::claim(v, &created);
    let first_nonce = cap.script.nonce.clone();
    cap.play(&frames, &TOO_LATE);
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["passed"], false, "{fin}");
    assert_eq!(fin["failure_reason"], "challenge_failed", "{fin}");
    assert_eq!(fin["status"], "in_progress", "{fin}");
    assert_eq!(
        fin["retry"],
        json!({"attempt": 1, "max_attempts": 2}),
        "{fin}"
    );
    assert_eq!(fin["redirect_url"], Value::Null, "{fin}");

    // Between attempts: the check is open, the first attempt listed, no event sent,
    // and no frame is taken until the next attempt starts.
    let (_, r) = v.get(&format!("/liveness_check?token={token}"));
    assert_eq!(r["status"], "in_progress", "{r}");
    assert_eq!(r["passed"], Value::Null, "{r}");
    assert_eq!(r["max_attempts"], 2);
    assert_eq!(r["attempts"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["attempts"][0]["failure_reason"], "challenge_failed");
    let (s, body) = cap.upload_now(100, &frames[0].1);
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );
    let (s, body) = cap.finish();
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );

    let (s, retried) = cap.retry();
    assert_eq!(s, 200, "{retried}");
    assert_eq!(retried["attempt"], 2);
    assert_ne!(
        cap.script.nonce, first_nonce,
        "a new nonce for the new attempt"
    );
    let (s, body) = cap.retry();
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );

    // The user tries again (a new take: the camera never sends the same bytes twice).
    cap.play(&clip_frames_from(D18, 1, 3), &IN_TIME);
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["passed"], true, "{fin}");
    assert_eq!(fin["retry"], Value::Null);
    assert!(fin["redirect_url"].as_str().unwrap().contains("lc_token="));

    let (_, r) = v.get(&format!("/liveness_check?token={token}"));
    assert_eq!(
        (r["status"].as_str(), &r["passed"]),
        (Some("completed"), &json!(true))
    );
    let attempts = r["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{r}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["passed"], false);
    assert_eq!(attempts[0]["challenges"][0]["passed"], false, "{r}");
    assert_eq!(attempts[1]["attempt"], 2);
    assert_eq!(attempts[1]["passed"], true);
    assert_eq!(attempts[1]["challenges"], r["challenges"]);

    // One decision, one event: the check's.
    let got = hook.wait_for(1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let events: Vec<Value> = hook
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "complete");
    assert_eq!(events[0]["data"]["passed"], true);
}

#[test]
fn frames_of_a_refused_attempt_do_not_enter_the_next() {
    let v = &*shared();
    let created = v.create(json!({
        "return_url": "https://customer.example/done",
        "challenges": ["SMILE"],
    }));
    let frames = clip_frames(D18, 3);
    let mut cap = Capture::claim(v, &created);
    let stale_signer = cap.signer.clone();
    cap.play(&frames[..20], &TOO_LATE);
    let (_, fin) = cap.finish();
    assert_eq!(fin["status"], "in_progress", "{fin}");
    cap.retry();

    // Signed for the refused attempt's chain (its nonce): refused.
    let mut old = stale_signer;
    let env = old.sign(0, None, &frames[40].1).unwrap();
    let (s, body) = cap.send_raw(&json!(env), frames[40].1.clone(), "image/jpeg");
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("invalid_signature")),
        "{body}"
    );
    // Signed for the new one, but a picture the check already received: refused.
    let (s, body) = cap.upload_now(0, &frames[0].1);
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("replayed_frame")),
        "{body}"
    );
    // A picture it has not seen goes in.
    let (s, body) = cap.upload_now(0, &frames[40].1);
    assert_eq!(s, 201, "{body}");
}

#[test]
fn an_attack_is_final_whatever_attempts_remain() {
    let v = &*shared();
    let created = v.create(json!({
        "return_url": "https://customer.example/done",
        "challenges": ["BLINK", "SMILE"],
        "max_attempts": 3,
    }));
    let mut cap = Capture::claim(v, &created);
    cap.play(
        &still_frames("spoof/silentface_F1_print_upright.jpg", 4),
        &[1000, 2500],
    );
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["failure_reason"], "spoof_detected", "{fin}");
    assert_eq!(fin["passed"], false, "{fin}");
    assert_eq!(fin["status"], "failed", "{fin}");
    assert_eq!(fin["retry"], Value::Null, "{fin}");
    assert!(fin["redirect_url"].as_str().unwrap().contains("error="));
    let (s, body) = cap.retry();
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("invalid_state")),
        "{body}"
    );
    let (_, r) = v.get(&format!(
        "/liveness_check/{}",
        created["id"].as_str().unwrap()
    ));
    assert_eq!(r["attempts"].as_array().unwrap().len(), 1, "{r}");
}

#[test]
fn the_last_attempt_decides_and_one_attempt_means_no_retry() {
    let v = &*shared();
    for (max, refusals) in [(1, 1), (2, 2)] {
        let created = v.create(json!({
            "return_url": "https://customer.example/done",
            "challenges": ["SMILE"],
            "max_attempts": max,
        }));
        let mut cap = Capture::claim(v, &created);
        for attempt in 1..=refusals {
            if attempt > 1 {
                assert_eq!(cap.retry().0, 200);
            }
            cap.play(&clip_frames_from(D18, attempt - 1, 3), &TOO_LATE);
            let (_, fin) = cap.finish();
            let last = attempt == refusals;
            assert_eq!(
                fin["status"],
                if last { "failed" } else { "in_progress" },
                "{fin}"
            );
            assert_eq!(fin["retry"].is_null(), last, "{fin}");
        }
        let (_, r) = v.get(&format!(
            "/liveness_check/{}",
            created["id"].as_str().unwrap()
        ));
        assert_eq!(r["failure_reason"], "challenge_failed");
        assert_eq!(r["attempts"].as_array().unwrap().len(), refusals, "{r}");
    }
    let (s, body) = v.post(
        "/liveness_check",
        &json!({"return_url": "https://customer.example/done", "max_attempts": 4}),
    );
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}
