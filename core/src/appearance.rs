//! What a frame's face looks like, reduced to what the capture's checks compare: a
//! small patch of the face, aligned by the eyes and normalised for brightness and
//! contrast (so the same picture sent again reads the same after re-encoding, added
//! noise, a shift or a change of exposure), and the mean colours of the face and of the
//! background (what the light challenge reads).

use serde::{Deserialize, Serialize};

use crate::detector::DetectedFace;
use crate::frame::Frame;
use crate::geometry::Point;
use crate::landmarks::{idx, FaceMeshResult};

/// Patch size; the eyes sit at (7, 9) and (17, 9), ten pixels apart.
pub const PATCH_W: usize = 24;
pub const PATCH_H: usize = 28;
const EYE_GAP: f32 = 10.0;
const EYES_AT: (f32, f32) = (12.0, 9.0);
/// Samples per patch pixel, each way.
const SUB: usize = 6;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Appearance {
    /// Luma of the aligned face, `PATCH_W`×`PATCH_H`, mean 0 and unit deviation.
    pub patch: Vec<f32>,
    /// Mean RGB (0–255) over the face's oval.
    pub face_rgb: [f32; 3],
    /// Mean RGB over the background beside and above the head (`None` when the face
    /// fills the frame's top).
    pub background_rgb: Option<[f32; 3]>,
}

impl Appearance {
    /// Root-mean-square difference of two patches: 0 for the same picture, about 1.4
    /// for unrelated ones.
    pub fn distance(&self, other: &Appearance) -> f32 {
        let n = self.patch.len().min(other.patch.len()).max(1);
        let sq: f32 = self
            .patch
            .iter()
            .zip(&other.patch)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        (sq / n as f32).sqrt()
    }
}

fn mean_point(lm: &[[f32; 3]], ids: &[usize]) -> Point {
    let n = ids.len() as f32;
    Point::new(
        ids.iter().map(|&i| lm[i][0]).sum::<f32>() / n,
        ids.iter().map(|&i| lm[i][1]).sum::<f32>() / n,
    )
}

/// The subject's right and left eye centres: the mesh's when there is one (steadier),
/// else the detector's.
fn eyes(face: &DetectedFace, mesh: Option<&FaceMeshResult>) -> (Point, Point) {
    match mesh {
        Some(m) if m.landmarks.len() > idx::LEFT_EYE[0].max(idx::RIGHT_EYE[0]) => (
            mean_point(&m.landmarks, &idx::RIGHT_EYE),
            mean_point(&m.landmarks, &idx::LEFT_EYE),
        ),
        _ => (face.landmarks[0], face.landmarks[1]),
    }
}

pub fn appearance(
    frame: &Frame<'_>,
    face: &DetectedFace,
    mesh: Option<&FaceMeshResult>,
) -> Option<Appearance> {
    let (right, left) = eyes(face, mesh);
    let (dx, dy) = (left.x - right.x, left.y - right.y);
    let gap = dx.hypot(dy);
    if gap < 4.0 {
        return None;
    }
    // Patch axes in frame pixels: along the eyes, and perpendicular (down the face).
    let s = gap / EYE_GAP;
    let (ux, uy) = (dx / gap * s, dy / gap * s);
    let (vx, vy) = (-uy, ux);
    let (mx, my) = ((right.x + left.x) / 2.0, (right.y + left.y) / 2.0);
    let mut patch = Vec::with_capacity(PATCH_W * PATCH_H);
    let mut face_sum = [0f32; 3];
    let mut face_n = 0usize;
    for py in 0..PATCH_H {
        for px in 0..PATCH_W {
            // The mean over the patch pixel's whole footprint (SUB×SUB bilinear samples):
            // a patch pixel covers many frame pixels, and averaging them all is what
            // makes sensor or added noise vanish while real changes stay.
            let (mut xs, mut ys) = ([0f32; SUB * SUB], [0f32; SUB * SUB]);
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let u = px as f32 + (sx as f32 + 0.5) / SUB as f32 - EYES_AT.0;
                    let v = py as f32 + (sy as f32 + 0.5) / SUB as f32 - EYES_AT.1;
                    xs[sy * SUB + sx] = mx + u * ux + v * vx;
                    ys[sy * SUB + sx] = my + u * uy + v * vy;
                }
            }
            // Summed in the points' order, however many are sampled at once.
            let mut rgb = [0f32; 3];
            frame.sample_points(&xs, &ys, |_, c| (0..3).for_each(|k| rgb[k] += c[k]));
            let rgb = rgb.map(|c| c / (SUB * SUB) as f32);
            patch.push(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]);
            // The face's oval: the eyes, cheeks, nose and mouth.
            let (ex, ey) = (
                (px as f32 + 0.5 - EYES_AT.0) / 9.0,
                (py as f32 + 0.5 - EYES_AT.1 - 4.0) / 12.0,
            );
            if ex * ex + ey * ey <= 1.0 {
                for k in 0..3 {
                    face_sum[k] += rgb[k];
                }
                face_n += 1;
            }
        }
    }
    let n = patch.len() as f32;
    let mean = patch.iter().sum::<f32>() / n;
    let sd = (patch.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    if sd < 1.0 {
        return None;
    }
    for v in &mut patch {
        *v = (*v - mean) / sd;
    }
    Some(Appearance {
        patch,
        face_rgb: face_sum.map(|c| c / face_n.max(1) as f32),
        background_rgb: background(frame, face),
    })
}

