//! Files the browser loads from the verifier's own origin (no third-party CDN): the
//! built SDK (`/sdk/`), the models it runs (`/models/`, only those the manifest marks
//! for the browser) and the hosted pages' script and style (`/web/`, embedded).

use actix_web::{web, HttpResponse};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const WEB_FILES: &[(&str, &str, &str)] = &[
    (
        "capture.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web-demo/capture.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../../web-demo/style.css"),
    ),
];

pub async fn web_file(name: web::Path<String>) -> ApiResult<HttpResponse> {
    let (_, ty, body) = WEB_FILES
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .ok_or_else(|| ApiError::not_found("file"))?;
    Ok(HttpResponse::Ok()
        .content_type(*ty)
        .insert_header(("cache-control", "no-cache"))
        .body(*body))
}

fn sdk_type(name: &str) -> Option<&'static str> {
    let plain = !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !plain {
        return None;
    }
    let ext = name.rsplit('.').next()?;
    Some(match ext {
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "ts" => "text/plain; charset=utf-8",
        "json" => "application/json",
        _ => return None,
    })
}

async fn read(path: std::path::PathBuf) -> ApiResult<Vec<u8>> {
    web::block(move || std::fs::read(path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|_| ApiError::not_found("file"))
}

pub async fn sdk_file(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ty = sdk_type(&name).ok_or_else(|| ApiError::not_found("file"))?;
    let bytes = read(state.config.server.sdk_dir().join(name.as_str())).await?;
    Ok(HttpResponse::Ok()
        .content_type(ty)
        .insert_header(("cache-control", "no-cache"))
        .body(bytes))
}

pub async fn model_file(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let entry = livecheck_core::manifest::entries()
        .iter()
        .find(|e| e.file == name.as_str() && e.runs_in.iter().any(|r| r == "browser"))
        .ok_or_else(|| ApiError::not_found("model"))?;
    let bytes = read(state.config.server.models_dir().join(&entry.file)).await?;
    // The bytes are pinned by the manifest's sha256 (the SDK checks it), so they may be cached.
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("cache-control", "public, max-age=86400"))
        .insert_header(("etag", format!("\"{}\"", entry.sha256)))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::sdk_type;

    #[test]
    fn only_plain_sdk_file_names_are_served() {
        assert_eq!(sdk_type("livecheck_sdk_bg.wasm"), Some("application/wasm"));
        assert!(sdk_type("livecheck_sdk.js").is_some());
        assert_eq!(sdk_type("../Cargo.toml"), None);
        assert_eq!(sdk_type(".env.js"), None);
        assert_eq!(sdk_type("a/b.js"), None);
        assert_eq!(sdk_type("notes.txt"), None);
    }
}
