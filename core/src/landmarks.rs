//! Face Mesh V2 (478 3-D landmarks) and Blendshape V2 (52 expression scores), and the
//! head pose read off the mesh.
//!
//! The mesh runs on a square region of interest built from the detector: centred on the
//! face box, 1.5× its longer side, rotated so the eyes are level (the region MediaPipe
//! itself feeds the model). Input is RGB in [0, 1], 256×256: the model declares NHWC and
//! turns it to NCHW first, a step core drops at load to feed NCHW itself
//! (`model::rewrite_channels_first_input`). Landmarks come back in crop pixels and are
//! rotated and scaled back into frame pixels (z in the same scale as x). The blendshape
//! model reads 146 of the landmarks' (x, y) in frame pixels.

use serde::{Deserialize, Serialize};

use crate::detector::DetectedFace;
use crate::frame::{sample_rotated_square, Frame};
use crate::model::{ModelError, OnnxModel};

const MESH_INPUT: usize = 256;
const ROI_SCALE: f32 = 1.5;
pub const LANDMARK_COUNT: usize = 478;

/// The landmarks Blendshape V2 reads (MediaPipe's `kLandmarksSubsetIdxs`).
const BLENDSHAPE_SUBSET: [usize; 146] = [
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65,
    66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136,
    144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172,
    173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283,
    284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324,
    332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385,
    386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472,
    473, 474, 475, 476, 477,
];

/// Blendshape V2 output names, in output order.
pub const BLENDSHAPE_NAMES: [&str; 52] = [
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
];
const EYE_BLINK_LEFT: usize = 9;
const EYE_BLINK_RIGHT: usize = 10;
const JAW_OPEN: usize = 25;
const MOUTH_SMILE_LEFT: usize = 44;
const MOUTH_SMILE_RIGHT: usize = 45;

/// Mesh indices with a fixed meaning used elsewhere in core.
pub mod idx {
    pub const NOSE_TIP: usize = 1;
    pub const FOREHEAD: usize = 10;
    pub const CHIN: usize = 152;
    pub const UPPER_LIP_INNER: usize = 13;
    pub const LOWER_LIP_INNER: usize = 14;
    pub const MOUTH_RIGHT: usize = 78;
    pub const MOUTH_LEFT: usize = 308;
    /// Subject's right eye: outer corner, inner corner, upper lid, lower lid.
    pub const RIGHT_EYE: [usize; 4] = [33, 133, 159, 145];
    /// Subject's left eye: outer corner, inner corner, upper lid, lower lid.
    pub const LEFT_EYE: [usize; 4] = [263, 362, 386, 374];
}

/// Head pose in degrees. Yaw is positive when the subject turns toward their own left,
/// pitch positive when they look up, roll positive when the head tilts toward their
/// own left shoulder as seen in the (unmirrored) image, i.e. clockwise on screen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// The expression values the challenges read.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expression {
    /// Mean of eyeBlinkLeft/Right, 0–1.
    pub eye_closure: f32,
    /// Mean of mouthSmileLeft/Right, 0–1.
    pub smile: f32,
    /// jawOpen, 0–1.
    pub jaw_open: f32,
    /// Inner-lip gap over mouth width (geometric, for the record).
    pub mouth_open_ratio: f32,
    /// Mean eyelid gap over eye width of both eyes (geometric, for the record).
    pub eye_open_ratio: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceMeshResult {
    /// 478 points (x, y in frame pixels, z relative depth in the same scale).
    #[serde(skip)]
    pub landmarks: Vec<[f32; 3]>,
    /// Face-presence probability the mesh model reports for its crop.
    pub presence: f32,
    #[serde(skip)]
    pub blendshapes: Vec<f32>,
    pub pose: HeadPose,
    pub expression: Expression,
}

pub struct FaceMesh {
    mesh: OnnxModel,
    blendshapes: OnnxModel,
}

impl FaceMesh {
    pub fn from_onnx_bytes(mesh: &[u8], blendshapes: &[u8]) -> Result<Self, ModelError> {
        Ok(Self {
            mesh: OnnxModel::channels_first("face_mesh_v2", mesh, &[1, 3, MESH_INPUT, MESH_INPUT])?,
            blendshapes: OnnxModel::from_onnx_bytes("blendshape_v2", blendshapes, &[1, 146, 2])?,
        })
    }

