//! Signs of a live face over time, for passive checks (no prompts). A photo, printed or
//! on a screen, can be moved, tilted and bent a little, but its face never changes
//! shape; a live face always does a little: the eyes, lids, lips and the 3-D head
//! itself move against each other. Two signs, either one suffices:
//! - an action the user made unasked (a blink, a smile, …), found by the same event
//!   detector the challenges use;
//! - non-rigid landmark motion: each frame's mesh is mapped onto the first by the
//!   best affine map (which absorbs any flat photo's shift, turn, scale and shear), and
//!   what the map cannot explain is measured, in percent of the distance between the
//!   outer eye corners. Photos moved by hand measured 0.6–0.8 here, live clips 4.2–4.9
//!   (d18 sitting still included), so the line sits at 2.

use serde::{Deserialize, Serialize};

use crate::challenge::{detect_events, ActionEvent, ChallengeRules};
use crate::engine::Observation;
use crate::landmarks::idx;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveSignLimits {
    /// Least non-rigid motion (percent of the eye distance, the frames' 90th percentile)
    /// that counts as a live face's.
    pub min_non_rigid_motion: f32,
    /// Least number of frames with a mesh the measure needs.
    pub min_frames: usize,
}

impl Default for LiveSignLimits {
    fn default() -> Self {
        Self {
            min_non_rigid_motion: 2.0,
            min_frames: 10,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveSigns {
    pub present: bool,
    /// Frames with a mesh that were measured.
    pub frames: usize,
    /// 90th percentile over frames of the RMS landmark residual after the affine fit,
    /// percent of the eye distance.
    pub non_rigid_motion: f32,
    /// Actions seen without a prompt.
    pub events: Vec<ActionEvent>,
}

pub fn live_signs(
    observations: &[Observation],
    rules: &ChallengeRules,
    limits: &LiveSignLimits,
) -> LiveSigns {
    let meshes: Vec<&[[f32; 3]]> = observations
        .iter()
        .filter_map(|o| o.mesh.as_ref().map(|m| m.landmarks.as_slice()))
        .filter(|l| l.len() > idx::LEFT_EYE[0].max(idx::RIGHT_EYE[0]))
        .collect();
    let mut residuals: Vec<f32> = match meshes.first() {
        Some(reference) => meshes[1..]
            .iter()
            .filter_map(|m| non_rigid_residual(reference, m))
            .collect(),
        None => Vec::new(),
    };
    residuals.sort_by(f32::total_cmp);
    let non_rigid_motion = residuals
        .get((residuals.len() * 9 / 10).min(residuals.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    // The event detector compares against a baseline; with no prompts, the first
    // second of the capture is it.
    let events = detect_events(observations, 1000, rules);
    let enough = meshes.len() >= limits.min_frames;
    LiveSigns {
        present: enough && (!events.is_empty() || non_rigid_motion >= limits.min_non_rigid_motion),
        frames: meshes.len(),
        non_rigid_motion,
        events,
    }
}

/// RMS distance, in percent of the reference's eye distance, between `frame`'s landmarks
/// and the best affine image of the reference's.
fn non_rigid_residual(reference: &[[f32; 3]], frame: &[[f32; 3]]) -> Option<f32> {
    let n = reference.len().min(frame.len());
    let eye = |l: &[[f32; 3]], i: usize| (l[i][0], l[i][1]);
    let (rx, ry) = eye(reference, idx::RIGHT_EYE[0]);
    let (lx, ly) = eye(reference, idx::LEFT_EYE[0]);
    let eye_distance = (lx - rx).hypot(ly - ry);
    if n < 3 || eye_distance < 1.0 {
        return None;
    }
    let map = Affine::fit(&reference[..n], &frame[..n])?;
    let sq: f32 = reference[..n]
        .iter()
        .zip(&frame[..n])
        .map(|(p, q)| {
            let (x, y) = map.apply(p[0], p[1]);
            (x - q[0]).powi(2) + (y - q[1]).powi(2)
        })
        .sum();
    Some(100.0 * (sq / n as f32).sqrt() / eye_distance)
}

/// `(x, y) ↦ (a·x + b·y + c, d·x + e·y + f)`, about the reference's centroid.
struct Affine {
    centre: (f32, f32),
    x: [f32; 3],
    y: [f32; 3],
}

impl Affine {
    /// Least squares over point pairs (normal equations on centred coordinates).
    fn fit(from: &[[f32; 3]], to: &[[f32; 3]]) -> Option<Self> {
        let n = from.len() as f32;
        let cx = from.iter().map(|p| p[0]).sum::<f32>() / n;
        let cy = from.iter().map(|p| p[1]).sum::<f32>() / n;
        // With centred inputs the constant term decouples: M = [[Sxx, Sxy], [Sxy, Syy]].
        let (mut sxx, mut sxy, mut syy) = (0f64, 0f64, 0f64);
        let (mut bx, mut by) = ([0f64; 2], [0f64; 2]);
        let (mut mqx, mut mqy) = (0f64, 0f64);
        for (p, q) in from.iter().zip(to) {
            let (x, y) = ((p[0] - cx) as f64, (p[1] - cy) as f64);
            sxx += x * x;
            sxy += x * y;
            syy += y * y;
            bx[0] += x * q[0] as f64;
            bx[1] += y * q[0] as f64;
            by[0] += x * q[1] as f64;
            by[1] += y * q[1] as f64;
            mqx += q[0] as f64;
            mqy += q[1] as f64;
        }
        let det = sxx * syy - sxy * sxy;
        if det.abs() < 1e-9 {
            return None;
        }
        let solve = |b: [f64; 2]| {
            [
                ((syy * b[0] - sxy * b[1]) / det) as f32,
                ((sxx * b[1] - sxy * b[0]) / det) as f32,
            ]
        };
        let [a, b] = solve(bx);
        let [d, e] = solve(by);
        Some(Self {
            centre: (cx, cy),
            x: [a, b, (mqx / n as f64) as f32],
            y: [d, e, (mqy / n as f64) as f32],
        })
    }

    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = (x - self.centre.0, y - self.centre.1);
        (
            self.x[0] * x + self.x[1] * y + self.x[2],
            self.y[0] * x + self.y[1] * y + self.y[2],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(n: usize) -> Vec<[f32; 3]> {
        (0..n)
            .map(|i| {
                let t = i as f32 * 0.7;
                [
                    200.0 + 80.0 * t.cos() + i as f32 * 0.1,
                    240.0 + 90.0 * (1.3 * t).sin(),
                    0.0,
                ]
            })
            .collect()
    }

    #[test]
    fn an_affine_copy_has_no_residual_and_a_bent_one_does() {
        let reference = face(478);
        let moved: Vec<[f32; 3]> = reference
            .iter()
            .map(|p| {
                [
                    1.1 * p[0] + 0.2 * p[1] + 7.0,
                    -0.1 * p[0] + 0.9 * p[1] - 3.0,
                    0.0,
                ]
            })
            .collect();
        assert!(non_rigid_residual(&reference, &moved).unwrap() < 1e-3);
        let mut bent = moved.clone();
        for p in bent.iter_mut().take(100) {
            p[1] += 4.0;
        }
        assert!(non_rigid_residual(&reference, &bent).unwrap() > 0.5);
    }
}
