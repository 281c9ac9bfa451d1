//! The browser's downloads (`/sdk/`, `/models/`): brotli or gzipped for clients that
//! take it, the same bytes otherwise, revalidated by entity tag, and fresh after the
//! file changes.

use std::io::Read;

use reqwest::blocking::Response;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH, VARY};
use sha2::{Digest, Sha256};

use crate::harness::Verifier;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

fn header(r: &Response, name: reqwest::header::HeaderName) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[test]
fn sdk_and_model_files_are_gzipped_for_clients_that_take_it() {
    let sdk = tempfile::tempdir().unwrap();
    let js = "export function step(frame) { return frame + 1; }\n".repeat(400);
    let file = sdk.path().join("livecheck_sdk.js");
    std::fs::write(&file, &js).unwrap();
    let v = Verifier::start_temp(&[("LIVECHECK_SDK_DIR", sdk.path().to_str().unwrap())]);
    let get = |path: &str, headers: &[(reqwest::header::HeaderName, &str)]| {
        let mut req = v.http.get(v.url(path));
        for (k, val) in headers {
            req = req.header(k.clone(), *val);
        }
        req.send().unwrap()
    };

    // A browser's Accept-Encoding: the gzipped bytes, which open to the file.
    let r = get(
        "/sdk/livecheck_sdk.js",
        &[(ACCEPT_ENCODING, "gzip, deflate, br, zstd")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("gzip"));
    assert_eq!(header(&r, VARY).as_deref(), Some("accept-encoding"));
    let gz_tag = header(&r, ETAG).unwrap();
    let body = r.bytes().unwrap();
    assert!(body.len() * 10 < js.len(), "{} of {}", body.len(), js.len());
    assert_eq!(gunzip(&body), js.as_bytes());

    // No Accept-Encoding, or gzip refused with q=0: the file as it is, under another tag.
    for accept in [None, Some("gzip;q=0, identity")] {
        let headers: Vec<_> = accept.map(|a| (ACCEPT_ENCODING, a)).into_iter().collect();
        let r = get("/sdk/livecheck_sdk.js", &headers);
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, CONTENT_ENCODING), None);
        assert_ne!(header(&r, ETAG).unwrap(), gz_tag);
        assert_eq!(r.bytes().unwrap(), js.as_bytes());
    }

    // Revalidation: the same tag gets 304 and no body.
    let r = get(
        "/sdk/livecheck_sdk.js",
        &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &gz_tag)],
    );
    assert_eq!(r.status(), 304);
    assert!(r.bytes().unwrap().is_empty());

    // A rebuilt SDK is served at once, under a new tag.
    let rebuilt = js.replace("+ 1", "+ 2") + "// rebuilt\n";
    std::fs::write(&file, &rebuilt).unwrap();
    let r = get(
        "/sdk/livecheck_sdk.js",
        &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &gz_tag)],
    );
    assert_eq!(r.status(), 200);
    assert_ne!(header(&r, ETAG).unwrap(), gz_tag);
    assert_eq!(gunzip(&r.bytes().unwrap()), rebuilt.as_bytes());

    // A model opens to the bytes the manifest pins.
    let entry = livecheck_core::manifest::entries()
        .iter()
        .find(|e| e.runs_in.iter().any(|r| r == "browser"))
        .unwrap();
    let r = get(
        &format!("/models/{}", entry.file),
        &[(ACCEPT_ENCODING, "gzip")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("gzip"));
    let model = gunzip(&r.bytes().unwrap());
    assert_eq!(hex::encode(Sha256::digest(&model)), entry.sha256);

    // What is not there, or not the browser's, is a typed 404.
    for path in [
        "/sdk/missing.js",
        "/models/dlib_face_recognition_resnet_model_v1.onnx",
    ] {
        let (status, body) = v.get(path);
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], "not_found", "{path}: {body}");
    }
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("a brotli body");
    out
}

