//! The capture flow, free of the browser: which prompt to show, which frames to send
//! and when the capture is over, decided frame by frame from core's observations.
//!
//! Two phases. *Positioning* runs before the link is claimed (so a user who never
//! gets a face in view does not use the link up): it waits for a few good frames in a
//! row. *Capture* follows the script: the neutral baseline, then each challenge in
//! order, judged with core's own `judge_script` (the verifier's rule with a margin,
//! `SEEN_MARGIN`, run here only to know when to move on, on the pixels of the frames
//! the verifier receives as JPEG), then a short tail so the last action's return is on
//! record.
//!
//! Frames sent: every analysed frame of the capture, at most one per
//! `MIN_FRAME_GAP_MS`, up to the script's limit. Excursions are judged from their
//! shape (rest, peak, return), so the frames around each peak matter as much as the
//! peak itself. A frame that goes further into the prompted action than any before it
//! is sent even inside the gap: the verifier then measures the peak the user reached,
//! not a neighbour of it, which matters most for an action that only just clears its
//! threshold.

use std::collections::HashSet;

use livecheck_core::challenge::{judge_script, ChallengeRules};
use livecheck_core::protocol::ChallengeScript;
use livecheck_core::quality::QualityIssue;
use livecheck_core::Observation;

use crate::guidance::Guidance;

/// Good frames in a row that end positioning.
pub const POSITIONED_FRAMES: usize = 3;
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
/// detects on every frame, is the one that decides.
pub const DETECT_EVERY: u32 = 3;
/// Reads one positioning frame: `Some(guidance)` to show, and whether it was good.
pub fn positioning_guidance(obs: &Observation) -> (Guidance, bool) {
    match obs.quality.issues.first() {
        Some(&issue) => (Guidance::for_issue(issue), false),
        None => (Guidance::LookStraight, true),
    }
}

/// Counts good positioning frames in a row.
#[derive(Debug, Default)]
pub struct Positioning {
    streak: usize,
}

impl Positioning {
    /// Returns the guidance for this frame and whether the user is now in position.
    pub fn step(&mut self, obs: &Observation) -> (Guidance, bool) {
        let (g, good) = positioning_guidance(obs);
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
    /// Send this frame, tagged with the challenge being prompted (`None`: baseline).
    pub send: Option<Option<u16>>,
    /// Challenges seen so far.
    pub seen: usize,
    pub end: Option<End>,
}

pub struct Capture {
    script: ChallengeScript,
    rules: ChallengeRules,
    observations: Vec<Observation>,
    seen: usize,
    /// Time of the last seen challenge's peak: the next one's window starts there.
    cursor_ms: u64,
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
            script,
            rules: ChallengeRules::default().scaled(SEEN_MARGIN),
            observations: Vec::new(),
            seen: 0,
            cursor_ms: 0,
            sent: 0,
            last_sent_ms: None,
            furthest: None,
            pictures: HashSet::new(),
            tail_until: None,
        }
    }

    pub fn total(&self) -> usize {
        self.script.challenges.len()
    }

    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The end of the current challenge's window, by the verifier's rule.
    fn window_end(&self) -> Option<u64> {
        let ch = self.script.challenges.get(self.seen)?;
        Some(
            self.cursor_ms
                .max(self.script.capture.baseline_ms)
                .saturating_add(ch.window_ms),
        )
    }

    /// Whether this frame goes further into the prompted action than any before it,
    /// remembering it when it does.
    fn goes_further(&mut self, obs: &Observation) -> bool {
        let Some(v) = self
            .script
            .challenges
            .get(self.seen)
            .and_then(|ch| ch.kind.action_value(obs))
        else {
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
        let baseline = t < self.script.capture.baseline_ms;

        let repeat = self.pictures.contains(&picture);
        let further = !baseline && !repeat && self.goes_further(&obs);
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
            Some(if baseline {
                None
            } else {
                Some(self.seen.min(u16::MAX as usize - 1) as u16)
            })
        } else {
            None
        };
        // Judge exactly the frames the verifier will have.
        if send.is_some() {
            self.observations.push(obs);
        }

        if !baseline && self.seen < self.total() {
            let judge = |rules: &ChallengeRules, upto: usize| {
                judge_script(
                    &self.observations,
                    &self.script.challenges[..upto],
                    self.script.capture.baseline_ms,
                    rules,
                )
                .pop()
                .filter(|v| v.passed)
            };
            if let Some(v) = judge(&self.rules, self.seen + 1) {
                // The next window opens where the verifier's will: at the peak its own
                // thresholds find, which may come before the one that cleared the margin.
                let authority = judge(&ChallengeRules::default(), self.seen + 1);
                self.cursor_ms = authority.unwrap_or(v).t_ms.unwrap_or(t);
                self.seen += 1;
                self.furthest = None;
                if self.seen == self.total() {
                    self.tail_until = Some(t + TAIL_MS);
                }
            }
        }
        if self.total() == 0 && !baseline && self.tail_until.is_none() {
            self.tail_until = Some(t);
        }

        let end = if self.tail_until.is_some_and(|until| t >= until) {
            Some(End::AllSeen)
        } else if self.window_end().is_some_and(|end| t > end) {
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
        let guidance = match (blocking, self.script.challenges.get(self.seen)) {
            (Some(i), _) => Guidance::for_issue(i),
            _ if baseline => Guidance::HoldSteady,
            (None, Some(ch)) => Guidance::for_challenge(ch.kind),
            (None, None) => Guidance::HoldSteady,
        };
        Step {
            guidance,
            send,
            seen: self.seen,
            end,
        }
    }
}
