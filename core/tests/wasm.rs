//! The golden fixtures through the engine compiled to wasm32, run under Node by
//! wasm-bindgen-test-runner: the browser's numbers must equal the server's
//! (`tests/golden/fixtures.json`, which the native `engine` test checks too).
#![cfg(target_arch = "wasm32")]

#[path = "golden/cases.rs"]
mod cases;

use cases::{differences, fingerprint, Fingerprint, GOLDEN_FILES};
#[path = "common/embedded_models.rs"]
mod embedded_models;

use livecheck_core::decode::decode;
use livecheck_core::{Engine, ObserveOptions};
use wasm_bindgen_test::wasm_bindgen_test;

macro_rules! fixture {
    ($f:literal) => {
        (
            $f,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata/",
                $f
            ))
            .as_slice(),
        )
    };
}

const GOLDEN: &str = include_str!("golden/fixtures.json");

#[wasm_bindgen_test]
fn wasm_outputs_match_the_native_golden_file() {
    let models = embedded_models::model_bytes();
    let engine = Engine::from_model_bytes(&models).expect("models load in wasm");
    let fixtures = [
        fixture!("live/silentface_T1_live_upright.jpg"),
        fixture!("spoof/silentface_F1_print_upright.jpg"),
        fixture!("live_frames/lp_d18_t0.5_neutral.png"),
        fixture!("live_frames/lp_d18_t3.2_eyes_closed.png"),
    ];
    let golden: Vec<Fingerprint> = serde_json::from_str(GOLDEN).expect("golden json");
    assert_eq!(fixtures.map(|f| f.0), GOLDEN_FILES);
    for ((file, bytes), want) in fixtures.iter().zip(&golden) {
        let img = decode(bytes).expect("decodes");
        let o = engine
            .observe(&img.frame().expect("frame"), 0, ObserveOptions::default())
            .expect("observes");
        let got = fingerprint(file, &o);
        let diffs = differences(want, &got);
        assert!(diffs.is_empty(), "{diffs:?}");
    }
}
