//! The GLAIR passive-session dialect over HTTP, requests as GLAIR's integrators send
//! them (`x-api-key`, JSON), every documented field and status checked.

use serde_json::{json, Value};

use crate::harness::{clip_frames, link_of, status_json, still_frames, Capture, Verifier};
use crate::shared;

const SESSIONS: &str = "/face/v1/passive-liveness-sessions";
const SUCCESS: &str = "https://yourdomain.com?success=true";
const CANCEL: &str = "https://yourdomain.com?cancel=true";

fn call(
    v: &Verifier,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = v.http.request(method, v.url(path)).header("x-api-key", key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    status_json(r.send().unwrap())
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn a_glair_session_runs_passive_and_reports_spoof_levels() {
    let shared = shared();
    let v = &*shared;
    let before = chrono::Utc::now().timestamp_millis();
    let (s, created) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(
            // The document's sample values: URLs without a path, which a URL parser
            // would rewrite with a "/", echoed byte for byte.
            json!({"success_url": SUCCESS, "cancel_url": CANCEL}),
        ),
    );
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["success_url"], SUCCESS);
    assert_eq!(created["cancel_url"], CANCEL);
    // Present and null while PENDING, as the document says.
    assert_eq!(created.get("result"), Some(&Value::Null), "{created}");
    let expired = created["expired"].as_i64().unwrap();
    let day = 24 * 3600 * 1000;
    assert!((expired - before - day).abs() < 60_000, "{created}");
    let url = created["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/l/", v.base)), "{created}");
    let sid = created["sid"].as_str().unwrap().to_string();

    // The hosted page offers the way back; the session is passive.
    let page = v.http.get(url).send().unwrap().text().unwrap();
    assert!(page.contains("id=\"lc-back\""), "no back button");
    let mut cap = Capture::claim(v, &json!({"url": url}));
    assert_eq!(cap.script.challenge_count, 0);
    for (t, jpeg) in clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3)
        .into_iter()
        .filter(|(t, _)| *t < 3000)
    {
        assert_eq!(cap.upload(t, &jpeg).0, 201);
    }
    let (s, fin) = cap.finish();
    assert_eq!((s, &fin["passed"]), (200, &json!(true)), "{fin}");
    let redirect = fin["redirect_url"].as_str().unwrap();
    assert!(
        redirect.starts_with("https://yourdomain.com/?success=true&sid="),
        "{redirect}"
    );
    assert_eq!(query_param(redirect, "sid").as_deref(), Some(sid.as_str()));

    let (s, got) = call(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/{sid}"),
        &v.api_key,
        None,
    );
    assert_eq!(s, 200, "{got}");
    assert_eq!(got["status"], "FINISHED", "{got}");
    assert_eq!(got["success_url"], SUCCESS);
    assert_eq!(got["cancel_url"], CANCEL);
    assert_eq!(got["result"]["status"], "success", "{got}");
    // The document's scale, 0–1.
    let pct = got["result"]["result"]["spoof_percentage"]
        .as_f64()
        .unwrap();
    assert!((0.0..=0.3).contains(&pct), "{got}");
    assert_eq!(got["result"]["result"]["status"], "LOW", "{got}");

    // A photo: finished, high spoof risk.
    let (_, photo) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"success_url": "https://shop.example/ok"})),
    );
    let mut cap = Capture::claim(v, &photo);
    for (t, jpeg) in still_frames("spoof/silentface_F1_print_upright.jpg", 3) {
        assert_eq!(cap.upload(t, &jpeg).0, 201);
    }
    assert_eq!(cap.finish().1["passed"], false);
    let (_, got) = call(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/{}", photo["sid"].as_str().unwrap()),
        &v.api_key,
        None,
    );
    assert_eq!(got["status"], "FINISHED", "{got}");
    assert_eq!(got["result"]["result"]["status"], "HIGH", "{got}");
    assert!(
        got["result"]["result"]["spoof_percentage"]
            .as_f64()
            .unwrap()
            > 0.6,
        "{got}"
    );
    assert!(
        got["result"]["result"]["spoof_percentage"]
            .as_f64()
            .unwrap()
            <= 1.0,
        "{got}"
    );
}

#[test]
fn glair_sessions_expire_and_refuse_wrong_keys() {
    let shared = shared();
    let v = &*shared;
    let (_, created) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"success_url": "https://shop.example/ok"})),
    );
    let sid = created["sid"].as_str().unwrap();
    v.expire_now(sid);

    // The Back button leads to cancel_url exactly as given.
    let (_, backed) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"success_url": SUCCESS, "cancel_url": CANCEL})),
    );
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/cancel", link_of(&backed))))
        .send()
        .unwrap();
    let (s, body) = status_json(r);
    assert_eq!(
        (s, body["redirect_url"].as_str()),
        (200, Some(CANCEL)),
        "{body}"
    );
    let (s, got) = call(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/{sid}"),
        &v.api_key,
        None,
    );
    assert_eq!((s, got["status"].as_str()), (200, Some("EXPIRED")), "{got}");
    assert_eq!(got.get("result"), Some(&Value::Null), "{got}");

    let (s, e) = call(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/{sid}"),
        "wrong-key",
        None,
    );
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")), "{e}");
    let (s, e) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        "wrong-key",
        Some(json!({"success_url": "https://shop.example/ok"})),
    );
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")), "{e}");
    let (s, e) = call(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/no-such-session"),
        &v.api_key,
        None,
    );
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    // A field GLAIR's SDK may send and this dialect does not know: ignored.
    let (s, ok) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"success_url": SUCCESS, "metadata": {"x": 1}, "locale": "id"})),
    );
    assert_eq!(s, 200, "{ok}");
    let (s, e) = call(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"success_url": "not a url"})),
    );
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
}
