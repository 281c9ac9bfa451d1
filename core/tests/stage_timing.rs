//! Per-stage timings with the same code natively and in wasm32 (a measurement, not a
//! check: ignored unless asked for). `scripts/stage-timing.sh` runs both in release and
//! prints one line per stage; divide the wasm figures by the native ones for the ratio.
//! One frame of 480×480 (the d18 neutral frame), one thread, the median and the fastest
//! of 21 runs (this shared VM has slow spells that pull a mean far off; the per-op table
//! stays a mean).

#[path = "common/embedded_models.rs"]
mod embedded_models;

use livecheck_core::decode::decode;
use livecheck_core::{Engine, ObserveOptions};

/// The frame: embedded for wasm32 (no file system under Node's runner); read when the
/// measurement runs natively, so building the native tests (which the demo's build does)
/// needs no test media.
#[cfg(target_arch = "wasm32")]
fn frame() -> Vec<u8> {
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/live_frames/lp_d18_t0.5_neutral.png"
    ))
    .to_vec()
}

#[cfg(not(target_arch = "wasm32"))]
fn frame() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/live_frames/lp_d18_t0.5_neutral.png"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    // `performance.now()` (Node and browsers): sub-millisecond, unlike `Date.now()`.
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .expect("a global performance object");
    let now: js_sys::Function = js_sys::Reflect::get(&performance, &"now".into())
        .expect("performance.now")
        .into();
    now.call0(&performance)
        .ok()
        .and_then(|v| v.as_f64())
        .expect("a number")
}

#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1000.0
}

#[cfg(target_arch = "wasm32")]
macro_rules! report {
    ($($t:tt)*) => { wasm_bindgen_test::console_log!($($t)*) };
}

#[cfg(not(target_arch = "wasm32"))]
macro_rules! report {
    ($($t:tt)*) => { println!($($t)*) };
}

