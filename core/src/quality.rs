//! Frame quality: is there exactly one usable face, framed, lit and sharp enough for
//! the models to be trusted. Each failure has a stable name the SDK turns into guidance.

use serde::{Deserialize, Serialize};

use crate::detector::DetectedFace;
use crate::frame::Frame;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityIssue {
    NoFace,
    MultipleFaces,
    FaceTooSmall,
    FaceTooLarge,
    OffCentre,
    PartlyOutOfFrame,
    TooDark,
    TooBright,
    Blurred,
    /// No colour in the face: a monochrome (infrared) camera or a grey-scale picture.
    Greyscale,
}

impl QualityIssue {
    pub fn code(self) -> &'static str {
        match self {
            Self::NoFace => "no_face",
            Self::MultipleFaces => "multiple_faces",
            Self::FaceTooSmall => "face_too_small",
            Self::FaceTooLarge => "face_too_large",
            Self::OffCentre => "off_centre",
            Self::PartlyOutOfFrame => "partly_out_of_frame",
            Self::TooDark => "too_dark",
            Self::TooBright => "too_bright",
            Self::Blurred => "blurred",
            Self::Greyscale => "greyscale",
        }
    }
}

/// Limits, as fractions of the frame or 0–255 luma.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityLimits {
    /// Face box height over frame height.
    pub min_face_fraction: f32,
    pub max_face_fraction: f32,
    /// Largest distance of the face centre from the frame centre, over the frame side.
    pub max_centre_offset: f32,
    /// Share of the face box that may lie outside the frame.
    pub max_outside: f32,
    pub min_luma: f32,
    pub max_luma: f32,
    /// Smallest mean absolute Laplacian of the face, sampled at 96×96.
    pub min_sharpness: f32,
    /// A second face counts only when its box is at least this share of the main one's.
    pub second_face_ratio: f32,
    /// Smallest face box height in pixels, whatever the frame's size.
    pub min_face_pixels: f32,
    /// Smallest mean colour difference (|R−G| + |G−B|, 0–510) over the face.
    pub min_chroma: f32,
}

impl Default for QualityLimits {
    fn default() -> Self {
        Self {
            min_face_fraction: 0.2,
            max_face_fraction: 0.95,
            max_centre_offset: 0.25,
            max_outside: 0.1,
            min_luma: 45.0,
            max_luma: 215.0,
            min_sharpness: 1.5,
            second_face_ratio: 0.25,
            min_face_pixels: 64.0,
            min_chroma: 4.0,
        }
    }
}

/// What was measured, so a verdict can say why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub issues: Vec<QualityIssue>,
    pub face_fraction: f32,
    pub centre_offset: f32,
    pub luma: f32,
    pub sharpness: f32,
    /// Mean |R−G| + |G−B| over the face.
    #[serde(default)]
    pub chroma: f32,
}

impl Quality {
    pub fn ok(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Assesses a frame given the detector's faces (best first).
pub fn assess(frame: &Frame<'_>, faces: &[DetectedFace], limits: &QualityLimits) -> Quality {
    let Some(face) = faces.first() else {
        return Quality {
            issues: vec![QualityIssue::NoFace],
            ..Quality::default()
        };
    };
    let mut issues = Vec::new();
    let main_area = face.bbox.area();
    if faces[1..]
        .iter()
        .any(|f| f.bbox.area() >= main_area * limits.second_face_ratio)
    {
        issues.push(QualityIssue::MultipleFaces);
    }
    let (fw, fh) = (frame.width() as f32, frame.height() as f32);
    let b = face.bbox;
    let face_fraction = b.height / fh;
    if face_fraction < limits.min_face_fraction || b.height < limits.min_face_pixels {
        issues.push(QualityIssue::FaceTooSmall);
    } else if face_fraction > limits.max_face_fraction {
        issues.push(QualityIssue::FaceTooLarge);
    }
    let c = b.centre();
    let centre_offset = ((c.x - fw / 2.0) / fw)
        .abs()
        .max(((c.y - fh / 2.0) / fh).abs());
    let inside_w = (b.x + b.width).min(fw) - b.x.max(0.0);
    let inside_h = (b.y + b.height).min(fh) - b.y.max(0.0);
    let outside = 1.0 - (inside_w.max(0.0) * inside_h.max(0.0)) / main_area.max(1.0);
    if outside > limits.max_outside {
        issues.push(QualityIssue::PartlyOutOfFrame);
    } else if centre_offset > limits.max_centre_offset {
        issues.push(QualityIssue::OffCentre);
    }
    let (luma, sharpness, chroma) = face_luma_and_sharpness(frame, face);
    if luma < limits.min_luma {
        issues.push(QualityIssue::TooDark);
    } else if luma > limits.max_luma {
        issues.push(QualityIssue::TooBright);
    }
    if sharpness < limits.min_sharpness {
        issues.push(QualityIssue::Blurred);
    }
    if chroma < limits.min_chroma {
        issues.push(QualityIssue::Greyscale);
    }
    Quality {
        issues,
        face_fraction,
        centre_offset,
        luma,
        sharpness,
        chroma,
    }
}

/// Mean luma of the face box and the mean absolute 4-neighbour Laplacian of the face
/// resampled to a fixed 96×96 grid (so the figure does not depend on resolution).
fn face_luma_and_sharpness(frame: &Frame<'_>, face: &DetectedFace) -> (f32, f32, f32) {
    const N: usize = 96;
    let b = face.bbox;
    let mut grid = vec![0f32; N * N];
    let mut colour = 0.0;
    crate::frame::sample_rect(
        frame,
        (b.x, b.y, b.x + b.width, b.y + b.height),
        (N, N),
        |u, v, [r, g, bl]| {
            grid[v * N + u] = 0.299 * r + 0.587 * g + 0.114 * bl;
            colour += (r - g).abs() + (g - bl).abs();
        },
    );
    let chroma = colour / (N * N) as f32;
    let luma = grid.iter().sum::<f32>() / grid.len() as f32;
    let mut acc = 0.0;
    for y in 1..N - 1 {
        for x in 1..N - 1 {
            let c = grid[y * N + x];
            let lap = grid[y * N + x - 1]
                + grid[y * N + x + 1]
                + grid[(y - 1) * N + x]
                + grid[(y + 1) * N + x]
                - 4.0 * c;
            acc += lap.abs();
        }
    }
    (luma, acc / ((N - 2) * (N - 2)) as f32, chroma)
}
