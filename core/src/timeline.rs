//! The capture on the verifier's clock. The client says when it captured each frame
//! (`t_ms`, from its own start just after the claim); the verifier keeps its own time
//! since the claim and holds the two together, so a capture cannot be uploaded faster
//! than it was captured, nor long after.
//!
//! What the client must react to is handed out only as it happens, in the answers to
//! its frame uploads: each challenge when the client asks for it (a frame tagged with
//! its index) and no earlier than the neutral baseline allows, each colour of the light
//! sequence when its time comes on the verifier's clock. Nothing can be recorded or
//! rendered for them in advance. The log of when each was revealed is what the
//! decision judges the frames against: a challenge counts only inside its window, which
//! opens at its reveal and closes soon after the next one's (or `window_ms` after its
//! own).
//!
//! Honest clocks: the client's clock starts when the claim's answer arrives, so its
//! times run a little behind the verifier's (one network trip), and each frame arrives
//! one upload later than it was taken. `ClockLimits` bounds both.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::challenge::{ChallengeKind, ChallengeWindow};

/// How far a frame's capture time may stray from the verifier's clock, and how
/// windows sit around the reveals. All in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockLimits {
    /// A frame may claim at most this much more time than has passed since the claim
    /// (timer granularity: an honest client's clock starts after the claim's answer,
    /// so it runs behind, never ahead).
    pub max_ahead_ms: u64,
    /// A frame must arrive within this of its capture time (uploads queue behind each
    /// other on a slow network; the SDK drops frames older than half of this).
    pub max_lag_ms: u64,
    /// Least gap between two frames' capture times (a 60 fps camera's).
    pub min_gap_ms: u64,
    /// A challenge's window opens this long before its reveal: the client's clock runs
    /// up to one network trip behind, so the frames it takes as the prompt appears are
    /// stamped a little before the reveal.
    pub open_slack_ms: u64,
    /// A window closes this long after the next challenge's reveal: the client asks
    /// for the next one as it sees the action done, while the face is still returning.
    pub close_overlap_ms: u64,
}

impl Default for ClockLimits {
    fn default() -> Self {
        Self {
            max_ahead_ms: 250,
            max_lag_ms: 3000,
            min_gap_ms: 15,
            open_slack_ms: 300,
            close_overlap_ms: 1000,
        }
    }
}

/// A colour of the light sequence, sRGB.
pub type Rgb = [u8; 3];

/// The colours the light challenge paints: bright, of different hues, none of them a
/// saturated red (WCAG 2.3.1 counts a red share of 0.8 or more as saturated red).
pub const LIGHT_PALETTE: [Rgb; 6] = [
    [30, 60, 255],   // blue
    [30, 230, 90],   // green
    [255, 230, 40],  // yellow
    [190, 60, 255],  // violet
    [30, 220, 255],  // cyan
    [255, 255, 255], // white
];
/// Steps of a light sequence.
pub const LIGHT_STEPS: usize = 5;
/// Shortest and longest step: at most two colour changes a second (WCAG 2.3.1 allows
/// three flashes), long enough for a camera to settle on each.
pub const LIGHT_STEP_MS: (u64, u64) = (600, 900);
/// The sequence starts this long into the capture (the camera's exposure settles first).
pub const LIGHT_START_MS: u64 = 500;

/// One colour shown for `ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightStep {
    pub colour: Rgb,
    pub ms: u64,
}

/// The light challenge's sequence, secret until each step is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightPlan {
    pub start_ms: u64,
    pub steps: Vec<LightStep>,
}

impl LightPlan {
    /// A sequence drawn from `seed` (the verifier's random bytes): `LIGHT_STEPS`
    /// distinct colours of the palette in random order, each for a random time in
    /// `LIGHT_STEP_MS`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let mut palette: Vec<Rgb> = LIGHT_PALETTE.to_vec();
        let mut steps = Vec::with_capacity(LIGHT_STEPS);
        let span = LIGHT_STEP_MS.1 - LIGHT_STEP_MS.0 + 1;
        for i in 0..LIGHT_STEPS {
            let pick = seed[2 * i] as usize % palette.len();
            let colour = palette.swap_remove(pick);
            let ms = LIGHT_STEP_MS.0 + (seed[2 * i + 1] as u64 * span) / 256;
            steps.push(LightStep { colour, ms });
        }
        Self {
            start_ms: LIGHT_START_MS,
            steps,
        }
    }

    pub fn total_ms(&self) -> u64 {
        self.steps.iter().map(|s| s.ms).sum()
    }
}

