//! The four product documents in `../shared/seeds/`, replayed as each one writes its
//! requests (paths, headers, bodies, the samples' own values), with every documented
//! response field checked for presence, type, scale and status. The full captures are
//! in each dialect's own tests; this suite is the field-by-field contract.

use std::time::Duration;

use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::harness::{status_json, testdata, Receiver};
use crate::shared;

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// `001`: `POST /liveness_check` (GlobalData) with every documented field, the GET by
/// token, the `expired` event with its hex `Signature`, and 410 after expiry.
#[test]
fn globaldata_liveness_check_as_documented() {
    let shared = shared();
    let v = &*shared;
    let hook = Receiver::start(vec![]);
    let body = json!({
        "return_url": "https://customer.example/after-liveness",
        "webhook_url": hook.url,
        "link_valid_mins": 10,
        "threshold": 70,
        "audit_images": 2,
    });
    let (s, created) = v.post("/liveness_check", &body);
    assert_eq!(s, 201, "{created}");
    // "5 Data Points": token, url, secret, webhook_url (echoed), and the reference id.
    for field in ["token", "url", "secret", "id"] {
        assert!(
            created[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {created}"
        );
    }
    assert_eq!(created["webhook_url"], hook.url.as_str());
    assert!(created["url"].as_str().unwrap().starts_with(&v.base));

    // The result by token while the user has not finished.
    let token = created["token"].as_str().unwrap();
    let (s, r) = v.get(&format!("/liveness_check?token={token}"));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["threshold"], 70, "threshold applied: {r}");
    assert_eq!(r["passed"], Value::Null, "{r}");
    assert_eq!(r["probe_image"], Value::Null, "{r}");
    assert!(r["audit_images"].is_array(), "{r}");

    // Ranges: link_valid_mins default 10, threshold 0 to 99, audit_images 0 to 4.
    let (_, plain) = v.post(
        "/liveness_check",
        &json!({"return_url": "https://c.example/r"}),
    );
    let exp = chrono::DateTime::parse_from_rfc3339(plain["expires_at"].as_str().unwrap()).unwrap();
    let mins = (exp.timestamp() - chrono::Utc::now().timestamp()) as f64 / 60.0;
    assert!((9.0..=10.0).contains(&mins), "{plain}");
    for (field, bad) in [("threshold", 100), ("threshold", -1), ("audit_images", 5)] {
        let mut b = json!({"return_url": "https://c.example/r"});
        b[field] = json!(bad);
        let (s, e) = v.post("/liveness_check", &b);
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_request")),
            "{field}={bad}"
        );
    }
    let (s, _) = v.post(
        "/liveness_check",
        &json!({"return_url": "https://c.example/r", "threshold": 99, "audit_images": 4}),
    );
    assert_eq!(s, 201);

    // `expired`: the link ran out before the capture; the event is signed with the
    // secret given at creation (hex HMAC-SHA256 of the payload), and GET answers 410.
    v.expire_now(created["id"].as_str().unwrap());
    let got = hook.wait_for(1, Duration::from_secs(20));
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "expired", "{event}");
    assert_eq!(event["data"]["check_id"], created["id"]);
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(
        got[0].header("signature"),
        Some(hmac_hex(secret.as_bytes(), &got[0].body).as_str())
    );
    let (s, e) = v.get(&format!("/liveness_check?token={token}"));
    assert_eq!((s, e["code"].as_str()), (410, Some("expired")), "{e}");
    // "an error parameter on terminal failure states": the expired page's way back.
    let page = v
        .http
        .get(created["url"].as_str().unwrap())
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("https://customer.example/after-liveness?error=expired"),
        "{page}"
    );
}

