//! `Idempotency-Key` on every create, as a client that retries sends it: the same key
//! and request answer once, another request under the key is refused, a refused request
//! leaves its key free, and racing retries make one thing.

use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::harness::{status_json, testdata, Verifier};
use crate::shared;

fn post(v: &Verifier, path: &str, key: &str, body: &Value) -> (u16, Value, Option<String>) {
    let r = v
        .http
        .post(v.url(path))
        .bearer_auth(&v.api_key)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .unwrap();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .map(|h| h.to_str().unwrap().to_string());
    let (s, b) = status_json(r);
    (s, b, replayed)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", rand_suffix())
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{n:x}")
}

#[test]
fn a_retried_create_makes_one_check_and_another_body_under_its_key_is_refused() {
    let shared = shared();
    let v = &*shared;
    let user = unique("idem-user");
    let key = unique("order-1");
    let body = json!({"return_url": "https://c.example/r", "user_id": user});
    let (s, first, replayed) = post(v, "/liveness_check", &key, &body);
    assert_eq!((s, replayed.as_deref()), (201, Some("false")), "{first}");
    let (s, again, replayed) = post(v, "/liveness_check", &key, &body);
    assert_eq!((s, replayed.as_deref()), (201, Some("true")), "{again}");
    // The first answer, every field: the same check, link, token and secret.
    assert_eq!(again, first);
    let (_, list) = v.get(&format!("/liveness_check/user/{user}"));
    assert_eq!(list["total"], 1, "{list}");

    let other = json!({"return_url": "https://c.example/other", "user_id": user});
    let (s, e, _) = post(v, "/liveness_check", &key, &other);
    assert_eq!(
        (s, e["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{e}"
    );

    // A refused request keeps nothing under its key: corrected, it goes through.
    let key2 = unique("order-2");
    let bad = json!({"return_url": "not a url", "user_id": user});
    let (s, e, _) = post(v, "/liveness_check", &key2, &bad);
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    let (s, ok, _) = post(v, "/liveness_check", &key2, &body);
    assert_eq!(s, 201, "{ok}");
    assert_ne!(ok["id"], first["id"]);

    // Without a key every create is its own.
    let (s, a) = v.post("/liveness_check", &body);
    let (_, b) = v.post("/liveness_check", &body);
    assert_eq!(s, 201);
    assert_ne!(a["id"], b["id"]);

    let (s, e, _) = post(v, "/liveness_check", "", &body);
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
}

#[test]
fn racing_retries_under_one_key_make_one_check() {
    let shared = shared();
    let v = &*shared;
    let user = unique("idem-race");
    let key = unique("race");
    let body = json!({"return_url": "https://c.example/r", "user_id": user});
    let answers: Vec<(u16, Value, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| post(v, "/liveness_check", &key, &body)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .filter(|(s, _, _)| *s == 201)
        .map(|(_, b, _)| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    for (s, b, _) in &answers {
        assert!(
            *s == 201 || (*s == 409 && b["code"] == "idempotency_key_in_use"),
            "{s} {b}"
        );
    }
    let (_, list) = v.get(&format!("/liveness_check/user/{user}"));
    assert_eq!(list["total"], 1, "{list}");
}

#[test]
fn every_dialect_create_takes_a_key() {
    let shared = shared();
    let v = &*shared;
    // GLAIR, VerifyHQ and Azure creates: a retry answers the first session.
    for (path, body, id) in [
        (
            "/face/v1/passive-liveness-sessions",
            json!({"success_url": "https://c.example/ok"}),
            "sid",
        ),
        (
            "/v1/verifications/liveness/session",
            json!({"userId": "idem"}),
            "sessionToken",
        ),
        (
            "/face/v1.2/detectLiveness-sessions",
            json!({"livenessOperationMode": "Passive"}),
            "sessionId",
        ),
    ] {
        let key = unique("dialect");
        let (s1, a, _) = post(v, path, &key, &body);
        let (s2, b, replayed) = post(v, path, &key, &body);
        assert!(s1 < 300 && s1 == s2, "{path}: {a} {b}");
        assert_eq!(a[id], b[id], "{path}");
        assert_eq!(replayed.as_deref(), Some("true"), "{path}");
    }

    // Azure's verify-image create is multipart: a retry comes with a new boundary and
    // is still the same request.
    let key = unique("verify");
    let form = || {
        Form::new()
            .text("Parameters", r#"{"livenessOperationMode":"Passive"}"#)
            .part(
                "VerifyImage",
                Part::bytes(
                    std::fs::read(testdata("live_frames/lp_d18_t0.5_neutral.png")).unwrap(),
                )
                .file_name("me.png"),
            )
    };
    let send = || {
        status_json(
            v.http
                .post(v.url("/face/v1.2/detectLivenessWithVerify-sessions"))
                .header("Ocp-Apim-Subscription-Key", &v.api_key)
                .header("idempotency-key", &key)
                .multipart(form())
                .send()
                .unwrap(),
        )
    };
    let (s1, a) = send();
    let (s2, b) = send();
    assert_eq!((s1, s2), (200, 200), "{a} {b}");
    assert_eq!(a["sessionId"], b["sessionId"]);

    // A Quick Link asked for twice with one key is one link (one attempt).
    let token = a["authToken"].as_str().unwrap();
    let key = unique("link");
    let link = || {
        status_json(
            v.http
                .post(v.url("/api/s"))
                .bearer_auth(token)
                .header("idempotency-key", &key)
                .send()
                .unwrap(),
        )
    };
    let (s1, l1) = link();
    let (s2, l2) = link();
    assert_eq!((s1, s2), (200, 200), "{l1} {l2}");
    assert_eq!(l1["url"], l2["url"]);
}
