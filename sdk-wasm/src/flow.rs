//! The capture flow, free of the browser: which prompt to show, which frames to send
//! and when the capture is over, decided frame by frame from core's observations and
//! the verifier's answers.
//!
//! Two phases. *Positioning* runs before the link is claimed (so a user who never
//! gets a face in view does not use the link up): it waits for a few good frames in a
//! row. *Capture* follows what the verifier reveals (`timeline`): the neutral
//! baseline (with the light challenge's colours, when it runs), then each challenge as
//! the verifier reveals it. The flow asks for the next challenge by tagging frames
//! with its index once the baseline is over, and again once it has seen the current
//! one done, judged with core's own `judge_windows` in the windows the verifier will
//! use (the verifier's rule with a margin, `SEEN_MARGIN`, run here only to know when to
//! move on, on the pixels of the frames the verifier receives as JPEG); then a short
//! tail so the last action's return is on record.
//!
//! Frames sent: every analysed frame of the capture, at most one per
//! `MIN_FRAME_GAP_MS`, up to the script's limit. Excursions are judged from their
//! shape (rest, peak, return), so the frames around each peak matter as much as the
//! peak itself. A frame that goes further into the prompted action than any before it
//! is sent even inside the gap: the verifier then measures the peak the user reached,
//! not a neighbour of it, which matters most for an action that only just clears its
//! threshold.

use std::collections::HashSet;

use livecheck_core::challenge::{judge_windows, ChallengeRules, ChallengeWindow};
use livecheck_core::protocol::ChallengeScript;
use livecheck_core::quality::{face_noise, QualityIssue, QualityLimits};
use livecheck_core::timeline::{ClockLimits, Cue, Revealed};
use livecheck_core::{Frame, Observation};

use crate::guidance::Guidance;

/// Good frames in a row that end positioning.
pub const POSITIONED_FRAMES: usize = 3;
/// Frames a grainy face holds positioning with "find more light" before the capture
/// goes ahead anyway (one to two seconds at the camera's rate): the noise of a dim
/// camera sinks the verifier's anti-spoof models, but it is advice, not a gate.
pub const NOISY_HOLD_FRAMES: usize = 40;
/// Capture kept going after the last challenge is seen, ms.
pub const TAIL_MS: u64 = 500;
/// Smallest gap between two frames sent, ms.
pub const MIN_FRAME_GAP_MS: u64 = 60;
/// The flow moves on from a challenge only when the action clears the verifier's
/// thresholds by this factor. The two read the same action a little differently (here
/// the raw pixels with the face followed on its mesh, there the uploaded JPEG with the
/// detector on every frame), so an action that only just clears here may not clear
/// there; asking on until it is clear costs the user a moment, not a failed check.
pub const SEEN_MARGIN: f32 = 1.15;
/// During capture the detector runs on one analysed frame in this many; in between,
/// the face is followed on its mesh (core's `tracking`), which costs the mesh alone. A
/// second face is then noticed here within this many frames; the verifier, which
/// follows the same way but detects again wherever following could hide something, is
/// the one that decides.
pub const DETECT_EVERY: usize = 3;
/// No new picture from the camera for this long: it is frozen (paused, hung, or a still
/// image fed as a camera), and the user is told so instead of "we can't see a face".
pub const FROZEN_MS: f64 = 2000.0;
/// Frozen this long before the capture started: the check ends with `camera_frozen`
/// (waiting longer changes nothing until the user acts; the link stays unused).
pub const FROZEN_GIVE_UP_MS: f64 = 6000.0;

/// Watches whether the camera's picture still changes. A live camera's sensor noise
/// makes every frame differ; the same pixels again mean no new picture.
#[derive(Debug, Default)]
pub struct FreezeWatch {
    last_new: Option<f64>,
}

impl FreezeWatch {
    /// A picture different from the last one arrived at `now_ms`.
    pub fn changed(&mut self, now_ms: f64) {
        self.last_new = Some(now_ms);
    }

    /// How long the picture has not changed, once a first picture came.
    pub fn still_for(&self, now_ms: f64) -> f64 {
        self.last_new.map_or(0.0, |t| (now_ms - t).max(0.0))
    }

    pub fn frozen(&self, now_ms: f64) -> bool {
        self.still_for(now_ms) >= FROZEN_MS
    }

    pub fn given_up(&self, now_ms: f64) -> bool {
        self.still_for(now_ms) >= FROZEN_GIVE_UP_MS
    }
}

