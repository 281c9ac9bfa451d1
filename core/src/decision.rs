//! The capture decision: the verifier's authoritative answer from the frames it
//! received (the SDK may compute the same as a preview, with no authority).
//!
//! Frames that repeat an earlier picture are set aside first (`continuity`). Passed
//! only when the capture had enough frames with one face (a second face in more than a
//! fifth of the frames fails it), that face is the same throughout, the anti-spoof
//! score reaches the threshold, the capture is one continuous take (`continuity`), the
//! face took on the light sequence's colours when it had one (`light`), and every
//! challenge passed in order inside its window. A passive capture (no challenges) must
//! instead show signs of a live face over time (`live_signs`); an empty script never
//! passes by default. The first rule broken names the failure.

use serde::{Deserialize, Serialize};

use crate::challenge::{
    judge_still, judge_windows, ChallengeKind, ChallengeRules, ChallengeVerdict, ChallengeWindow,
    StillRules,
};
use crate::consistency::{check, Consistency, ConsistencyLimits};
use crate::continuity::{self, Break, Continuity, ContinuityLimits};
use crate::engine::Observation;
use crate::light::{evaluate, LightLimits, LightResult};
use crate::live_signs::{live_signs, LiveSignLimits, LiveSigns};
use crate::liveness::aggregate_score;
use crate::quality::{QualityIssue, QualityLimits};
use crate::timeline::Shown;

/// Stable failure codes, in the order they are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    NoFrames,
    FaceNotFound,
    MultipleFaces,
    FaceMismatch,
    SpoofDetected,
    /// Mostly the same picture sent again.
    RepeatedFrames,
    /// Not one continuous take: impossible motion, pictures alternating, too few
    /// frames inside an action, or a face rigid between the actions.
    CaptureDiscontinuous,
    /// The face did not take on the light sequence's colours in time.
    LightNotReflected,
    ChallengeFailed,
    /// Passive: the face never moved the way a live face does.
    NoLiveMotion,
    /// The anti-spoof models could not judge the face: most frames they ran on were
    /// grey-scale, showed the face too small or were grainy with a dim camera's noise.
    /// Not an attack: the user can act (a colour camera, closer, more light).
    UnsuitableCapture,
}

impl FailureReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::NoFrames => "no_frames",
            Self::FaceNotFound => "face_not_found",
            Self::MultipleFaces => "multiple_faces",
            Self::FaceMismatch => "face_mismatch",
            Self::SpoofDetected => "spoof_detected",
            Self::RepeatedFrames => "repeated_frames",
            Self::CaptureDiscontinuous => "capture_discontinuous",
            Self::LightNotReflected => "light_not_reflected",
            Self::ChallengeFailed => "challenge_failed",
            Self::NoLiveMotion => "no_live_motion",
            Self::UnsuitableCapture => "unsuitable_capture",
        }
    }

    pub const ALL: [FailureReason; 11] = [
        Self::NoFrames,
        Self::FaceNotFound,
        Self::MultipleFaces,
        Self::FaceMismatch,
        Self::SpoofDetected,
        Self::RepeatedFrames,
        Self::CaptureDiscontinuous,
        Self::LightNotReflected,
        Self::ChallengeFailed,
        Self::NoLiveMotion,
        Self::UnsuitableCapture,
    ];

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the user can put it right: the capture missed something they can do
    /// differently (an action, a face in view alone, a colour camera, closer). These
    /// may be retried and told to the user. The rest are what an attack looks like
    /// (a picture, a replay, a cut, a swapped face): final, and never explained.
    pub fn user_can_act(self) -> bool {
        matches!(
            self,
            Self::NoFrames
                | Self::FaceNotFound
                | Self::MultipleFaces
                | Self::ChallengeFailed
                | Self::UnsuitableCapture
        )
    }
}

/// Least number of single-face frames a capture needs.
pub const MIN_FACE_FRAMES: usize = 3;

