//! Images that cost more than they weigh: a small file declaring a huge picture is
//! refused from its header before any pixel is decoded, and uploads of one frame
//! position decode once; the verifier's peak memory (read from /proc) stays bounded.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{clip_frames, jpeg, status_json, Capture, Verifier};

/// A real 640×480 JPEG whose header says 8192×8192.
fn jpeg_declaring_8192() -> Vec<u8> {
    let mut bytes = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 30)[0]
        .1
        .clone();
    let sof = bytes
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0 | 0xC2))
        .expect("a frame header");
    bytes[sof + 5..sof + 9].copy_from_slice(&[0x20, 0x00, 0x20, 0x00]);
    bytes
}

/// An 8192×8192 black PNG: about 340 kB that decode to 256 MiB of RGBA.
fn png_8192() -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::new(8192, 8192))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn image_bombs_are_refused_from_their_headers_and_memory_stays_bounded() {
    let v = Verifier::start_temp(&[]);
    let created = v.create(json!({"return_url": "https://c.example/r", "challenges": ["BLINK"]}));
    let mut cap = Capture::claim(&v, &created);
    // One ordinary frame first, so the peak below is the bombs' alone.
    let frames = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 30);
    assert_eq!(cap.upload(0, &frames[0].1).0, 201);
    let before = v.peak_rss_kib();

    let png = png_8192();
    assert!(png.len() < 400_000, "{} bytes", png.len());
    for (name, bomb) in [("jpeg", jpeg_declaring_8192()), ("png", png.clone())] {
        let started = Instant::now();
        let mut signer = cap.signer.clone();
        let env = json!(signer.sign(100, None, &bomb).unwrap());
        let ty = if name == "png" {
            "image/png"
        } else {
            "image/jpeg"
        };
        let (s, e) = cap.send_raw(&env, bomb, ty);
        assert_eq!(
            (s, e["code"].as_str()),
            (422, Some("invalid_image")),
            "{name}: {e}"
        );
        assert!(e["message"].as_str().unwrap().contains("8192x8192"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2), "{name}");
    }
    // As a reference selfie too (photos may be larger than frames, not that large).
    let r = v
        .http
        .put(v.url(&format!(
            "/liveness_check/{}/reference",
            created["id"].as_str().unwrap()
        )))
        .bearer_auth(&v.api_key)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .unwrap();
    let (s, e) = status_json(r);
    assert_eq!((s, e["code"].as_str()), (422, Some("invalid_image")), "{e}");

    // Six uploads of the same frame position at once: one is decoded and kept.
    let big = jpeg(
        &image::RgbImage::from_fn(1920, 1080, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
        }),
        90,
    );
    let env = json!(cap.signer.clone().sign(200, None, &big).unwrap());
    cap.wait_until(200);
    let codes: Vec<u16> = std::thread::scope(|s| {
        let sends: Vec<_> = (0..6)
            .map(|_| s.spawn(|| cap.send_raw(&env, big.clone(), "image/jpeg").0))
            .collect();
        sends.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(codes.iter().filter(|&&c| c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|&c| c == 201 || c == 409), "{codes:?}");

    let grown_mib = (v.peak_rss_kib().saturating_sub(before)) / 1024;
    println!(
        "peak RSS {} MiB before, grew by {grown_mib} MiB",
        before / 1024
    );
    assert!(grown_mib < 64, "peak RSS grew by {grown_mib} MiB");
}