    pub fn run(
        &self,
        frame: &Frame<'_>,
        face: &DetectedFace,
    ) -> Result<FaceMeshResult, ModelError> {
        let [right_eye, left_eye, ..] = face.landmarks;
        let angle = (left_eye.y - right_eye.y).atan2(left_eye.x - right_eye.x);
        let centre = face.bbox.centre();
        let side = face.bbox.width.max(face.bbox.height) * ROI_SCALE;
        let n = MESH_INPUT;
        let mut input = vec![0f32; n * n * 3];
        sample_rotated_square(
            frame,
            centre.x,
            centre.y,
            side,
            angle,
            n,
            |u, v, [r, g, b]| {
                let i = v * n + u;
                input[i] = r / 255.0;
                input[n * n + i] = g / 255.0;
                input[2 * n * n + i] = b / 255.0;
            },
        );
        let out = self.mesh.run(&[1, 3, n, n], input)?;
        let bad = |why: &str| ModelError::Run {
            model: "face_mesh_v2",
            reason: why.to_string(),
        };
        let (raw, flag) = match out.as_slice() {
            [raw, flag, ..] if raw.len() == LANDMARK_COUNT * 3 && !flag.is_empty() => {
                (raw, flag[0])
            }
            _ => return Err(bad("unexpected outputs")),
        };
        let (sin, cos) = angle.sin_cos();
        let k = side / n as f32;
        let half = n as f32 / 2.0;
        let landmarks: Vec<[f32; 3]> = raw
            .chunks_exact(3)
            .map(|p| {
                let (u, v) = (p[0] - half, p[1] - half);
                [
                    centre.x + k * (cos * u - sin * v),
                    centre.y + k * (sin * u + cos * v),
                    p[2] * k,
                ]
            })
            .collect();
        let points: Vec<f32> = BLENDSHAPE_SUBSET
            .iter()
            .flat_map(|&i| [landmarks[i][0], landmarks[i][1]])
            .collect();
        let blendshapes = self.blendshapes.run(&[1, 146, 2], points)?.swap_remove(0);
        if blendshapes.len() != 52 {
            return Err(ModelError::Run {
                model: "blendshape_v2",
                reason: "expected 52 scores".into(),
            });
        }
        Ok(FaceMeshResult {
            presence: 1.0 / (1.0 + (-flag).exp()),
            pose: head_pose(&landmarks),
            expression: expression(&landmarks, &blendshapes),
            landmarks,
            blendshapes,
        })
    }
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn norm(a: [f32; 3]) -> [f32; 3] {
    let l = dot(a, a).sqrt().max(1e-6);
    [a[0] / l, a[1] / l, a[2] / l]
}
fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
pub(crate) fn dist3(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = sub(a, b);
    dot(d, d).sqrt()
}

/// Head pose from a face frame spanned by the eye corners (x) and forehead–chin (y);
/// the face normal is their cross product. Image y grows downward and mesh z grows away
/// from the camera, so a frontal face's normal is (0, 0, −1).
pub fn head_pose(lm: &[[f32; 3]]) -> HeadPose {
    let x = norm(sub(lm[idx::LEFT_EYE[0]], lm[idx::RIGHT_EYE[0]]));
    let up = sub(lm[idx::FOREHEAD], lm[idx::CHIN]);
    let d = dot(up, x);
    let y = norm([up[0] - d * x[0], up[1] - d * x[1], up[2] - d * x[2]]);
    let z = cross(x, y);
    HeadPose {
        yaw: z[0].atan2(-z[2]).to_degrees(),
        pitch: (-z[1]).atan2(-z[2]).to_degrees(),
        roll: x[1].atan2(x[0]).to_degrees(),
    }
}

fn expression(lm: &[[f32; 3]], bs: &[f32]) -> Expression {
    let eye = |e: [usize; 4]| dist3(lm[e[2]], lm[e[3]]) / dist3(lm[e[0]], lm[e[1]]).max(1e-3);
    Expression {
        eye_closure: (bs[EYE_BLINK_LEFT] + bs[EYE_BLINK_RIGHT]) / 2.0,
        smile: (bs[MOUTH_SMILE_LEFT] + bs[MOUTH_SMILE_RIGHT]) / 2.0,
        jaw_open: bs[JAW_OPEN],
        mouth_open_ratio: dist3(lm[idx::UPPER_LIP_INNER], lm[idx::LOWER_LIP_INNER])
            / dist3(lm[idx::MOUTH_RIGHT], lm[idx::MOUTH_LEFT]).max(1e-3),
        eye_open_ratio: (eye(idx::RIGHT_EYE) + eye(idx::LEFT_EYE)) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_with_normal(yaw_deg: f32) -> Vec<[f32; 3]> {
        // Eye corners and forehead/chin of a face rotated about the vertical axis.
        let (s, c) = yaw_deg.to_radians().sin_cos();
        let rot = |x: f32, y: f32, z: f32| [c * x - s * z, y, s * x + c * z];
        let mut lm = vec![[0.0; 3]; LANDMARK_COUNT];
        lm[idx::RIGHT_EYE[0]] = rot(-40.0, 0.0, 0.0);
        lm[idx::LEFT_EYE[0]] = rot(40.0, 0.0, 0.0);
        lm[idx::FOREHEAD] = rot(0.0, -60.0, 0.0);
        lm[idx::CHIN] = rot(0.0, 80.0, 0.0);
        lm
    }

    #[test]
    fn frontal_face_has_zero_pose() {
        let p = head_pose(&face_with_normal(0.0));
        assert!(
            p.yaw.abs() < 1e-3 && p.pitch.abs() < 1e-3 && p.roll.abs() < 1e-3,
            "{p:?}"
        );
    }

    #[test]
    fn turning_toward_image_right_is_positive_yaw() {
        // Rotating so the face normal gains +x (points toward image right, the
        // subject's own left in an unmirrored image) must read as positive yaw.
        let lm = face_with_normal(30.0);
        let p = head_pose(&lm);
        assert!((p.yaw - 30.0).abs() < 0.5, "{p:?}");
    }
}