/// `scripts/brotli.mjs`, which the SDK's build and models/fetch.sh run.
fn brotli_beside(file: &std::path::Path) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/brotli.mjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(file)
        .output()
        .expect("node (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_brotli_form_is_served_to_clients_that_take_it_only_while_it_decodes_to_the_file() {
    let sdk = tempfile::tempdir().unwrap();
    let js = "export function step(frame) { return frame * 3; }\n".repeat(400);
    let file = sdk.path().join("livecheck_sdk.js");
    std::fs::write(&file, &js).unwrap();
    brotli_beside(&file);
    let v = Verifier::start_temp(&[("LIVECHECK_SDK_DIR", sdk.path().to_str().unwrap())]);
    let get = |path: &str, accept: &str| {
        v.http
            .get(v.url(path))
            .header(ACCEPT_ENCODING, accept)
            .send()
            .unwrap()
    };
    let browser = "gzip, deflate, br, zstd";

    let r = get("/sdk/livecheck_sdk.js", browser);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("br"));
    assert_eq!(header(&r, VARY).as_deref(), Some("accept-encoding"));
    let br_tag = header(&r, ETAG).unwrap();
    assert_eq!(unbrotli(&r.bytes().unwrap()), js.as_bytes());
    // br refused, or not offered: gzip under its own tag.
    for accept in ["gzip, br;q=0", "gzip"] {
        let r = get("/sdk/livecheck_sdk.js", accept);
        assert_eq!(
            header(&r, CONTENT_ENCODING).as_deref(),
            Some("gzip"),
            "{accept}"
        );
        assert_ne!(header(&r, ETAG).unwrap(), br_tag);
        assert_eq!(gunzip(&r.bytes().unwrap()), js.as_bytes());
    }
    let r = v
        .http
        .get(v.url("/sdk/livecheck_sdk.js"))
        .header(ACCEPT_ENCODING, "br")
        .header(IF_NONE_MATCH, &br_tag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 304);

    // The file rebuilt and its .br left behind: the stale form is never served.
    let rebuilt = js.replace("* 3", "* 4") + "// rebuilt\n";
    std::fs::write(&file, &rebuilt).unwrap();
    let r = get("/sdk/livecheck_sdk.js", browser);
    assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("gzip"));
    assert_eq!(gunzip(&r.bytes().unwrap()), rebuilt.as_bytes());
    // Nor a damaged one.
    let br = sdk.path().join("livecheck_sdk.js.br");
    std::fs::write(&br, b"not brotli at all").unwrap();
    std::fs::write(&file, js.clone() + "// again\n").unwrap();
    let r = get("/sdk/livecheck_sdk.js", browser);
    assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("gzip"));
    // Compressed again: brotli again.
    brotli_beside(&file);
    let r = get("/sdk/livecheck_sdk.js", browser);
    assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("br"));
    assert_eq!(
        unbrotli(&r.bytes().unwrap()),
        (js + "// again\n").as_bytes()
    );

    // models/fetch.sh wrote the browser's models' brotli forms: each smaller than gzip,
    // and opening to the bytes the manifest pins.
    for entry in livecheck_core::manifest::entries()
        .iter()
        .filter(|e| e.runs_in.iter().any(|r| r == "browser"))
    {
        let path = format!("/models/{}", entry.file);
        let gz = get(&path, "gzip").bytes().unwrap().len();
        let r = get(&path, browser);
        assert_eq!(
            header(&r, CONTENT_ENCODING).as_deref(),
            Some("br"),
            "{path}"
        );
        let body = r.bytes().unwrap();
        assert!(
            body.len() < gz,
            "{path}: {} against {gz} gzipped",
            body.len()
        );
        assert_eq!(hex::encode(Sha256::digest(unbrotli(&body))), entry.sha256);
        // And their planes form, what the SDK downloads: smaller again under brotli, and
        // decoding to the same pinned bytes.
        let r = get(&format!("{path}.planes"), browser);
        assert_eq!(header(&r, CONTENT_ENCODING).as_deref(), Some("br"));
        let planes = r.bytes().unwrap();
        assert!(
            planes.len() < body.len(),
            "{path}.planes: {} against {} for the plain file",
            planes.len(),
            body.len()
        );
        let onnx = livecheck_core::model_planes::decode(&unbrotli(&planes)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(onnx)), entry.sha256);
    }
}

/// The value of `attr="…"` in `html`.
fn attribute(html: &str, attr: &str) -> Option<String> {
    let start = html.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let len = html[start..].find('"')?;
    Some(html[start..start + len].replace("&amp;", "&"))
}

