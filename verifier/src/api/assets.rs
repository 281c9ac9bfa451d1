//! Files the browser loads from the verifier's own origin (no third-party CDN): the
//! built SDK (`/sdk/`), the models it runs (`/models/`, only those the manifest marks
//! for the browser) and the hosted pages' script and style (`/web/`, embedded).
//!
//! A URL that names its file's content (`?v=` and the file's sha256, as the SDK asks
//! for models and the hosted page for the SDK) is cached for a year and never asked
//! again: a returning user downloads nothing until the file changes, and then its URL
//! does. A bare URL, or one naming another version, is revalidated.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use std::path::Path;

use crate::asset_cache::{AssetCache, Prepared};
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

/// Compresses the files a capture page downloads first, at start, so that the first
/// visitor does not wait for it (about 1.5 s here for the wasm and the models).
pub async fn warm(state: web::Data<AppState>) {
    let server = &state.config.server;
    warm_files(&state.assets, &server.sdk_dir(), &server.models_dir()).await;
}

/// The SDK's two files, and each browser model in the form the SDK downloads: its planes
/// form, or the plain file where that is missing. Preparing the plain forms too held
/// 14.6 MB more in memory (7.0 MB of files with their gzip and brotli copies) for
/// requests the SDK does not make.
async fn warm_files(assets: &AssetCache, sdk_dir: &Path, models_dir: &Path) {
    for name in ["livecheck_sdk.js", "livecheck_sdk_bg.wasm"] {
        // A file missing now (an SDK not built yet) is prepared on its first request.
        let _ = assets.get(sdk_dir.join(name)).await;
    }
    let models = livecheck_core::manifest::entries()
        .iter()
        .filter(|e| e.runs_in.iter().any(|r| r == "browser"));
    for e in models {
        let planes = models_dir.join(format!("{}.planes", e.file));
        if assets.get(planes).await.is_err() {
            let _ = assets.get(models_dir.join(&e.file)).await;
        }
    }
}

/// The content codings this server has, in its order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

/// The best coding `Accept-Encoding` takes (a q above 0; `*` takes any) that the file
/// has: brotli, then gzip, else the bytes as they are.
fn coding(req: &HttpRequest, has_brotli: bool) -> Coding {
    let Some(value) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Coding::Identity;
    };
    let taken: Vec<String> = value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some(coding)
        })
        .collect();
    let takes = |names: &[&str]| {
        taken
            .iter()
            .any(|t| t == "*" || names.contains(&t.as_str()))
    };
    if has_brotli && takes(&["br"]) {
        Coding::Brotli
    } else if takes(&["gzip", "x-gzip"]) {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare by their value.
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag)
        })
}

/// The file in the best coding the client takes, each representation with its own tag.
fn serve(req: &HttpRequest, file: &Prepared, ty: &str, cache_control: &str) -> HttpResponse {
    let coding = coding(req, file.brotli.is_some());
    let etag = match coding {
        Coding::Brotli => format!("\"{}.br\"", file.digest),
        Coding::Gzip => format!("\"{}.gz\"", file.digest),
        Coding::Identity => format!("\"{}\"", file.digest),
    };
    let fresh = not_modified(req, &etag);
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "accept-encoding"))
        .insert_header((header::ETAG, etag));
    if fresh {
        return res.finish();
    }
    res.content_type(ty);
    match (coding, &file.brotli) {
        (Coding::Brotli, Some(br)) => res
            .insert_header((header::CONTENT_ENCODING, "br"))
            .body(br.clone()),
        (Coding::Gzip, _) => res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(file.gzip.clone()),
        _ => res.body(file.raw.clone()),
    }
}

/// Cached for good: the URL names the content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The `?v=` a versioned URL carries.
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// How long `file` may be kept when asked for as `version`: for good when that is its
/// digest, else `otherwise` (a bare URL, or a version this server no longer has: the
/// current file, revalidated, and the SDK's own sha256 check says what is wrong).
fn cache_control<'a>(file: &Prepared, version: &Version, otherwise: &'a str) -> &'a str {
    match &version.v {
        Some(v) if *v == file.digest => IMMUTABLE,
        _ => otherwise,
    }
}