/// What the verifier plans for one capture when it is claimed. Only the counts and
/// lengths reach the client at the claim; kinds and colours follow one at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturePlan {
    pub challenges: Vec<ChallengeKind>,
    /// Time the user has for each challenge.
    pub window_ms: u64,
    /// The neutral span: no challenge is revealed before it has passed (and before the
    /// light sequence is over).
    pub baseline_ms: u64,
    pub light: Option<LightPlan>,
}

impl CapturePlan {
    /// The capture time the plan allows, ms: the baseline and every challenge's window.
    pub fn capture_ms(&self) -> u64 {
        self.baseline_ms + self.window_ms * self.challenges.len() as u64
    }
}

/// When a light step was shown, and its colour (for the decision).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    pub at_ms: u64,
    pub colour: Rgb,
}

/// One accepted frame's two clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameClock {
    /// The client's capture time.
    pub t_ms: u64,
    /// The verifier's time since the claim when the frame arrived.
    pub received_ms: u64,
}

/// What the verifier has revealed, and when, on its own clock (ms since the claim).
/// Persisted with the check; changed only by `admit`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureLog {
    /// When each challenge was revealed, in order.
    pub revealed_ms: Vec<u64>,
    /// When each light step was shown.
    pub light_shown_ms: Vec<u64>,
    /// When the light sequence ended.
    pub light_off_ms: Option<u64>,
    /// The user declined the light sequence (photosensitivity); the result says so.
    #[serde(default)]
    pub light_opted_out: bool,
    /// Every accepted frame, in order.
    pub frames: Vec<FrameClock>,
    /// The highest challenge index a frame carried.
    pub index: Option<u16>,
}

/// A challenge as revealed to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revealed {
    pub index: u16,
    #[serde(rename = "type")]
    pub kind: ChallengeKind,
    /// The verifier's time of the reveal, ms since the claim.
    pub revealed_ms: u64,
    pub window_ms: u64,
}

/// The answer to each frame: what the client should be showing now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cue {
    /// The latest challenge revealed (the one to prompt), if any.
    pub challenge: Option<Revealed>,
    /// Paint this colour around the preview now; `None`: no colour.
    pub light: Option<Rgb>,
    /// No light step is still to come (also when the capture has no light sequence).
    pub light_done: bool,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TimingError {
    #[error("the frame claims {t_ms} ms but only {clock_ms} ms have passed since the claim")]
    Ahead { t_ms: u64, clock_ms: u64 },
    #[error("the frame taken at {t_ms} ms arrived at {clock_ms} ms, more than {max_ms} ms later")]
    Late {
        t_ms: u64,
        clock_ms: u64,
        max_ms: u64,
    },
    #[error("the frame comes {gap_ms} ms after the previous one (at least {min_ms} ms)")]
    TooClose { gap_ms: u64, min_ms: u64 },
    #[error("challenge {asked} asked for, but only up to {next} may come next")]
    ChallengeSkipped { asked: u16, next: u16 },
    #[error("challenge index {asked} is before the {current} already in progress")]
    ChallengeBack { asked: u16, current: u16 },
}

impl TimingError {
    /// Stable snake_case code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ahead { .. } => "frame_ahead_of_clock",
            Self::Late { .. } => "frame_too_late",
            Self::TooClose { .. } => "frame_rate_exceeded",
            Self::ChallengeSkipped { .. } | Self::ChallengeBack { .. } => "invalid_envelope",
        }
    }
}

