//! Measures face consistency's margins (the figures behind `ConsistencyLimits`): for
//! each clip (one person each), the shape rule's distance and the identity distances
//! within the clip; for each pair of clips (two people), the identity distances of one
//! clip's faces to the other's references, as a face swapped in mid-capture would be
//! measured.
//!
//! `cargo run --release -p livecheck-core --example consistency_margins -- [--step N] A.mjpeg B.mjpeg ...`
//! (MJPEG at 30 fps; `ffmpeg -i clip.mp4 -q:v 3 clip.mjpeg` makes one.)

use std::path::PathBuf;
use std::process::ExitCode;

use livecheck_core::consistency::{
    check, identity_distances, nearest_reference, references, ConsistencyLimits,
};
use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::manifest::ModelFiles;
use livecheck_core::{Engine, Observation, ObserveOptions};

fn main() -> ExitCode {
    let mut step = 10usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--step" => step = args.next().and_then(|v| v.parse().ok()).unwrap_or(step),
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        eprintln!("usage: consistency_margins [--step N] CLIP.mjpeg...");
        return ExitCode::from(2);
    }
    let engine = match ModelFiles::load_dir(&ModelFiles::default_dir())
        .and_then(|m| Engine::from_model_bytes(&m.model_bytes()))
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("consistency_margins: {e} (run models/fetch.sh)");
            return ExitCode::FAILURE;
        }
    };
    let options = ObserveOptions {
        anti_spoof: false,
        descriptor: true,
        ..ObserveOptions::default()
    };
    let mut clips: Vec<(String, Vec<Observation>)> = Vec::new();
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            eprintln!("consistency_margins: cannot read {}", file.display());
            return ExitCode::FAILURE;
        };
        let obs: Vec<Observation> = split_mjpeg(&bytes)
            .iter()
            .enumerate()
            .step_by(step)
            .filter_map(|(i, jpeg)| {
                let img = decode(jpeg).ok()?;
                let frame = img.frame().ok()?;
                let o = engine.observe(&frame, i as u64 * 1000 / 30, options).ok()?;
                (o.faces == 1 && o.descriptor.is_some()).then_some(o)
            })
            .collect();
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        clips.push((name, obs));
    }
    let stats = |d: &[f32]| {
        let mut d = d.to_vec();
        d.sort_by(f32::total_cmp);
        let at = |q: f32| {
            d.get(((d.len() as f32 - 1.0) * q).round() as usize)
                .copied()
        };
        (d.len(), at(0.0), at(0.5), at(1.0))
    };
    println!("one person (each face to the clip's nearest reference; shape rule's distance):");
    for (name, obs) in &clips {
        let c = check(obs, &ConsistencyLimits::default());
        let refs = obs
            .iter()
            .filter(|o| o.descriptor.is_some() && livecheck_core::consistency::is_reference_pose(o))
            .count();
        let (n, min, med, max) = stats(&identity_distances(obs));
        println!(
            "  {name}: {n} faces ({refs} near neutral), identity median {:.3} max {:.3} \
             (min {:.3}); shape max {:.4}",
            med.unwrap_or(0.0),
            max.unwrap_or(0.0),
            min.unwrap_or(0.0),
            c.max_shape_distance
        );
    }
    println!("two people (B's faces after A's references, as a swap mid-capture):");
    for (a, first) in &clips {
        for (b, second) in &clips {
            if a == b {
                continue;
            }
            // A's first faces (its baseline) are the references; B's faces follow.
            let head: Vec<Observation> = first.iter().take(10).cloned().collect();
            let refs = references(&head);
            let swapped: Vec<f32> = second
                .iter()
                .filter_map(|o| nearest_reference(&refs, o))
                .collect();
            let swapped = &swapped[..];
            let (n, min, med, _) = stats(swapped);
            let mut shape: Vec<Observation> = first.iter().take(5).cloned().collect();
            shape.extend(second.iter().cloned());
            let c = check(&shape, &ConsistencyLimits::default());
            println!(
                "  {a} then {b}: {n} faces, identity min {:.3} median {:.3}; shape max {:.4}",
                min.unwrap_or(0.0),
                med.unwrap_or(0.0),
                c.max_shape_distance
            );
        }
    }
    ExitCode::SUCCESS
}
