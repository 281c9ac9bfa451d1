//! Is the capture one continuous take of one live face? A client that sends pictures
//! it chose (stills, a recording cut to fit) has to break at least one of these:
//!
//! - **No repeats.** The same picture sent again (re-encoded, with a little noise or a
//!   pixel of shift) is no new frame: frames whose aligned face patch matches an
//!   earlier one (`appearance`) are set aside before anything is judged, and a capture
//!   made mostly of them fails.
//! - **Physical motion.** Between two frames the face moves, grows and turns no more
//!   than a head can in the time between them.
//! - **No flicker.** A face that changes and comes straight back, frame after frame,
//!   is two pictures alternating, not a face (a blink does it once in a while).
//! - **Frame rate.** Inside each action the frames are no further apart than
//!   `max_gap_ms`: an action is seen happening, not sampled at its ends.
//! - **Alive at rest.** Between the actions the face still moves the way only a live
//!   face does (`live_signs`'s non-rigid motion, over the frames outside any action):
//!   the pictures of a still photo, however re-encoded, stay rigid.
//!
//! Actions themselves must rise through intermediate states (`challenge`'s
//! `min_intermediate`): a jump from rest to peak is no action.
//!
//! Limits measured on the development clips at 10 frames a second (d18, s32, d6, s20,
//! s29): face centres moved at most 1.3 face widths a second, sizes changed by at most
//! 0.74 (log) a second, yaw and pitch by at most 88° and 117° a second; at most 2.4 % of
//! frames flickered (d6, exaggerated grimaces); non-rigid motion at rest over the first
//! two seconds was 1.7–8.0, and 0.35–0.42 for a still picture sent with ±4 to ±10 of
//! noise and up to 3 pixels of shift. Repeated pictures: re-encoding alone reads 0,
//! live frames 100 ms apart read 0.013 or more (1st percentile, d18).

use serde::{Deserialize, Serialize};

use crate::challenge::{ChallengeRules, ChallengeVerdict};
use crate::engine::Observation;
use crate::live_signs::{live_signs, LiveSignLimits};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinuityLimits {
    /// Patch distance under which a frame repeats an earlier picture.
    pub repeat_distance: f32,
    /// Largest share of repeated frames a capture may hold.
    pub max_repeat_share: f32,
    /// Face centre speed, face widths a second, plus `jump_noise` widths of detector jitter.
    pub max_speed: f32,
    pub jump_noise: f32,
    /// Change of the face's log size a second, plus `scale_noise`.
    pub max_scale_rate: f32,
    pub scale_noise: f32,
    /// Yaw and pitch change, degrees a second, plus `turn_noise` degrees.
    pub max_turn_rate: f32,
    pub turn_noise: f32,
    /// A flicker: the face changes by at least this (patch distance) and comes back.
    pub flicker_jump: f32,
    /// Largest share of flickering frames.
    pub max_flicker_share: f32,
    /// Longest gap between frames inside a challenge's window, up to its action's end.
    pub max_gap_ms: u64,
    /// Least non-rigid motion over the frames at rest (active captures).
    pub min_rest_motion: f32,
    /// Least number of frames at rest the measure needs.
    pub min_rest_frames: usize,
}

impl Default for ContinuityLimits {
    fn default() -> Self {
        Self {
            repeat_distance: 0.012,
            max_repeat_share: 1.0 / 3.0,
            max_speed: 3.0,
            jump_noise: 0.15,
            max_scale_rate: 2.0,
            scale_noise: 0.1,
            max_turn_rate: 400.0,
            turn_noise: 10.0,
            flicker_jump: 0.08,
            max_flicker_share: 0.25,
            max_gap_ms: 700,
            min_rest_motion: 1.0,
            min_rest_frames: 5,
        }
    }
}

/// What was found, and the first broken rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Continuity {
    /// Frames set aside as repeats of an earlier picture.
    pub repeated_frames: usize,
    /// The largest frame-to-frame motion as a share of what a head can do (over 1: impossible).
    pub max_motion: f32,
    pub flickers: usize,
    /// The longest gap inside an action's window, ms.
    pub max_gap_ms: u64,
    /// Non-rigid motion over the frames at rest (active captures), and how many there were.
    pub rest_motion: Option<f32>,
    pub rest_frames: usize,
    pub broken: Option<Break>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Break {
    /// Mostly the same picture sent again.
    Repeats,
    /// A face moved further between two frames than a head can.
    Motion,
    /// Pictures alternating.
    Flicker,
    /// Too few frames inside an action.
    FrameRate,
    /// The face never moved like a live face between the actions.
    RigidAtRest,
}

