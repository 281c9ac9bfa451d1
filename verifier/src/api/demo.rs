//! Demo mode's pages: the integration a customer builds, done the way a customer
//! would, over HTTP with an API key. "Start a liveness check" creates a check
//! (`POST /liveness_check`), keeps its token in the demo's own cookie and sends the
//! browser to the capture link; the return page fetches the result with
//! `GET /liveness_check?token=` and shows it.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::form::Form;
use super::html::{escape, page};
use crate::state::AppState;

const COOKIE: &str = "lc_demo";

fn demo_key(state: &AppState) -> Option<&str> {
    state.demo_key.as_deref()
}

fn not_demo() -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        crate::i18n::english(),
        "Not found",
        "<p>The demo runs only in demo mode (<code>serve --demo</code>).</p>",
    )
}

pub async fn home(state: web::Data<AppState>) -> HttpResponse {
    if demo_key(&state).is_none() {
        return not_demo();
    }
    page(
        StatusCode::OK,
        crate::i18n::english(),
        "livecheck demo",
        "<p>This page plays a customer's site. Pressing the button makes its backend create a \
         check through the API, then sends you to the hosted capture page. When you are done, \
         you come back here and the backend shows the result it fetched.</p>\
         <form method=\"post\" action=\"/demo/start\" enctype=\"multipart/form-data\">\
         <p><label for=\"demo-challenges\">Challenges (optional, e.g. BLINK,SMILE; empty: random)</label><br>\
         <input id=\"demo-challenges\" name=\"challenges\" autocomplete=\"off\"></p>\
         <p><input type=\"checkbox\" id=\"demo-passive\" name=\"mode\" value=\"passive\"> \
         <label for=\"demo-passive\">Passive: no prompts, just look at the camera</label></p>\
         <p><input type=\"checkbox\" id=\"demo-light\" name=\"light_challenge\" value=\"true\"> \
         <label for=\"demo-light\">Light challenge: the screen shows a few colours your face must reflect</label></p>\
         <p><label for=\"demo-reference\">Reference selfie for face match (optional)</label><br>\
         <input type=\"file\" id=\"demo-reference\" name=\"reference\" accept=\"image/jpeg,image/png,image/webp\"></p>\
         <p><button type=\"submit\" id=\"demo-start\" autofocus>Start a liveness check</button></p></form>",
    )
}

#[derive(Deserialize)]
struct Created {
    token: String,
    url: String,
}

fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
}

fn trouble(message: &str) -> HttpResponse {
    page(
        StatusCode::BAD_GATEWAY,
        crate::i18n::english(),
        "The demo backend could not reach the API",
        &format!("<p>{}</p>", escape(message)),
    )
}

pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(key) = demo_key(&state) else {
        return not_demo();
    };
    let mut form = match Form::read(
        req.headers(),
        payload,
        &["reference"],
        state.config.checks.max_frame_bytes,
    )
    .await
    {
        Ok(f) => f,
        // The browser's own upload failed (too large, too slow): say so with its status.
        Err(e) => {
            return page(
                e.status,
                crate::i18n::english(),
                "The form did not arrive",
                &format!("<p>{} ({})</p>", escape(&e.message), e.code),
            )
        }
    };
    let mut body = serde_json::json!({
        "return_url": format!("{}/demo/done", state.public_url),
        "cancel_url": format!("{}/demo", state.public_url),
        "user_id": "demo-user",
    });
    let chosen: Vec<String> = form
        .optional_text("challenges")
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !chosen.is_empty() {
        body["challenges"] = serde_json::json!(chosen);
    }
    if let Some(mode) = form.optional_text("mode") {
        body["mode"] = serde_json::json!(mode);
    }
    if form.optional_text("light_challenge") == Some("true") {
        body["light_challenge"] = serde_json::json!(true);
    }
    if let Some(selfie) = form.optional_file("reference") {
        use base64::Engine as _;
        body["reference_image"] =
            serde_json::json!(base64::engine::general_purpose::STANDARD.encode(selfie));
    }
    let created = async {
        let resp = client()?
            .post(format!("{}/liveness_check", state.public_url))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await?;
        if !resp.status().is_success() {
            // The API's own error (e.g. an unknown challenge name), shown as it came.
            return Ok(Err(resp.text().await?));
        }
        resp.json::<Created>().await.map(Ok)
    }
    .await;
    match created {
        Ok(Err(refused)) => page(
            StatusCode::BAD_REQUEST,
            crate::i18n::english(),
            "The API refused the check",
            &format!(
                "<pre>{}</pre><p><a href=\"/demo\">Back</a></p>",
                escape(&refused)
            ),
        ),
        Ok(Ok(c)) => HttpResponse::SeeOther()
            .insert_header(("location", c.url))
            .cookie(
                Cookie::build(COOKIE, c.token)
                    .path("/demo")
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .finish(),
            )
            .finish(),
        Err(e) => trouble(&e.to_string()),
    }
}

pub async fn done(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(key) = demo_key(&state) else {
        return not_demo();
    };
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_string()) else {
        return page(
            StatusCode::BAD_REQUEST,
            crate::i18n::english(),
            "No check to show",
            "<p><a href=\"/demo\">Start a liveness check</a></p>",
        );
    };
    let fetched = async {
        client()?
            .get(format!("{}/liveness_check", state.public_url))
            .query(&[("token", token.as_str())])
            .bearer_auth(key)
            .send()
            .await?
            .error_for_status()?
            .json::<serde_json::Value>()
            .await
    }
    .await;
    let result = match fetched {
        Ok(v) => v,
        Err(e) => return trouble(&e.to_string()),
    };
    let passed = result["passed"].as_bool() == Some(true);
    let status = result["status"].as_str().unwrap_or("unknown");
    let headline = if passed {
        "Passed: a live person completed the check.".to_string()
    } else {
        format!(
            "Not passed ({}): {}.",
            status,
            result["failure_reason"]
                .as_str()
                .unwrap_or("no reason given")
        )
    };
    let face_match = match result["face_match"].as_str() {
        Some(m) => format!(
            "<p id=\"demo-face-match\">Face match with the reference selfie: <strong>{}</strong> \
             (score {:.0} of 100).</p>",
            escape(m),
            result["face_match_score"].as_f64().unwrap_or(0.0)
        ),
        None => String::new(),
    };
    let pretty = serde_json::to_string_pretty(&result).unwrap_or_default();
    page(
        StatusCode::OK,
        crate::i18n::english(),
        "livecheck demo: result",
        &format!(
            "<div class=\"result {cls}\" id=\"demo-result\" data-passed=\"{passed}\" data-status=\"{st}\">\
             <p><strong>{h}</strong></p></div>{face_match}\
             <p>What the backend fetched with <code>GET /liveness_check</code>:</p><pre>{json}</pre>\
             <p><a class=\"button\" href=\"/demo\">Start another</a></p>",
            cls = if passed { "passed" } else { "failed" },
            st = escape(status),
            h = escape(&headline),
            json = escape(&pretty),
        ),
    )
}
