//! Challenge judgement over a time-ordered sequence of observations.
//!
//! Each challenge reads one signal (eye closure, smile, jaw opening, yaw or pitch) and
//! passes when the signal makes an *excursion*: it starts from rest (no further into the
//! action than half the threshold above the user's own neutral baseline), rises by at
//! least the threshold to a peak that is the highest point of the excursion, and falls
//! back by at least `return_fraction` of the rise, all inside the challenge's window.
//! Challenges are searched in script order, each from the previous one's peak on (that
//! frame may be where the next one starts, never its peak) and none inside the baseline
//! (before the first prompt), so the order is enforced by the frames themselves and not
//! by client tags.
//! A still photo makes no excursion; an affine warp of one moves no 3-D pose; stills
//! swapped for each other jump from rest to peak with nothing in between.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::Observation;
use crate::geometry::median;
use crate::quality::QualityIssue;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChallengeKind {
    Blink,
    TurnLeft,
    TurnRight,
    LookUp,
    Smile,
    OpenMouth,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown challenge {0:?}; expected one of BLINK, TURN_LEFT, TURN_RIGHT, LOOK_UP, SMILE, OPEN_MOUTH")]
pub struct UnknownChallenge(pub String);

impl ChallengeKind {
    pub const ALL: [ChallengeKind; 6] = [
        Self::Blink,
        Self::TurnLeft,
        Self::TurnRight,
        Self::LookUp,
        Self::Smile,
        Self::OpenMouth,
    ];

    pub fn parse(s: &str) -> Result<Self, UnknownChallenge> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownChallenge(s.to_string()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blink => "BLINK",
            Self::TurnLeft => "TURN_LEFT",
            Self::TurnRight => "TURN_RIGHT",
            Self::LookUp => "LOOK_UP",
            Self::Smile => "SMILE",
            Self::OpenMouth => "OPEN_MOUTH",
        }
    }

    /// How far into this action one frame is: the challenge's signal, signed so that
    /// the action raises it. `None` when the frame has no usable mesh.
    pub fn action_value(self, o: &Observation) -> Option<f32> {
        let (signal, dir) = self.signal();
        signal.read(o).map(|v| v * dir)
    }

    /// The signal this challenge reads, and +1 when the action raises it, −1 when it lowers it.
    fn signal(self) -> (Signal, f32) {
        match self {
            Self::Blink => (Signal::EyeClosure, 1.0),
            Self::Smile => (Signal::Smile, 1.0),
            Self::OpenMouth => (Signal::JawOpen, 1.0),
            // Positive yaw is a turn toward the subject's own left (see landmarks::HeadPose).
            Self::TurnLeft => (Signal::Yaw, 1.0),
            Self::TurnRight => (Signal::Yaw, -1.0),
            Self::LookUp => (Signal::Pitch, 1.0),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    EyeClosure,
    Smile,
    JawOpen,
    Yaw,
    Pitch,
}

impl Signal {
    fn read(self, o: &Observation) -> Option<f32> {
        let m = o.mesh.as_ref()?;
        if o.quality.issues.contains(&QualityIssue::MultipleFaces) || m.presence < 0.5 {
            return None;
        }
        Some(match self {
            Self::EyeClosure => m.expression.eye_closure,
            Self::Smile => m.expression.smile,
            Self::JawOpen => m.expression.jaw_open,
            Self::Yaw => m.pose.yaw,
            Self::Pitch => m.pose.pitch,
        })
    }
}

/// Thresholds: rises in blendshape units (0–1) or degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChallengeRules {
    pub blink_rise: f32,
    pub smile_rise: f32,
    pub open_mouth_rise: f32,
    pub turn_degrees: f32,
    pub look_up_degrees: f32,
    /// Share of the rise the signal must fall back by for the action to count as done.
    pub return_fraction: f32,
    /// Longest an excursion may take from rest to return.
    pub max_action_ms: u64,
    /// An action passes through intermediate states: some frame of the rise or the
    /// return lies between this share and `1 − this` of the way from rest to peak. A
    /// jump straight from rest to peak and back is two pictures, not an action (at 10
    /// frames a second even a blink's return was seen at 13–32 % on d18).
    #[serde(default = "default_min_intermediate")]
    pub min_intermediate: f32,
}

fn default_min_intermediate() -> f32 {
    0.1
}

impl Default for ChallengeRules {
    fn default() -> Self {
        Self {
            blink_rise: 0.2,
            smile_rise: 0.25,
            open_mouth_rise: 0.2,
            turn_degrees: 7.0,
            look_up_degrees: 7.0,
            return_fraction: 0.3,
            max_action_ms: 4000,
            min_intermediate: default_min_intermediate(),
        }
    }
}

impl ChallengeRules {
    /// These rules with every rise and angle multiplied by `factor` (timing unchanged).
    pub fn scaled(self, factor: f32) -> Self {
        Self {
            blink_rise: self.blink_rise * factor,
            smile_rise: self.smile_rise * factor,
            open_mouth_rise: self.open_mouth_rise * factor,
            turn_degrees: self.turn_degrees * factor,
            look_up_degrees: self.look_up_degrees * factor,
            ..self
        }
    }

    fn threshold(&self, kind: ChallengeKind) -> f32 {
        match kind {
            ChallengeKind::Blink => self.blink_rise,
            ChallengeKind::Smile => self.smile_rise,
            ChallengeKind::OpenMouth => self.open_mouth_rise,
            ChallengeKind::TurnLeft | ChallengeKind::TurnRight => self.turn_degrees,
            ChallengeKind::LookUp => self.look_up_degrees,
        }
    }
}

/// The measured values behind a verdict (signal units, in the signal's own sign).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictValues {
    pub signal: Signal,
    pub baseline: Option<f32>,
    pub start: Option<f32>,
    pub peak: Option<f32>,
    pub end: Option<f32>,
    pub threshold: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChallengeVerdict {
    #[serde(rename = "type")]
    pub kind: ChallengeKind,
    pub passed: bool,
    /// Capture time of the peak.
    pub t_ms: Option<u64>,
    /// Indices into the observations: start, peak and end of the action.
    pub frames: Vec<usize>,
    pub values: VerdictValues,
}

/// A challenge as the script gives it: what, and how long the user has for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedChallenge {
    pub kind: ChallengeKind,
    pub window_ms: u64,
}