impl CaptureLog {
    /// One frame, taken at `t_ms` by the client and arriving `clock_ms` after the claim
    /// on the verifier's clock, tagged with the challenge the client is on (or asks for
    /// next). Checks the clocks, reveals what is due, records the frame and answers
    /// with the cue; a refused frame changes nothing.
    pub fn admit(
        &mut self,
        plan: &CapturePlan,
        limits: &ClockLimits,
        t_ms: u64,
        clock_ms: u64,
        index: Option<u16>,
    ) -> Result<Cue, TimingError> {
        if t_ms > clock_ms + limits.max_ahead_ms {
            return Err(TimingError::Ahead { t_ms, clock_ms });
        }
        if clock_ms.saturating_sub(t_ms) > limits.max_lag_ms {
            return Err(TimingError::Late {
                t_ms,
                clock_ms,
                max_ms: limits.max_lag_ms,
            });
        }
        if let Some(prev) = self.frames.last() {
            let gap = t_ms.saturating_sub(prev.t_ms);
            if gap < limits.min_gap_ms {
                return Err(TimingError::TooClose {
                    gap_ms: gap,
                    min_ms: limits.min_gap_ms,
                });
            }
        }
        if let Some(asked) = index {
            if let Some(current) = self.index.filter(|c| asked < *c) {
                return Err(TimingError::ChallengeBack { asked, current });
            }
            let next = self.revealed_ms.len() as u16;
            if asked > next || asked as usize >= plan.challenges.len() {
                return Err(TimingError::ChallengeSkipped {
                    asked,
                    next: next.min(plan.challenges.len().saturating_sub(1) as u16),
                });
            }
        }

        self.frames.push(FrameClock {
            t_ms,
            received_ms: clock_ms,
        });
        self.index = index.max(self.index);
        self.advance_light(plan, clock_ms);
        if let Some(asked) = index {
            let next = self.revealed_ms.len();
            if asked as usize == next && self.may_reveal(plan, next, clock_ms) {
                self.revealed_ms.push(clock_ms);
            }
        }
        Ok(self.cue(plan))
    }

    /// Skips the light sequence (the user declined it before the capture started).
    pub fn opt_out_of_light(&mut self) {
        self.light_opted_out = true;
    }

