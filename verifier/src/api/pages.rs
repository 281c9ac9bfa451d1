//! The hosted pages a capture link opens: the capture page (which runs the browser SDK,
//! `web-demo/capture.js`), and clear pages for expired, already-used and unknown links.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::capture::{cancel_check, client_token};
use crate::model::{Check, Status, WayBack};
use crate::state::AppState;

pub fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    page_with_script(status, title, body, None)
}

/// A page; `script` is a module under `/web/` (scripts come only from this origin, and
/// WebAssembly may compile).
pub fn page_with_script(
    status: StatusCode,
    title: &str,
    body: &str,
    script: Option<&str>,
) -> HttpResponse {
    let script = script
        .map(|s| {
            format!(
                "<script type=\"module\" src=\"/web/{}\"></script>",
                escape(s)
            )
        })
        .unwrap_or_default();
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header((
            "content-security-policy",
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' blob: data:; \
             media-src 'self' blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <link rel=\"stylesheet\" href=\"/web/style.css\">\
             <title>{t}</title>{script}</head><body><main><h1>{t}</h1>{body}</main></body></html>",
            t = escape(title)
        ))
}

/// The link back to the customer's page, with the `error` code of how the check ended:
/// every page a capture link can end on has one.
fn way_back(check: &Check, way: WayBack<'_>) -> String {
    format!(
        "<p><a class=\"button\" href=\"{}\">Return to the service</a></p>",
        escape(&check.back_to(way))
    )
}

pub async fn capture_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> HttpResponse {
    let link = link.into_inner();
    let store = state.store.clone();
    let lookup = link.clone();
    let check = match web::block(move || store.check_by_link(&lookup)).await {
        Ok(Ok(Some(c))) => c,
        Ok(Ok(None)) => {
            return page(
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "<p>Ask the service that sent you for a new link.</p>",
            )
        }
        _ => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "<p>The verifier is busy.</p>",
            )
        }
    };
    if check.is_expired(Utc::now()) {
        return page(
            StatusCode::GONE,
            "This link has expired",
            &format!(
                "<p>Links are valid for a limited time.</p>{}",
                way_back(&check, WayBack::Expired)
            ),
        );
    }
    let holder = check.held_by(client_token(&req).as_deref());
    if check.status.is_terminal() || (check.status == Status::InProgress && !holder) {
        return page(
            StatusCode::CONFLICT,
            "This link was already used",
            &format!(
                "<p>Each link works once, in one browser.</p>{}",
                way_back(&check, WayBack::Used)
            ),
        );
    }
    // Without JavaScript the Back form still works; the script hides it and the SDK
    // shows its own Back button.
    let cancel = if check.cancel_url.is_some() {
        format!(
            "<form id=\"lc-back\" method=\"post\" action=\"/l/{}/cancel\">\
             <button type=\"submit\" class=\"secondary\">Back</button></form>",
            escape(&link)
        )
    } else {
        String::new()
    };
    page_with_script(
        StatusCode::OK,
        "Liveness check",
        &format!(
            "<p id=\"lc-status\" role=\"status\" aria-live=\"polite\">This check needs JavaScript \
             and a camera.</p><p><button type=\"button\" id=\"lc-start\" hidden>Start</button> \
             <button type=\"button\" id=\"lc-start-plain\" class=\"secondary\" hidden>Start \
             without the colours</button></p>\
             <div id=\"lc-capture\" data-link=\"{}/l/{}\" data-mode=\"{}\" data-light=\"{}\"></div>{cancel}",
            escape(&state.public_url),
            escape(&link),
            if check.is_passive() {
                "passive"
            } else {
                "active"
            },
            if check.light_challenge { "on" } else { "off" }
        ),
        Some("capture.js"),
    )
}

/// The Back button's form post: cancels and sends the browser to `cancel_url`.
pub async fn cancel_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> HttpResponse {
    let link = link.into_inner();
    match cancel_check(&state, &req, link.clone()).await {
        Ok(url) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .finish(),
        Err(e) => {
            // Finished, expired or held by another browser: still a way back.
            let store = state.store.clone();
            let back = match web::block(move || store.check_by_link(&link)).await {
                Ok(Ok(Some(check))) => way_back(
                    &check,
                    if check.is_expired(Utc::now()) {
                        WayBack::Expired
                    } else {
                        WayBack::Used
                    },
                ),
                _ => String::new(),
            };
            page(
                e.status,
                "This check cannot be cancelled",
                &format!("<p>{}</p>{back}", escape(&e.message)),
            )
        }
    }
}

/// Where a capture ends when the customer gave no page to return to (a Quick Link
/// without a callback): says how it ended, and that the window may be closed.
pub async fn end(req: HttpRequest) -> HttpResponse {
    let error = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned());
    let (title, text) = match error.as_deref() {
        None => ("All done", "Thank you: your check is complete."),
        Some("expired") => (
            "This link has expired",
            "Ask the service that sent you for a new link.",
        ),
        Some("link_already_used") => (
            "This link was already used",
            "Each link works once. Ask the service that sent you for a new link.",
        ),
        Some("cancelled") => ("Check cancelled", "You left the check before it finished."),
        // A verdict is the service's to explain, never this page's.
        Some(_) => (
            "Check finished",
            "The service that sent you has the result.",
        ),
    };
    page(
        StatusCode::OK,
        title,
        &format!("<p>{text}</p><p>You can close this window.</p>"),
    )
}

pub async fn index(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    // `/?s=<uuid>[&callbackUrl=<url>]`: an Azure Quick Link.
    let query = |name: &str| {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(link) = query("s") {
        return super::azure::open_quick_link(&state, link, query("callbackUrl")).await;
    }
    let demo = if state.demo_key.is_some() {
        "<p>Demo mode: <a href=\"/demo\">try the whole integration</a>, or create checks \
         with the demo API key printed at start.</p>"
    } else {
        ""
    };
    page(
        StatusCode::OK,
        "livecheck verifier",
        &format!(
            "<p>The API is described at <a href=\"/openapi.json\">/openapi.json</a>.</p>{demo}"
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
