//! livecheck-core: the sans-IO liveness engine shared by the browser SDK and the verifier.
//!
//! Frames in (`Frame`: RGBA pixels and a capture time), values out (`Observation`,
//! `ChallengeVerdict`, liveness scores). No files, clocks, network or JS: time, keys and
//! nonces are arguments, models are bytes. Builds natively and for wasm32.
//!
//! Mirroring convention, stated once: core always sees the camera's own, unmirrored
//! pixels. "Left" and "right" are the subject's own: in an unmirrored image the
//! subject's left is on the image's right. A mirrored preview is a display matter only.

pub mod analysis;
pub mod antispoof;
pub mod appearance;
pub mod challenge;
pub mod consistency;
pub mod continuity;
pub mod decision;
pub mod decode;
pub mod detector;
pub mod engine;
pub mod face_match;
pub mod frame;
pub mod geometry;
pub mod landmarks;
pub mod light;
pub mod live_signs;
pub mod liveness;
pub mod manifest;
pub mod model;
pub mod model_planes;
mod onnx;
pub mod protocol;
pub mod quality;
pub mod timeline;
pub mod tracking;

pub use challenge::{ChallengeKind, ChallengeVerdict};
pub use engine::{Engine, ModelBytes, Observation, ObserveOptions};
pub use frame::{Frame, FrameError, RgbaImage};
pub use model::ModelError;
