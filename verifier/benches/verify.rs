//! Authoritative verification of a 10-frame 640×480 session (decode, detection, mesh,
//! blendshapes on every frame, anti-spoof on six, the decision and image selection).
//! `cargo bench -p livecheck-verifier`.

use criterion::{criterion_group, criterion_main, Criterion};
use livecheck_core::challenge::{ChallengeKind, ChallengeWindow};
use livecheck_core::decode::split_mjpeg;
use livecheck_core::manifest::ModelFiles;
use livecheck_core::{Engine, ModelError};
use livecheck_verifier::judge::{judge, JudgeInput};
use livecheck_verifier::model::{FrameRef, StoredFrame};

fn session() -> Vec<StoredFrame> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/video/lp_d18_actions_640x480_30fps.mjpeg"
    );
    let bytes = std::fs::read(path).expect("d18 clip");
    let jpegs = split_mjpeg(&bytes);
    let step = jpegs.len() / 10;
    (0..10)
        .map(|i| StoredFrame {
            seq: i as u32,
            t_ms: (i * step) as u64 * 1000 / 30,
            content_type: "image/jpeg".into(),
            bytes: jpegs[i * step].to_vec(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let files = ModelFiles::load_dir(&ModelFiles::default_dir()).expect("run models/fetch.sh");
    let engine = Engine::from_model_bytes(&files.model_bytes()).expect("models load");
    let frames = session();
    let windows = [
        ChallengeWindow::new(ChallengeKind::Blink, 1000, 6000),
        ChallengeWindow::new(ChallengeKind::Smile, 1000, 11000),
    ];
    let refs: Vec<_> = frames.iter().map(StoredFrame::to_ref).collect();
    let load = |f: &FrameRef| Ok::<_, ModelError>(frames[f.seq as usize].bytes.clone());
    let input = JudgeInput {
        frames: &refs,
        windows: &windows,
        baseline_ms: 1000,
        light: None,
        threshold: 70.0,
        audit_images: 2,
        anti_spoof_frames: 6,
    };
    let mut g = c.benchmark_group("verifier");
    g.sample_size(10);
    g.bench_function("judge_10_frames_640x480", |b| {
        b.iter(|| judge(&engine, &input, load).expect("judge"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