/// Indices of the frames that repeat an earlier picture (compared with the frames kept).
pub fn repeats(observations: &[Observation], limits: &ContinuityLimits) -> Vec<bool> {
    let mut kept: Vec<&crate::appearance::Appearance> = Vec::new();
    observations
        .iter()
        .map(|o| match &o.appearance {
            Some(a) => {
                let repeat = kept.iter().any(|k| k.distance(a) < limits.repeat_distance);
                if !repeat {
                    kept.push(a);
                }
                repeat
            }
            None => false,
        })
        .collect()
}

/// Largest frame-to-frame motion as a share of its physical bound.
fn max_motion(observations: &[Observation], limits: &ContinuityLimits) -> f32 {
    let faces: Vec<&Observation> = observations.iter().filter(|o| o.face.is_some()).collect();
    faces
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (w[0].face.as_ref()?, w[1].face.as_ref()?);
            let dt = w[1].t_ms.saturating_sub(w[0].t_ms) as f32 / 1000.0;
            let width = a.bbox.width.max(b.bbox.width).max(1.0);
            let shift = a.bbox.centre().distance(b.bbox.centre()) / width;
            let scale = (b.bbox.width.max(1.0) / a.bbox.width.max(1.0)).ln().abs();
            let mut share = (shift / (limits.jump_noise + limits.max_speed * dt))
                .max(scale / (limits.scale_noise + limits.max_scale_rate * dt));
            if let (Some(ma), Some(mb)) = (&w[0].mesh, &w[1].mesh) {
                let turn = (mb.pose.yaw - ma.pose.yaw)
                    .abs()
                    .max((mb.pose.pitch - ma.pose.pitch).abs());
                share = share.max(turn / (limits.turn_noise + limits.max_turn_rate * dt));
            }
            Some(share)
        })
        .fold(0.0, f32::max)
}

/// Frames whose face changes by `flicker_jump` or more and is back with the next frame.
fn flickers(observations: &[Observation], limits: &ContinuityLimits) -> usize {
    let patches: Vec<&crate::appearance::Appearance> = observations
        .iter()
        .filter_map(|o| o.appearance.as_ref())
        .collect();
    patches
        .windows(3)
        .filter(|w| {
            let (there, back) = (w[0].distance(w[1]), w[1].distance(w[2]));
            there >= limits.flicker_jump
                && back >= limits.flicker_jump
                && w[0].distance(w[2]) <= 0.5 * there.min(back)
        })
        .count()
}

/// The longest gap between frames from each passed challenge's window opening to its
/// action's end.
fn max_gap(
    observations: &[Observation],
    verdicts: &[ChallengeVerdict],
    opens: &[Option<u64>],
) -> u64 {
    verdicts
        .iter()
        .zip(opens)
        .filter(|(v, _)| v.passed)
        .filter_map(|(v, opens)| {
            let end = observations.get(*v.frames.last()?)?.t_ms;
            let from = opens.unwrap_or(0);
            let times: Vec<u64> = observations
                .iter()
                .map(|o| o.t_ms)
                .filter(|t| (from..=end).contains(t))
                .collect();
            let first = times.first().map(|t| t - from).unwrap_or(end - from);
            Some(times.windows(2).map(|w| w[1] - w[0]).fold(first, u64::max))
        })
        .fold(0, u64::max)
}

