//! Face match over HTTP: a reference selfie attached at create or later, compared with
//! the decided check's probe image; references that do not show one face are refused
//! with their own codes and leave nothing behind.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::harness::{clip_frames, status_json, testdata, Capture, Verifier};
use crate::shared;

fn b64_file(rel: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(testdata(rel)).unwrap())
}

fn png_b64(img: &image::RgbImage) -> String {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

fn put_reference(v: &Verifier, id: &str, bytes: Vec<u8>, content_type: &str) -> (u16, Value) {
    status_json(
        v.http
            .put(v.url(&format!("/liveness_check/{id}/reference")))
            .bearer_auth(&v.api_key)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .unwrap(),
    )
}

#[test]
fn the_capture_matches_its_own_reference_and_not_another_persons() {
    let shared = shared();
    let v = &*shared;
    let created = v.create(json!({
        "return_url": "https://customer.example/r",
        "challenges": ["SMILE"],
        // Another moment of the same person as the capture, as a data: URL.
        "reference_image": format!(
            "data:image/png;base64,{}",
            b64_file("live_frames/lp_d18_t3.8_smile.png")
        ),
    }));
    let id = created["id"].as_str().unwrap().to_string();
    let (_, pending) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(pending["reference_image"], true, "{pending}");
    assert_eq!(pending["face_match"], Value::Null, "{pending}");

    let mut cap = Capture::claim(v, &created);
    cap.play(
        &clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 6),
        &[1000],
    );
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    let (_, r) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(r["face_match"], "match", "{r}");
    let distance = r["face_match_distance"].as_f64().unwrap();
    assert!(distance < 0.55, "{r}");
    let score = r["face_match_score"].as_f64().unwrap();
    assert!((score - 100.0 * (1.0 - distance / 1.2)).abs() < 0.01, "{r}");
    assert_eq!(
        r["face_match_thresholds"],
        json!({"match_at_most": 0.55, "no_match_above": 0.65})
    );

    // A reference uploaded later replaces the first and is compared at once.
    let obama = std::fs::read(testdata("live/fr_obama_official_portrait.jpg")).unwrap();
    let (s, r) = put_reference(v, &id, obama, "image/jpeg");
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["face_match"], "no_match", "{r}");
    assert!(r["face_match_distance"].as_f64().unwrap() > 0.65, "{r}");
    assert!(r["face_match_score"].as_f64().unwrap() < 46.0, "{r}");
    let (_, again) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(again["face_match"], "no_match", "stored: {again}");

    // Erasure takes the descriptor and the match with it; a new reference is refused.
    let r = v
        .http
        .delete(v.url(&format!("/liveness_check/{id}")))
        .bearer_auth(&v.api_key)
        .send()
        .unwrap();
    let (s, erased) = status_json(r);
    assert_eq!(s, 200, "{erased}");
    assert_eq!(erased["reference"], true, "{erased}");
    let (_, after) = v.get(&format!("/liveness_check/{id}"));
    assert_eq!(after["reference_image"], false, "{after}");
    assert_eq!(after["face_match"], Value::Null, "{after}");
    let astronaut = std::fs::read(testdata("live/skimage_astronaut.png")).unwrap();
    let (s, r) = put_reference(v, &id, astronaut, "image/png");
    assert_eq!((s, r["code"].as_str()), (409, Some("invalid_state")), "{r}");
}

#[test]
fn references_without_exactly_one_face_are_refused_and_nothing_is_created() {
    let shared = shared();
    let v = &*shared;
    let grey = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    // Two people side by side, each face as large as the other.
    let a = image::open(testdata("live/skimage_astronaut.png"))
        .unwrap()
        .to_rgb8();
    let b = image::open(testdata("live_frames/lp_d18_t0.5_neutral.png"))
        .unwrap()
        .resize_exact(512, 512, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut pair = image::RgbImage::new(1024, 512);
    image::imageops::replace(&mut pair, &a, 0, 0);
    image::imageops::replace(&mut pair, &b, 512, 0);
    let garbage = base64::engine::general_purpose::STANDARD.encode(b"not an image at all");
    let heic =
        base64::engine::general_purpose::STANDARD.encode(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic");
    for (reference, status, code) in [
        (png_b64(&grey), 422, "reference_no_face"),
        (png_b64(&pair), 422, "reference_multiple_faces"),
        (garbage, 415, "unsupported_media_type"),
        (heic, 422, "invalid_image"),
        ("%%% not base64".to_string(), 400, "invalid_request"),
    ] {
        let (s, body) = v.post(
            "/liveness_check",
            &json!({
                "return_url": "https://customer.example/r",
                "user_id": "refused-reference",
                "reference_image": reference,
            }),
        );
        assert_eq!((s, body["code"].as_str()), (status, Some(code)), "{body}");
    }
    let (s, page) = v.get("/liveness_check/user/refused-reference");
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["total"], 0, "a refused create stored a check: {page}");
}