/// Reads one positioning frame: `Some(guidance)` to show, and whether it was good.
pub fn positioning_guidance(obs: &Observation) -> (Guidance, bool) {
    match obs.quality.issues.first() {
        Some(&issue) => (Guidance::for_issue(issue), false),
        None => (Guidance::LookStraight, true),
    }
}

/// A positioning frame's observation with its face's pixel noise measured (core's first
/// pass reads it only where anti-spoof runs).
pub fn with_noise(mut obs: Observation, frame: &Frame<'_>) -> Observation {
    if let Some(face) = &obs.face {
        obs.quality.noise = face_noise(frame, face);
    }
    obs
}

/// Counts good positioning frames in a row, and grainy ones held back.
#[derive(Debug, Default)]
pub struct Positioning {
    streak: usize,
    noisy: usize,
}

impl Positioning {
    /// Returns the guidance for this frame and whether the user is now in position.
    /// `obs` comes through `with_noise`.
    pub fn step(&mut self, obs: &Observation) -> (Guidance, bool) {
        let (g, good) = positioning_guidance(obs);
        let grainy = obs.quality.noise >= QualityLimits::default().noisy_face;
        if good && grainy && self.noisy < NOISY_HOLD_FRAMES {
            self.noisy += 1;
            self.streak = 0;
            return (Guidance::TooDark, false);
        }
        self.streak = if good { self.streak + 1 } else { 0 };
        (g, self.streak >= POSITIONED_FRAMES)
    }
}

/// Why the capture ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Every challenge was seen here (the verifier decides again).
    AllSeen,
    /// The window of challenge `i` passed without it being seen.
    WindowMissed(usize),
    /// The script's frame limit was reached.
    FrameLimit,
}

/// What to do with one capture frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub guidance: Guidance,
    /// Send this frame, tagged with the challenge being prompted or asked for
    /// (`None`: baseline).
    pub send: Option<Option<u16>>,
    /// Challenges seen so far.
    pub seen: usize,
    pub end: Option<End>,
}

pub struct Capture {
    script: ChallengeScript,
    rules: ChallengeRules,
    clock: ClockLimits,
    observations: Vec<Observation>,
    /// Challenges the verifier revealed, in order.
    revealed: Vec<Revealed>,
    /// No light step is still to come.
    light_done: bool,
    seen: usize,
    sent: u32,
    last_sent_ms: Option<u64>,
    /// The furthest into the prompted action a frame has gone (`action_value`).
    furthest: Option<f32>,
    /// The sha256 of every picture sent.
    pictures: HashSet<[u8; 32]>,
    tail_until: Option<u64>,
}

impl Capture {
    pub fn new(script: ChallengeScript) -> Self {
        Self {
            light_done: !script.light,
            script,
            rules: ChallengeRules::default().scaled(SEEN_MARGIN),
            clock: ClockLimits::default(),
            observations: Vec::new(),
            revealed: Vec::new(),
            seen: 0,
            sent: 0,
            last_sent_ms: None,
            furthest: None,
            pictures: HashSet::new(),
            tail_until: None,
        }
    }

    /// The flow for the check's next attempt: its own script, but every picture already
    /// sent is remembered, as the verifier remembers them (a looping camera would
    /// otherwise send a picture of the refused attempt again, and be refused).
    pub fn next_attempt(self, script: ChallengeScript) -> Self {
        Self {
            pictures: self.pictures,
            ..Self::new(script)
        }
    }

    pub fn script(&self) -> &ChallengeScript {
        &self.script
    }

    pub fn total(&self) -> usize {
        self.script.challenge_count as usize
    }

    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The verifier's answer to a frame: a challenge it revealed, and whether the light
    /// sequence is over. (Answers may come late or out of turn; only news counts.)
    pub fn cue(&mut self, cue: &Cue) {
        if let Some(c) = cue.challenge {
            if c.index as usize == self.revealed.len() && self.revealed.len() < self.total() {
                self.revealed.push(c);
            }
        }
        self.light_done |= cue.light_done;
    }

    /// The challenge to prompt now, once the verifier revealed it.
    pub fn current(&self) -> Option<&Revealed> {
        self.revealed.get(self.seen)
    }

    /// Whether the neutral baseline (and any light sequence) is over at `t`.
    fn baseline_over(&self, t: u64) -> bool {
        t >= self.script.capture.baseline_ms && self.light_done
    }

