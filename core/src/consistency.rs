//! Face consistency within one capture: the frames must show one and the same face.
//!
//! Three checks. Continuity: between frames less than a second apart the face may not
//! jump by more than its own width. Shape: a signature of 3-D distances between rigid
//! mesh points (eye corners, nose, face outline; not the lips or lids, which move with
//! expression) is normalised by its mean, and every frame's signature must stay close
//! to the median of the capture's first frames. 3-D distances do not change as the head turns, so a turn
//! is not a different face. Identity: where frames carry a face-recognition descriptor
//! (the verifier computes them on a few frames spread over the capture), no two of them
//! may be further apart than two different people's usually are.

use serde::{Deserialize, Serialize};

use crate::engine::Observation;
use crate::geometry::median;
use crate::landmarks::dist3;

const REFERENCE_FRAMES: usize = 5;
const RIGID_POINTS: [usize; 12] = [33, 133, 362, 263, 1, 168, 6, 10, 234, 454, 98, 327];

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsistencyLimits {
    /// Largest relative distance of a frame's signature from the capture's median.
    pub max_shape_distance: f32,
    /// Largest jump of the face centre, in face widths, between frames < 1 s apart.
    pub max_jump: f32,
    /// Largest descriptor distance between any two frames (face match's no-match line).
    pub max_identity_distance: f32,
}

impl Default for ConsistencyLimits {
    fn default() -> Self {
        Self {
            max_shape_distance: 0.045,
            max_jump: 1.0,
            max_identity_distance: crate::face_match::MatchThresholds::default().no_match_above,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consistency {
    pub consistent: bool,
    pub frames_compared: usize,
    pub max_shape_distance: f32,
    pub max_jump: f32,
    /// Frames that carried a descriptor, and the largest distance between two of them.
    pub identity_frames: usize,
    pub max_identity_distance: f32,
}

/// Rigid-point distance signature, normalised to mean 1.
pub fn shape_signature(landmarks: &[[f32; 3]]) -> Option<Vec<f32>> {
    if landmarks.len() < 468 {
        return None;
    }
    let mut sig = Vec::new();
    for (i, &a) in RIGID_POINTS.iter().enumerate() {
        for &b in &RIGID_POINTS[i + 1..] {
            sig.push(dist3(landmarks[a], landmarks[b]));
        }
    }
    let mean = sig.iter().sum::<f32>() / sig.len() as f32;
    if mean <= 1e-3 {
        return None;
    }
    Some(sig.into_iter().map(|d| d / mean).collect())
}

/// Root-mean-square difference of two signatures.
pub fn signature_distance(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()).max(1);
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>() / n as f32).sqrt()
}

pub fn check(observations: &[Observation], limits: &ConsistencyLimits) -> Consistency {
    let sigs: Vec<Vec<f32>> = observations
        .iter()
        .filter_map(|o| o.mesh.as_ref().and_then(|m| shape_signature(&m.landmarks)))
        .collect();
    let max_shape_distance = if sigs.is_empty() {
        0.0
    } else {
        // Reference: the median signature of the first frames (the baseline), so a face
        // that appears later is measured against the face that started the capture.
        let dims = sigs[0].len();
        let head = &sigs[..sigs.len().min(REFERENCE_FRAMES)];
        let centre: Vec<f32> = (0..dims)
            .map(|d| median(&head.iter().map(|s| s[d]).collect::<Vec<_>>()).unwrap_or(0.0))
            .collect();
        sigs.iter()
            .map(|s| signature_distance(s, &centre))
            .fold(0.0, f32::max)
    };
    let faces: Vec<(u64, crate::geometry::BoundingBox)> = observations
        .iter()
        .filter_map(|o| o.face.as_ref().map(|f| (o.t_ms, f.bbox)))
        .collect();
    let max_jump = faces
        .windows(2)
        .filter(|w| w[1].0.saturating_sub(w[0].0) < 1000)
        .map(|w| {
            w[0].1.centre().distance(w[1].1.centre()) / w[0].1.width.max(w[1].1.width).max(1.0)
        })
        .fold(0.0, f32::max);
    let descriptors: Vec<_> = observations
        .iter()
        .filter_map(|o| o.descriptor.as_ref())
        .collect();
    let max_identity_distance = descriptors
        .iter()
        .enumerate()
        .flat_map(|(i, a)| descriptors[i + 1..].iter().filter_map(|b| a.distance(b)))
        .fold(0.0, f32::max);
    Consistency {
        consistent: max_shape_distance <= limits.max_shape_distance
            && max_jump <= limits.max_jump
            && max_identity_distance <= limits.max_identity_distance,
        frames_compared: sigs.len(),
        max_shape_distance,
        max_jump,
        identity_frames: descriptors.len(),
        max_identity_distance,
    }
}
