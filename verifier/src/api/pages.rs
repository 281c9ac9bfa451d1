//! The hosted pages a capture link opens: the capture page (which runs the browser SDK,
//! `web-demo/capture.js`), and clear pages for expired, already-used and unknown links.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::capture::client_token;
use super::html::{escape, page, page_with_script};
use crate::checks::capture;
use crate::i18n::{self, Language, Text};
use crate::model::{Check, Status, WayBack};
use crate::state::AppState;

/// The language a page without a check is shown in: the browser's.
fn browser_language(req: &HttpRequest) -> &'static Language {
    let accept = req
        .headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok());
    i18n::pick(None, accept)
}

/// The link back to the customer's page, with the `error` code of how the check ended:
/// every page a capture link can end on has one.
fn way_back(check: &Check, way: WayBack<'_>, lang: &Language) -> String {
    format!(
        "<p><a class=\"button\" href=\"{}\">{}</a></p>",
        escape(&check.back_to(way)),
        escape(lang.text(Text::ReturnToService))
    )
}

/// `<p>` with the text, escaped.
fn para(lang: &Language, t: Text) -> String {
    format!("<p>{}</p>", escape(lang.text(t)))
}

pub async fn capture_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> HttpResponse {
    let link = link.into_inner();
    let browser = browser_language(&req);
    let check = match state.store.check_by_link(&link).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return page(
                StatusCode::NOT_FOUND,
                browser,
                browser.text(Text::InvalidTitle),
                &para(browser, Text::NewLink),
            )
        }
        _ => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                browser,
                browser.text(Text::BusyTitle),
                &para(browser, Text::BusyText),
            )
        }
    };
    let accept = req
        .headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok());
    let lang = i18n::pick(check.locale.as_deref(), accept);
    if check.is_expired(Utc::now()) {
        return page(
            StatusCode::GONE,
            lang,
            lang.text(Text::ExpiredTitle),
            &format!(
                "{}{}",
                para(lang, Text::ExpiredText),
                way_back(&check, WayBack::Expired, lang)
            ),
        );
    }
    let holder = check.held_by(client_token(&req).as_deref());
    if check.status.is_terminal() || (check.status == Status::InProgress && !holder) {
        return page(
            StatusCode::CONFLICT,
            lang,
            lang.text(Text::UsedTitle),
            &format!(
                "{}{}",
                para(lang, Text::UsedText),
                way_back(&check, WayBack::Used, lang)
            ),
        );
    }
    // Without JavaScript the Back form still works; the script hides it and the SDK
    // shows its own Back button.
    let cancel = if check.cancel_url.is_some() {
        format!(
            "<form id=\"lc-back\" method=\"post\" action=\"/l/{}/cancel\">\
             <button type=\"submit\" class=\"secondary\">{}</button></form>",
            escape(&link),
            escape(lang.text(Text::Back))
        )
    } else {
        String::new()
    };
    // The script's texts ride in the page as JSON (not run: the CSP allows no inline
    // script), `<` escaped so no text can close the element.
    let texts = lang.script_texts().replace('<', "\\u003c");
    // The SDK by its content's URLs: kept by the browser until it changes.
    let sdk = super::assets::sdk_url(&state, "livecheck_sdk.js").await;
    let wasm = super::assets::sdk_url(&state, "livecheck_sdk_bg.wasm").await;
    let versioned = match (sdk, wasm) {
        (Some(sdk), Some(wasm)) => format!(
            " data-sdk=\"{}\" data-wasm=\"{}\"",
            escape(&sdk),
            escape(&wasm)
        ),
        _ => String::new(),
    };
    page_with_script(
        StatusCode::OK,
        lang,
        lang.text(Text::PageTitle),
        &format!(
            "<p id=\"lc-status\" role=\"status\" aria-live=\"polite\">{needs_js}</p>\
             <p><button type=\"button\" id=\"lc-start\" hidden>{start}</button> \
             <button type=\"button\" id=\"lc-start-plain\" class=\"secondary\" hidden>{plain}</button></p>\
             <script type=\"application/json\" id=\"lc-texts\">{texts}</script>\
             <div id=\"lc-capture\" data-link=\"{}/l/{}\" data-mode=\"{}\" data-light=\"{}\" \
             data-lang=\"{lang}\"{versioned}></div>{cancel}",
            escape(&state.public_url),
            escape(&link),
            if check.is_passive() {
                "passive"
            } else {
                "active"
            },
            if check.light_challenge { "on" } else { "off" },
            needs_js = escape(lang.text(Text::NeedsJs)),
            start = escape(lang.text(Text::Start)),
            plain = escape(lang.text(Text::StartPlain)),
            lang = lang.tag,
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
    match capture::cancel(&state, link.clone(), client_token(&req).as_deref()).await {
        Ok(url) => HttpResponse::SeeOther()
            .insert_header(("location", url))
            .finish(),
        Err(e) => {
            // Finished, expired or held by another browser: still a way back.
            let found = state.store.check_by_link(&link).await;
            let accept = req
                .headers()
                .get("accept-language")
                .and_then(|v| v.to_str().ok());
            let (lang, body) = match found {
                Ok(Some(check)) => {
                    let lang = i18n::pick(check.locale.as_deref(), accept);
                    let (way, text) = if check.is_expired(Utc::now()) {
                        (WayBack::Expired, Text::ExpiredText)
                    } else {
                        (WayBack::Used, Text::UsedText)
                    };
                    (lang, para(lang, text) + &way_back(&check, way, lang))
                }
                _ => {
                    let lang = i18n::pick(None, accept);
                    (lang, para(lang, Text::NewLink))
                }
            };
            page(e.status, lang, lang.text(Text::CannotCancelTitle), &body)
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
        None => (Text::DoneTitle, Text::DoneText),
        Some("expired") => (Text::ExpiredTitle, Text::NewLink),
        Some("link_already_used") => (Text::UsedTitle, Text::NewLink),
        Some("cancelled") => (Text::CancelledTitle, Text::CancelledText),
        // A verdict is the service's to explain, never this page's.
        Some(_) => (Text::FinishedTitle, Text::FinishedText),
    };
    let lang = browser_language(&req);
    page(
        StatusCode::OK,
        lang,
        lang.text(title),
        &(para(lang, text) + &para(lang, Text::CloseWindow)),
    )
}

/// The verifier's own front page (an Azure Quick Link, `/?s=…`, is the Azure dialect's
/// route).
pub async fn index(state: web::Data<AppState>) -> HttpResponse {
    let demo = if state.demo_key.is_some() {
        "<p>Demo mode: <a href=\"/demo\">try the whole integration</a>, or create checks \
         with the demo API key printed at start.</p>"
    } else {
        ""
    };
    page(
        StatusCode::OK,
        i18n::english(),
        "livecheck verifier",
        &format!(
            "<p>The API is described at <a href=\"/openapi.json\">/openapi.json</a>.</p>{demo}"
        ),
    )
}
