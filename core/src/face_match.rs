//! Face match: dlib's ResNet face descriptor (128 values) on a 150×150 chip, compared by
//! Euclidean distance. The chip is cut by the least-squares similarity warp (scale,
//! rotation, shift; no shear) that carries the detector's five points onto dlib's mean
//! face, so the same face gives the same chip whatever its size or roll in the frame.
//! The model has dlib's input normalisation built in: it takes RGB 0–255, NCHW.

use serde::{Deserialize, Serialize};

use crate::detector::DetectedFace;
use crate::frame::Frame;
use crate::geometry::Point;
use crate::model::{ModelError, OnnxModel};

/// Side of the aligned chip, in pixels.
pub const CHIP: usize = 150;
/// dlib's `compute_face_descriptor` default: the chip shows the mean face plus a quarter
/// of its size on every side.
const PADDING: f32 = 0.25;
/// Length of a descriptor.
pub const DESCRIPTOR_LEN: usize = 128;

/// dlib's mean face (the 68-point template of `get_face_chip_details`, unit square)
/// reduced to the detector's five points, in the detector's order: eye centres as the
/// mean of each eye's six contour points (36–41 and 42–47), the nose tip (30) and the
/// mouth corners (48, 54). Image-left first, as the detector gives them.
const MEAN_FACE: [(f32, f32); 5] = [
    (0.225_491_8, 0.215_990_3),
    (0.754_761_3, 0.215_990_3),
    (0.490_127, 0.515_625),
    (0.254_149, 0.780_233),
    (0.726_104, 0.780_233),
];

/// A face's identity descriptor: 128 values; the same person lies near, others far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaceDescriptor(pub Vec<f32>);

impl FaceDescriptor {
    /// Euclidean distance; `None` when either is not a 128-value descriptor.
    pub fn distance(&self, other: &FaceDescriptor) -> Option<f32> {
        if self.0.len() != DESCRIPTOR_LEN || other.0.len() != DESCRIPTOR_LEN {
            return None;
        }
        let sq: f32 = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        Some(sq.sqrt())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchVerdict {
    Match,
    NoMatch,
    Uncertain,
}

/// Distances at or below `match_at_most` are the same person, above `no_match_above`
/// different people, and in between too close to call. dlib's published operating point
/// is 0.6 (99.38 % on LFW); the band around it is where a caller should ask again.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchThresholds {
    pub match_at_most: f32,
    pub no_match_above: f32,
}

impl Default for MatchThresholds {
    fn default() -> Self {
        Self {
            match_at_most: 0.55,
            no_match_above: 0.65,
        }
    }
}

/// The comparison of two faces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceMatch {
    pub verdict: MatchVerdict,
    /// 0–100: `100 × (1 − distance / 1.2)`, clamped, so dlib's 0.6 reads as 50.
    pub score: f32,
    pub distance: f32,
    pub thresholds: MatchThresholds,
}

impl MatchThresholds {
    pub fn judge(&self, distance: f32) -> FaceMatch {
        let verdict = if distance <= self.match_at_most {
            MatchVerdict::Match
        } else if distance > self.no_match_above {
            MatchVerdict::NoMatch
        } else {
            MatchVerdict::Uncertain
        };
        FaceMatch {
            verdict,
            score: (100.0 * (1.0 - distance / 1.2)).clamp(0.0, 100.0),
            distance,
            thresholds: *self,
        }
    }
}

pub struct FaceRecognizer {
    model: OnnxModel,
}

impl FaceRecognizer {
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        Ok(Self {
            model: OnnxModel::from_onnx_bytes("dlib_resnet", bytes, &[1, 3, CHIP, CHIP])?,
        })
    }

    /// The descriptor of `face` (a detection in `frame`).
    pub fn descriptor(
        &self,
        frame: &Frame<'_>,
        face: &DetectedFace,
    ) -> Result<FaceDescriptor, ModelError> {
        let warp = Similarity::fit(&chip_points(), &face.landmarks);
        let plane = CHIP * CHIP;
        let mut input = vec![0f32; 3 * plane];
        warp.sample(frame, CHIP, |u, v, rgb| {
            let i = v * CHIP + u;
            input[i] = rgb[0];
            input[plane + i] = rgb[1];
            input[2 * plane + i] = rgb[2];
        });
        let out = self.model.run(&[1, 3, CHIP, CHIP], input)?.swap_remove(0);
        if out.len() != DESCRIPTOR_LEN || out.iter().any(|x| !x.is_finite()) {
            return Err(ModelError::Run {
                model: "dlib_resnet",
                reason: "expected 128 finite values".into(),
            });
        }
        Ok(FaceDescriptor(out))
    }
}

