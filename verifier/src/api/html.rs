//! The HTML every hosted page is built from: one escaped, script-restricted page shape
//! in the page's language and direction.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::i18n::Language;

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

pub fn page(status: StatusCode, lang: &Language, title: &str, body: &str) -> HttpResponse {
    page_with_script(status, lang, title, body, None)
}

/// A page; `script` is a module under `/web/` (scripts come only from this origin, and
/// WebAssembly may compile).
pub fn page_with_script(
    status: StatusCode,
    lang: &Language,
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
        .insert_header(("content-language", lang.tag))
        .insert_header((
            "content-security-policy",
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' blob: data:; \
             media-src 'self' blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(format!(
            "<!doctype html><html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <link rel=\"stylesheet\" href=\"/web/style.css\">\
             <title>{t}</title>{script}</head><body><main><h1>{t}</h1>{body}</main></body></html>",
            t = escape(title),
            lang = lang.tag,
            dir = lang.dir(),
        ))
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
