//! Traces what the capture checks read, frame by frame (the continuity and light
//! measurements, for setting their limits): one tab-separated line per frame.
//!
//! `cargo run --release -p livecheck-core --example capture_trace -- [--fps N] [--every K] [--descriptors] [--still N] FILE`
//! FILE is an MJPEG clip or a folder of frames. `--every K` keeps one frame in K (a
//! slower camera). `--matrix F` writes every pair's patch distance to F. On stderr:
//! each frame's consistency readings (shape signature against the first five's median;
//! with `--descriptors`, identity descriptor against the first frame's, and every
//! frame's pose, expression and descriptor as JSON), the median signature, and live
//! signs. `--still N`: instead, the first frame sent N times as a still
//! picture would be: re-encoded each time with `--noise N` (±N per channel, 4) and
//! `--tremor PX` (1.5) of shift.

use std::path::PathBuf;
use std::process::ExitCode;

use livecheck_core::analysis::load_media;
use livecheck_core::manifest::ModelFiles;
use livecheck_core::{Engine, Observation, ObserveOptions, RgbaImage};

fn main() -> ExitCode {
    let mut fps = 30.0f64;
    let mut every = 1usize;
    let mut still = 0usize;
    let mut matrix = None;
    let mut noise = 4i32;
    let mut tremor = 1.5f32;
    let mut reencode = 0u8;
    let mut descriptors = false;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || args.next().and_then(|v| v.parse::<f64>().ok());
        match a.as_str() {
            "--fps" => fps = num().unwrap_or(fps),
            "--every" => every = num().map(|v| v as usize).unwrap_or(1).max(1),
            "--still" => still = num().map(|v| v as usize).unwrap_or(30),
            "--noise" => noise = num().map(|v| v as i32).unwrap_or(noise),
            "--tremor" => tremor = num().map(|v| v as f32).unwrap_or(tremor),
            "--descriptors" => descriptors = true,
            "--reencode" => reencode = num().map(|v| v as u8).unwrap_or(75),
            "--matrix" => matrix = args.next().map(PathBuf::from),
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: capture_trace [--fps N] [--every K] [--still N] FILE");
        return ExitCode::from(2);
    };
    let engine = match ModelFiles::load_dir(&ModelFiles::default_dir())
        .and_then(|m| Engine::from_model_bytes(&m.model_bytes()))
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("capture_trace: {e} (run models/fetch.sh)");
            return ExitCode::FAILURE;
        }
    };
    let frames = match load_media(&file, fps) {
        Ok((f, _)) => f,
        Err(e) => {
            eprintln!("capture_trace: {e}");
            return ExitCode::FAILURE;
        }
    };
    let frames: Vec<(RgbaImage, u64)> = if still > 0 {
        (0..still)
            .map(|i| (still_copy(&frames[0].0, i, noise, tremor), i as u64 * 100))
            .collect()
    } else if reencode > 0 {
        // Each frame, then the same picture through JPEG at `--reencode Q`: the
        // `d_prev` of every second line is a repeat's distance.
        frames
            .into_iter()
            .step_by(every)
            .flat_map(|(img, t)| {
                let copy = jpeg_copy(&img, reencode);
                [(img, t), (copy, t + 1)]
            })
            .collect()
    } else {
        frames.into_iter().step_by(every).collect()
    };
    let options = ObserveOptions {
        anti_spoof: false,
        descriptor: descriptors,
        ..ObserveOptions::default()
    };
    println!("t_ms\tcx\tcy\tw\tyaw\tpitch\troll\teye\tsmile\tjaw\td_prev\td_min_earlier\tface_rgb\tbg_rgb");
    let mut seen: Vec<Observation> = Vec::new();
    for (img, t) in &frames {
        let Ok(frame) = img.frame() else { continue };
        let Ok(o) = engine.observe(&frame, *t, options) else {
            continue;
        };
        let (Some(f), Some(m), Some(a)) = (&o.face, &o.mesh, &o.appearance) else {
            println!("{t}\t-");
            continue;
        };
        let dist = |p: &Observation| p.appearance.as_ref().map(|b| a.distance(b));
        let d_prev = seen.last().and_then(dist).unwrap_or(f32::NAN);
        let d_min = seen.iter().filter_map(dist).fold(f32::INFINITY, f32::min);
        let c = f.bbox.centre();
        println!(
            "{t}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.1?}\t{:.1?}",
            c.x,
            c.y,
            f.bbox.width,
            m.pose.yaw,
            m.pose.pitch,
            m.pose.roll,
            m.expression.eye_closure,
            m.expression.smile,
            m.expression.jaw_open,
            d_prev,
            d_min,
            a.face_rgb,
            a.background_rgb,
        );
        seen.push(o);
    }
    // Consistency: each frame's shape signature against the median of the first five,
    // and (with --descriptors) its identity descriptor against the first frame's; as
    // `consistency` reads them. On stderr: t, shape distance, descriptor distance.
    let sigs: Vec<(u64, Vec<f32>)> = seen
        .iter()
        .filter_map(|o| {
            let m = o.mesh.as_ref()?;
            Some((
                o.t_ms,
                livecheck_core::consistency::shape_signature(&m.landmarks)?,
            ))
        })
        .collect();
    if let Some(first) = sigs.first() {
        let head = &sigs[..sigs.len().min(5)];
        let centre: Vec<f32> = (0..first.1.len())
            .map(|d| {
                let mut v: Vec<f32> = head.iter().map(|s| s.1[d]).collect();
                v.sort_by(f32::total_cmp);
                v[v.len() / 2]
            })
            .collect();
        eprintln!("signature\t{centre:?}");
        if descriptors {
            // Every frame's pose, expression and descriptor, one JSON line each.
            for o in &seen {
                if let (Some(m), Some(d)) = (&o.mesh, &o.descriptor) {
                    eprintln!(
                        "descriptor\t{}",
                        serde_json::json!({"t": o.t_ms, "yaw": m.pose.yaw, "pitch": m.pose.pitch,
                            "eye": m.expression.eye_closure, "smile": m.expression.smile,
                            "jaw": m.expression.jaw_open, "d": d})
                    );
                }
            }
        }
        let first_desc = seen.iter().find_map(|o| o.descriptor.clone());
        for (o, (t, sig)) in seen.iter().filter(|o| o.mesh.is_some()).zip(&sigs) {
            let d = match (&first_desc, &o.descriptor) {
                (Some(a), Some(b)) => a.distance(b).unwrap_or(f32::NAN),
                _ => f32::NAN,
            };
            eprintln!(
                "consistency\t{t}\t{:.4}\t{:.3}",
                livecheck_core::consistency::signature_distance(sig, &centre),
                d
            );
        }
    }
    // Live signs over the first two seconds and over the whole capture, on stderr.
    let rules = livecheck_core::challenge::ChallengeRules::default();
    let limits = livecheck_core::live_signs::LiveSignLimits::default();
    let head: Vec<Observation> = seen.iter().filter(|o| o.t_ms < 2000).cloned().collect();
    for (name, obs) in [("first 2 s", &head), ("all", &seen)] {
        let s = livecheck_core::live_signs::live_signs(obs, &rules, &limits);
        eprintln!(
            "live signs, {name}: non-rigid motion {:.2} over {} frames, {} events",
            s.non_rigid_motion,
            s.frames,
            s.events.len()
        );
    }
    // `--matrix F`: every pair's patch distance, a row per frame (tab-separated).
    if let Some(path) = matrix {
        let rows: Vec<String> = seen
            .iter()
            .map(|a| {
                seen.iter()
                    .map(|b| match (&a.appearance, &b.appearance) {
                        (Some(x), Some(y)) => format!("{:.4}", x.distance(y)),
                        _ => "nan".into(),
                    })
                    .collect::<Vec<_>>()
                    .join("\t")
            })
            .collect();
        if let Err(e) = std::fs::write(&path, rows.join("\n")) {
            eprintln!("capture_trace: {}: {e}", path.display());
        }
    }
    ExitCode::SUCCESS
}

