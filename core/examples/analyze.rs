//! Looks through the engine's eyes: one JSON object per file on stdout.
//!
//! `cargo run --release -p livecheck-core --example analyze -- [--fps N] [--models DIR] FILE...`
//! FILE is an image (JPEG, PNG, WebP, PPM), an MJPEG file (a video at 30 fps unless
//! --fps says otherwise) or a folder of frames (sorted by name, played at --fps).
//! --trace prints each frame's signals on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use livecheck_core::analysis::{analyze_frames, AnalyzeOptions};
use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::manifest::ModelFiles;
use livecheck_core::{Engine, RgbaImage};

fn main() -> ExitCode {
    let mut fps = 30.0f64;
    let mut models = ModelFiles::default_dir();
    let mut files = Vec::new();
    let mut trace = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fps" => {
                fps = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|f: &f64| *f > 0.0)
                    .unwrap_or(fps)
            }
            "--trace" => trace = true,
            "--models" => models = args.next().map(PathBuf::from).unwrap_or(models),
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        eprintln!("usage: analyze [--fps N] [--models DIR] [--trace] FILE...");
        return ExitCode::from(2);
    }
    let engine = match ModelFiles::load_dir(&models)
        .and_then(|m| Engine::from_model_bytes(&m.model_bytes()))
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("analyze: {e} (run models/fetch.sh)");
            return ExitCode::FAILURE;
        }
    };
    let mut status = ExitCode::SUCCESS;
    for file in files {
        match load(&file, fps) {
            Ok((frames, is_video)) => {
                let opts = AnalyzeOptions {
                    is_video,
                    ..AnalyzeOptions::default()
                };
                if trace {
                    print_trace(&engine, &frames);
                }
                match analyze_frames(&engine, &frames, &opts) {
                    Ok(mut report) => {
                        report.file = file.display().to_string();
                        println!("{}", serde_json::to_string(&report).unwrap_or_default());
                    }
                    Err(e) => {
                        println!(
                            "{}",
                            serde_json::json!({"file": file.display().to_string(), "error": e.to_string()})
                        );
                        status = ExitCode::FAILURE;
                    }
                }
            }
            Err(e) => {
                println!(
                    "{}",
                    serde_json::json!({"file": file.display().to_string(), "error": e})
                );
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

/// Per-frame signals on stderr, one line a frame.
fn print_trace(engine: &Engine, frames: &[(RgbaImage, u64)]) {
    for o in livecheck_core::analysis::observe_all(engine, frames).unwrap_or_default() {
        match &o.mesh {
            Some(m) => eprintln!(
                "{:6} faces {} yaw {:6.1} pitch {:6.1} roll {:6.1} eyes {:.2} smile {:.2} jaw {:.2} live {:.2} {:?}",
                o.t_ms, o.faces, m.pose.yaw, m.pose.pitch, m.pose.roll, m.expression.eye_closure,
                m.expression.smile, m.expression.jaw_open, o.live_probability.unwrap_or(-1.0), o.quality.issues
            ),
            None => eprintln!("{:6} faces {} {:?}", o.t_ms, o.faces, o.quality.issues),
        }
    }
}

/// Frames with their capture times, and whether the input is a video.
fn load(path: &Path, fps: f64) -> Result<(Vec<(RgbaImage, u64)>, bool), String> {
    let at = |i: usize| (i as f64 * 1000.0 / fps).round() as u64;
    if path.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        let frames = names
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
                decode(&bytes)
                    .map(|img| (img, at(i)))
                    .map_err(|e| format!("{}: {e}", p.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((frames, true));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let parts = split_mjpeg(&bytes);
    if parts.len() > 1 {
        let frames = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                decode(p)
                    .map(|img| (img, at(i)))
                    .map_err(|e| format!("frame {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((frames, true));
    }
    decode(&bytes)
        .map(|img| (vec![(img, 0)], false))
        .map_err(|e| e.to_string())
}
