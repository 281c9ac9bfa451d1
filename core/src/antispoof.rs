//! Silent-Face anti-spoofing: MiniFASNetV2 on a crop 2.7× the face box and
//! MiniFASNetV1SE on a crop 4.0× the box, each resized to 80×80 BGR 0–255 NCHW.
//! The crop follows the reference implementation: the scale shrinks until the crop fits
//! the frame, and a crop that would leave the frame is slid back inside. The two softmax
//! outputs are averaged; class 1 is a real face.

use crate::frame::{sample_rect, Frame};
use crate::geometry::BoundingBox;
use crate::model::{ModelError, OnnxModel};

const INPUT: usize = 80;

pub struct AntiSpoof {
    models: Vec<(OnnxModel, f32)>,
}

impl AntiSpoof {
    pub fn from_onnx_bytes(
        minifasnet_v2: &[u8],
        minifasnet_v1se: &[u8],
    ) -> Result<Self, ModelError> {
        let shape = [1, 3, INPUT, INPUT];
        Ok(Self {
            models: vec![
                (
                    OnnxModel::from_onnx_bytes("minifasnet_v2", minifasnet_v2, &shape)?,
                    2.7,
                ),
                (
                    OnnxModel::from_onnx_bytes("minifasnet_v1se", minifasnet_v1se, &shape)?,
                    4.0,
                ),
            ],
        })
    }

    /// Probability (0–1) that the face in `bbox` is a live face rather than a print or screen.
    pub fn live_probability(
        &self,
        frame: &Frame<'_>,
        bbox: &BoundingBox,
    ) -> Result<f32, ModelError> {
        let mut total = 0.0;
        for (model, scale) in &self.models {
            let (l, t, r, b) = crop_box(frame.width() as f32, frame.height() as f32, bbox, *scale);
            let plane = INPUT * INPUT;
            let mut input = vec![0f32; 3 * plane];
            sample_rect(
                frame,
                (l, t, r + 1.0, b + 1.0),
                (INPUT, INPUT),
                |u, v, [r, g, b]| {
                    let i = v * INPUT + u;
                    input[i] = b;
                    input[plane + i] = g;
                    input[2 * plane + i] = r;
                },
            );
            let logits = model.run(&[1, 3, INPUT, INPUT], input)?.swap_remove(0);
            if logits.len() != 3 {
                return Err(ModelError::Run {
                    model: "minifasnet",
                    reason: "expected 3 logits".into(),
                });
            }
            total += softmax(&logits)[1];
        }
        Ok(total / self.models.len() as f32)
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Integer crop (left, top, right, bottom; inclusive) around `bbox` enlarged by `scale`.
fn crop_box(w: f32, h: f32, bbox: &BoundingBox, scale: f32) -> (f32, f32, f32, f32) {
    let (bw, bh) = (bbox.width.max(1.0), bbox.height.max(1.0));
    let scale = scale.min((h - 1.0) / bh).min((w - 1.0) / bw);
    let (nw, nh) = (bw * scale, bh * scale);
    let c = bbox.centre();
    let (mut l, mut t, mut r, mut b) = (
        c.x - nw / 2.0,
        c.y - nh / 2.0,
        c.x + nw / 2.0,
        c.y + nh / 2.0,
    );
    if l < 0.0 {
        r -= l;
        l = 0.0;
    }
    if t < 0.0 {
        b -= t;
        t = 0.0;
    }
    if r > w - 1.0 {
        l -= r - w + 1.0;
        r = w - 1.0;
    }
    if b > h - 1.0 {
        t -= b - h + 1.0;
        b = h - 1.0;
    }
    (l.trunc(), t.trunc(), r.trunc(), b.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_slides_inside_the_frame() {
        let bbox = BoundingBox {
            x: 0.0,
            y: 0.0,
            width: 100.0,
            height: 100.0,
        };
        let (l, t, r, b) = crop_box(640.0, 480.0, &bbox, 2.7);
        assert_eq!((l, t), (0.0, 0.0));
        assert_eq!((r, b), (270.0, 270.0));
    }

    #[test]
    fn crop_scale_shrinks_to_fit() {
        let bbox = BoundingBox {
            x: 100.0,
            y: 100.0,
            width: 200.0,
            height: 200.0,
        };
        let (_, t, _, b) = crop_box(640.0, 480.0, &bbox, 4.0);
        assert!(t >= 0.0 && b <= 479.0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6 && p[2] > p[1]);
    }
}