/// Checks the frames kept after repeats were set aside. `verdicts` and `opens` (each
/// challenge's window opening) give the actions; with no challenges (passive) the
/// rest-motion rule is left to `live_signs` over the whole capture.
pub fn check(
    kept: &[Observation],
    repeated: usize,
    verdicts: &[ChallengeVerdict],
    opens: &[Option<u64>],
    rules: &ChallengeRules,
    limits: &ContinuityLimits,
) -> Continuity {
    let total = kept.len() + repeated;
    let max_motion = max_motion(kept, limits);
    let flickers = flickers(kept, limits);
    let max_gap_ms = max_gap(kept, verdicts, opens);
    let (rest_motion, rest_frames) = if verdicts.is_empty() {
        (None, 0)
    } else {
        let in_action = |i: usize| {
            verdicts.iter().filter(|v| v.passed).any(|v| {
                matches!((v.frames.first(), v.frames.last()), (Some(&s), Some(&e)) if (s..=e).contains(&i))
            })
        };
        let rest: Vec<Observation> = kept
            .iter()
            .enumerate()
            .filter(|(i, o)| !in_action(*i) && o.mesh.is_some())
            .map(|(_, o)| o.clone())
            .collect();
        let signs = live_signs(&rest, rules, &LiveSignLimits::default());
        (Some(signs.non_rigid_motion), signs.frames)
    };
    let broken = if total > 0 && repeated as f32 > limits.max_repeat_share * total as f32 {
        Some(Break::Repeats)
    } else if max_motion > 1.0 {
        Some(Break::Motion)
    } else if flickers >= 3 && flickers as f32 > limits.max_flicker_share * kept.len() as f32 {
        Some(Break::Flicker)
    } else if max_gap_ms > limits.max_gap_ms {
        Some(Break::FrameRate)
    } else if rest_motion.is_some_and(|m| m < limits.min_rest_motion)
        || (rest_motion.is_some() && rest_frames < limits.min_rest_frames)
    {
        Some(Break::RigidAtRest)
    } else {
        None
    };
    Continuity {
        repeated_frames: repeated,
        max_motion,
        flickers,
        max_gap_ms,
        rest_motion,
        rest_frames,
        broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::{ChallengeKind, Signal, VerdictValues};
    use crate::detector::DetectedFace;
    use crate::geometry::{BoundingBox, Point};
    use crate::quality::Quality;

    fn at(t_ms: u64, x: f32) -> Observation {
        Observation {
            t_ms,
            width: 640,
            height: 480,
            faces: 1,
            face: Some(DetectedFace {
                bbox: BoundingBox {
                    x,
                    y: 100.0,
                    width: 200.0,
                    height: 240.0,
                },
                landmarks: [Point::new(0.0, 0.0); 5],
                score: 0.9,
            }),
            quality: Quality::default(),
            mesh: None,
            live_probability: None,
            descriptor: None,
            appearance: None,
        }
    }

    fn passed(frames: Vec<usize>) -> ChallengeVerdict {
        ChallengeVerdict {
            kind: ChallengeKind::TurnLeft,
            passed: true,
            t_ms: None,
            frames,
            values: VerdictValues {
                signal: Signal::Yaw,
                baseline: None,
                start: None,
                peak: None,
                end: None,
                threshold: 7.0,
            },
        }
    }

    #[test]
    fn a_face_moving_further_than_a_head_can_breaks_the_take() {
        let limits = ContinuityLimits::default();
        let rules = ChallengeRules::default();
        // A third of a face width in 100 ms is a quick head; a whole width is a cut.
        let quick = [at(0, 100.0), at(100, 166.0), at(200, 230.0)];
        let c = check(&quick, 0, &[], &[], &rules, &limits);
        assert_eq!(c.broken, None, "{c:?}");
        assert!(c.max_motion < 1.0);
        let cut = [at(0, 100.0), at(100, 300.0)];
        let c = check(&cut, 0, &[], &[], &rules, &limits);
        assert_eq!(c.broken, Some(Break::Motion), "{c:?}");
        // The same distance over a second and a half is a walk across the frame.
        let slow = [at(0, 100.0), at(1500, 300.0)];
        assert_eq!(check(&slow, 0, &[], &[], &rules, &limits).broken, None);
    }

    #[test]
    fn an_action_seen_through_gaps_over_the_limit_breaks_the_take() {
        let limits = ContinuityLimits {
            // Rest motion needs meshes; these frames have none.
            min_rest_frames: 0,
            min_rest_motion: 0.0,
            ..ContinuityLimits::default()
        };
        let rules = ChallengeRules::default();
        let times = [0, 100, 200, 1000, 1100, 1200, 1300];
        let obs: Vec<Observation> = times.iter().map(|&t| at(t, 100.0)).collect();
        // The action from frame 3 to 5, its window open from 900 ms: no gap over 200 ms.
        let c = check(
            &obs,
            0,
            &[passed(vec![3, 4, 5])],
            &[Some(900)],
            &rules,
            &limits,
        );
        assert_eq!((c.broken, c.max_gap_ms), (None, 100), "{c:?}");
        // The window open from 150 ms: 800 ms between 200 and 1000.
        let c = check(
            &obs,
            0,
            &[passed(vec![3, 4, 5])],
            &[Some(150)],
            &rules,
            &limits,
        );
        assert_eq!(
            (c.broken, c.max_gap_ms),
            (Some(Break::FrameRate), 800),
            "{c:?}"
        );
    }

    #[test]
    fn a_capture_mostly_of_repeats_is_broken_by_them() {
        let limits = ContinuityLimits::default();
        let obs = [at(0, 100.0), at(100, 100.0)];
        let c = check(&obs, 2, &[], &[], &ChallengeRules::default(), &limits);
        assert_eq!(c.broken, Some(Break::Repeats));
        assert_eq!(
            check(&obs, 1, &[], &[], &ChallengeRules::default(), &limits).broken,
            None
        );
    }
}
