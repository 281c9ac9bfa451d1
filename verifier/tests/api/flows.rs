use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::harness::{clip_frames, still_frames, Capture, Receiver};
use crate::shared;

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

#[test]
fn d18_capture_passes_with_token_result_webhook_and_erasure() {
    let shared = shared();
    let v = &*shared;
    let hook = Receiver::start(vec![]);
    let created = v.create(json!({
        "return_url": "https://customer.example/done?x=1",
        "webhook_url": hook.url,
        "challenges": ["BLINK", "SMILE"],
        "audit_images": 2,
        "user_id": "user-d18",
        "metadata": {"order": 42}
    }));
    assert_eq!(created["challenges"], json!(["BLINK", "SMILE"]));
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();

    // The hosted page opens; the GET result says pending.
    let page = v.http.get(created["url"].as_str().unwrap()).send().unwrap();
    assert_eq!(page.status(), 200);
    let token = created["token"].as_str().unwrap();
    let (s, r) = v.get(&format!("/liveness_check?token={token}"));
    assert_eq!((s, r["status"].as_str()), (200, Some("pending")));

    let mut cap = Capture::claim(v, &created);
    assert_eq!(cap.script.challenge_count, 2);
    // Played at real speed: the blink is asked for after the baseline, the smile once
    // the blink is over (d18 blinks at 3.2 s and smiles from 3.7 s).
    let frames = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3);
    cap.play(&frames, &[1000, 3500]);
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["passed"], true, "{fin}");
    let redirect = fin["redirect_url"].as_str().unwrap();
    assert!(
        redirect.starts_with("https://customer.example/done?x=1&lc_token="),
        "{redirect}"
    );
    assert_eq!(query_param(redirect, "error"), None);
    let lc_token = query_param(redirect, "lc_token").unwrap();

    // The lc_token verifies against the published JWKS alone.
    let (_, jwks) = v.get("/.well-known/jwks.json");
    let jwks: JwkSet = serde_json::from_value(jwks).unwrap();
    let header = decode_header(&lc_token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["livecheck"]);
    validation.set_issuer(&[&v.base]);
    let claims = decode::<Value>(&lc_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["passed"], true);
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(ttl > 0 && ttl <= 600, "{ttl}");

    // The result, by token and by id, says the same.
    let (s, r) = v.get(&format!("/liveness_check?token={token}"));
    assert_eq!(s, 200);
    assert_eq!(r["status"], "completed");
    assert_eq!(r["passed"], true);
    assert_eq!(r["failure_reason"], Value::Null);
    assert_eq!(r["threshold"], 70);
    assert!(r["anti_spoof_score"].as_f64().unwrap() >= 70.0, "{r}");
    assert!(r["confidence"].as_f64().unwrap() >= 70.0, "{r}");
    let types: Vec<&str> = r["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["BLINK", "SMILE"]);
    assert!(r["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["passed"] == true));
    assert_eq!(r["metadata"], json!({"order": 42}));
    assert!(r["models"].as_array().unwrap().len() >= 3);
    let (_, by_id) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(by_id, r);

    // Probe and audit images are there and are JPEGs.
    let probe = v
        .http
        .get(r["probe_image"].as_str().unwrap())
        .bearer_auth(&v.api_key)
        .send()
        .unwrap();
    assert_eq!(probe.status(), 200);
    assert_eq!(&probe.bytes().unwrap()[..2], &[0xFF, 0xD8]);
    assert_eq!(r["audit_images"].as_array().unwrap().len(), 2);
    let no_key = v
        .http
        .get(r["probe_image"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(no_key.status(), 401);

    // The webhook arrived once, with both signatures valid.
    let got = hook.wait_for(1, Duration::from_secs(20));
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "complete");
    assert_eq!(event["data"]["check_id"], id);
    assert_eq!(event["data"]["passed"], true);
    let sig = got[0].header("signature").unwrap();
    assert_eq!(
        sig,
        hex::encode(hmac_sha256(secret.as_bytes(), &[&got[0].body]))
    );
    let msg_id = got[0].header("webhook-id").unwrap();
    let ts = got[0].header("webhook-timestamp").unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        &key,
        &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", &got[0].body],
    ));
    assert_eq!(
        got[0].header("webhook-signature").unwrap(),
        format!("v1,{expected}")
    );
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..60).contains(&age));

    // Redeemed once; the second time is refused.
    let (s, red) = v.post("/liveness_check/redeem", &json!({"lc_token": lc_token}));
    assert_eq!(s, 200, "{red}");
    assert_eq!(red["id"], id);
    let (s, again) = v.post("/liveness_check/redeem", &json!({"lc_token": lc_token}));
    assert_eq!((s, again["code"].as_str()), (409, Some("already_redeemed")));

    // The user's checks list it.
    let (_, list) = v.get("/liveness_check/user/user-d18?page=1&limit=10");
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id);

    // Erasure removes images and biometric data and keeps the audit row.
    let req = v
        .http
        .delete(v.url(&format!("/liveness_check/{id}")))
        .bearer_auth(&v.api_key);
    let (s, erased) = crate::harness::status_json(req.send().unwrap());
    assert_eq!(s, 200, "{erased}");
    assert_eq!(erased["probe_image"], true);
    assert_eq!(erased["audit_images"], 2);
    assert_eq!(erased["biometric_results"], true);
    let (_, after) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(after["passed"], true);
    assert_eq!(after["probe_image"], Value::Null);
    assert_eq!(after["anti_spoof_score"], Value::Null);
    assert_eq!(after["challenges"], json!([]));
    assert_eq!(after["user_id"], Value::Null);
    assert!(after["erased_at"].is_string());
    let gone = v
        .http
        .get(r["probe_image"].as_str().unwrap())
        .bearer_auth(&v.api_key)
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
}

