//! Each model of the manifest as core loads and runs it, natively on one thread:
//! `cargo run --release -p livecheck-core --example model_timing -- [RUNS]`. Prints
//! `native NAME MEDIAN MIN` (ms) per model, on the input every runtime of
//! `scripts/ort-compare.sh` is fed (`model::bench_input`).

use livecheck_core::manifest::ModelFiles;
use livecheck_core::model::run_times;

/// Input shapes, as `models/manifest.json` gives them.
const MODELS: [(&str, &[usize]); 6] = [
    ("yunet", &[1, 3, 320, 320]),
    ("face_mesh", &[1, 256, 256, 3]),
    ("blendshapes", &[1, 146, 2]),
    ("minifasnet_v2", &[1, 3, 80, 80]),
    ("minifasnet_v1se", &[1, 3, 80, 80]),
    ("face_recognition", &[1, 3, 150, 150]),
];

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(21);
    let files = ModelFiles::load_dir(&ModelFiles::default_dir()).unwrap_or_else(|e| {
        eprintln!("{e}; run models/fetch.sh");
        std::process::exit(1);
    });
    let start = std::time::Instant::now();
    let clock_ms = || start.elapsed().as_secs_f64() * 1000.0;
    for (name, shape) in MODELS {
        let mut times = run_times(files.get(name), shape, 5, runs, &clock_ms).unwrap_or_else(|e| {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        });
        times.sort_by(f64::total_cmp);
        println!(
            "native {name} {:.3} {:.3}",
            times[times.len() / 2],
            times[0]
        );
    }
}