    /// The revealed challenges' windows, as the verifier will judge them.
    fn windows(&self) -> Vec<ChallengeWindow> {
        self.revealed
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let own_end = r.revealed_ms + r.window_ms;
                ChallengeWindow {
                    kind: r.kind,
                    opens_ms: Some(r.revealed_ms.saturating_sub(self.clock.open_slack_ms)),
                    closes_ms: match self.revealed.get(i + 1) {
                        Some(next) => own_end.min(next.revealed_ms + self.clock.close_overlap_ms),
                        None => own_end,
                    },
                }
            })
            .collect()
    }

    /// Whether this frame goes further into the prompted action than any before it,
    /// remembering it when it does.
    fn goes_further(&mut self, obs: &Observation) -> bool {
        let Some(v) = self.current().and_then(|c| c.kind.action_value(obs)) else {
            return false;
        };
        let further = self.furthest.is_none_or(|f| v > f);
        if further {
            self.furthest = Some(v);
        }
        further
    }

    /// One analysed frame, `obs.t_ms` counted from the capture's start; `picture` is
    /// the sha256 of the JPEG it would be sent as. A looping camera shows pictures again,
    /// and the verifier refuses a repeat: a picture already sent is neither sent again
    /// nor judged, so the flow judges exactly the frames the verifier will have.
    pub fn step(&mut self, obs: Observation, picture: [u8; 32]) -> Step {
        let t = obs.t_ms;
        let issue = obs.quality.issues.first().copied();
        let prompting = self.current().is_some();
        // After the baseline, frames ask for the next challenge (or carry the current one).
        let tag = (self.total() > 0 && self.baseline_over(t))
            .then(|| self.seen.min(self.total() - 1).min(u16::MAX as usize - 1) as u16);

        let repeat = self.pictures.contains(&picture);
        let further = prompting && !repeat && self.goes_further(&obs);
        let send = if self.sent < self.script.capture.max_frames
            && !repeat
            && (further
                || self
                    .last_sent_ms
                    .is_none_or(|last| t >= last + MIN_FRAME_GAP_MS))
        {
            self.sent += 1;
            self.last_sent_ms = Some(t);
            self.pictures.insert(picture);
            Some(tag)
        } else {
            None
        };
        // Judge exactly the frames the verifier will have.
        if send.is_some() {
            self.observations.push(obs);
        }

        if prompting {
            let windows = self.windows();
            let baseline_end = windows.first().and_then(|w| w.opens_ms).unwrap_or(0);
            let verdicts = judge_windows(
                &self.observations,
                &windows[..=self.seen],
                baseline_end,
                &self.rules,
            );
            if verdicts.last().is_some_and(|v| v.passed) {
                self.seen += 1;
                self.furthest = None;
                if self.seen == self.total() {
                    self.tail_until = Some(t + TAIL_MS);
                }
            }
        }
        if self.total() == 0 && self.baseline_over(t) && self.tail_until.is_none() {
            self.tail_until = Some(t);
        }

        let window_end = self.current().map(|c| c.revealed_ms + c.window_ms);
        let end = if self.tail_until.is_some_and(|until| t >= until) {
            Some(End::AllSeen)
        } else if window_end.is_some_and(|end| t > end) {
            Some(End::WindowMissed(self.seen))
        } else if self.sent >= self.script.capture.max_frames {
            Some(End::FrameLimit)
        } else {
            None
        };

        // Mid-capture, only problems that stop the judgement replace the prompt: a face
        // brushing the frame's edge while the mouth opens is no reason to stop asking.
        let blocking = issue.filter(|i| {
            matches!(
                i,
                QualityIssue::NoFace | QualityIssue::MultipleFaces | QualityIssue::TooDark
            )
        });
        let guidance = match (blocking, self.current()) {
            (Some(i), _) => Guidance::for_issue(i),
            _ if !self.light_done => Guidance::Light,
            (None, Some(ch)) if self.tail_until.is_none() => Guidance::for_challenge(ch.kind),
            _ => Guidance::HoldSteady,
        };
        Step {
            guidance,
            send,
            seen: self.seen,
            end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_that_stops_changing_is_frozen_after_two_seconds_and_given_up_after_six() {
        let mut w = FreezeWatch::default();
        // No picture yet (the camera is starting): not frozen, however long.
        assert!(!w.frozen(10_000.0));
        w.changed(1_000.0);
        assert!(!w.frozen(2_999.0));
        assert!(w.frozen(3_000.0) && !w.given_up(6_999.0));
        assert!(w.given_up(7_000.0));
        // A new picture and it is live again.
        w.changed(7_100.0);
        assert!(!w.frozen(7_200.0));
        assert_eq!(w.still_for(8_100.0), 1_000.0);
    }
}