/// An action found in free-running video (the `analyze` command's `events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEvent {
    #[serde(rename = "type")]
    pub kind: ChallengeKind,
    pub t_ms: u64,
}

struct Excursion {
    start: usize,
    peak: usize,
    end: usize,
}

/// Samples of one signal, direction applied: (observation index, t_ms, value).
fn samples(
    observations: &[Observation],
    kind: ChallengeKind,
    from_ms: u64,
    to_ms: u64,
) -> Vec<(usize, u64, f32)> {
    observations
        .iter()
        .enumerate()
        .filter(|(_, o)| o.t_ms >= from_ms && o.t_ms <= to_ms)
        .filter_map(|(i, o)| kind.action_value(o).map(|v| (i, o.t_ms, v)))
        .collect()
}

/// The user's neutral value of the challenge's signal over the baseline frames (t < `until_ms`).
fn baseline(observations: &[Observation], kind: ChallengeKind, until_ms: u64) -> Option<f32> {
    let values: Vec<f32> = samples(observations, kind, 0, until_ms.saturating_sub(1))
        .into_iter()
        .map(|s| s.2)
        .collect();
    median(&values)
}

/// The first excursion in `s` (see the module header).
fn first_excursion(
    s: &[(usize, u64, f32)],
    rise: f32,
    rules: &ChallengeRules,
    rest: Option<f32>,
) -> Option<Excursion> {
    for p in 1..s.len() {
        let (_, tp, vp) = s[p];
        // Onset: the latest frame before the peak that is still a full rise below it,
        // with no higher point in between, then down to where that rise began.
        let mut start = None;
        for k in (0..p).rev() {
            if tp - s[k].1 > rules.max_action_ms || s[k].2 > vp {
                break;
            }
            if vp - s[k].2 >= rise {
                start = Some(k);
                break;
            }
        }
        let Some(mut st) = start else { continue };
        // Walk down to the foot of the rise.
        while st > 0 && s[st - 1].2 <= s[st].2 && tp - s[st - 1].1 <= rules.max_action_ms {
            st -= 1;
        }
        let vs = s[st].2;
        // From near the user's neutral, and the peak clearly beyond that neutral too:
        // a dip below it and a swing back (a photo's eye measure wobbling as the print
        // moves) is no action.
        if rest.is_some_and(|r| vs > r + rise / 2.0 || vp < r + rise / 2.0) {
            continue;
        }
        for (e, &(_, te, ve)) in s.iter().enumerate().skip(p + 1) {
            if te - s[st].1 > rules.max_action_ms || ve > vp {
                break;
            }
            if vp - ve >= rules.return_fraction * (vp - vs) {
                let (lo, hi) = (rules.min_intermediate, 1.0 - rules.min_intermediate);
                let between = s[st + 1..=e].iter().enumerate().any(|(k, v)| {
                    let share = (v.2 - vs) / (vp - vs);
                    k + st + 1 != p && share >= lo && share <= hi
                });
                if !between {
                    break;
                }
                return Some(Excursion {
                    start: st,
                    peak: p,
                    end: e,
                });
            }
        }
    }
    None
}

