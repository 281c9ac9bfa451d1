use std::path::PathBuf;
use std::sync::OnceLock;

use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::engine::{Observation, ObserveOptions};
use livecheck_core::manifest::ModelFiles;
use livecheck_core::{Engine, RgbaImage};

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = ModelFiles::default_dir();
        let files =
            ModelFiles::load_dir(&dir).unwrap_or_else(|e| panic!("{e}; run models/fetch.sh"));
        Engine::from_model_bytes(&files.model_bytes()).expect("models load")
    })
}

pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(rel)
}

pub fn image(rel: &str) -> RgbaImage {
    let bytes = std::fs::read(testdata(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    decode(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn observe(img: &RgbaImage, t_ms: u64, anti_spoof: bool) -> Observation {
    engine()
        .observe(
            &img.frame().unwrap(),
            t_ms,
            ObserveOptions {
                mesh: true,
                anti_spoof,
                descriptor: false,
                appearance: true,
            },
        )
        .unwrap()
}

/// An MJPEG clip (30 fps) observed every `step`-th frame.
pub fn observe_clip(rel: &str, step: usize, anti_spoof: bool) -> Vec<Observation> {
    type Clips =
        std::sync::Mutex<std::collections::HashMap<(String, usize, bool), Vec<Observation>>>;
    static CACHE: OnceLock<Clips> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (rel.to_string(), step, anti_spoof);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let bytes = std::fs::read(testdata(rel)).unwrap();
    let obs: Vec<Observation> = split_mjpeg(&bytes)
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, jpeg)| observe(&decode(jpeg).unwrap(), (i as u64 * 1000) / 30, anti_spoof))
        .collect();
    cache.lock().unwrap().insert(key, obs.clone());
    obs
}

/// The same image repeated as a clip at 10 fps.
pub fn still_clip(img: &RgbaImage, seconds: u64) -> Vec<Observation> {
    let o = observe(img, 0, true);
    (0..seconds * 10)
        .map(|i| {
            let mut c = o.clone();
            c.t_ms = i * 100;
            c
        })
        .collect()
}

/// Applies the affine map `src = a·dst + b` (a 2×2, row-major) with bilinear sampling.
pub fn warp_affine(img: &RgbaImage, a: [f32; 4], b: [f32; 2]) -> RgbaImage {
    let f = img.frame().unwrap();
    let mut data = vec![0u8; img.data.len()];
    for y in 0..img.height {
        for x in 0..img.width {
            let (dx, dy) = (x as f32 + 0.5, y as f32 + 0.5);
            let sx = a[0] * dx + a[1] * dy + b[0];
            let sy = a[2] * dx + a[3] * dy + b[1];
            let p = f.sample(sx, sy);
            let i = ((y * img.width + x) * 4) as usize;
            data[i..i + 3].copy_from_slice(&[p[0] as u8, p[1] as u8, p[2] as u8]);
            data[i + 3] = 255;
        }
    }
    RgbaImage {
        width: img.width,
        height: img.height,
        data,
    }
}

/// The identity descriptor of the one face in a fixture.
pub fn descriptor(rel: &str) -> livecheck_core::face_match::FaceDescriptor {
    let img = image(rel);
    let obs = engine()
        .observe(
            &img.frame().unwrap(),
            0,
            ObserveOptions {
                mesh: false,
                anti_spoof: false,
                descriptor: true,
                appearance: false,
            },
        )
        .unwrap();
    assert_eq!(obs.faces, 1, "{rel}");
    obs.descriptor
        .unwrap_or_else(|| panic!("{rel}: no descriptor"))
}

/// Every `step`-th frame of an MJPEG clip with its descriptor only (no mesh), at 30 fps.
pub fn clip_descriptors(rel: &str, step: usize) -> Vec<Observation> {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    split_mjpeg(&bytes)
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, jpeg)| {
            let img = decode(jpeg).unwrap();
            let options = ObserveOptions {
                mesh: false,
                anti_spoof: false,
                descriptor: true,
                appearance: false,
            };
            let t_ms = (i as u64 * 1000) / 30;
            engine()
                .observe(&img.frame().unwrap(), t_ms, options)
                .unwrap()
        })
        .collect()
}

/// A photo held up to a camera for `seconds` at 10 fps: each frame moved a little
/// (shift, turn and tilt of the print, as a hand does) and given fresh sensor noise.
pub fn handheld_photo(img: &RgbaImage, seconds: u64) -> Vec<Observation> {
    let (cx, cy) = (img.width as f32 / 2.0, img.height as f32 / 2.0);
    (0..seconds * 10)
        .map(|i| {
            let t = i as f32 / 10.0;
            let angle = 0.03 * (1.7 * t).sin();
            let scale = 1.0 + 0.03 * (1.1 * t).sin();
            let shear = 0.02 * (2.3 * t).sin();
            let (s, c) = angle.sin_cos();
            let a = [c / scale, -s / scale + shear, s / scale, c / scale];
            let b = [
                cx - a[0] * cx - a[1] * cy + 6.0 * (0.9 * t).sin(),
                cy - a[2] * cx - a[3] * cy + 4.0 * (1.3 * t).cos(),
            ];
            let mut frame = warp_affine(img, a, b);
            let mut seed = (i as u32 + 1).wrapping_mul(2_654_435_761);
            for v in frame.data.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *v = v.saturating_add((seed % 5) as u8).saturating_sub(2);
            }
            observe(&frame, i * 100, true)
        })
        .collect()
}

/// Everything the engine can tell about one photo: mesh, anti-spoof and descriptor.
pub fn observe_all(rel: &str) -> Observation {
    let img = image(rel);
    engine()
        .observe(&img.frame().unwrap(), 0, ObserveOptions::default())
        .unwrap()
}

/// A still picture as a camera pointed at it sends it, the `i`-th time: shifted by a
/// pixel or so, with fresh noise (±4), through JPEG at quality 90. What an injecting
/// client sends to make one picture look like many frames.
pub fn camera_copy(img: &RgbaImage, i: u64) -> RgbaImage {
    let dx = ((i as f32 / 5.0).sin() * 1.5).round();
    let dy = (i as f32 / 7.0).cos().round();
    let mut frame = warp_affine(img, [1.0, 0.0, 0.0, 1.0], [-dx, -dy]);
    let mut seed = (i as u32 + 7).wrapping_mul(2_654_435_761);
    for v in frame.data.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        *v = v.saturating_add((seed % 9) as u8).saturating_sub(4);
    }
    reencode(&frame, 90)
}

/// An image through JPEG at `quality`.
pub fn reencode(img: &RgbaImage, quality: u8) -> RgbaImage {
    let rgb = image::RgbaImage::from_raw(img.width, img.height, img.data.clone()).unwrap();
    let rgb = image::DynamicImage::ImageRgba8(rgb).to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode_image(&rgb)
        .unwrap();
    decode(&jpeg).unwrap()
}

/// The decoded frames of an MJPEG clip, every `step`-th, with their times at 30 fps.
pub fn clip_images(rel: &str, step: usize) -> Vec<(RgbaImage, u64)> {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    split_mjpeg(&bytes)
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, jpeg)| (decode(jpeg).unwrap(), (i as u64 * 1000) / 30))
        .collect()
}