/// Why anti-spoof did not pass: the pictures it ran on were unfit to judge (most of
/// them grey-scale, the face too small in pixels, or grainy with a dim camera's noise:
/// the models read sensor noise as a print's or a screen's texture), or they looked like
/// an attack.
fn spoof_failure<'a>(judged: impl Iterator<Item = &'a Observation>) -> FailureReason {
    let limits = QualityLimits::default();
    let (mut unfit, mut all) = (0, 0);
    for o in judged.filter(|o| o.live_probability.is_some()) {
        all += 1;
        let issues = &o.quality.issues;
        let tiny = o
            .face
            .as_ref()
            .is_some_and(|f| f.bbox.height < limits.min_face_pixels);
        let noisy = o.quality.noise >= limits.noisy_face;
        if issues.contains(&QualityIssue::Greyscale) || tiny || noisy {
            unfit += 1;
        }
    }
    if all > 0 && unfit * 2 > all {
        FailureReason::UnsuitableCapture
    } else {
        FailureReason::SpoofDetected
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub passed: bool,
    /// 0–100: the anti-spoof score, scaled by the share of challenges passed.
    pub confidence: f32,
    pub anti_spoof_score: Option<f32>,
    pub threshold: f32,
    /// Frame indices are into the observations given.
    pub challenges: Vec<ChallengeVerdict>,
    pub consistency: Consistency,
    pub continuity: Continuity,
    /// Passive captures only: what the frames showed of a live face.
    pub live_signs: Option<LiveSigns>,
    /// Captures with a light sequence only.
    pub light: Option<LightResult>,
    pub failure_reason: Option<FailureReason>,
    pub frames: usize,
    pub face_frames: usize,
}

/// The light sequence as the timeline showed it.
#[derive(Clone, Copy, Debug)]
pub struct LightInput<'a> {
    pub shown: &'a [Shown],
    /// When the light went off (capture time).
    pub off_ms: u64,
}

pub struct DecisionInput<'a> {
    pub observations: &'a [Observation],
    /// Each challenge's window, in order (`timeline::CaptureLog::windows`).
    pub windows: &'a [ChallengeWindow],
    /// Frames before this are the neutral baseline.
    pub baseline_ms: u64,
    /// Anti-spoof pass mark, 0–100.
    pub threshold: f32,
    pub rules: ChallengeRules,
    pub consistency: ConsistencyLimits,
    pub continuity: ContinuityLimits,
    pub light: Option<LightInput<'a>>,
    pub light_limits: LightLimits,
}

pub fn decide(input: &DecisionInput<'_>) -> Decision {
    let repeat = continuity::repeats(input.observations, &input.continuity);
    let kept_at: Vec<usize> = (0..input.observations.len())
        .filter(|&i| !repeat[i])
        .collect();
    let obs: Vec<Observation> = kept_at
        .iter()
        .map(|&i| input.observations[i].clone())
        .collect();
    let repeated = input.observations.len() - obs.len();
    // Faces and anti-spoof over every frame (a repeat still shows what it shows); the
    // judgement over the frames kept.
    let all = input.observations;
    let multi = all
        .iter()
        .filter(|o| o.quality.issues.contains(&QualityIssue::MultipleFaces))
        .count();
    let single: Vec<&Observation> = all
        .iter()
        .filter(|o| o.face.is_some() && !o.quality.issues.contains(&QualityIssue::MultipleFaces))
        .collect();
    let probs: Vec<f32> = single.iter().filter_map(|o| o.live_probability).collect();
    let anti_spoof_score = aggregate_score(&probs);
    let mut challenges = judge_windows(&obs, input.windows, input.baseline_ms, &input.rules);
    let consistency = check(&obs, &input.consistency);
    let opens: Vec<Option<u64>> = input.windows.iter().map(|w| w.opens_ms).collect();
    let continuity = continuity::check(
        &obs,
        repeated,
        &challenges,
        &opens,
        &input.rules,
        &input.continuity,
    );
    let live_signs = input.windows.is_empty().then(|| {
        let faces: Vec<Observation> = obs
            .iter()
            .filter(|o| {
                o.face.is_some() && !o.quality.issues.contains(&QualityIssue::MultipleFaces)
            })
            .cloned()
            .collect();
        live_signs(&faces, &input.rules, &LiveSignLimits::default())
    });
    let light = input
        .light
        .map(|l| evaluate(&obs, l.shown, l.off_ms, &input.light_limits));
    let passed_share = if challenges.is_empty() {
        1.0
    } else {
        challenges.iter().filter(|c| c.passed).count() as f32 / challenges.len() as f32
    };
    let failure_reason = if input.observations.is_empty() {
        Some(FailureReason::NoFrames)
    } else if multi * 5 > all.len() {
        Some(FailureReason::MultipleFaces)
    } else if single.len() < MIN_FACE_FRAMES {
        Some(FailureReason::FaceNotFound)
    } else if !consistency.consistent {
        Some(FailureReason::FaceMismatch)
    } else if anti_spoof_score.is_none_or(|s| s < input.threshold) {
        Some(spoof_failure(single.iter().copied()))
    } else if continuity.broken == Some(Break::Repeats) {
        Some(FailureReason::RepeatedFrames)
    } else if continuity.broken.is_some() {
        Some(FailureReason::CaptureDiscontinuous)
    } else if light.as_ref().is_some_and(|l| !l.passed) {
        Some(FailureReason::LightNotReflected)
    } else if challenges.iter().any(|c| !c.passed) {
        Some(FailureReason::ChallengeFailed)
    } else if live_signs.as_ref().is_some_and(|s| !s.present) {
        Some(FailureReason::NoLiveMotion)
    } else {
        None
    };
    // Report frames as the caller numbered them.
    for c in &mut challenges {
        for f in &mut c.frames {
            *f = kept_at[*f];
        }
    }
    Decision {
        passed: failure_reason.is_none(),
        confidence: anti_spoof_score.unwrap_or(0.0) * passed_share,
        anti_spoof_score,
        threshold: input.threshold,
        challenges,
        consistency,
        continuity,
        live_signs,
        light,
        failure_reason,
        frames: input.observations.len(),
        face_frames: single.len(),
    }
}