/// The median and the fastest of `runs` timed runs, after a few untimed ones (for V8 to
/// tier the hot wasm functions up from its baseline compiler's code).
fn timed_ms(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..5 {
        f();
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = now_ms();
            f();
            now_ms() - t0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

fn stage_timings() {
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    let models = embedded_models::model_bytes();
    let t0 = now_ms();
    let engine = Engine::from_model_bytes(&models).expect("models load");
    report!("{target} model_load_ms {:.1}", now_ms() - t0);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    report!(
        "{target} gemm_kernel {:?}",
        livecheck_wasm_kernels::kernel_for(64, 64, 4096)
    );
    let img = decode(&frame()).expect("decodes");
    let frame = img.frame().expect("frame");
    let runs = 21;
    let observe = |mesh, anti_spoof| {
        engine
            .observe(
                &frame,
                0,
                ObserveOptions {
                    mesh,
                    anti_spoof,
                    descriptor: false,
                    appearance: false,
                },
            )
            .expect("observes");
    };
    let detect = timed_ms(runs, || observe(false, false));
    let with_mesh = timed_ms(runs, || observe(true, false));
    let with_spoof = timed_ms(runs, || observe(false, true));
    let line = |stage: &str, (median, min): (f64, f64)| {
        report!("{target} {stage}_ms {median:.2} (min {min:.2})");
    };
    let minus = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0, a.1 - b.1);
    line("detection", detect);
    line("mesh_and_blendshapes", minus(with_mesh, detect));
    line("anti_spoof_pair", minus(with_spoof, detect));
    line("detection_mesh_blendshapes", with_mesh);
    // The two resamplings that build model inputs: the detector's letterbox and the
    // mesh's rotated crop (the d18 face's, 1.5× a 200-pixel box, tilted 0.1 rad).
    let mut sink = 0f32;
    let letterbox = timed_ms(runs, || {
        livecheck_core::frame::sample_area(
            &frame,
            (0.0, 0.0, 480.0, 480.0),
            (320, 320),
            |_, _, p| sink += p[0],
        )
    });
    line("detector_input", letterbox);
    // The same into the letterbox from a 640×480 frame, the SDK's camera size: a shrink
    // by a whole factor (the bytes are a pattern; the cost does not depend on them).
    let wide: Vec<u8> = (0..640u32 * 480 * 4).map(|i| (i * 7 % 251) as u8).collect();
    let wide = livecheck_core::frame::Frame::new(640, 480, &wide).expect("frame");
    let letterbox_640 = timed_ms(runs, || {
        livecheck_core::frame::sample_area(
            &wide,
            (0.0, 0.0, 640.0, 480.0),
            (320, 240),
            |_, _, p| sink += p[2],
        )
    });
    line("detector_input_640x480", letterbox_640);
    let crop = timed_ms(runs, || {
        livecheck_core::frame::sample_rotated_square(
            &frame,
            240.0,
            250.0,
            300.0,
            0.1,
            256,
            |_, _, p| sink += p[1],
        )
    });
    line("mesh_input", crop);
    assert!(sink.is_finite());
    // Turning the browser's downloads (the models' planes forms) back into ONNX bytes,
    // which the SDK does once per model before loading it.
    macro_rules! planes {
        ($f:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../models/cache/",
                $f,
                ".planes"
            ))
            .as_slice()
        };
    }
    for (name, planes, onnx) in [
        (
            "yunet",
            planes!("face_detection_yunet_2023mar_320.onnx"),
            models.yunet,
        ),
        (
            "face_mesh",
            planes!("mediapipe_face_landmarks_detector.onnx"),
            models.face_mesh,
        ),
        (
            "blendshapes",
            planes!("mediapipe_face_blendshapes.onnx"),
            models.blendshapes,
        ),
    ] {
        let mut decoded = Vec::new();
        let time = timed_ms(5, || {
            decoded = livecheck_core::model_planes::decode(planes).expect("decodes")
        });
        assert!(
            decoded == onnx,
            "{name}: the planes form decodes to the model"
        );
        line(&format!("planes_decode_{name}"), time);
    }
    let (spoof_v2, spoof_v1se) = models.anti_spoof.expect("the anti-spoof pair is built in");
    // Each model alone on the input `scripts/ort-compare.sh` feeds every runtime.
    for (name, bytes, shape) in [
        ("yunet", models.yunet, &[1, 3, 320, 320][..]),
        ("face_mesh", models.face_mesh, &[1, 256, 256, 3][..]),
        ("blendshapes", models.blendshapes, &[1, 146, 2][..]),
        ("minifasnet_v2", spoof_v2, &[1, 3, 80, 80][..]),
        ("minifasnet_v1se", spoof_v1se, &[1, 3, 80, 80][..]),
    ] {
        let mut times =
            livecheck_core::model::run_times(bytes, shape, 5, runs, &now_ms).expect("runs");
        times.sort_by(f64::total_cmp);
        report!(
            "{target} model {name} {:.3} {:.3}",
            times[runs / 2],
            times[0]
        );
    }
    // Where the models spend it, op by op (kinds of 0.1 ms and more, with
    // their node counts).
    for (name, bytes, shape) in [
        ("yunet", models.yunet, &[1, 3, 320, 320][..]),
        ("face_mesh", models.face_mesh, &[1, 256, 256, 3][..]),
        ("minifasnet_v2", spoof_v2, &[1, 3, 80, 80][..]),
    ] {
        let costs = livecheck_core::model::op_costs(bytes, shape, runs, &now_ms).expect("profiles");
        let total: f64 = costs.iter().map(|c| c.ms).sum();
        let top: Vec<String> = costs
            .iter()
            .filter(|c| c.ms >= 0.1)
            .map(|c| format!("{}×{} {:.2}", c.op, c.nodes, c.ms))
            .collect();
        report!("{target} {name}_ops_ms {total:.2} ({})", top.join(", "));
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        // The face descriptor is server-only (22 MB): read from the model cache.
        let dir = livecheck_core::manifest::ModelFiles::default_dir();
        let bytes = std::fs::read(dir.join("dlib_face_recognition_resnet_model_v1.onnx"))
            .expect("models/fetch.sh has run");
        let recognizer = livecheck_core::face_match::FaceRecognizer::from_onnx_bytes(&bytes)
            .expect("model loads");
        let face = engine.detect(&frame).expect("detects").remove(0);
        let descriptor = timed_ms(runs, || {
            recognizer.descriptor(&frame, &face).expect("describes");
        });
        line("face_descriptor", descriptor);
    }
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
#[ignore]
fn per_stage_timings() {
    stage_timings();
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore]
fn per_stage_timings() {
    stage_timings();
}