/// Absolute criteria for one photo judged alone for a challenge (an API that sends a
/// single photo per challenge has no baseline or motion to compare): the pose or
/// expression itself must be unmistakable. Values in blendshape units (0–1) or degrees.
/// Resting faces measured here: eye closure 0.04–0.44 (the upper end a downcast gaze),
/// smile ≤ 0.001 unless smiling (0.41–0.94), jaw open 0.02–0.36 (0.91 wide open),
/// yaw within ±20 (a frontal photo read 19), pitch −14 to −1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StillRules {
    pub eyes_closed: f32,
    pub smile: f32,
    pub jaw_open: f32,
    pub turn_degrees: f32,
    pub look_up_degrees: f32,
}

impl Default for StillRules {
    fn default() -> Self {
        Self {
            eyes_closed: 0.55,
            smile: 0.35,
            jaw_open: 0.6,
            turn_degrees: 25.0,
            look_up_degrees: 10.0,
        }
    }
}

impl StillRules {
    fn threshold(&self, kind: ChallengeKind) -> f32 {
        match kind {
            ChallengeKind::Blink => self.eyes_closed,
            ChallengeKind::Smile => self.smile,
            ChallengeKind::OpenMouth => self.jaw_open,
            ChallengeKind::TurnLeft | ChallengeKind::TurnRight => self.turn_degrees,
            ChallengeKind::LookUp => self.look_up_degrees,
        }
    }
}

/// One photo judged for `kind` by `StillRules`: passed when the signal, in the
/// challenge's direction, reaches the threshold (`peak` holds the value read).
pub fn judge_still(o: &Observation, kind: ChallengeKind, rules: &StillRules) -> ChallengeVerdict {
    let (signal, dir) = kind.signal();
    let value = signal.read(o);
    let threshold = rules.threshold(kind);
    ChallengeVerdict {
        kind,
        passed: value.is_some_and(|v| v * dir >= threshold),
        t_ms: value.map(|_| o.t_ms),
        frames: if value.is_some() { vec![0] } else { Vec::new() },
        values: VerdictValues {
            signal,
            baseline: None,
            start: None,
            peak: value,
            end: None,
            threshold: threshold * dir,
        },
    }
}

/// Judges a script in order. `baseline_ms`: frames before it are the neutral baseline.
/// Each challenge's window opens at the previous one's peak (or the baseline's end) and
/// lasts its `window_ms` (the SDK's own preview of the verifier's judgement).
pub fn judge_script(
    observations: &[Observation],
    script: &[TimedChallenge],
    baseline_ms: u64,
    rules: &ChallengeRules,
) -> Vec<ChallengeVerdict> {
    judge_in_order(
        observations,
        script.len(),
        baseline_ms,
        rules,
        |i, cursor| {
            let start = cursor.max(baseline_ms);
            (
                script[i].kind,
                Some((start, start.saturating_add(script[i].window_ms))),
            )
        },
    )
}

/// A challenge's window in capture time, as the verifier revealed it (`timeline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeWindow {
    pub kind: ChallengeKind,
    /// `None`: never revealed, so it cannot pass.
    pub opens_ms: Option<u64>,
    pub closes_ms: u64,
}

