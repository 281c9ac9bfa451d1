//! Every caller mistake gets its code, and leaves the stored check consistent: after
//! each refusal the next correct frame is still accepted and the capture still finishes.

use serde_json::json;

use crate::harness::{clip_frames, link_of, status_json, Capture, Verifier};
use crate::shared;

#[test]
fn envelope_and_upload_refusals_have_their_codes_and_lose_nothing() {
    let shared = shared();
    let v = &*shared;
    let created = v.create(
        json!({"return_url": "https://c.example/r", "challenges": ["BLINK"],
        // One attempt: what is read after the finish is the decision.
        "max_attempts": 1}),
    );
    let other = v.create(json!({"return_url": "https://c.example/r", "challenges": ["BLINK"]}));
    let mut cap = Capture::claim(v, &created);
    let mut foreign = Capture::claim(v, &other);
    let f = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 30);

    let (s, _) = cap.upload(f[0].0, &f[0].1);
    assert_eq!(s, 201);

    // Refused frames are signed on a copy of the signer: the server's chain must not
    // move on a refusal, so the client's must not either.
    let sign = |cap: &Capture, t: u64, bytes: &[u8]| {
        json!(cap.signer.clone().sign(t, None, bytes).unwrap())
    };

    // Tampered envelope: the MAC no longer matches.
    let mut env = sign(&cap, f[1].0, &f[1].1);
    env["t_ms"] = json!(f[1].0 + 1);
    let (s, e) = cap.send_raw(&env, f[1].1.clone(), "image/jpeg");
    assert_eq!((s, e["code"].as_str()), (401, Some("invalid_signature")));
    // Bytes other than the signed ones.
    let env = sign(&cap, f[1].0, &f[1].1);
    let (s, e) = cap.send_raw(&env, f[2].1.clone(), "image/jpeg");
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("image_digest_mismatch"))
    );
    // The frame as signed goes through.
    let (s, e) = cap.upload(f[1].0, &f[1].1);
    assert_eq!(s, 201, "{e}");
    // The next frame's time has come: what follows is refused for itself, not its time.
    cap.wait_until(f[2].0);

    // Replayed: the accepted sequence number again.
    let mut replay = sign(&cap, f[2].0, &f[2].1);
    replay["seq"] = json!(1);
    let (s, e) = cap.send_raw(&replay, f[2].1.clone(), "image/jpeg");
    assert_eq!((s, e["code"].as_str()), (409, Some("replayed_frame")));

    // Another session's frame.
    let foreign_env = json!(foreign.signer.sign(f[2].0, None, &f[2].1).unwrap());
    let (s, e) = cap.send_raw(&foreign_env, f[2].1.clone(), "image/jpeg");
    assert_eq!((s, e["code"].as_str()), (400, Some("wrong_session")));

    // A skipped sequence number.
    let mut ahead = sign(&cap, f[2].0, &f[2].1);
    ahead["seq"] = json!(3);
    let (s, e) = cap.send_raw(&ahead, f[2].1.clone(), "image/jpeg");
    assert_eq!((s, e["code"].as_str()), (409, Some("out_of_order")));

    // A capture time far outside the script.
    let late = sign(&cap, 10_000_000, &f[2].1);
    let (s, e) = cap.send_raw(&late, f[2].1.clone(), "image/jpeg");
    assert_eq!((s, e["code"].as_str()), (409, Some("outside_time_window")));

    // A text file as an image.
    let text = b"hello, I am not a picture".to_vec();
    let env = sign(&cap, f[2].0, &text);
    let (s, e) = cap.send_raw(&env, text.clone(), "image/jpeg");
    assert_eq!(
        (s, e["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (s, e) = cap.send_raw(&sign(&cap, f[2].0, &f[2].1), f[2].1.clone(), "text/plain");
    assert_eq!(
        (s, e["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    // A truncated JPEG, correctly signed.
    let truncated = f[2].1[..f[2].1.len() / 2].to_vec();
    let env = sign(&cap, f[2].0, &truncated);
    let (s, e) = cap.send_raw(&env, truncated, "image/jpeg");
    assert_eq!((s, e["code"].as_str()), (422, Some("invalid_image")), "{e}");

    // A missing envelope.
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/frames", cap.link)))
        .bearer_auth(&cap.client_token)
        .header("content-type", "image/jpeg")
        .body(f[2].1.clone())
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_envelope")));

    // An 11 MB upload.
    let big = vec![0xFFu8; 11 * 1024 * 1024];
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/frames", cap.link)))
        .bearer_auth(&cap.client_token)
        .header("content-type", "image/jpeg")
        .header("livecheck-envelope", sign(&cap, f[2].0, &big).to_string())
        .body(big)
        .send();
    match r {
        Ok(r) => {
            let (s, e) = status_json(r);
            assert_eq!((s, e["code"].as_str()), (413, Some("payload_too_large")));
        }
        // The server may answer and close before the client has sent everything.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }

    // Wrong client token.
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/frames", cap.link)))
        .bearer_auth("not-the-token")
        .header("content-type", "image/jpeg")
        .body(f[2].1.clone())
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")));

    // After all that, the next correct frame is accepted and the capture finishes.
    for (t, bytes) in &f[2..] {
        let (s, e) = cap.upload(*t, bytes);
        assert_eq!(s, 201, "{e}");
    }
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    assert_eq!(
        fin["status"],
        if fin["passed"] == true {
            "completed"
        } else {
            "failed"
        }
    );
    let (s, e) = cap.finish();
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")));
    let (s, e) = cap.upload(7000, &f[3].1);
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")));
}

#[test]
fn links_are_single_use_and_expire() {
    let shared = shared();
    let v = &*shared;
    let created = v.create(
        json!({"return_url": "https://c.example/r", "cancel_url": "https://c.example/back"}),
    );
    let link = link_of(&created);
    let _first = Capture::claim(v, &created);
    let r = v
        .http
        .post(v.url(&format!("/capture/{link}/claim")))
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (409, Some("link_already_used")));
    let page = v.http.get(created["url"].as_str().unwrap()).send().unwrap();
    assert_eq!(page.status(), 409);
    let text = page.text().unwrap();
    assert!(text.contains("already used"));
    // Every end links back to return_url with the error code (GlobalData: "an error
    // parameter on terminal failure states"), never a page without a way out.
    assert!(
        text.contains("href=\"https://c.example/r?error=link_already_used\""),
        "{text}"
    );
    // The Back form of a check another browser holds cannot cancel it: still a way back.
    let r = v
        .http
        .post(v.url(&format!("/l/{link}/cancel")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = r.text().unwrap();
    assert!(
        text.contains("href=\"https://c.example/r?error=link_already_used\""),
        "{text}"
    );

    // Expiry: GET result 410, the page says expired with the way back, claims refused.
    let fresh = v.create(
        json!({"return_url": "https://c.example/r", "cancel_url": "https://c.example/back"}),
    );
    v.expire_now(fresh["id"].as_str().unwrap());
    let (s, e) = v.get(&format!(
        "/liveness_check?token={}",
        fresh["token"].as_str().unwrap()
    ));
    assert_eq!((s, e["code"].as_str()), (410, Some("expired")));
    let page = v.http.get(fresh["url"].as_str().unwrap()).send().unwrap();
    assert_eq!(page.status(), 410);
    let text = page.text().unwrap();
    assert!(
        text.contains("href=\"https://c.example/r?error=expired\""),
        "{text}"
    );
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/claim", link_of(&fresh))))
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (410, Some("expired")));
    // By id the check stays readable, marked expired by the sweeper.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, r) = v.get(&format!(
            "/liveness_check/{}",
            fresh["id"].as_str().unwrap()
        ));
        if r["status"] == "expired" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{r}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn customer_api_refuses_bad_keys_and_bad_requests_without_writing() {
    let shared = shared();
    let v = &*shared;
    let body = json!({"return_url": "https://c.example/r", "user_id": "bad-input-user"});
    for (auth, header) in [("nope", "authorization"), ("nope", "x-api-key")] {
        let value = if header == "authorization" {
            format!("Bearer {auth}")
        } else {
            auth.to_string()
        };
        let r = v
            .http
            .post(v.url("/liveness_check"))
            .header(header, value)
            .json(&body)
            .send()
            .unwrap();
        let (s, e) = status_json(r);
        assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")));
    }
    // X-API-Key works as well as Bearer.
    let r = v
        .http
        .post(v.url("/liveness_check"))
        .header("x-api-key", &v.api_key)
        .json(&json!({"return_url": "https://c.example/r"}))
        .send()
        .unwrap();
    assert_eq!(status_json(r).0, 201);

    for (bad, field) in [
        (json!({"return_url": "ftp://x"}), "return_url"),
        (
            json!({"return_url": "https://c.example", "threshold": 150}),
            "threshold",
        ),
        (
            json!({"return_url": "https://c.example", "link_valid_mins": 0}),
            "link_valid_mins",
        ),
        (
            json!({"return_url": "https://c.example", "audit_images": 5}),
            "audit_images",
        ),
        (
            json!({"return_url": "https://c.example", "challenges": ["JUMP"]}),
            "challenges",
        ),
        (
            json!({"return_url": "https://c.example", "challenges": []}),
            "challenges",
        ),
        (
            json!({"return_url": "https://c.example", "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"return_url": "https://c.example", "colour": "red"}),
            "colour",
        ),
        (json!({"threshold": 10}), "return_url"),
    ] {
        let mut bad = bad;
        bad["user_id"] = json!("bad-input-user");
        let (s, e) = v.post("/liveness_check", &bad);
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
    }
    let r = v
        .http
        .post(v.url("/liveness_check"))
        .bearer_auth(&v.api_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_request")));
    let (_, list) = v.get("/liveness_check/user/bad-input-user");
    assert_eq!(list["total"], 0, "a refused create wrote a check");

    let (s, e) = v.get("/liveness_check?token=unknown");
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")));
    let (s, e) = v.get("/no/such/route");
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")));
    let r = v.http.put(v.url("/healthz")).send().unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (405, Some("method_not_allowed")));
    let (s, e) = v.post("/liveness_check/redeem", &json!({"lc_token": "a.b.c"}));
    assert_eq!((s, e["code"].as_str()), (401, Some("invalid_token")));
}

#[test]
fn ppm_uploads_and_control_characters_in_urls_are_refused() {
    let shared = shared();
    let v = &*shared;
    // A PPM declared as a JPEG: refused as a frame and as a reference.
    let mut ppm = b"P6\n64 64\n255\n".to_vec();
    ppm.extend(std::iter::repeat_n(128u8, 64 * 64 * 3));
    let created = v.create(json!({"return_url": "https://c.example/r", "challenges": ["BLINK"]}));
    let cap = Capture::claim(v, &created);
    let env = json!(cap.signer.clone().sign(0, None, &ppm).unwrap());
    let (s, e) = cap.send_raw(&env, ppm.clone(), "image/jpeg");
    assert_eq!(
        (s, e["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    let (s, e) = v.put_reference(created["id"].as_str().unwrap(), "image/jpeg", ppm);
    assert_eq!(
        (s, e["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    // A line break in a URL would come back in a Location header.
    for field in ["return_url", "cancel_url"] {
        let mut body = json!({"return_url": "https://c.example/r"});
        body[field] = json!("https://c.example/back\r\nSet-Cookie: x=1");
        let (s, e) = v.post("/liveness_check", &body);
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_request")),
            "{field}: {e}"
        );
    }
}

#[test]
fn a_frame_is_either_refused_or_judged_when_a_finish_runs() {
    let shared = shared();
    let v = &*shared;
    let created = v.create(
        json!({"return_url": "https://c.example/r", "challenges": ["BLINK"],
        // One attempt: what is read after the finish is the decision.
        "max_attempts": 1}),
    );
    let mut cap = Capture::claim(v, &created);
    let frames = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3);
    let (before, during) = frames.split_at(20);
    cap.play(before, &[1000]);
    let (link, token) = (cap.link.clone(), cap.client_token.clone());
    let (accepted, refused, fin) = std::thread::scope(|s| {
        // The browser keeps sending frames while the finish call runs.
        let uploads = s.spawn(|| {
            let mut codes = Vec::new();
            for (t, jpeg) in during.iter().take(30) {
                let (s, body) = cap.upload(*t, jpeg);
                codes.push((s, body["code"].as_str().unwrap_or("").to_string()));
            }
            codes
        });
        std::thread::sleep(std::time::Duration::from_millis(400));
        let fin = status_json(
            v.http
                .post(v.url(&format!("/capture/{link}/finish")))
                .bearer_auth(&token)
                .send()
                .unwrap(),
        );
        let codes = uploads.join().unwrap();
        let accepted = codes.iter().filter(|c| c.0 == 201).count();
        let refused: Vec<_> = codes.into_iter().filter(|c| c.0 != 201).collect();
        (accepted, refused, fin)
    });
    assert_eq!(fin.0, 200, "{}", fin.1);
    assert!(
        !refused.is_empty(),
        "the finish ended while frames were still coming"
    );
    for (s, code) in &refused {
        assert_eq!((*s, code.as_str()), (409, "invalid_state"));
    }
    // Every frame the verifier accepted is one it judged.
    let (_, r) = v.get(&format!(
        "/liveness_check/{}",
        created["id"].as_str().unwrap()
    ));
    assert_eq!(
        r["frames"].as_u64().unwrap() as usize,
        before.len() + accepted,
        "{r}"
    );
}

/// Sends a body that stops short (its Content-Length counts 1000 bytes more than are
/// sent) and keeps the connection open: the answer must come.
fn stalled(
    v: &crate::harness::Verifier,
    path: &str,
    headers: &str,
    content_type: &str,
    body: &[u8],
) -> (String, u64) {
    use std::io::{Read, Write};
    let addr = v.base.trim_start_matches("http://");
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let started = std::time::Instant::now();
    write!(
        sock,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\n{headers}content-type: {content_type}\r\n\
         content-length: {}\r\n\r\n",
        body.len() + 1000
    )
    .unwrap();
    sock.write_all(body).unwrap();
    let mut answer = vec![0u8; 4096];
    let n = sock.read(&mut answer).unwrap_or(0);
    (
        String::from_utf8_lossy(&answer[..n]).into_owned(),
        started.elapsed().as_millis() as u64,
    )
}

#[test]
fn a_body_that_stops_short_is_answered_408_in_time() {
    let v = crate::harness::Verifier::start_temp(&[("LIVECHECK_LIMITS_BODY_READ_TIMEOUT", "2s")]);
    let key = format!("x-api-key: {}\r\n", v.api_key);
    let bearer = format!("authorization: Bearer {}\r\n", v.api_key);
    let created = v.create(json!({"return_url": "https://c.example/r"}));
    let cap = Capture::claim(&v, &created);
    let frame = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 30)[0]
        .1
        .clone();
    let envelope = json!(cap.signer.clone().sign(0, None, &frame).unwrap());
    let frame_headers = format!(
        "authorization: Bearer {}\r\nlivecheck-envelope: {envelope}\r\n",
        cap.client_token
    );
    let multipart: &[u8] =
        b"--XYZ\r\ncontent-disposition: form-data; name=\"sessionToken\"\r\n\r\nabc\r\n--XY";
    let form = "multipart/form-data; boundary=XYZ";
    let frames_path = format!("/capture/{}/frames", link_of(&created));
    for (path, headers, content_type, body) in [
        (
            "/verifications/liveness/challenge",
            key.as_str(),
            form,
            multipart,
        ),
        ("/demo/start", "", form, multipart),
        // A frame cut off half way, and a JSON create cut off after its first byte.
        (
            frames_path.as_str(),
            frame_headers.as_str(),
            "image/jpeg",
            &frame[..frame.len() / 2],
        ),
        ("/liveness_check", bearer.as_str(), "application/json", b"{"),
    ] {
        let (answer, ms) = stalled(&v, path, headers, content_type, body);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("request_timeout"), "{path}: {answer}");
        assert!(answer.contains("x-request-id"), "{path}: {answer}");
        assert!((1900..6000).contains(&ms), "{path}: answered after {ms} ms");
    }
    // Nothing of the cut-off frame was kept; the session goes on.
    let (_, got) = v.get(&format!(
        "/liveness_check/{}",
        created["id"].as_str().unwrap()
    ));
    assert_eq!(got["status"], "in_progress", "{got}");
    let mut cap = cap;
    let now = cap.start.elapsed().as_millis() as u64;
    let (s, e) = cap.upload_now(now, &frame);
    assert_eq!(s, 201, "{e}");
}

/// Found by the multipart fuzz target: actix-multipart panicked on a line no longer
/// than a boundary of three characters, which killed the worker mid-request (the
/// caller got no answer, nor did anyone else's request on that worker); and a body
/// that ends inside a part (all of it sent) was never answered.
#[test]
fn a_multipart_body_its_parser_chokes_on_is_a_400() {
    let shared = shared();
    let v = &*shared;
    let bodies = [
        "--\nXYZ\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XYZ--\r\n",
        "--XYZ\r\ncontent-disposition: form-data; name=\"Parameters\"\r\n\r\n{\"a\":1}\r",
    ];
    for (path, body) in ["/demo/start", "/verifications/liveness/challenge"]
        .into_iter()
        .flat_map(|p| bodies.map(|b| (p, b)))
    {
        let started = std::time::Instant::now();
        let r = v
            .http
            .post(v.url(path))
            .header("x-api-key", &v.api_key)
            .header("content-type", "multipart/form-data; boundary=XYZ")
            .body(body)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        // The demo's form answers a page (a browser posted it); the API, JSON.
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("invalid_request"), "{path}: {text}");
        assert!(text.contains("multipart: the body"), "{path}: {text}");
    }
    assert_eq!(v.get("/healthz").0, 200);
}

#[test]
fn http_manners_allow_retry_after_and_preflight() {
    // 405 names the methods the path takes, from the same list that routes them.
    let shared = shared();
    let v = &*shared;
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/healthz", "GET"),
        (reqwest::Method::DELETE, "/liveness_check", "POST, GET"),
        (reqwest::Method::PATCH, "/liveness_check/x", "GET, DELETE"),
        (reqwest::Method::GET, "/capture/x/claim", "POST"),
        (
            reqwest::Method::GET,
            "/v1/verifications/liveness/session",
            "POST",
        ),
        (
            reqwest::Method::DELETE,
            "/face/v1/passive-liveness-sessions/x",
            "GET",
        ),
    ] {
        let r = v.http.request(method.clone(), v.url(path)).send().unwrap();
        let got = r
            .headers()
            .get("allow")
            .map(|a| a.to_str().unwrap().to_string());
        let (s, e) = status_json(r);
        assert_eq!(
            (s, e["code"].as_str(), got.as_deref()),
            (405, Some("method_not_allowed"), Some(allow)),
            "{method} {path}"
        );
    }

    // A page on another origin may call what a browser calls (the capture API with its
    // link and client token, the SDK, models, keys, the API description).
    for path in [
        "/capture/x/frames",
        "/sdk/livecheck_sdk.js",
        "/models/x.onnx",
        "/.well-known/jwks.json",
        "/openapi.json",
    ] {
        let r = v
            .http
            .request(reqwest::Method::OPTIONS, v.url(path))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .send()
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
    }
    let jwks = v.http.get(v.url("/.well-known/jwks.json")).send().unwrap();
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");

    // 429 says when to come back.
    let v = Verifier::start_temp(&[("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "2")]);
    let body = json!({"return_url": "https://c.example/r"});
    assert_eq!(v.post("/liveness_check", &body).0, 201);
    assert_eq!(v.post("/liveness_check", &body).0, 201);
    let r = v
        .http
        .post(v.url("/liveness_check"))
        .bearer_auth(&v.api_key)
        .json(&body)
        .send()
        .unwrap();
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (429, Some("rate_limited")), "{e}");
    assert!((1..=60).contains(&wait), "{wait}");
}

#[test]
fn the_customer_lists_checks_by_status_and_time_a_page_at_a_time() {
    let v = Verifier::start_temp(&[]);
    let mut ids = Vec::new();
    let mut middle = None;
    for i in 0..5 {
        if i == 3 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            middle = Some(chrono::Utc::now());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let c = v.create(json!({
            "return_url": "https://c.example/r",
            "metadata": {"order": i},
        }));
        ids.push(c);
        // Times are kept to the millisecond; two checks made in the same one are
        // ordered by id, not by which came first.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // One cancelled, one whose link ran out (not yet swept, or swept: expired either way).
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/cancel", link_of(&ids[0]))))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    v.expire_now(ids[1]["id"].as_str().unwrap());

    // Two at a time, newest first, every check once.
    let mut seen = Vec::new();
    let mut path = "/liveness_checks?limit=2".to_string();
    loop {
        let (s, page) = v.get(&path);
        assert_eq!(s, 200, "{page}");
        for c in page["data"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] == false {
            assert_eq!(page["next_cursor"], serde_json::Value::Null);
            break;
        }
        path = format!(
            "/liveness_checks?limit=2&cursor={}",
            page["next_cursor"].as_str().unwrap()
        );
    }
    let newest_first: Vec<String> = ids
        .iter()
        .rev()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, newest_first);

    let count = |query: &str| {
        let (s, page) = v.get(&format!("/liveness_checks?{query}"));
        assert_eq!(s, 200, "{query}: {page}");
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(count("status=cancelled"), [newest_first[4].clone()]);
    assert_eq!(count("status=expired"), [newest_first[3].clone()]);
    assert_eq!(count("status=pending").len(), 3);
    let from = middle
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let from: String = url::form_urlencoded::byte_serialize(from.as_bytes()).collect();
    assert_eq!(count(&format!("created_from={from}")), newest_first[..2]);
    assert_eq!(count(&format!("created_before={from}")), newest_first[2..]);

    for bad in [
        "status=lost",
        "cursor=%%%",
        "cursor=bm90LWEtY3Vyc29y",
        "limit=0",
    ] {
        let (s, e) = v.get(&format!("/liveness_checks?{bad}"));
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_request")),
            "{bad}: {e}"
        );
    }
}

#[test]
fn an_expired_check_reads_expired_by_id_and_by_token_at_once() {
    // No sweep for an hour: only the reads themselves can say so.
    let v = Verifier::start_temp(&[("LIVECHECK_CHECKS_SWEEP_INTERVAL", "1h")]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let created = v.create(json!({"return_url": "https://c.example/r"}));
    let id = created["id"].as_str().unwrap();
    v.expire_now(id);
    let (s, e) = v.get(&format!(
        "/liveness_check?token={}",
        created["token"].as_str().unwrap()
    ));
    assert_eq!((s, e["code"].as_str()), (410, Some("expired")));
    let (s, r) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!((s, r["status"].as_str()), (200, Some("expired")), "{r}");
    let (_, list) = v.get("/liveness_checks?status=expired");
    assert_eq!(list["data"][0]["status"], "expired", "{list}");
}
