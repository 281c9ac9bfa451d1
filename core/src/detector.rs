//! YuNet (2023mar) face detection. The frame is letterboxed into the model's square
//! input (scaled to fit, padded right and bottom), fed as BGR 0–255 NCHW; each of the
//! three strides (8, 16, 32) predicts per grid cell a class and objectness score, a box
//! offset and log-size, and five landmarks; score = sqrt(cls·obj). Boxes are mapped back
//! to frame pixels and de-duplicated with NMS.

use serde::{Deserialize, Serialize};

use crate::frame::{sample_area, Frame};
use crate::geometry::{non_max_suppression, BoundingBox, Point};
use crate::model::{ModelError, OnnxModel};

/// Detection input side used by both the SDK and the verifier (the 320 model file).
pub const DETECTOR_INPUT: usize = 320;
const STRIDES: [usize; 3] = [8, 16, 32];

/// A face found by the detector, in frame pixels. Landmarks are, in order: the
/// subject's right eye, left eye, nose tip, right mouth corner, left mouth corner
/// (in an unmirrored camera image the subject's right eye is on the image left).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectedFace {
    pub bbox: BoundingBox,
    pub landmarks: [Point; 5],
    pub score: f32,
}

pub struct FaceDetector {
    model: OnnxModel,
    size: usize,
    score_threshold: f32,
    nms_iou: f32,
}

impl FaceDetector {
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let size = DETECTOR_INPUT;
        let model = OnnxModel::from_onnx_bytes("yunet", bytes, &[1, 3, size, size])?;
        Ok(Self {
            model,
            size,
            score_threshold: 0.6,
            nms_iou: 0.3,
        })
    }

    /// Faces in the frame, best first.
    pub fn detect(&self, frame: &Frame<'_>) -> Result<Vec<DetectedFace>, ModelError> {
        let s = self.size;
        let scale = (s as f32 / frame.width() as f32).min(s as f32 / frame.height() as f32);
        let (w, h) = (
            ((frame.width() as f32 * scale).round() as usize).clamp(1, s),
            ((frame.height() as f32 * scale).round() as usize).clamp(1, s),
        );
        let mut input = vec![0f32; 3 * s * s];
        let plane = s * s;
        let src = (0.0, 0.0, w as f32 / scale, h as f32 / scale);
        sample_area(frame, src, (w, h), |u, v, [r, g, b]| {
            let i = v * s + u;
            input[i] = b;
            input[plane + i] = g;
            input[2 * plane + i] = r;
        });
        let out = self.model.run(&[1, 3, s, s], input)?;
        let bad = |why: &str| ModelError::Run {
            model: "yunet",
            reason: why.to_string(),
        };
        if out.len() != 12 {
            return Err(bad("expected 12 outputs"));
        }
        let mut faces = Vec::new();
        for (k, stride) in STRIDES.iter().enumerate() {
            let cols = s / stride;
            let cells = cols * cols;
            let (cls, obj, bbox, kps) = (&out[k], &out[3 + k], &out[6 + k], &out[9 + k]);
            if cls.len() != cells
                || obj.len() != cells
                || bbox.len() != cells * 4
                || kps.len() != cells * 10
            {
                return Err(bad("unexpected output size"));
            }
            for i in 0..cells {
                let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                if score < self.score_threshold {
                    continue;
                }
                let (row, col) = ((i / cols) as f32, (i % cols) as f32);
                let st = *stride as f32;
                let b = &bbox[i * 4..i * 4 + 4];
                let cx = (col + b[0]) * st;
                let cy = (row + b[1]) * st;
                let bw = b[2].exp() * st;
                let bh = b[3].exp() * st;
                let p = &kps[i * 10..i * 10 + 10];
                let lm = |j: usize| {
                    Point::new(
                        (p[2 * j] + col) * st / scale,
                        (p[2 * j + 1] + row) * st / scale,
                    )
                };
                faces.push(DetectedFace {
                    bbox: BoundingBox {
                        x: (cx - bw / 2.0) / scale,
                        y: (cy - bh / 2.0) / scale,
                        width: bw / scale,
                        height: bh / scale,
                    },
                    landmarks: [lm(0), lm(1), lm(2), lm(3), lm(4)],
                    score,
                });
            }
        }
        Ok(non_max_suppression(faces, self.nms_iou, |f| {
            (f.score, f.bbox)
        }))
    }
}
