// Shared by the native `engine` test and the wasm test (`tests/wasm.rs`): the same
// fixtures through the same engine must give the same numbers on both targets.

use livecheck_core::engine::Observation;
use serde::{Deserialize, Serialize};

/// Fixture files (relative to shared/testdata) compared across targets.
pub const GOLDEN_FILES: [&str; 4] = [
    "live/silentface_T1_live_upright.jpg",
    "spoof/silentface_F1_print_upright.jpg",
    "live_frames/lp_d18_t0.5_neutral.png",
    "live_frames/lp_d18_t3.2_eyes_closed.png",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub file: String,
    pub faces: usize,
    pub bbox: [f32; 4],
    pub nose_tip: [f32; 2],
    pub yaw: f32,
    pub pitch: f32,
    pub eye_closure: f32,
    pub smile: f32,
    pub jaw_open: f32,
    pub live_probability: f32,
}

pub fn fingerprint(file: &str, o: &Observation) -> Fingerprint {
    let f = o.face.as_ref().expect("face");
    let m = o.mesh.as_ref().expect("mesh");
    Fingerprint {
        file: file.to_string(),
        faces: o.faces,
        bbox: [f.bbox.x, f.bbox.y, f.bbox.width, f.bbox.height],
        nose_tip: [m.landmarks[1][0], m.landmarks[1][1]],
        yaw: m.pose.yaw,
        pitch: m.pose.pitch,
        eye_closure: m.expression.eye_closure,
        smile: m.expression.smile,
        jaw_open: m.expression.jaw_open,
        live_probability: o.live_probability.expect("anti-spoof"),
    }
}

/// Differences beyond float noise between two runs (empty when they agree).
pub fn differences(a: &Fingerprint, b: &Fingerprint) -> Vec<String> {
    let mut out = Vec::new();
    let mut near = |what: &str, x: f32, y: f32, tol: f32| {
        if (x - y).abs() > tol {
            out.push(format!("{}: {what} {x} vs {y}", a.file));
        }
    };
    for i in 0..4 {
        near("bbox", a.bbox[i], b.bbox[i], 0.5);
    }
    near("nose x", a.nose_tip[0], b.nose_tip[0], 0.5);
    near("nose y", a.nose_tip[1], b.nose_tip[1], 0.5);
    near("yaw", a.yaw, b.yaw, 0.2);
    near("pitch", a.pitch, b.pitch, 0.2);
    near("eye_closure", a.eye_closure, b.eye_closure, 0.01);
    near("smile", a.smile, b.smile, 0.01);
    near("jaw_open", a.jaw_open, b.jaw_open, 0.01);
    near(
        "live_probability",
        a.live_probability,
        b.live_probability,
        0.01,
    );
    if a.faces != b.faces {
        out.push(format!("{}: faces {} vs {}", a.file, a.faces, b.faces));
    }
    out
}