#[test]
fn files_named_by_their_content_are_kept_for_good_and_renamed_when_they_change() {
    let sdk = tempfile::tempdir().unwrap();
    let (js, wasm) = (
        sdk.path().join("livecheck_sdk.js"),
        sdk.path().join("livecheck_sdk_bg.wasm"),
    );
    std::fs::write(&js, "export default function init() {}\n").unwrap();
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let v = Verifier::start_temp(&[("LIVECHECK_SDK_DIR", sdk.path().to_str().unwrap())]);
    let cache = |path: &str| {
        let r = v.http.get(v.url(path)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        header(&r, reqwest::header::CACHE_CONTROL).unwrap()
    };
    let page = |link: &str| {
        let r = v.http.get(v.url(&format!("/l/{link}"))).send().unwrap();
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    };
    let sha = |path: &std::path::Path| hex::encode(Sha256::digest(std::fs::read(path).unwrap()));
    const FOR_GOOD: &str = "public, max-age=31536000, immutable";

    // The hosted page names the SDK by its content; those URLs are kept for good.
    let link = crate::harness::link_of(
        &v.create(serde_json::json!({"return_url": "https://r.example/done"})),
    );
    let html = page(&link);
    let sdk_url = attribute(&html, "data-sdk").expect("the page names the SDK's URL");
    let wasm_url = attribute(&html, "data-wasm").expect("the page names the wasm's URL");
    assert_eq!(sdk_url, format!("/sdk/livecheck_sdk.js?v={}", sha(&js)));
    assert_eq!(
        wasm_url,
        format!("/sdk/livecheck_sdk_bg.wasm?v={}", sha(&wasm))
    );
    assert_eq!(cache(&sdk_url), FOR_GOOD);
    assert_eq!(cache(&wasm_url), FOR_GOOD);
    // A plain URL, or one naming another content, is revalidated every time.
    assert_eq!(cache("/sdk/livecheck_sdk_bg.wasm"), "no-cache");
    assert_eq!(
        cache(&format!("/sdk/livecheck_sdk_bg.wasm?v={}", "0".repeat(64))),
        "no-cache"
    );

    // A rebuilt SDK gets a new name on the next page: no browser keeps the old one.
    std::fs::write(&wasm, b"\0asm\x01\0\0\0\x00rebuilt").unwrap();
    let link = crate::harness::link_of(
        &v.create(serde_json::json!({"return_url": "https://r.example/done"})),
    );
    let renamed = attribute(&page(&link), "data-wasm").unwrap();
    assert_eq!(
        renamed,
        format!("/sdk/livecheck_sdk_bg.wasm?v={}", sha(&wasm))
    );
    assert_ne!(renamed, wasm_url);
    // The old name now serves the current file, revalidated, not kept.
    assert_eq!(cache(&wasm_url), "no-cache");

    // Models by the manifest's sha256, as the SDK asks for them.
    let entry = livecheck_core::manifest::entries()
        .iter()
        .find(|e| e.runs_in.iter().any(|r| r == "browser"))
        .unwrap();
    let model = format!("/models/{}", entry.file);
    assert_eq!(cache(&format!("{model}?v={}", entry.sha256)), FOR_GOOD);
    assert_eq!(cache(&model), "no-cache");
    assert_eq!(cache(&format!("{model}?v={}", "f".repeat(64))), "no-cache");
    // Its planes form is named by the model it decodes to, as the SDK asks for it.
    assert_eq!(
        cache(&format!("{model}.planes?v={}", entry.sha256)),
        FOR_GOOD
    );
    assert_eq!(cache(&format!("{model}.planes")), "no-cache");
}

#[test]
fn a_planes_form_is_kept_for_good_only_while_it_decodes_to_the_pinned_model() {
    // The models folder, each file linked, but the first browser model's planes form
    // written here, where the test can damage it.
    let models = tempfile::tempdir().unwrap();
    let shared = livecheck_core::manifest::ModelFiles::default_dir();
    for f in std::fs::read_dir(&shared).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() && !f.to_string_lossy().ends_with(".planes.br") {
            std::os::unix::fs::symlink(&f, models.path().join(f.file_name().unwrap())).unwrap();
        }
    }
    let entry = livecheck_core::manifest::entries()
        .iter()
        .find(|e| e.runs_in.iter().any(|r| r == "browser"))
        .unwrap();
    let planes_path = models.path().join(format!("{}.planes", entry.file));
    let onnx = std::fs::read(shared.join(&entry.file)).unwrap();
    let planes = livecheck_core::model_planes::encode(&onnx).unwrap();
    std::fs::remove_file(&planes_path).unwrap();
    std::fs::write(&planes_path, &planes).unwrap();
    let v = Verifier::start_temp(&[("LIVECHECK_MODELS_DIR", models.path().to_str().unwrap())]);
    // Each rewrite a second later than the last, as the verifier's cache tells versions
    // apart by length and modification time.
    let mut version = std::time::SystemTime::now();
    let mut rewrite = |bytes: &[u8]| {
        std::fs::write(&planes_path, bytes).unwrap();
        version += std::time::Duration::from_secs(1);
        let f = std::fs::File::options()
            .write(true)
            .open(&planes_path)
            .unwrap();
        f.set_modified(version).unwrap();
    };
    let url = format!("/models/{}.planes?v={}", entry.file, entry.sha256);
    let cache = || {
        let r = v.http.get(v.url(&url)).send().unwrap();
        (
            r.status().as_u16(),
            header(&r, reqwest::header::CACHE_CONTROL).unwrap_or_default(),
        )
    };
    assert_eq!(cache(), (200, "public, max-age=31536000, immutable".into()));
    // One byte off: it decodes to another model, so it is not kept under the pinned
    // model's name (the SDK's sha256 check refuses it; the next visit asks again).
    let mut damaged = planes.clone();
    damaged[planes.len() / 2] ^= 1;
    rewrite(&damaged);
    assert_eq!(cache(), (200, "no-cache".into()));
    // The plain file where its planes form should be (decoding it regroups its bytes),
    // and a cut one (no protobuf at all): neither is kept.
    rewrite(&onnx);
    assert_eq!(cache(), (200, "no-cache".into()));
    rewrite(&planes[..1000]);
    assert_eq!(cache(), (200, "no-cache".into()));
    rewrite(&planes);
    assert_eq!(cache(), (200, "public, max-age=31536000, immutable".into()));
    // No planes form: a typed 404, after which the SDK takes the plain file.
    std::fs::remove_file(&planes_path).unwrap();
    let (status, body) = v.get(&url);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
}
