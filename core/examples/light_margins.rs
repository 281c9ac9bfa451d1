//! Measures the light challenge's margins on a clip (the figures behind `LightLimits`):
//! how well an unlit face fits random light sequences (the false accepts the limits
//! must keep out), and how a face lit with the tests' reflection model fits its own
//! sequence at a few strengths (the response the limits must let in).
//!
//! `cargo run --release -p livecheck-core --example light_margins -- [--seeds N] CLIP.mjpeg`

use std::path::PathBuf;
use std::process::ExitCode;

use livecheck_core::analysis::load_media;
use livecheck_core::light::{evaluate, light_face, LightLimits, LightResult};
use livecheck_core::manifest::ModelFiles;
use livecheck_core::timeline::{LightPlan, Shown};
use livecheck_core::{Engine, Observation, ObserveOptions, RgbaImage};

fn main() -> ExitCode {
    let mut seeds = 200u32;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seeds" => seeds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seeds),
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: light_margins [--seeds N] CLIP");
        return ExitCode::from(2);
    };
    let engine = match ModelFiles::load_dir(&ModelFiles::default_dir())
        .and_then(|m| Engine::from_model_bytes(&m.model_bytes()))
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("light_margins: {e} (run models/fetch.sh)");
            return ExitCode::FAILURE;
        }
    };
    let frames: Vec<(RgbaImage, u64)> = match load_media(&file, 30.0) {
        Ok((f, _)) => f.into_iter().step_by(3).collect(),
        Err(e) => {
            eprintln!("light_margins: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = ObserveOptions {
        anti_spoof: false,
        descriptor: false,
        ..ObserveOptions::default()
    };
    let observe = |img: &RgbaImage, t| {
        img.frame()
            .ok()
            .and_then(|f| engine.observe(&f, t, options).ok())
    };
    let plain: Vec<Observation> = frames.iter().filter_map(|(i, t)| observe(i, *t)).collect();
    let limits = LightLimits::default();
    let plan = |s: u32| {
        let seed: [u8; 32] =
            std::array::from_fn(|i| (s.wrapping_mul(2_654_435_761) >> (i % 4 * 8)) as u8 ^ i as u8);
        let plan = LightPlan::from_seed(&seed);
        let mut at = plan.start_ms;
        let shown: Vec<Shown> = plan
            .steps
            .iter()
            .map(|st| {
                let s = Shown {
                    at_ms: at,
                    colour: st.colour,
                };
                at += st.ms;
                s
            })
            .collect();
        (shown, at)
    };

    // Unlit: every random sequence against the same frames.
    let unlit: Vec<LightResult> = (0..seeds)
        .map(|s| {
            let (shown, off) = plan(s);
            evaluate(&plain, &shown, off, &limits)
        })
        .collect();
    let accepted = unlit.iter().filter(|r| r.passed).count();
    let mut corr: Vec<f32> = unlit.iter().map(|r| r.correlation).collect();
    let mut gain: Vec<f32> = unlit.iter().map(|r| r.gain).collect();
    corr.sort_by(f32::total_cmp);
    gain.sort_by(f32::total_cmp);
    let pct = |v: &[f32], q: f64| v[((v.len() - 1) as f64 * q) as usize];
    println!(
        "unlit, {seeds} sequences: passed {accepted}; best-fit correlation median {:.2}, p95 {:.2}, max {:.2}; gain median {:.4}, p95 {:.4}, max {:.4}",
        pct(&corr, 0.5),
        pct(&corr, 0.95),
        pct(&corr, 1.0),
        pct(&gain, 0.5),
        pct(&gain, 0.95),
        pct(&gain, 1.0),
    );

    // Lit in time (100 ms after each step) at a few strengths, on a few sequences.
    for strength in [0.02f32, 0.05, 0.1, 0.2] {
        let results: Vec<LightResult> = (0..5)
            .map(|s| {
                let (shown, off) = plan(1000 + s);
                let obs: Vec<Observation> = frames
                    .iter()
                    .filter_map(|(img, t)| {
                        let mut img = img.clone();
                        let lit = shown
                            .iter()
                            .rev()
                            .find(|s| s.at_ms + 100 <= *t && *t < off + 100);
                        if let (Some(s), Some(face)) = (
                            lit,
                            plain
                                .iter()
                                .find(|o| o.t_ms == *t)
                                .and_then(|o| o.face.clone()),
                        ) {
                            light_face(&mut img, &face.bbox, s.colour, strength);
                        }
                        observe(&img, *t)
                    })
                    .collect();
                evaluate(&obs, &shown, off, &limits)
            })
            .collect();
        let passed = results.iter().filter(|r| r.passed).count();
        let min_corr = results
            .iter()
            .map(|r| r.correlation)
            .fold(f32::INFINITY, f32::min);
        let min_gain = results.iter().map(|r| r.gain).fold(f32::INFINITY, f32::min);
        println!(
            "lit at strength {strength}: passed {passed} of 5; correlation at least {min_corr:.3}, gain at least {min_gain:.4}"
        );
    }
    ExitCode::SUCCESS
}