/// One photo per challenge, as an API that takes single photos sends them: each photo
/// judged alone for its challenge by `StillRules` (there is no baseline or motion),
/// every photo showing exactly one face, one person throughout (face descriptors: the
/// photos are taken apart, so position and shape continuity do not apply), and the
/// anti-spoof score over all photos reaching the threshold.
pub struct StillsInput<'a> {
    pub photos: &'a [(ChallengeKind, Observation)],
    /// Anti-spoof pass mark, 0–100.
    pub threshold: f32,
    pub rules: StillRules,
    pub consistency: ConsistencyLimits,
}

pub fn decide_stills(input: &StillsInput<'_>) -> Decision {
    let obs: Vec<Observation> = input.photos.iter().map(|(_, o)| o.clone()).collect();
    let multi = obs
        .iter()
        .any(|o| o.quality.issues.contains(&QualityIssue::MultipleFaces));
    let faceless = obs.iter().any(|o| o.face.is_none());
    let probs: Vec<f32> = obs.iter().filter_map(|o| o.live_probability).collect();
    let anti_spoof_score = aggregate_score(&probs);
    let challenges: Vec<ChallengeVerdict> = input
        .photos
        .iter()
        .enumerate()
        .map(|(i, (kind, o))| {
            let mut v = judge_still(o, *kind, &input.rules);
            v.frames = v.frames.iter().map(|_| i).collect();
            v
        })
        .collect();
    let limits = ConsistencyLimits {
        max_shape_distance: f32::INFINITY,
        max_jump: f32::INFINITY,
        ..input.consistency
    };
    let consistency = check(&obs, &limits);
    let passed_share = if challenges.is_empty() {
        0.0
    } else {
        challenges.iter().filter(|c| c.passed).count() as f32 / challenges.len() as f32
    };
    let failure_reason = if obs.is_empty() {
        Some(FailureReason::NoFrames)
    } else if multi {
        Some(FailureReason::MultipleFaces)
    } else if faceless {
        Some(FailureReason::FaceNotFound)
    } else if !consistency.consistent {
        Some(FailureReason::FaceMismatch)
    } else if anti_spoof_score.is_none_or(|s| s < input.threshold) {
        Some(spoof_failure(obs.iter()))
    } else if challenges.iter().any(|c| !c.passed) {
        Some(FailureReason::ChallengeFailed)
    } else {
        None
    };
    Decision {
        passed: failure_reason.is_none(),
        confidence: anti_spoof_score.unwrap_or(0.0) * passed_share,
        anti_spoof_score,
        threshold: input.threshold,
        challenges,
        consistency,
        // Photos taken apart: no take to be continuous.
        continuity: Continuity::default(),
        live_signs: None,
        light: None,
        failure_reason,
        frames: obs.len(),
        face_frames: obs.iter().filter(|o| o.face.is_some()).count(),
    }
}
