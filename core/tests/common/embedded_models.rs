//! The engine's models built into a test binary (wasm32 has no file system); they come
//! from `models/cache`, so `models/fetch.sh` must have run.

use livecheck_core::ModelBytes;

macro_rules! model {
    ($f:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/cache/", $f)).as_slice()
    };
}

pub fn model_bytes() -> ModelBytes<'static> {
    ModelBytes {
        yunet: model!("face_detection_yunet_2023mar_320.onnx"),
        face_mesh: model!("mediapipe_face_landmarks_detector.onnx"),
        blendshapes: model!("mediapipe_face_blendshapes.onnx"),
        anti_spoof: Some((
            model!("2.7_80x80_MiniFASNetV2.onnx"),
            model!("4_0_0_80x80_MiniFASNetV1SE.onnx"),
        )),
        // 22 MB and server-only: not built into the wasm test.
        face_recognition: None,
    }
}
