//! Looks through the engine's eyes: one JSON object per file on stdout.
//!
//! `cargo run --release -p livecheck-core --example analyze -- [--fps N] [--models DIR] FILE...`
//! FILE is an image (JPEG, PNG, WebP, PPM), an MJPEG file (a video at 30 fps unless
//! --fps says otherwise) or a folder of frames (sorted by name, played at --fps).
//! --trace prints each frame's signals on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use livecheck_core::analysis::{analyze_frames, load_media, AnalyzeOptions};
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
        match load_media(&file, fps) {
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
                "{:6} faces {} yaw {:6.1} pitch {:6.1} roll {:6.1} eyes {:.2} smile {:.2} jaw {:.2} live {:.2} luma {:.0} sharp {:.1} noise {:.2} {:?}",
                o.t_ms, o.faces, m.pose.yaw, m.pose.pitch, m.pose.roll, m.expression.eye_closure,
                m.expression.smile, m.expression.jaw_open, o.live_probability.unwrap_or(-1.0), o.quality.luma, o.quality.sharpness, o.quality.noise, o.quality.issues
            ),
            None => eprintln!("{:6} faces {} {:?}", o.t_ms, o.faces, o.quality.issues),
        }
    }
}