/// The mean face's five points in chip pixels.
fn chip_points() -> [Point; 5] {
    MEAN_FACE.map(|(x, y)| {
        let k = CHIP as f32 / (1.0 + 2.0 * PADDING);
        Point::new((PADDING + x) * k, (PADDING + y) * k)
    })
}

/// `q = [a −b; b a]·p + t`: chip pixels to frame pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Similarity {
    a: f32,
    b: f32,
    tx: f32,
    ty: f32,
}

impl Similarity {
    /// Least-squares fit carrying `from` onto `to` (closed form for 2-D similarities).
    fn fit(from: &[Point], to: &[Point]) -> Self {
        let n = from.len().min(to.len()).max(1) as f32;
        let mean = |ps: &[Point]| {
            let (sx, sy) = ps.iter().fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
            (sx / n, sy / n)
        };
        let (fx, fy) = mean(from);
        let (qx, qy) = mean(to);
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (p, q) in from.iter().zip(to) {
            let (px, py) = (p.x - fx, p.y - fy);
            let (ux, uy) = (q.x - qx, q.y - qy);
            dot += px * ux + py * uy;
            cross += px * uy - py * ux;
            norm += px * px + py * py;
        }
        let norm = norm.max(1e-6);
        let (a, b) = (dot / norm, cross / norm);
        Self {
            a,
            b,
            tx: qx - (a * fx - b * fy),
            ty: qy - (b * fx + a * fy),
        }
    }

    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }

    /// Fills a `size`×`size` chip. When the warp shrinks the face, each chip pixel
    /// averages a grid of bilinear samples so fine detail does not alias.
    fn sample(&self, frame: &Frame<'_>, size: usize, mut put: impl FnMut(usize, usize, [f32; 3])) {
        let scale = self.a.hypot(self.b);
        let taps = scale.round().clamp(1.0, 4.0) as usize;
        let n = (taps * taps) as f32;
        for v in 0..size {
            for u in 0..size {
                let mut acc = [0f32; 3];
                for ty in 0..taps {
                    for tx in 0..taps {
                        let x = u as f32 + (tx as f32 + 0.5) / taps as f32;
                        let y = v as f32 + (ty as f32 + 0.5) / taps as f32;
                        let (sx, sy) = self.apply(x, y);
                        let p = frame.sample(sx, sy);
                        for c in 0..3 {
                            acc[c] += p[c];
                        }
                    }
                }
                put(u, v, [acc[0] / n, acc[1] / n, acc[2] / n]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_known_similarity() {
        let truth = Similarity {
            a: 2.0 * 0.3f32.cos(),
            b: 2.0 * 0.3f32.sin(),
            tx: 40.0,
            ty: -7.0,
        };
        let from = chip_points();
        let to = from.map(|p| {
            let (x, y) = truth.apply(p.x, p.y);
            Point::new(x, y)
        });
        let fit = Similarity::fit(&from, &to);
        for (got, want) in [
            (fit.a, truth.a),
            (fit.b, truth.b),
            (fit.tx, truth.tx),
            (fit.ty, truth.ty),
        ] {
            assert!((got - want).abs() < 1e-3, "{fit:?} vs {truth:?}");
        }
    }

    #[test]
    fn the_mean_face_sits_inside_the_chip_with_level_eyes() {
        let p = chip_points();
        assert!(p
            .iter()
            .all(|q| q.x > 20.0 && q.x < 130.0 && q.y > 20.0 && q.y < 130.0));
        assert_eq!(p[0].y, p[1].y);
        assert!(p[0].x < p[2].x && p[2].x < p[1].x, "nose between the eyes");
    }

    #[test]
    fn distances_map_onto_verdicts_and_scores() {
        let t = MatchThresholds::default();
        assert_eq!(t.judge(0.3).verdict, MatchVerdict::Match);
        assert_eq!(t.judge(0.55).verdict, MatchVerdict::Match);
        assert_eq!(t.judge(0.6).verdict, MatchVerdict::Uncertain);
        assert_eq!(t.judge(0.9).verdict, MatchVerdict::NoMatch);
        assert!((t.judge(0.6).score - 50.0).abs() < 1e-4);
        assert_eq!(t.judge(2.0).score, 0.0);
        assert_eq!(t.judge(0.0).score, 100.0);
    }

    #[test]
    fn a_descriptor_of_the_wrong_length_has_no_distance() {
        let a = FaceDescriptor(vec![0.0; DESCRIPTOR_LEN]);
        assert_eq!(a.distance(&FaceDescriptor(vec![0.0; 3])), None);
        let mut b = a.clone();
        b.0[0] = 3.0;
        b.0[1] = 4.0;
        assert_eq!(a.distance(&b), Some(5.0));
    }
}