    fn light<'a>(&self, plan: &'a CapturePlan) -> Option<&'a LightPlan> {
        plan.light.as_ref().filter(|_| !self.light_opted_out)
    }

    /// Shows every light step whose time has come (at most one per frame: the client
    /// paints what the answer says, so each step is shown to it once).
    fn advance_light(&mut self, plan: &CapturePlan, clock_ms: u64) {
        let Some(light) = self.light(plan) else {
            return;
        };
        if self.light_off_ms.is_some() {
            return;
        }
        let shown = self.light_shown_ms.len();
        let due = match (shown, self.light_shown_ms.last()) {
            (0, _) => light.start_ms,
            (n, Some(&at)) => at + light.steps[n - 1].ms,
            (_, None) => return,
        };
        if clock_ms < due {
            return;
        }
        if shown < light.steps.len() {
            self.light_shown_ms.push(clock_ms);
        } else {
            self.light_off_ms = Some(clock_ms);
        }
    }

    fn light_done(&self, plan: &CapturePlan) -> bool {
        self.light(plan).is_none() || self.light_off_ms.is_some()
    }

    /// Challenge `i` may be revealed once the previous one was and, for the first, once
    /// the neutral baseline has passed and the light sequence is over.
    fn may_reveal(&self, plan: &CapturePlan, i: usize, clock_ms: u64) -> bool {
        i < plan.challenges.len()
            && (i > 0 || (clock_ms >= plan.baseline_ms && self.light_done(plan)))
    }

    /// What the client should show now.
    pub fn cue(&self, plan: &CapturePlan) -> Cue {
        let challenge = self.revealed_ms.len().checked_sub(1).map(|i| Revealed {
            index: i as u16,
            kind: plan.challenges[i],
            revealed_ms: self.revealed_ms[i],
            window_ms: plan.window_ms,
        });
        let light = self.light(plan).and_then(|l| {
            let i = self.light_shown_ms.len().checked_sub(1)?;
            self.light_off_ms.is_none().then(|| l.steps[i].colour)
        });
        Cue {
            challenge,
            light,
            light_done: self.light_done(plan),
        }
    }

    /// The challenges' windows in the client's capture time, for the decision. A
    /// challenge never revealed has none (and cannot pass).
    pub fn windows(&self, plan: &CapturePlan, limits: &ClockLimits) -> Vec<ChallengeWindow> {
        plan.challenges
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let Some(&at) = self.revealed_ms.get(i) else {
                    return ChallengeWindow {
                        kind,
                        opens_ms: None,
                        closes_ms: 0,
                    };
                };
                let own_end = at + plan.window_ms;
                let closes_ms = match self.revealed_ms.get(i + 1) {
                    Some(&next) => own_end.min(next + limits.close_overlap_ms),
                    None => own_end,
                };
                ChallengeWindow {
                    kind,
                    opens_ms: Some(at.saturating_sub(limits.open_slack_ms)),
                    closes_ms,
                }
            })
            .collect()
    }

    /// The end of the neutral baseline in capture time: where the first window opens,
    /// or the plan's baseline when there is no challenge.
    pub fn baseline_end_ms(&self, plan: &CapturePlan, limits: &ClockLimits) -> u64 {
        match self.revealed_ms.first() {
            Some(&at) => at.saturating_sub(limits.open_slack_ms),
            None => plan.baseline_ms,
        }
    }

    /// The light steps as shown, and when the light went off (for the decision);
    /// `None` when the capture had no light sequence or the user opted out.
    pub fn light_shown(&self, plan: &CapturePlan) -> Option<(Vec<Shown>, Option<u64>)> {
        let light = self.light(plan)?;
        let shown = self
            .light_shown_ms
            .iter()
            .zip(&light.steps)
            .map(|(&at_ms, s)| Shown {
                at_ms,
                colour: s.colour,
            })
            .collect();
        Some((shown, self.light_off_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChallengeKind::*;

    fn plan(light: bool) -> CapturePlan {
        CapturePlan {
            challenges: vec![Blink, Smile],
            window_ms: 5000,
            baseline_ms: 1000,
            light: light.then(|| LightPlan::from_seed(&[7; 32])),
        }
    }

    const L: ClockLimits = ClockLimits {
        max_ahead_ms: 250,
        max_lag_ms: 3000,
        min_gap_ms: 15,
        open_slack_ms: 300,
        close_overlap_ms: 1000,
    };

    #[test]
    fn a_frame_ahead_of_the_clock_or_long_late_is_refused_and_changes_nothing() {
        let p = plan(false);
        let mut log = CaptureLog::default();
        log.admit(&p, &L, 0, 40, None).unwrap();
        let before = log.clone();
        assert_eq!(
            log.admit(&p, &L, 5500, 44, None),
            Err(TimingError::Ahead {
                t_ms: 5500,
                clock_ms: 44
            })
        );
        assert_eq!(
            log.admit(&p, &L, 100, 3200, None).unwrap_err().code(),
            "frame_too_late"
        );
        assert_eq!(
            log.admit(&p, &L, 5, 300, None).unwrap_err().code(),
            "frame_rate_exceeded"
        );
        assert_eq!(log, before);
        // Within the allowances: a little ahead (timer granularity), a little late.
        log.admit(&p, &L, 300, 100, None).unwrap();
        log.admit(&p, &L, 400, 2900, None).unwrap();
    }

    #[test]
    fn a_burst_of_frames_is_refused_at_the_first_that_claims_more_than_has_passed() {
        let p = plan(false);
        let mut log = CaptureLog::default();
        // 66 frames claiming 6.6 s, sent 5 ms apart.
        let refused = (0..66u64)
            .map(|i| log.admit(&p, &L, i * 100, 40 + i * 5, None))
            .position(|r| r.is_err());
        assert_eq!(refused, Some(4), "t = 400 ms arrives at 60 ms");
    }

    #[test]
    fn challenges_are_revealed_one_at_a_time_and_not_before_the_baseline() {
        let p = plan(false);
        let mut log = CaptureLog::default();
        let cue = log.admit(&p, &L, 0, 50, None).unwrap();
        assert_eq!(cue.challenge, None);
        assert!(cue.light_done);
        // Asking too early: nothing revealed yet.
        let cue = log.admit(&p, &L, 800, 850, Some(0)).unwrap();
        assert_eq!(cue.challenge, None);
        let cue = log.admit(&p, &L, 1000, 1040, Some(0)).unwrap();
        let first = cue.challenge.unwrap();
        assert_eq!(
            (first.index, first.kind, first.revealed_ms),
            (0, Blink, 1040)
        );
        // Skipping ahead is refused; asking for the next reveals it.
        assert_eq!(
            log.admit(&p, &L, 1100, 1150, Some(2)).unwrap_err().code(),
            "invalid_envelope"
        );
        let cue = log.admit(&p, &L, 2500, 2530, Some(1)).unwrap();
        assert_eq!(cue.challenge.unwrap().kind, Smile);
        assert_eq!(
            log.admit(&p, &L, 2600, 2630, Some(0)).unwrap_err().code(),
            "invalid_envelope"
        );
        let w = log.windows(&p, &L);
        assert_eq!(w[0].opens_ms, Some(740));
        assert_eq!(
            w[0].closes_ms, 3530,
            "closes a second after the next reveal"
        );
        assert_eq!((w[1].opens_ms, w[1].closes_ms), (Some(2230), 7530));
        assert_eq!(log.baseline_end_ms(&p, &L), 740);
    }

    #[test]
    fn a_challenge_never_asked_for_has_no_window() {
        let p = plan(false);
        let mut log = CaptureLog::default();
        log.admit(&p, &L, 1000, 1040, Some(0)).unwrap();
        let w = log.windows(&p, &L);
        assert!(w[0].opens_ms.is_some());
        assert_eq!(w[1].opens_ms, None);
    }

    #[test]
    fn light_steps_are_shown_as_their_time_comes_and_hold_back_the_first_challenge() {
        let p = plan(true);
        let light = p.light.clone().unwrap();
        let mut log = CaptureLog::default();
        let mut shown = Vec::new();
        let mut t = 0;
        let mut first_reveal = None;
        while t < 10_000 && first_reveal.is_none() {
            let index = (t >= p.baseline_ms).then_some(0);
            let cue = log.admit(&p, &L, t, t + 30, index).unwrap();
            if let Some(c) = cue.light {
                if shown.last() != Some(&c) {
                    shown.push(c);
                }
            }
            if let Some(r) = cue.challenge {
                first_reveal = Some(r.revealed_ms);
                assert!(cue.light_done);
            }
            t += 100;
        }
        let colours: Vec<Rgb> = light.steps.iter().map(|s| s.colour).collect();
        assert_eq!(shown, colours);
        let (steps, off) = log.light_shown(&p).unwrap();
        assert_eq!(steps.len(), LIGHT_STEPS);
        for (w, s) in steps.windows(2).zip(&light.steps) {
            let held = w[1].at_ms - w[0].at_ms;
            assert!(held >= s.ms && held < s.ms + 100, "{held} for {}", s.ms);
        }
        let off = off.unwrap();
        assert!(first_reveal.unwrap() >= off);
        assert!(off >= light.start_ms + light.total_ms());
    }

    #[test]
    fn opting_out_of_the_light_skips_it() {
        let p = plan(true);
        let mut log = CaptureLog::default();
        log.opt_out_of_light();
        let cue = log.admit(&p, &L, 600, 630, None).unwrap();
        assert_eq!(cue.light, None);
        assert!(cue.light_done);
        assert_eq!(log.light_shown(&p), None);
    }

    #[test]
    fn light_plans_use_distinct_colours_within_the_step_limits() {
        for s in 0..=255u8 {
            let seed: [u8; 32] = std::array::from_fn(|i| {
                s.wrapping_mul(31).wrapping_add((i as u8).wrapping_mul(17))
            });
            let plan = LightPlan::from_seed(&seed);
            let mut colours: Vec<Rgb> = plan.steps.iter().map(|s| s.colour).collect();
            colours.sort();
            colours.dedup();
            assert_eq!(colours.len(), LIGHT_STEPS);
            for step in &plan.steps {
                assert!((LIGHT_STEP_MS.0..=LIGHT_STEP_MS.1).contains(&step.ms));
                let [r, g, b] = step.colour.map(f32::from);
                assert!(r / (r + g + b) < 0.8, "no saturated red");
            }
        }
    }
}