/// The SDK file `name`'s versioned URL (`None` while the SDK is not built).
pub async fn sdk_url(state: &AppState, name: &str) -> Option<String> {
    let path = state.config.server.sdk_dir().join(name);
    let file = state.assets.get(path).await.ok()?;
    Some(format!("/sdk/{name}?v={}", file.digest))
}

pub async fn sdk_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    version: web::Query<Version>,
) -> ApiResult<HttpResponse> {
    let ty = sdk_type(&name).ok_or_else(|| ApiError::not_found("file"))?;
    let file = state
        .assets
        .get(state.config.server.sdk_dir().join(name.as_str()))
        .await?;
    let cache = cache_control(&file, &version, "no-cache");
    Ok(serve(&req, &file, ty, cache))
}

/// A model the browser runs, as `FILE` or in its planes form, `FILE.planes` (what the SDK
/// asks for: `livecheck_core::model_planes`; written by `models/fetch.sh`).
pub async fn model_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    version: web::Query<Version>,
) -> ApiResult<HttpResponse> {
    let (file_name, planes) = match name.strip_suffix(".planes") {
        Some(onnx) => (onnx, true),
        None => (name.as_str(), false),
    };
    let entry = livecheck_core::manifest::entries()
        .iter()
        .find(|e| e.file == file_name && e.runs_in.iter().any(|r| r == "browser"))
        .ok_or_else(|| ApiError::not_found("model"))?;
    let file = state
        .assets
        .get(state.config.server.models_dir().join(name.as_str()))
        .await?;
    // The model these bytes are: a planes form is decoded (once per version) to tell.
    let model_digest = if planes {
        let file = file.clone();
        crate::checks::compute(move || Ok(file.decoded_digest().map(str::to_owned))).await?
    } else {
        Some(file.digest.clone())
    };
    // The bytes are pinned by the manifest's sha256 (the SDK checks it), so they may be cached.
    // The SDK names the manifest's sha256; a canonical rebuild (other bytes the manifest
    // accepts as the same model) is as good under that name, and so is its planes form.
    let cache = match (&version.v, model_digest) {
        (Some(v), Some(d)) if *v == entry.sha256 && entry.accepts(&d) => IMMUTABLE,
        _ => "no-cache",
    };
    Ok(serve(&req, &file, "application/octet-stream", cache))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn warming_prepares_the_form_of_each_model_the_sdk_downloads() {
        let dir = tempfile::tempdir().unwrap();
        let browser: Vec<String> = livecheck_core::manifest::entries()
            .iter()
            .filter(|e| e.runs_in.iter().any(|r| r == "browser"))
            .map(|e| e.file.clone())
            .collect();
        assert!(browser.len() >= 3, "{browser:?}");
        // Every model has its plain file; all but the last have a planes form too.
        for (i, file) in browser.iter().enumerate() {
            std::fs::write(dir.path().join(file), b"onnx").unwrap();
            if i + 1 < browser.len() {
                std::fs::write(dir.path().join(format!("{file}.planes")), b"planes").unwrap();
            }
        }
        std::fs::write(dir.path().join("livecheck_sdk_bg.wasm"), b"wasm").unwrap();
        let assets = AssetCache::default();
        warm_files(&assets, dir.path(), dir.path()).await;
        let held = |name: &str| assets.holds(&dir.path().join(name));
        assert!(held("livecheck_sdk_bg.wasm"));
        assert!(
            !held("livecheck_sdk.js"),
            "missing: prepared on its first request"
        );
        for (i, file) in browser.iter().enumerate() {
            let has_planes = i + 1 < browser.len();
            assert_eq!(held(&format!("{file}.planes")), has_planes, "{file}");
            assert_eq!(held(file), !has_planes, "{file}");
        }
    }

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