/// `002`: VerifyHQ's curl examples, byte for byte where they can be.
#[test]
fn verifyhq_as_documented() {
    let shared = shared();
    let v = &*shared;
    let r = v
        .http
        .post(v.url("/v1/verifications/liveness/session"))
        .header("X-API-Key", &v.api_key)
        .header("Content-Type", "application/json")
        .body(r#"{"userId": "user_123"}"#)
        .send()
        .unwrap();
    let (s, created) = status_json(r);
    assert_eq!(s, 201, "201 Created: {created}");
    let token = created["sessionToken"].as_str().unwrap().to_string();
    let expires = created["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "{expires}");
    let exp = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    let mins = (exp.timestamp() - chrono::Utc::now().timestamp()) as f64 / 60.0;
    assert!(
        (9.0..=10.0).contains(&mins),
        "sessions expire after 10 minutes"
    );
    let challenges = created["challenges"].as_array().unwrap();
    assert!((2..=3).contains(&challenges.len()), "2-3 random challenges");
    let types = [
        "TURN_LEFT",
        "TURN_RIGHT",
        "LOOK_UP",
        "SMILE",
        "BLINK",
        "OPEN_MOUTH",
    ];
    for (i, ch) in challenges.iter().enumerate() {
        assert_eq!(ch["id"], format!("ch_{:03}", i + 1));
        assert!(types.contains(&ch["type"].as_str().unwrap()), "{ch}");
        assert!(!ch["instruction"].as_str().unwrap().is_empty());
    }
    assert!(created["instructions"]
        .as_str()
        .unwrap()
        .contains("POST /verifications/liveness/challenge"));

    // `-F sessionToken=… -F challengeId=ch_001 -F photo=@turn_left.jpg`
    let photo = std::fs::read(testdata("live/fr_obama_official_portrait.jpg")).unwrap();
    let form = Form::new()
        .text("sessionToken", token.clone())
        .text("challengeId", "ch_001")
        .part("photo", Part::bytes(photo).file_name("turn_left.jpg"));
    let r = v
        .http
        .post(v.url("/v1/verifications/liveness/challenge"))
        .header("X-API-Key", &v.api_key)
        .multipart(form)
        .send()
        .unwrap();
    let (s, p) = status_json(r);
    assert_eq!(s, 200, "{p}");
    let total = challenges.len();
    assert_eq!(p["sessionToken"], token.as_str());
    assert_eq!(p["status"], "IN_PROGRESS");
    assert_eq!(p["challengesCompleted"], 1);
    assert_eq!(p["challengesTotal"], total);
    assert_eq!(p["isComplete"], false);
    assert_eq!(
        p["nextStep"],
        format!("Submit photo for remaining {} challenge(s)", total - 1)
    );

    // "Max file size: 10MB".
    let mut big = std::fs::read(testdata("live/fr_obama_official_portrait.jpg")).unwrap();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let r = v
        .http
        .post(v.url("/v1/verifications/liveness/challenge"))
        .header("X-API-Key", &v.api_key)
        .multipart(
            Form::new()
                .text("sessionToken", token.clone())
                .text("challengeId", "ch_002")
                .part("photo", Part::bytes(big).file_name("big.jpg")),
        )
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!(
        (s, e["code"].as_str()),
        (413, Some("payload_too_large")),
        "{e}"
    );

    // GET by id, and the user's list with page and limit.
    let id = created["id"].as_str().unwrap();
    let get = |path: &str| {
        status_json(
            v.http
                .get(v.url(path))
                .header("X-API-Key", &v.api_key)
                .send()
                .unwrap(),
        )
    };
    let (s, got) = get(&format!("/v1/verifications/liveness/{id}"));
    assert_eq!(
        (s, got["status"].as_str()),
        (200, Some("IN_PROGRESS")),
        "{got}"
    );
    let (s, list) = get("/v1/verifications/liveness/user/user_123?page=1&limit=10");
    assert_eq!(s, 200, "{list}");
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == id));
    let (s, e) = status_json(
        v.http
            .post(v.url("/v1/verifications/liveness/session"))
            .header("X-API-Key", "your_api_key")
            .json(&json!({"userId": "user_123"}))
            .send()
            .unwrap(),
    );
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")));
}

/// `003`: GLAIR's sample request and responses.
#[test]
fn glair_as_documented() {
    let shared = shared();
    let v = &*shared;
    let r = v
        .http
        .post(v.url("/face/v1/passive-liveness-sessions"))
        .header("x-api-key", &v.api_key)
        .json(&json!({
            "success_url": "https://yourdomain.com?success=true",
            "cancel_url": "https://yourdomain.com?cancel=true",
        }))
        .send()
        .unwrap();
    let (s, created) = status_json(r);
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(
        created["success_url"],
        "https://yourdomain.com?success=true"
    );
    assert_eq!(created["cancel_url"], "https://yourdomain.com?cancel=true");
    assert!(created["url"].is_string());
    let sid = created["sid"].as_str().unwrap();
    let (s, got) = status_json(
        v.http
            .get(v.url(&format!("/face/v1/passive-liveness-sessions/{sid}")))
            .header("x-api-key", &v.api_key)
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{got}");
    for field in [
        "status",
        "expired",
        "url",
        "success_url",
        "cancel_url",
        "result",
    ] {
        assert!(got.get(field).is_some(), "{field}: {got}");
    }
    assert_eq!(got["status"], "PENDING");
    assert!(got["expired"].is_i64(), "ms since epoch: {got}");
    let day = got["expired"].as_i64().unwrap() - chrono::Utc::now().timestamp_millis();
    assert!((day - 24 * 3600 * 1000).abs() < 120_000, "24 hours: {got}");
    assert_eq!(got["result"], Value::Null, "null until finished");
}

/// `000`: Azure's Quick Link exactly as its samples call it: no body, and (the C#
/// sample) two spaces after `Bearer`.
#[test]
fn azure_quick_link_as_documented() {
    let shared = shared();
    let v = &*shared;
    let (s, session) = status_json(
        v.http
            .post(v.url("/face/v1.2/detectLiveness-sessions"))
            .header("Ocp-Apim-Subscription-Key", &v.api_key)
            .json(&json!({"livenessOperationMode": "Passive"}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{session}");
    let token = session["authToken"].as_str().unwrap();
    for authorization in [format!("Bearer  {token}"), format!("Bearer {token}")] {
        let (s, ql) = status_json(
            v.http
                .post(v.url("/api/s"))
                .header("authorization", authorization)
                .send()
                .unwrap(),
        );
        assert_eq!(s, 200, "{ql}");
        let url = ql["url"].as_str().unwrap();
        let uuid = url.strip_prefix("/?s=").unwrap();
        assert!(is_uuid(uuid), "{url}");
        assert_eq!(ql.as_object().unwrap().len(), 1, "only url: {ql}");
    }
    // The composed link opens the hosted capture.
    let (s, ql) = status_json(
        v.http
            .post(v.url("/api/s"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200);
    let r = v
        .http
        .get(format!("{}{}", v.base, ql["url"].as_str().unwrap()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/l/"));
}
