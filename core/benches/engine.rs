//! Per-frame cost of each model stage on one thread:
//! `cargo bench -p livecheck-core --bench engine`.

use criterion::{criterion_group, criterion_main, Criterion};
use livecheck_core::antispoof::AntiSpoof;
use livecheck_core::decode::decode;
use livecheck_core::detector::FaceDetector;
use livecheck_core::landmarks::FaceMesh;
use livecheck_core::manifest::ModelFiles;

fn stages(c: &mut Criterion) {
    let files = ModelFiles::load_dir(&ModelFiles::default_dir()).expect("run models/fetch.sh");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/live_frames/lp_d18_t0.5_neutral.png"
    );
    let img = decode(&std::fs::read(path).expect("fixture")).expect("decodes");
    let frame = img.frame().expect("frame");
    let detector = FaceDetector::from_onnx_bytes(files.get("yunet")).expect("yunet");
    let mesh =
        FaceMesh::from_onnx_bytes(files.get("face_mesh"), files.get("blendshapes")).expect("mesh");
    let spoof =
        AntiSpoof::from_onnx_bytes(files.get("minifasnet_v2"), files.get("minifasnet_v1se"))
            .expect("fas");
    let face = detector.detect(&frame).expect("detect").remove(0);

    let mut g = c.benchmark_group("per_frame_480x480");
    g.sample_size(30);
    g.bench_function("detection_yunet_320", |b| {
        b.iter(|| detector.detect(&frame).expect("detect"))
    });
    g.bench_function("mesh_and_blendshapes", |b| {
        b.iter(|| mesh.run(&frame, &face).expect("mesh"))
    });
    g.bench_function("anti_spoof_pair", |b| {
        b.iter(|| spoof.live_probability(&frame, &face.bbox).expect("fas"))
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