fn run_still(photo: &str, challenges: Value) -> (Value, Value) {
    let shared = shared();
    let v = &*shared;
    let hook = Receiver::start(vec![]);
    let created = v.create(json!({
        "return_url": "https://customer.example/r",
        "challenges": challenges,
        "webhook_url": hook.url,
    }));
    let mut cap = Capture::claim(v, &created);
    cap.play(&still_frames(photo, 4), &[1000, 2500]);
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    let (_, r) = v.get(&format!(
        "/liveness_check/{}",
        created["id"].as_str().unwrap()
    ));
    // A capture not passed is still a finished one: `complete` (the documented event,
    // telling the integrator to fetch the result), then the extra `failed`.
    let got = hook.wait_for(2, Duration::from_secs(20));
    let events: Vec<Value> = got
        .iter()
        .map(|g| serde_json::from_slice(&g.body).unwrap())
        .collect();
    let mut kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["complete", "failed"], "{events:?}");
    for e in &events {
        assert_eq!(e["data"]["passed"], false, "{e}");
        assert_eq!(e["data"]["status"], "failed", "{e}");
        assert_eq!(e["data"]["check_id"], created["id"], "{e}");
    }
    (fin, r)
}

#[test]
fn print_and_screen_spoofs_are_not_passed() {
    for photo in [
        "spoof/silentface_F1_print_upright.jpg",
        "spoof/silentface_F2_screen_upright.jpg",
    ] {
        let (fin, r) = run_still(photo, json!(["BLINK", "SMILE"]));
        assert_eq!(fin["passed"], false, "{photo}: {fin}");
        assert_eq!(r["status"], "failed");
        assert_eq!(r["failure_reason"], "spoof_detected", "{photo}: {r}");
        let redirect = fin["redirect_url"].as_str().unwrap();
        assert_eq!(
            query_param(redirect, "error").as_deref(),
            Some("spoof_detected")
        );
        assert!(query_param(redirect, "lc_token").is_some());
    }
}

#[test]
fn a_live_still_photo_repeated_is_refused_as_repeated_frames() {
    let (fin, r) = run_still(
        "live/silentface_T1_live_upright.jpg",
        json!(["BLINK", "TURN_LEFT"]),
    );
    assert_eq!(fin["passed"], false, "{fin}");
    // The same picture each frame (only a corner block of noise differs).
    assert_eq!(r["failure_reason"], "repeated_frames", "{r}");
    assert!(
        r["continuity"]["repeated_frames"].as_u64().unwrap() >= 30,
        "{r}"
    );
    assert!(r["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["passed"] == false));
}

#[test]
fn erasure_wins_over_a_capture_under_way_and_covers_the_outbox() {
    let shared = shared();
    let v = &*shared;
    // Erased mid-capture: the finish that follows stores nothing.
    let created = v.create(json!({
        "return_url": "https://customer.example/r", "challenges": ["BLINK"],
        "user_id": "user-erased", "audit_images": 2,
    }));
    let id = created["id"].as_str().unwrap().to_string();
    let mut cap = Capture::claim(v, &created);
    cap.play(
        &clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 6)[..12],
        &[1000],
    );
    let erase = |id: &str| {
        crate::harness::status_json(
            v.http
                .delete(v.url(&format!("/liveness_check/{id}")))
                .bearer_auth(&v.api_key)
                .send()
                .unwrap(),
        )
    };
    assert_eq!(erase(&id).0, 200);
    let (s, e) = cap.finish();
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")), "{e}");
    let (_, r) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(r["status"], "cancelled", "{r}");
    assert!(r["erased_at"].is_string(), "{r}");
    assert_eq!(r["probe_image"], Value::Null, "{r}");
    assert_eq!(r["anti_spoof_score"], Value::Null, "{r}");
    assert_eq!(r["user_id"], Value::Null, "{r}");

    // An erased pending link can no longer be claimed.
    let pending = v.create(json!({"return_url": "https://customer.example/r"}));
    assert_eq!(erase(pending["id"].as_str().unwrap()).0, 200);
    let (s, e) = crate::harness::status_json(
        v.http
            .post(v.url(&format!(
                "/capture/{}/claim",
                crate::harness::link_of(&pending)
            )))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("link_already_used")),
        "{e}"
    );

    // A webhook sent again after the erasure carries no user id or metadata.
    let hook = Receiver::start(vec![500]);
    let created = v.create(json!({
        "return_url": "https://customer.example/r", "mode": "passive",
        "webhook_url": hook.url, "user_id": "user-hook", "metadata": {"order": 7},
    }));
    let id = created["id"].as_str().unwrap().to_string();
    let mut cap = Capture::claim(v, &created);
    cap.play(
        &clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3)[..30],
        &[],
    );
    assert_eq!(cap.finish().0, 200);
    let first = hook.wait_for(1, Duration::from_secs(20));
    let event: Value = serde_json::from_slice(&first[0].body).unwrap();
    assert_eq!(event["data"]["user_id"], "user-hook");
    assert_eq!(erase(&id).0, 200);
    let (_, deliveries) = v.get(&format!("/liveness_check/{id}/deliveries"));
    let delivery = deliveries[0]["id"].as_str().unwrap();
    let (s, _) = v.post(
        &format!("/liveness_check/{id}/deliveries/{delivery}/retry"),
        &json!({}),
    );
    assert_eq!(s, 202);
    let again = hook.wait_for(2, Duration::from_secs(20));
    let event: Value = serde_json::from_slice(&again[1].body).unwrap();
    assert_eq!(event["data"]["check_id"], id.as_str());
    assert_eq!(event["data"]["user_id"], Value::Null, "{event}");
    assert_eq!(event["data"]["metadata"], Value::Null, "{event}");
}