impl ChallengeWindow {
    /// Open from `opens_ms` to `closes_ms`.
    pub fn new(kind: ChallengeKind, opens_ms: u64, closes_ms: u64) -> Self {
        Self {
            kind,
            opens_ms: Some(opens_ms),
            closes_ms,
        }
    }
}

/// Judges challenges in order, each inside its own window (and from the previous one's
/// peak on). `baseline_ms`: frames before it are the neutral baseline.
pub fn judge_windows(
    observations: &[Observation],
    windows: &[ChallengeWindow],
    baseline_ms: u64,
    rules: &ChallengeRules,
) -> Vec<ChallengeVerdict> {
    judge_in_order(
        observations,
        windows.len(),
        baseline_ms,
        rules,
        |i, cursor| {
            let w = windows[i];
            (
                w.kind,
                w.opens_ms
                    .map(|opens| (opens.max(cursor).max(baseline_ms), w.closes_ms)),
            )
        },
    )
}

/// The shared loop: `window(i, cursor)` gives challenge `i`'s kind and its window
/// (`cursor`: the previous challenge's peak time, 0 at first).
fn judge_in_order(
    observations: &[Observation],
    count: usize,
    baseline_ms: u64,
    rules: &ChallengeRules,
    window: impl Fn(usize, u64) -> (ChallengeKind, Option<(u64, u64)>),
) -> Vec<ChallengeVerdict> {
    let mut cursor = 0u64;
    let mut verdicts = Vec::with_capacity(count);
    let mut failed = false;
    for i in 0..count {
        let (kind, span) = window(i, cursor);
        let rise = rules.threshold(kind);
        let (signal, dir) = kind.signal();
        let base = baseline(observations, kind, baseline_ms);
        // An action counts only after it was asked for: never inside the baseline.
        let s = match span {
            Some((from, to)) if from <= to => samples(observations, kind, from, to),
            _ => Vec::new(),
        };
        let found = if failed {
            None
        } else {
            first_excursion(&s, rise, rules, base)
        };
        let unsign = |v: f32| v * dir;
        let verdict = match found {
            Some(x) => {
                // The next action may begin at this one's peak (left, then straight on
                // to the right: the right turn rises from the left extreme), so it is
                // searched from that frame on.
                cursor = s[x.peak].1;
                ChallengeVerdict {
                    kind,
                    passed: true,
                    t_ms: Some(s[x.peak].1),
                    frames: vec![s[x.start].0, s[x.peak].0, s[x.end].0],
                    values: VerdictValues {
                        signal,
                        baseline: base.map(unsign),
                        start: Some(unsign(s[x.start].2)),
                        peak: Some(unsign(s[x.peak].2)),
                        end: Some(unsign(s[x.end].2)),
                        threshold: rise,
                    },
                }
            }
            None => {
                // Later challenges cannot pass once one in the order has failed.
                failed = true;
                let best = s
                    .iter()
                    .map(|v| v.2)
                    .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v))));
                ChallengeVerdict {
                    kind,
                    passed: false,
                    t_ms: None,
                    frames: vec![],
                    values: VerdictValues {
                        signal,
                        baseline: base.map(unsign),
                        start: None,
                        peak: best.map(unsign),
                        end: None,
                        threshold: rise,
                    },
                }
            }
        };
        verdicts.push(verdict);
    }
    verdicts
}

/// Every action in free-running video, each kind searched independently, in time order.
pub fn detect_events(
    observations: &[Observation],
    baseline_ms: u64,
    rules: &ChallengeRules,
) -> Vec<ActionEvent> {
    let mut events = Vec::new();
    for kind in ChallengeKind::ALL {
        let base = baseline(observations, kind, baseline_ms);
        let all = samples(observations, kind, 0, u64::MAX);
        let mut from = 0;
        while from < all.len() {
            let Some(x) = first_excursion(&all[from..], rules.threshold(kind), rules, base) else {
                break;
            };
            events.push(ActionEvent {
                kind,
                t_ms: all[from + x.peak].1,
            });
            from += x.end;
        }
    }
    events.sort_by_key(|e| e.t_ms);
    events
}
