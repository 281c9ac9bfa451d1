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
    let (s, e) = v.put_reference(created["id"].as_str().unwrap(), "image/png", png);
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

/// A 1920×1080 picture of sensor noise as a JPEG: about 2.5 MB that no encoder shrinks.
fn noisy_1080p(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1920, 1080, |x, y| {
        let h = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ seed)
            .wrapping_mul(2_654_435_761);
        image::Rgb([(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8])
    });
    jpeg(&img, 92)
}

/// The same JPEG with a comment naming `n`: other bytes, the same picture.
fn numbered(jpeg: &[u8], n: u64) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x0A]);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn a_session_stores_bounded_bytes_and_finishes_read_them_one_frame_at_a_time() {
    const CAP_MIB: u64 = 24;
    let cap_bytes = (CAP_MIB << 20).to_string();
    let v = Verifier::start_temp(&[
        ("LIVECHECK_CHECKS_MAX_SESSION_BYTES", &cap_bytes),
        // One malloc arena: glibc gives each thread its own, and memory one thread
        // freed is not reused by another, so the peak would count thread churn
        // rather than what a finish holds (six finishes: +100 MiB either way).
        ("MALLOC_ARENA_MAX", "1"),
        // Buffers of 256 KiB and more (frames, decoded pixels, images) mapped on their
        // own and returned when freed. glibc otherwise raises this threshold to the
        // largest block freed, after which megabyte buffers come from the heap and
        // the peak counts its fragmentation, which depends on how the two decisions
        // at a time happen to interleave (CI once saw +67 MiB where runs here saw
        // +14 to +33).
        ("MALLOC_MMAP_THRESHOLD_", "262144"),
    ]);
    let frame = noisy_1080p(7);
    let size = frame.len() as u64 + 12;
    assert!(size > 2_000_000, "{size} bytes");
    let fit = (CAP_MIB << 20) / size;

    // Sessions filled to the cap; the frame past it is refused and not kept.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (warm, measured) = (cores, 3 * cores);
    let created: Vec<_> = (0..warm + measured)
        .map(|_| v.create(json!({"return_url": "https://c.example/r", "challenges": ["BLINK"]})))
        .collect();
    let mut caps: Vec<Capture> = Vec::new();
    for c in &created {
        // Claimed just before its frames: they are sent as they are taken.
        let mut cap = Capture::claim(&v, c);
        for i in 0..fit {
            cap.wait_until(40 * i);
            let (s, body) = cap.upload_now(40 * i, &numbered(&frame, i));
            assert_eq!(s, 201, "frame {i}: {body}");
        }
        let started = Instant::now();
        let (s, e) = cap.upload_now(40 * fit, &numbered(&frame, fit));
        assert_eq!(
            (s, e["code"].as_str()),
            (409, Some("frame_limit_reached")),
            "{e}"
        );
        assert!(e["message"].as_str().unwrap().contains("bytes"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(1));
        caps.push(cap);
    }
    let id = created[0]["id"].as_str().unwrap();
    assert_eq!(
        v.get(&format!("/liveness_check/{id}")).1["frames"],
        json!(null)
    );

    // As many finishes at once as decisions run at once (models and threads warm),
    // then three times as many: each reads one frame at a time, and those waiting
    // for their turn hold none.
    let finish_all = |caps: &[Capture]| -> Vec<u16> {
        std::thread::scope(|s| {
            let finishes: Vec<_> = caps.iter().map(|cap| s.spawn(|| cap.finish().0)).collect();
            finishes.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    assert!(finish_all(&caps[..warm]).iter().all(|&c| c == 200));
    let before = v.peak_rss_kib();
    assert!(finish_all(&caps[warm..]).iter().all(|&c| c == 200));
    let grown_mib = v.peak_rss_kib().saturating_sub(before) / 1024;
    println!(
        "{fit} frames of {size} bytes a session; finish: peak RSS {} MiB after {warm}, \
         grew by {grown_mib} MiB for {measured} more",
        before / 1024
    );
    // Holding the waiting sessions' frames takes 2 × cores × 20 MiB and more (finishes
    // that read their frames before their turn: +77 to +82 MiB on SQLite, +87 to +97 on
    // PostgreSQL); reading them in turn, +0 on SQLite and +5 to +8 on PostgreSQL, whose
    // pooled connections each keep buffers as large as the largest message they carried:
    // images cross in 1 MiB chunks, so at most a chunk read and one written for each of
    // `store.max_connections` (8). (Whole frames per message grew it by 60 to 88 MiB.)
    let bound = match v.postgres() {
        Some(_) => 32 + 8 * 2,
        None => 32,
    };
    assert!(grown_mib < bound, "peak RSS grew by {grown_mib} MiB");
}

#[test]
fn a_heic_that_decodes_far_beyond_its_header_costs_a_capped_helper_not_the_verifier() {
    // Found by the fuzz target: 578 bytes declaring 64×48 whose HEVC stream says
    // 16384×12288 (600 MB of RGB); libheif believes the stream.
    let bomb = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz/corpus/heic_decode/45fc72c0cf64c879"),
    )
    .unwrap();
    let v = Verifier::start_temp(&[]);
    let before = v.peak_rss_kib();
    let (s, created) = status_json(
        v.http
            .post(v.url("/v1/verifications/liveness/session"))
            .header("X-API-Key", &v.api_key)
            .json(&json!({"userId": "heic-bomb"}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 201, "{created}");
    for _ in 0..3 {
        let started = Instant::now();
        let form = reqwest::blocking::multipart::Form::new()
            .text(
                "sessionToken",
                created["sessionToken"].as_str().unwrap().to_string(),
            )
            .text("challengeId", "ch_001")
            .part(
                "photo",
                reqwest::blocking::multipart::Part::bytes(bomb.clone()).file_name("IMG.HEIC"),
            );
        let (s, e) = status_json(
            v.http
                .post(v.url("/v1/verifications/liveness/challenge"))
                .header("X-API-Key", &v.api_key)
                .multipart(form)
                .send()
                .unwrap(),
        );
        assert_eq!((s, e["code"].as_str()), (422, Some("invalid_image")), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let grew = v.peak_rss_kib().saturating_sub(before) / 1024;
    println!("HEIC bomb x3: the verifier's peak RSS grew {grew} MiB");
    assert!(grew < 64, "{grew} MiB");
}