/// Mean RGB of the frame's top third beside the head (a wall, not the shoulders, which
/// are as close to the screen as the face). Every second pixel of every second row.
fn background(frame: &Frame<'_>, face: &DetectedFace) -> Option<[f32; 3]> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let b = face.bbox;
    let left = (b.x - 0.3 * b.width).max(0.0) as usize;
    let right = ((b.x + 1.3 * b.width).max(0.0) as usize).min(w);
    let rgba = frame.rgba();
    let mut sum = [0f64; 3];
    let mut n = 0usize;
    for y in (0..h / 3).step_by(2) {
        for x in (0..w).step_by(2) {
            if (left..right).contains(&x) {
                continue;
            }
            let i = (y * w + x) * 4;
            for k in 0..3 {
                sum[k] += rgba[i + k] as f64;
            }
            n += 1;
        }
    }
    (n >= 200).then(|| sum.map(|s| (s / n as f64) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BoundingBox;

    fn face_at(x: f32, y: f32) -> DetectedFace {
        DetectedFace {
            bbox: BoundingBox {
                x: x - 50.0,
                y: y - 60.0,
                width: 100.0,
                height: 130.0,
            },
            landmarks: [
                Point::new(x - 20.0, y - 10.0),
                Point::new(x + 20.0, y - 10.0),
                Point::new(x, y + 10.0),
                Point::new(x - 15.0, y + 30.0),
                Point::new(x + 15.0, y + 30.0),
            ],
            score: 0.9,
        }
    }

    /// A 320×240 frame with a smooth pattern, moved by (dx, dy), with brightness `gain`.
    fn scene(dx: f32, dy: f32, gain: f32) -> Vec<u8> {
        let mut rgba = Vec::with_capacity(320 * 240 * 4);
        for y in 0..240 {
            for x in 0..320 {
                let (u, v) = (x as f32 - dx, y as f32 - dy);
                let l = 120.0 + 60.0 * (u / 9.0).sin() * (v / 13.0).cos() + 20.0 * (u / 31.0).cos();
                let l = (l * gain).clamp(0.0, 255.0) as u8;
                rgba.extend_from_slice(&[l, l / 2 + 40, 255 - l, 255]);
            }
        }
        rgba
    }

    #[test]
    fn the_same_picture_moved_and_brightened_reads_the_same_and_another_does_not() {
        let a = scene(0.0, 0.0, 1.0);
        let b = scene(3.0, -2.0, 0.8);
        let fa = Frame::new(320, 240, &a).unwrap();
        let fb = Frame::new(320, 240, &b).unwrap();
        let pa = appearance(&fa, &face_at(160.0, 120.0), None).unwrap();
        let pb = appearance(&fb, &face_at(163.0, 118.0), None).unwrap();
        assert!(pa.distance(&pb) < 0.1, "{}", pa.distance(&pb));
        let other = appearance(&fa, &face_at(100.0, 140.0), None).unwrap();
        assert!(pa.distance(&other) > 0.8, "{}", pa.distance(&other));
        assert!(pa.background_rgb.is_some());
    }
}
