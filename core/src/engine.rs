//! The engine: every model loaded once, and `observe`, which turns one frame into
//! what the judgement needs (faces, quality, mesh, pose, expression, anti-spoof).
//! The browser's first pass and the verifier's authoritative pass both call this.

use serde::{Deserialize, Serialize};

use crate::antispoof::AntiSpoof;
use crate::appearance::{appearance, Appearance};
use crate::detector::{DetectedFace, FaceDetector};
use crate::face_match::{FaceDescriptor, FaceRecognizer};
use crate::frame::Frame;
use crate::landmarks::{FaceMesh, FaceMeshResult};
use crate::model::ModelError;
use crate::quality::{assess, face_noise, Quality, QualityLimits};
use crate::tracking::{FaceTrack, MIN_PRESENCE};

/// Model file contents, as listed in `models/manifest.json`.
pub struct ModelBytes<'a> {
    pub yunet: &'a [u8],
    pub face_mesh: &'a [u8],
    pub blendshapes: &'a [u8],
    /// Both anti-spoof models, or neither (the browser may skip them).
    pub anti_spoof: Option<(&'a [u8], &'a [u8])>,
    /// dlib's face descriptor model (server only: face match and consistency).
    pub face_recognition: Option<&'a [u8]>,
}

/// What to run beyond detection and quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObserveOptions {
    pub mesh: bool,
    pub anti_spoof: bool,
    /// The face's identity descriptor (when the engine has the model).
    pub descriptor: bool,
    /// The aligned face patch and the face's and background's colours (`appearance`).
    pub appearance: bool,
}

impl Default for ObserveOptions {
    fn default() -> Self {
        Self {
            mesh: true,
            anti_spoof: true,
            descriptor: true,
            appearance: true,
        }
    }
}

/// One frame through the engine's eyes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub t_ms: u64,
    pub width: u32,
    pub height: u32,
    /// Number of faces the detector found.
    pub faces: usize,
    /// The main (highest-scoring) face.
    pub face: Option<DetectedFace>,
    pub quality: Quality,
    pub mesh: Option<FaceMeshResult>,
    /// Probability the main face is live (0–1), when anti-spoof ran.
    pub live_probability: Option<f32>,
    /// The main face's identity descriptor, when asked for and the model is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<FaceDescriptor>,
    /// The aligned face patch and colours, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<Appearance>,
}

pub struct Engine {
    detector: FaceDetector,
    mesh: FaceMesh,
    anti_spoof: Option<AntiSpoof>,
    recognizer: Option<FaceRecognizer>,
    limits: QualityLimits,
}

impl Engine {
    pub fn from_model_bytes(models: &ModelBytes<'_>) -> Result<Self, ModelError> {
        Ok(Self {
            detector: FaceDetector::from_onnx_bytes(models.yunet)?,
            mesh: FaceMesh::from_onnx_bytes(models.face_mesh, models.blendshapes)?,
            anti_spoof: match models.anti_spoof {
                Some((v2, v1se)) => Some(AntiSpoof::from_onnx_bytes(v2, v1se)?),
                None => None,
            },
            recognizer: models
                .face_recognition
                .map(FaceRecognizer::from_onnx_bytes)
                .transpose()?,
            limits: QualityLimits::default(),
        })
    }

    pub fn has_anti_spoof(&self) -> bool {
        self.anti_spoof.is_some()
    }

    pub fn has_face_recognition(&self) -> bool {
        self.recognizer.is_some()
    }

    /// The identity descriptor of `face` in `frame`; `None` without the model.
    pub fn describe(
        &self,
        frame: &Frame<'_>,
        face: &DetectedFace,
    ) -> Result<Option<FaceDescriptor>, ModelError> {
        self.recognizer
            .as_ref()
            .map(|r| r.descriptor(frame, face))
            .transpose()
    }

    pub fn detect(&self, frame: &Frame<'_>) -> Result<Vec<DetectedFace>, ModelError> {
        self.detector.detect(frame)
    }

    pub fn observe(
        &self,
        frame: &Frame<'_>,
        t_ms: u64,
        options: ObserveOptions,
    ) -> Result<Observation, ModelError> {
        let faces = self.detector.detect(frame)?;
        let mesh = match (faces.first(), options.mesh) {
            (Some(f), true) => Some(self.mesh.run(frame, f)?),
            _ => None,
        };
        self.complete(frame, t_ms, faces, mesh, options)
    }

    /// One frame without the detector: the mesh runs where `track` expects the face
    /// (between detections; see `tracking`). The face box and quality come from this
    /// frame's own mesh; a second face goes unseen until the detector runs again. A lost
    /// face reads as no face. `options.mesh` is implied. `None` when nothing is followed.
    pub fn observe_followed(
        &self,
        frame: &Frame<'_>,
        t_ms: u64,
        track: &FaceTrack,
        options: ObserveOptions,
    ) -> Result<Option<Observation>, ModelError> {
        let (Some(expected), Some(fit)) = (track.next_face(), track.fit()) else {
            return Ok(None);
        };
        let mesh = self.mesh.run(frame, expected)?;
        let face = (mesh.presence >= MIN_PRESENCE)
            .then(|| fit.face(&mesh))
            .flatten();
        let faces: Vec<DetectedFace> = face.into_iter().collect();
        let mesh = faces.first().map(|_| mesh);
        self.complete(frame, t_ms, faces, mesh, options).map(Some)
    }

    /// The rest of an observation once the faces and the main face's mesh are known.
    fn complete(
        &self,
        frame: &Frame<'_>,
        t_ms: u64,
        faces: Vec<DetectedFace>,
        mesh: Option<FaceMeshResult>,
        options: ObserveOptions,
    ) -> Result<Observation, ModelError> {
        let mut quality = assess(frame, &faces, &self.limits);
        let face = faces.first().cloned();
        let live_probability = match (&face, &self.anti_spoof, options.anti_spoof) {
            (Some(f), Some(a), true) => {
                // Read where anti-spoof runs: a failure on noisy frames is the camera's.
                quality.noise = face_noise(frame, f);
                Some(a.live_probability(frame, &f.bbox)?)
            }
            _ => None,
        };
        let descriptor = match (&face, &self.recognizer, options.descriptor) {
            (Some(f), Some(r), true) => Some(r.descriptor(frame, f)?),
            _ => None,
        };
        let appearance = match (&face, options.appearance) {
            (Some(f), true) => appearance(frame, f, mesh.as_ref()),
            _ => None,
        };
        Ok(Observation {
            t_ms,
            width: frame.width(),
            height: frame.height(),
            faces: faces.len(),
            face,
            quality,
            mesh,
            live_probability,
            descriptor,
            appearance,
        })
    }
}