/// The picture again as a camera pointed at a still photo would send it: shifted by a
/// pixel or so, with per-pixel noise, through JPEG at quality 90.
fn still_copy(img: &RgbaImage, i: usize, noise: i32, tremor: f32) -> RgbaImage {
    let (w, h) = (img.width as i64, img.height as i64);
    let (dx, dy) = (
        ((i as f32 / 5.0).sin() * tremor).round() as i64,
        ((i as f32 / 7.0).cos() * tremor / 1.5).round() as i64,
    );
    let mut rgb = image::RgbImage::new(img.width, img.height);
    let mut seed = 0x9E37_79B9u32.wrapping_mul(i as u32 + 1);
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = ((x - dx).clamp(0, w - 1), (y - dy).clamp(0, h - 1));
            let k = ((sy * w + sx) * 4) as usize;
            let mut px = [0u8; 3];
            for (c, v) in px.iter_mut().enumerate() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let n = if noise > 0 {
                    (seed % (2 * noise as u32 + 1)) as i32 - noise
                } else {
                    0
                };
                *v = (img.data[k + c] as i32 + n).clamp(0, 255) as u8;
            }
            rgb.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    let mut jpeg = Vec::new();
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&rgb);
    livecheck_core::decode::decode(&jpeg).unwrap_or_else(|_| img.clone())
}

fn jpeg_copy(img: &RgbaImage, quality: u8) -> RgbaImage {
    let rgba = image::RgbaImage::from_raw(img.width, img.height, img.data.clone());
    let Some(rgb) = rgba.map(|i| image::DynamicImage::ImageRgba8(i).to_rgb8()) else {
        return img.clone();
    };
    let mut jpeg = Vec::new();
    let _ =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality).encode_image(&rgb);
    livecheck_core::decode::decode(&jpeg).unwrap_or_else(|_| img.clone())
}
