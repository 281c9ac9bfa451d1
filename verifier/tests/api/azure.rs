//! The Azure Face liveness-session dialect and Quick Link over HTTP, requests as Azure's
//! integrators send them (`Ocp-Apim-Subscription-Key`, camelCase JSON, multipart for
//! the verify image, the auth token as a bearer for `/api/s`).

use reqwest::blocking::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::harness::{clip_frames, status_json, testdata, Capture, Verifier};
use crate::shared;

const SESSIONS: &str = "/face/v1.2/detectLiveness-sessions";

fn azure(
    v: &Verifier,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = v
        .http
        .request(method, v.url(path))
        .header("Ocp-Apim-Subscription-Key", key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    status_json(r.send().unwrap())
}

fn quick_link(v: &Verifier, token: &str, body: Value) -> (u16, Value) {
    status_json(
        v.http
            .post(v.url("/api/s"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap(),
    )
}

/// Opens a Quick Link the way a browser does; the capture page's path when it worked.
fn open(v: &Verifier, url: &str) -> (u16, Option<String>) {
    let r = v.http.get(v.url(url)).send().unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (r.status().as_u16(), location)
}

fn capture_d18(v: &Verifier, page: &str) -> Value {
    let mut cap = Capture::claim(v, &json!({ "url": v.url(page) }));
    for (t, jpeg) in clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3)
        .into_iter()
        .filter(|(t, _)| *t < 3000)
    {
        assert_eq!(cap.upload(t, &jpeg).0, 201);
    }
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    fin
}

#[test]
fn an_azure_session_runs_attempts_through_quick_links() {
    let shared = shared();
    let v = &*shared;
    let (s, created) = azure(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({
            "livenessOperationMode": "Passive",
            "deviceCorrelationId": "device-42",
            "authTokenTimeToLiveInSeconds": 600,
            "numberOfClientAttemptsAllowed": 2
        })),
    );
    assert_eq!(s, 200, "{created}");
    let id = created["sessionId"].as_str().unwrap().to_string();
    let token = created["authToken"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a uuid: {id}");
    let path = format!("{SESSIONS}/{id}");
    let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
    assert_eq!(got["status"], "NotStarted", "{got}");
    assert_eq!(got["livenessOperationMode"], "Passive");
    assert_eq!(got["authTokenTimeToLiveInSeconds"], 600);
    assert_eq!(got["numberOfClientAttemptsAllowed"], 2);
    assert_eq!(got["deviceCorrelationId"], "device-42");
    assert_eq!(got["results"]["attempts"], json!([]));

    // Attempt 1: opened, then abandoned with the Back button.
    let callback = "https://app.example/liveness-done";
    let (s, ql) = quick_link(v, &token, json!({ "callbackUrl": callback }));
    assert_eq!(s, 200, "{ql}");
    let url = ql["url"].as_str().unwrap();
    assert!(url.starts_with("/?s=") && url.len() == 4 + 36, "{ql}");
    let (s, page) = open(v, url);
    assert_eq!(s, 303);
    let page = page.unwrap();
    assert!(page.starts_with("/l/"), "{page}");
    // Single use: opened again, it returns to the callback saying so.
    let (s, again) = open(v, url);
    assert_eq!(
        (s, again.as_deref()),
        (
            303,
            Some(
                format!("{callback}?sessionId={id}&outcome=used&error=link_already_used").as_str()
            )
        )
    );
    let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
    assert_eq!(got["status"], "Running", "{got}");
    assert_eq!(got["results"]["attempts"][0]["attemptStatus"], "Running");
    let link = page.trim_start_matches("/l/");
    let (s, cancelled) = status_json(
        v.http
            .post(v.url(&format!("/capture/{link}/cancel")))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{cancelled}");
    assert_eq!(
        cancelled["redirect_url"],
        format!("{callback}?sessionId={id}&outcome=canceled")
    );
    let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
    assert_eq!(got["status"], "Running", "one attempt left: {got}");
    assert_eq!(got["results"]["attempts"][0]["attemptStatus"], "Failed");
    assert_eq!(got["results"]["attempts"][0]["error"]["code"], "cancelled");

    // Attempt 2: d18 sits still in front of the camera.
    let (_, ql) = quick_link(v, &token, json!({ "callbackUrl": callback }));
    let (_, page) = open(v, ql["url"].as_str().unwrap());
    let fin = capture_d18(v, &page.unwrap());
    let redirect = fin["redirect_url"].as_str().unwrap();
    assert!(
        redirect.starts_with(&format!("{callback}?sessionId={id}&lc_token=")),
        "{redirect}"
    );
    assert!(redirect.ends_with("&outcome=completed"), "{redirect}");
    let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
    assert_eq!(got["status"], "Succeeded", "{got}");
    let second = &got["results"]["attempts"][1];
    assert_eq!(second["attemptId"], 2);
    assert_eq!(second["attemptStatus"], "Succeeded");
    assert_eq!(second["result"]["livenessDecision"], "realface", "{got}");
    assert!(second["result"].get("verifyResult").is_none());

    // Done: no more links; deleting cancels the token.
    let (s, e) = quick_link(v, &token, json!({}));
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")), "{e}");
    let (s, _) = azure(v, reqwest::Method::DELETE, &path, &v.api_key, None);
    assert_eq!(s, 204);
    let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
    assert_eq!(got["status"], "Canceled", "{got}");
    let (s, e) = quick_link(v, &token, json!({}));
    assert_eq!((s, e["code"].as_str()), (401, Some("invalid_token")), "{e}");
}

#[test]
fn an_azure_session_with_verify_reports_the_match() {
    let shared = shared();
    let v = &*shared;
    let params = json!({"livenessOperationMode": "Passive"}).to_string();
    let image = std::fs::read(testdata("live_frames/lp_d18_t3.8_smile.png")).unwrap();
    let (s, created) = status_json(
        v.http
            .post(v.url("/face/v1.2/detectLivenessWithVerify-sessions"))
            .header("Ocp-Apim-Subscription-Key", &v.api_key)
            .multipart(
                Form::new()
                    .text("Parameters", params)
                    .part("VerifyImage", Part::bytes(image).file_name("verify.png")),
            )
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{created}");
    let id = created["sessionId"].as_str().unwrap();
    let (_, ql) = quick_link(v, created["authToken"].as_str().unwrap(), json!({}));
    let (s, page) = open(v, ql["url"].as_str().unwrap());
    assert_eq!(s, 303);
    capture_d18(v, &page.unwrap());
    let path = format!("/face/v1.2/detectLivenessWithVerify-sessions/{id}");
    let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
    let result = &got["results"]["attempts"][0]["result"];
    assert_eq!(result["livenessDecision"], "realface", "{got}");
    assert_eq!(result["verifyResult"]["isIdentical"], true, "{got}");
    assert!(
        result["verifyResult"]["matchConfidence"].as_f64().unwrap() > 0.54,
        "{got}"
    );
}

#[test]
fn azure_requests_are_checked_and_tokens_expire() {
    let shared = shared();
    let v = &*shared;
    for body in [
        json!({"livenessOperationMode": "Active"}),
        json!({"livenessOperationMode": "Passive", "authTokenTimeToLiveInSeconds": 59}),
        json!({"livenessOperationMode": "Passive", "authTokenTimeToLiveInSeconds": 86401}),
        json!({"livenessOperationMode": "Passive", "numberOfClientAttemptsAllowed": 4}),
        json!({"deviceCorrelationId": "no mode"}),
    ] {
        let (s, e) = azure(
            v,
            reqwest::Method::POST,
            SESSIONS,
            &v.api_key,
            Some(body.clone()),
        );
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_request")),
            "{body}: {e}"
        );
    }
    // A field this dialect does not know is ignored, as Azure's service does.
    let (s, ok) = azure(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"livenessOperationMode": "Passive", "somethingElse": 1})),
    );
    assert_eq!(s, 200, "{ok}");
    let (s, e) = azure(
        v,
        reqwest::Method::POST,
        SESSIONS,
        "wrong-key",
        Some(json!({"livenessOperationMode": "Passive"})),
    );
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")), "{e}");
    let (s, e) = azure(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/no-such-session"),
        &v.api_key,
        None,
    );
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let (s, e) = quick_link(v, "not-a-token", json!({}));
    assert_eq!((s, e["code"].as_str()), (401, Some("invalid_token")), "{e}");
    assert_eq!(open(v, "/?s=00000000-0000-4000-8000-000000000000").0, 410);

    // /api/s takes no body or a JSON one: malformed JSON and other types are refused.
    let (_, live) = azure(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"livenessOperationMode": "Passive"})),
    );
    let token = live["authToken"].as_str().unwrap();
    let raw = |body: &str, content_type: &str| {
        status_json(
            v.http
                .post(v.url("/api/s"))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body.to_string())
                .send()
                .unwrap(),
        )
    };
    let (s, e) = raw("{\"callbackUrl\": ", "application/json");
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    let (s, e) = raw(
        "callbackUrl=https://x.example/",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(
        (s, e["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    // No body at all, as Azure's own sample sends it, still works.
    let (s, e) = status_json(
        v.http
            .post(v.url("/api/s"))
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{e}");

    // The auth token's lifetime ends: no more Quick Links, the session failed unstarted.
    let (_, created) = azure(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"livenessOperationMode": "PassiveActive", "authTokenTimeToLiveInSeconds": 60})),
    );
    let id = created["sessionId"].as_str().unwrap();
    v.expire_session(id);
    let (s, e) = quick_link(v, created["authToken"].as_str().unwrap(), json!({}));
    assert_eq!((s, e["code"].as_str()), (401, Some("invalid_token")), "{e}");
    let (_, got) = azure(
        v,
        reqwest::Method::GET,
        &format!("{SESSIONS}/{id}"),
        &v.api_key,
        None,
    );
    assert_eq!(got["status"], "Failed", "{got}");
    assert_eq!(got["livenessOperationMode"], "PassiveActive");
}

#[test]
fn a_quick_link_racing_the_opening_of_another_starts_no_extra_attempt() {
    let shared = shared();
    let v = &*shared;
    let mut extra = Vec::new();
    for round in 0..24 {
        let (s, created) = azure(
            v,
            reqwest::Method::POST,
            SESSIONS,
            &v.api_key,
            Some(json!({"livenessOperationMode": "Passive", "numberOfClientAttemptsAllowed": 1})),
        );
        assert_eq!(s, 200, "{created}");
        let token = created["authToken"].as_str().unwrap();
        let path = format!("{SESSIONS}/{}", created["sessionId"].as_str().unwrap());
        let first = quick_link(v, token, json!({})).1["url"]
            .as_str()
            .unwrap()
            .to_string();
        // The browser opens the first link while the app asks for another.
        let (opened, second) = std::thread::scope(|s| {
            let a = s.spawn(|| open(v, &first).0);
            let b = s.spawn(|| quick_link(v, token, json!({})));
            (a.join().unwrap(), b.join().unwrap())
        });
        let mut started = u32::from(opened == 303);
        if second.0 == 200 {
            started += u32::from(open(v, second.1["url"].as_str().unwrap()).0 == 303);
        } else {
            assert_eq!(second.1["code"], "invalid_state", "{}", second.1);
        }
        let (_, got) = azure(v, reqwest::Method::GET, &path, &v.api_key, None);
        let listed = got["results"]["attempts"].as_array().unwrap().len() as u32;
        if started != 1 || listed != 1 {
            extra.push((round, started, listed));
        }
    }
    assert!(
        extra.is_empty(),
        "(round, attempts started, listed): {extra:?}"
    );
}

fn new_session(v: &Verifier) -> (String, String) {
    let (s, created) = azure(
        v,
        reqwest::Method::POST,
        SESSIONS,
        &v.api_key,
        Some(json!({"livenessOperationMode": "Passive", "numberOfClientAttemptsAllowed": 3})),
    );
    assert_eq!(s, 200, "{created}");
    (
        created["sessionId"].as_str().unwrap().to_string(),
        created["authToken"].as_str().unwrap().to_string(),
    )
}

/// `POST /api/s` with no body, as every sample in Azure's document sends it.
fn bare_link(v: &Verifier, token: &str) -> String {
    let (s, ql) = status_json(
        v.http
            .post(v.url("/api/s"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{ql}");
    ql["url"].as_str().unwrap().to_string()
}

#[test]
fn a_quick_link_carries_its_callback_and_never_ends_in_a_dead_end() {
    let shared = shared();
    let v = &*shared;
    let callback = "https://app.example/liveness?step=3";
    let encoded: String = url::form_urlencoded::byte_serialize(callback.as_bytes()).collect();

    // Azure's form: the callback rides on the link itself.
    let (id, token) = new_session(v);
    let url = bare_link(v, &token);
    let (s, page) = open(v, &format!("{url}&callbackUrl={encoded}"));
    assert_eq!(s, 303);
    let page = page.unwrap();
    assert!(page.starts_with("/l/"), "{page}");
    let link = page.trim_start_matches("/l/");
    let (s, cancelled) = status_json(
        v.http
            .post(v.url(&format!("/capture/{link}/cancel")))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{cancelled}");
    assert_eq!(
        cancelled["redirect_url"],
        format!("https://app.example/liveness?step=3&sessionId={id}&outcome=canceled")
    );
    // Opened again, even with another callback written on it: back to the one the
    // session remembered, never to the one on the URL.
    let (s, again) = open(
        v,
        &format!("{url}&callbackUrl=https%3A%2F%2Fevil.example%2F"),
    );
    assert_eq!(
        (s, again.as_deref()),
        (
            303,
            Some(
                format!(
                    "https://app.example/liveness?step=3&sessionId={id}&outcome=used&error=link_already_used"
                )
                .as_str()
            )
        )
    );
    // The capture page of the ended attempt links back with its error code too.
    let body = v.http.get(v.url(&page)).send().unwrap().text().unwrap();
    assert!(
        body.contains(&format!(
            "href=\"https://app.example/liveness?step=3&amp;sessionId={id}&amp;error=link_already_used&amp;outcome=used\""
        )),
        "{body}"
    );

    // An unknown link goes nowhere it is told: its own page, no redirect.
    let (s, to) = open(
        v,
        "/?s=00000000-0000-4000-8000-000000000000&callbackUrl=https%3A%2F%2Fevil.example%2F",
    );
    assert_eq!((s, to), (410, None));
    // A callback that is no web address is refused on a page of its own.
    let fresh = bare_link(v, &token);
    let (s, to) = open(v, &format!("{fresh}&callbackUrl=javascript%3Aalert(1)"));
    assert_eq!((s, to), (400, None));

    // The session's time runs out before the link is opened: back with the outcome.
    v.expire_session(&id);
    let (s, to) = open(v, &format!("{fresh}&callbackUrl={encoded}"));
    assert_eq!(
        (s, to.as_deref()),
        (
            303,
            Some(
                format!("https://app.example/liveness?step=3&sessionId={id}&outcome=expired&error=expired")
                    .as_str()
            )
        )
    );

    // No callback at all: the capture ends on the verifier's own end page.
    let (_, token) = new_session(v);
    let (s, page) = open(v, &bare_link(v, &token));
    assert_eq!(s, 303);
    let link = page.unwrap().trim_start_matches("/l/").to_string();
    let (_, cancelled) = status_json(
        v.http
            .post(v.url(&format!("/capture/{link}/cancel")))
            .send()
            .unwrap(),
    );
    // Without a callback there is no Back button; the API cancel goes to the end page.
    let end = cancelled["redirect_url"].as_str().unwrap();
    assert!(
        end.starts_with(&format!("{}/end?error=cancelled", v.base)),
        "{cancelled}"
    );
    let r = v.http.get(end).send().unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    assert!(
        text.contains("Check cancelled") && text.contains("close this window"),
        "{text}"
    );
    let done = v
        .http
        .get(v.url("/end?lc_token=x&outcome=completed"))
        .send()
        .unwrap();
    assert!(done.text().unwrap().contains("All done"));
}
