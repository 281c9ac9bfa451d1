//! The report behind the `analyze` commands: a file's frames through the engine, with
//! stable field names other tools read (`file`, `frames`, `faces`, `anti_spoof_score`,
//! `live`, `events`).

use serde::{Deserialize, Serialize};

use crate::challenge::{detect_events, ActionEvent, ChallengeRules};
use crate::detector::DetectedFace;
use crate::engine::{Engine, Observation, ObserveOptions};
use crate::landmarks::{idx, Expression, HeadPose};
use crate::liveness::{aggregate_score, DEFAULT_THRESHOLD};
use crate::model::ModelError;
use crate::quality::QualityIssue;
use crate::{FrameError, RgbaImage};

#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    pub is_video: bool,
    /// Frames before this time are the neutral baseline for event detection.
    pub baseline_ms: u64,
    pub threshold: f32,
    pub rules: ChallengeRules,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            is_video: false,
            baseline_ms: 1000,
            threshold: DEFAULT_THRESHOLD,
            rules: ChallengeRules::default(),
        }
    }
}

/// Mesh points a person can check by eye, in frame pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyPoints {
    pub right_eye: [f32; 2],
    pub left_eye: [f32; 2],
    pub nose_tip: [f32; 2],
    pub mouth_centre: [f32; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceSummary {
    pub detection: DetectedFace,
    pub key_points: Option<KeyPoints>,
    pub pose: Option<HeadPose>,
    pub expression: Option<Expression>,
    pub quality: Vec<QualityIssue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    pub file: String,
    pub frames: usize,
    /// Faces in the first (or only) frame.
    pub faces: usize,
    /// 0–100, higher = more live; null when no frame had a face.
    pub anti_spoof_score: Option<f32>,
    pub live: bool,
    /// The first frame's main face.
    pub face: Option<FaceSummary>,
    /// Actions found over the video (videos only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<ActionEvent>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("no frames")]
    Empty,
}

pub fn key_points(o: &Observation) -> Option<KeyPoints> {
    let lm = &o.mesh.as_ref()?.landmarks;
    let mid = |a: usize, b: usize| [(lm[a][0] + lm[b][0]) / 2.0, (lm[a][1] + lm[b][1]) / 2.0];
    Some(KeyPoints {
        right_eye: mid(idx::RIGHT_EYE[0], idx::RIGHT_EYE[1]),
        left_eye: mid(idx::LEFT_EYE[0], idx::LEFT_EYE[1]),
        nose_tip: [lm[idx::NOSE_TIP][0], lm[idx::NOSE_TIP][1]],
        mouth_centre: mid(idx::UPPER_LIP_INNER, idx::LOWER_LIP_INNER),
    })
}

pub fn observe_all(
    engine: &Engine,
    frames: &[(RgbaImage, u64)],
) -> Result<Vec<Observation>, AnalyzeError> {
    frames
        .iter()
        .map(|(img, t)| Ok(engine.observe(&img.frame()?, *t, ObserveOptions::default())?))
        .collect()
}

pub fn analyze_frames(
    engine: &Engine,
    frames: &[(RgbaImage, u64)],
    opts: &AnalyzeOptions,
) -> Result<AnalysisReport, AnalyzeError> {
    let obs = observe_all(engine, frames)?;
    let first = obs.first().ok_or(AnalyzeError::Empty)?;
    let probs: Vec<f32> = obs.iter().filter_map(|o| o.live_probability).collect();
    let score = aggregate_score(&probs);
    Ok(AnalysisReport {
        file: String::new(),
        frames: obs.len(),
        faces: first.faces,
        anti_spoof_score: score,
        live: score.is_some_and(|s| s >= opts.threshold),
        face: first.face.clone().map(|detection| FaceSummary {
            detection,
            key_points: key_points(first),
            pose: first.mesh.as_ref().map(|m| m.pose),
            expression: first.mesh.as_ref().map(|m| m.expression),
            quality: first.quality.issues.clone(),
        }),
        events: opts
            .is_video
            .then(|| detect_events(&obs, opts.baseline_ms, &opts.rules)),
    })
}

/// Reads a file for the `analyze` commands: an image, an MJPEG video or a folder of
/// frames (videos played at `fps`). Returns the frames with their capture times, and
/// whether the input is a video.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_media(
    path: &std::path::Path,
    fps: f64,
) -> Result<(Vec<(RgbaImage, u64)>, bool), String> {
    let at = |i: usize| (i as f64 * 1000.0 / fps).round() as u64;
    if path.is_dir() {
        let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(path)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        let frames = names
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
                crate::decode::decode(&bytes)
                    .map(|img| (img, at(i)))
                    .map_err(|e| format!("{}: {e}", p.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((frames, true));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let parts = crate::decode::split_mjpeg(&bytes);
    if parts.len() > 1 {
        let frames = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                crate::decode::decode(p)
                    .map(|img| (img, at(i)))
                    .map_err(|e| format!("frame {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((frames, true));
    }
    crate::decode::decode(&bytes)
        .map(|img| (vec![(img, 0)], false))
        .map_err(|e| e.to_string())
}
