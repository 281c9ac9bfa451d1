//! Small geometry shared by the models: boxes, points, overlap and non-maximum suppression.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    pub fn distance(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

/// Axis-aligned box in source pixels: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn centre(&self) -> Point {
        Point::new(self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let ix = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let iy = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        let inter = ix.max(0.0) * iy.max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// Greedy NMS: keeps the highest-scoring item of every cluster overlapping above `iou`.
pub fn non_max_suppression<T>(
    mut items: Vec<T>,
    iou: f32,
    key: impl Fn(&T) -> (f32, BoundingBox),
) -> Vec<T> {
    items.sort_by(|a, b| key(b).0.total_cmp(&key(a).0));
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        let (_, bx) = key(&item);
        if kept.iter().all(|k| key(k).1.iou(&bx) <= iou) {
            kept.push(item);
        }
    }
    kept
}

/// Median of a slice (NaN-free input); `None` when empty.
pub fn median(values: &[f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32, y: f32, w: f32, h: f32) -> BoundingBox {
        BoundingBox {
            x,
            y,
            width: w,
            height: h,
        }
    }

    #[test]
    fn iou_of_identical_boxes_is_one_and_disjoint_zero() {
        assert!((b(0., 0., 10., 10.).iou(&b(0., 0., 10., 10.)) - 1.0).abs() < 1e-6);
        assert_eq!(b(0., 0., 10., 10.).iou(&b(20., 20., 5., 5.)), 0.0);
        assert!((b(0., 0., 10., 10.).iou(&b(5., 0., 10., 10.)) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_all_disjoint() {
        let items = vec![
            (0.5, b(0., 0., 10., 10.)),
            (0.9, b(1., 1., 10., 10.)),
            (0.7, b(50., 50., 10., 10.)),
        ];
        let kept = non_max_suppression(items, 0.3, |i| *i);
        assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), vec![0.9, 0.7]);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3., 1., 2.]), Some(2.));
        assert_eq!(median(&[4., 1., 2., 3.]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
