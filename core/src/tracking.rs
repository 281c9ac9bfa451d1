//! Following a face from frame to frame on its mesh, without the detector: the
//! browser's first pass runs the detector on some frames only (MediaPipe's own scheme:
//! the last frame's landmarks place the next frame's region of interest).
//!
//! The mesh region is built from a detector box, so a followed face needs a box like the
//! detector's. `BoxFit` learns, on a frame where both ran, where the detector's box sits
//! relative to the mesh's extent, and places that box on later meshes. `Follower` adds
//! the rules that call the detector back. The verifier does not follow: it detects on
//! every frame it judges (following there changed measured values enough to move
//! decisions; see the README's performance section).

use crate::detector::DetectedFace;
use crate::geometry::{BoundingBox, Point};
use crate::landmarks::{idx, FaceMeshResult};
use crate::Observation;

/// Mesh face-presence below which the face is lost (MediaPipe's own threshold).
pub const MIN_PRESENCE: f32 = 0.5;
/// Outer mouth corners in the mesh: the subject's right, then left.
const MOUTH_CORNERS: [usize; 2] = [61, 291];

/// The detector's box relative to the mesh's extent: centre offset and size, in units
/// of the extent's longer side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxFit {
    dx: f32,
    dy: f32,
    width: f32,
    height: f32,
}

/// Centre and longer side of the landmarks' axis-aligned extent.
fn extent(landmarks: &[[f32; 3]]) -> Option<(Point, f32)> {
    let mut lo = [f32::INFINITY; 2];
    let mut hi = [f32::NEG_INFINITY; 2];
    for p in landmarks {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let side = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    (side.is_finite() && side > 1.0).then(|| {
        (
            Point::new((lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0),
            side,
        )
    })
}

impl BoxFit {
    /// Learns the fit from a detector box and the mesh run on it.
    pub fn learn(bbox: &BoundingBox, mesh: &FaceMeshResult) -> Option<Self> {
        let (c, side) = extent(&mesh.landmarks)?;
        let b = bbox.centre();
        Some(Self {
            dx: (b.x - c.x) / side,
            dy: (b.y - c.y) / side,
            width: bbox.width / side,
            height: bbox.height / side,
        })
    }

    /// The face as the detector would report it, placed on `mesh`.
    pub fn face(&self, mesh: &FaceMeshResult) -> Option<DetectedFace> {
        let (c, side) = extent(&mesh.landmarks)?;
        let (w, h) = (self.width * side, self.height * side);
        let centre = Point::new(c.x + self.dx * side, c.y + self.dy * side);
        let lm = &mesh.landmarks;
        let at = |i: usize| Point::new(lm[i][0], lm[i][1]);
        let mid = |[a, b, ..]: [usize; 4]| {
            Point::new((lm[a][0] + lm[b][0]) / 2.0, (lm[a][1] + lm[b][1]) / 2.0)
        };
        Some(DetectedFace {
            bbox: BoundingBox {
                x: centre.x - w / 2.0,
                y: centre.y - h / 2.0,
                width: w,
                height: h,
            },
            landmarks: [
                mid(idx::RIGHT_EYE),
                mid(idx::LEFT_EYE),
                at(idx::NOSE_TIP),
                at(MOUTH_CORNERS[0]),
                at(MOUTH_CORNERS[1]),
            ],
            score: mesh.presence,
        })
    }
}

/// A face being followed: what the next frame's mesh should run on.
#[derive(Clone, Debug, Default)]
pub struct FaceTrack {
    fit: Option<BoxFit>,
    next: Option<DetectedFace>,
}

impl FaceTrack {
    /// Takes in the observation of the latest frame, detected or followed.
    pub fn update(&mut self, obs: &Observation, detected: bool) {
        let mesh = obs
            .mesh
            .as_ref()
            .filter(|m| m.presence >= MIN_PRESENCE && obs.faces >= 1);
        if let (true, Some(face), Some(mesh)) = (detected, &obs.face, mesh) {
            self.fit = BoxFit::learn(&face.bbox, mesh).or(self.fit);
        }
        self.next = match (mesh, self.fit) {
            (Some(mesh), Some(fit)) => fit.face(mesh),
            _ => None,
        };
    }

    /// The face region for the next frame, while the face is followed.
    pub fn next_face(&self) -> Option<&DetectedFace> {
        self.next.as_ref()
    }

    pub fn fit(&self) -> Option<BoxFit> {
        self.fit
    }
}

/// How far a followed face may stray from where it was expected before the detector
/// checks the frame: its centre by this share of the expected box's width, its size by
/// this (log) ratio. A head moves about a tenth of its width between frames at 10 fps
/// (1.3 widths a second at most on the development clips); a cut or a swapped picture
/// moves further.
const MAX_FOLLOWED_SHIFT: f32 = 0.25;
const MAX_FOLLOWED_SCALE: f32 = 0.2;

/// The face followed on its mesh between the frames the caller has the detector run on,
/// with the detector called back wherever following is not safe:
///
/// - when nothing is followed: no detection yet, the last one found no face, or it
///   found more than one (a second face is then counted on every frame for as long as
///   the detector sees it),
/// - on the same frame, when the followed face is lost or strays further than a head
///   moves between two frames (a cut, a swapped picture).
///
/// A second face that comes into view is seen at the caller's next detection.
#[derive(Clone, Debug, Default)]
pub struct Follower {
    track: FaceTrack,
}

impl Follower {
    /// One frame's observation, detected when `detect` (or when following is not safe),
    /// and whether the detector ran on it.
    pub fn observe(
        &mut self,
        engine: &crate::Engine,
        frame: &crate::Frame<'_>,
        t_ms: u64,
        options: crate::ObserveOptions,
        detect: bool,
    ) -> Result<(Observation, bool), crate::ModelError> {
        let followed = match (detect, self.track.next_face().cloned()) {
            (false, Some(expected)) => engine
                .observe_followed(frame, t_ms, &self.track, options)?
                .filter(|o| o.face.as_ref().is_some_and(|f| stays_near(&expected, f))),
            _ => None,
        };
        let detected = followed.is_none();
        let obs = match followed {
            Some(obs) => obs,
            None => engine.observe(frame, t_ms, options)?,
        };
        if detected && obs.faces > 1 {
            // Only one face is followed: with more in view, every frame is detected.
            self.track = FaceTrack::default();
        } else {
            self.track.update(&obs, detected);
        }
        Ok((obs, detected))
    }
}

/// The followed face is where the last frame's mesh placed it, give or take a head's
/// motion between two frames.
fn stays_near(expected: &DetectedFace, got: &DetectedFace) -> bool {
    let (a, b) = (expected.bbox.centre(), got.bbox.centre());
    let width = expected.bbox.width.max(1.0);
    let shift = (a.x - b.x).hypot(a.y - b.y) / width;
    let scale = (got.bbox.width.max(1.0) / width).ln().abs();
    shift <= MAX_FOLLOWED_SHIFT && scale <= MAX_FOLLOWED_SCALE
}
