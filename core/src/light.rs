//! The light challenge's verdict: did the face take on the screen's colours when they
//! were shown?
//!
//! Physics: the screen lights the face from a hand's length, the room from further
//! away. Light adds to what the skin reflects, channel by channel, so each step's
//! colour shifts the face's colour toward it; the background, far off, barely changes.
//! The measure is the face's colour *relative to the background's*, as per-channel log
//! ratios: the camera's exposure and white balance scale every pixel alike, so they
//! cancel, while the screen's light, which reaches the face and not the wall, stays.
//! Over the steps, those log ratios (centred over channels and steps) must move with
//! the screen colours' own (centred likewise): their correlation and the size of the
//! response (the regression slope) must both clear their limits.
//!
//! Timing: each step was revealed at a known time on the verifier's clock; a frame
//! counts for a step from `settle_ms` after it (plus the response's delay) until the
//! next step. The delay is searched over `search_ms` and the best fit must come within
//! `max_delay_ms`: a response recorded for another schedule, or rendered late, fits
//! best elsewhere or nowhere.
//!
//! Limits, measured with `examples/light_margins` on five live clips (d18, s32, d6, s20,
//! s29 at 10 fps; 200 random sequences each, 1,000 in all): unlit faces fitted their
//! best delay with correlations up to 0.92 and gains up to 0.046 (s32 and s29, outdoors
//! and moving), and with the gain limit none passes (at the earlier 0.02, 3 of s29's
//! 200 did). Faces lit with the tests' reflection model at strength 0.1 (the screen
//! adds a tenth of the face's light) fitted with correlation ≥ 0.82 and gain ≥ 0.068
//! on every clip; at 0.05 some fail, at 0.2 (the tests') correlation ≥ 0.94 and gain
//! ≥ 0.13. So the screen must light the face by roughly a tenth or more.
//!
//! What it does not stop: a real-time renderer that tints an injected face by the
//! colours it is sent, in time. What it cannot do: see a screen's light in bright
//! daylight (the response drowns) or from a dim or distant screen; such captures fail
//! it, which is why it is an option the user can decline.

use serde::{Deserialize, Serialize};

use crate::engine::Observation;
use crate::timeline::Shown;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LightLimits {
    /// Least correlation between the face's colour response and the screen's colours.
    pub min_correlation: f32,
    /// Least response: log-ratio change per unit of screen colour (0–1) change.
    pub min_gain: f32,
    /// The best-fitting delay must not exceed this (ms after the step was revealed).
    pub max_delay_ms: i64,
    /// Delays tried: from, to, step (ms).
    pub search_ms: (i64, i64, i64),
    /// Frames this soon after a step's start (plus the delay) are left out: the camera
    /// takes a frame or two to show the new light.
    pub settle_ms: u64,
    /// Least number of frames a step needs to count.
    pub min_frames_per_step: usize,
}

impl Default for LightLimits {
    fn default() -> Self {
        Self {
            min_correlation: 0.8,
            min_gain: 0.06,
            max_delay_ms: 700,
            search_ms: (-300, 2000, 50),
            settle_ms: 100,
            min_frames_per_step: 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LightResult {
    pub passed: bool,
    /// Correlation of the face's colour response with the screen colours, at `delay_ms`.
    pub correlation: f32,
    /// The response's size (log-ratio change per unit of screen colour change).
    pub gain: f32,
    /// The delay that fitted best, ms after each step was revealed.
    pub delay_ms: i64,
    /// Steps that had enough frames to measure, of those shown.
    pub steps_measured: usize,
    pub steps_shown: usize,
}

/// The per-step mean of the face's log colour relative to the background's, for frames
/// in `[start + delay + settle, next start + delay)`.
fn step_means(
    observations: &[Observation],
    shown: &[Shown],
    off_ms: u64,
    delay: i64,
    limits: &LightLimits,
) -> Vec<Option<[f32; 3]>> {
    let at = |t: u64| (t as i64 + delay).max(0) as u64;
    shown
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let from = at(s.at_ms) + limits.settle_ms;
            let to = at(shown.get(j + 1).map(|n| n.at_ms).unwrap_or(off_ms));
            let mut sum = [0f32; 3];
            let mut n = 0;
            for o in observations
                .iter()
                .filter(|o| o.t_ms >= from && o.t_ms < to)
            {
                let Some(a) = &o.appearance else { continue };
                let Some(bg) = a.background_rgb else { continue };
                for k in 0..3 {
                    sum[k] += (a.face_rgb[k].max(1.0) / bg[k].max(1.0)).ln();
                }
                n += 1;
            }
            (n >= limits.min_frames_per_step).then(|| sum.map(|v| v / n as f32))
        })
        .collect()
}

/// Centres a set of per-step 3-vectors over channels, then over steps.
fn centred(rows: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let by_channel: Vec<[f32; 3]> = rows
        .iter()
        .map(|r| {
            let m = (r[0] + r[1] + r[2]) / 3.0;
            r.map(|v| v - m)
        })
        .collect();
    let n = by_channel.len().max(1) as f32;
    let mean: [f32; 3] = std::array::from_fn(|k| by_channel.iter().map(|r| r[k]).sum::<f32>() / n);
    by_channel
        .iter()
        .map(|r| std::array::from_fn(|k| r[k] - mean[k]))
        .collect()
}

/// Correlation and slope of the face's response against the screen's colours.
fn fit(response: &[[f32; 3]], screen: &[[f32; 3]]) -> (f32, f32) {
    let (r, s) = (centred(response), centred(screen));
    let dot = |a: &[[f32; 3]], b: &[[f32; 3]]| -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x[0] * y[0] + x[1] * y[1] + x[2] * y[2])
            .sum()
    };
    let (rs, ss, rr) = (dot(&r, &s), dot(&s, &s), dot(&r, &r));
    if ss <= 1e-9 || rr <= 1e-12 {
        return (0.0, 0.0);
    }
    (rs / (ss * rr).sqrt(), rs / ss)
}

/// Judges the light challenge: `shown` as the timeline logged it, `off_ms` when the
/// light went off (or the last frame's time).
pub fn evaluate(
    observations: &[Observation],
    shown: &[Shown],
    off_ms: u64,
    limits: &LightLimits,
) -> LightResult {
    let (from, to, step) = limits.search_ms;
    let mut best = LightResult {
        passed: false,
        correlation: 0.0,
        gain: 0.0,
        delay_ms: 0,
        steps_measured: 0,
        steps_shown: shown.len(),
    };
    let mut best_score = f32::NEG_INFINITY;
    let mut delay = from;
    while delay <= to {
        let means = step_means(observations, shown, off_ms, delay, limits);
        let (response, screen): (Vec<[f32; 3]>, Vec<[f32; 3]>) = means
            .iter()
            .zip(shown)
            .filter_map(|(m, s)| m.map(|m| (m, s.colour.map(|c| c as f32 / 255.0))))
            .unzip();
        // Every step measured, or the fit is over too little.
        if response.len() == shown.len() && response.len() >= 3 {
            let (correlation, gain) = fit(&response, &screen);
            if correlation > best_score {
                best_score = correlation;
                best = LightResult {
                    passed: false,
                    correlation,
                    gain,
                    delay_ms: delay,
                    steps_measured: response.len(),
                    steps_shown: shown.len(),
                };
            }
        } else if best_score == f32::NEG_INFINITY {
            best.steps_measured = best.steps_measured.max(response.len());
        }
        delay += step.max(1);
    }
    best.passed = best_score.is_finite()
        && best.correlation >= limits.min_correlation
        && best.gain >= limits.min_gain
        && best.delay_ms <= limits.max_delay_ms;
    best
}

/// The reflection model the tests light a recorded face with (a test camera that
/// reacts to the screen, which a fake camera file cannot): each pixel's channels are
/// scaled by `1 + strength · m · colour/255`, where `m` is 1 over an ellipse filling
/// the face box and falls smoothly to 0 at 1.4 times its size (the skin reflects the
/// screen's light in proportion to what it reflects of any light; the background,
/// further away, gets none). `strength` is the screen's share of the face's light at
/// full white: 0.2 is a phone at arm's length in a dim room.
pub fn light_face(
    img: &mut crate::RgbaImage,
    face: &crate::geometry::BoundingBox,
    colour: crate::timeline::Rgb,
    strength: f32,
) {
    let (cx, cy) = (face.x + face.width / 2.0, face.y + face.height / 2.0);
    let (rx, ry) = (face.width * 0.5, face.height * 0.6);
    let gain = colour.map(|c| strength * c as f32 / 255.0);
    let w = img.width as usize;
    for (i, px) in img.data.chunks_exact_mut(4).enumerate() {
        let (x, y) = ((i % w) as f32 + 0.5, (i / w) as f32 + 0.5);
        let r = (((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2)).sqrt();
        let m = ((1.4 - r) / 0.4).clamp(0.0, 1.0);
        if m > 0.0 {
            for k in 0..3 {
                px[k] = (px[k] as f32 * (1.0 + gain[k] * m)).round().min(255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appearance::Appearance;
    use crate::quality::Quality;

    fn frame(t_ms: u64, face: [f32; 3]) -> Observation {
        Observation {
            t_ms,
            width: 640,
            height: 480,
            faces: 1,
            face: None,
            quality: Quality::default(),
            mesh: None,
            live_probability: None,
            descriptor: None,
            appearance: Some(Appearance {
                patch: Vec::new(),
                face_rgb: face,
                background_rgb: Some([120.0, 110.0, 100.0]),
            }),
        }
    }

    fn shown() -> Vec<Shown> {
        [
            [30, 60, 255],
            [255, 230, 40],
            [30, 230, 90],
            [190, 60, 255],
            [255, 255, 255],
        ]
        .iter()
        .enumerate()
        .map(|(j, &colour)| Shown {
            at_ms: 500 + 700 * j as u64,
            colour,
        })
        .collect()
    }

    /// A face lit by the screen `delay` ms after each step, `k` the screen's share of its light.
    fn capture(delay: u64, k: f32) -> Vec<Observation> {
        let steps = shown();
        (0..50)
            .map(|i| {
                let t = i * 100;
                let lit = steps
                    .iter()
                    .rev()
                    .find(|s| s.at_ms + delay <= t && t < 4000 + delay)
                    .map(|s| s.colour.map(f32::from));
                let face = std::array::from_fn(|c| {
                    let base = [150.0, 110.0, 90.0][c];
                    base * (1.0 + k * lit.map(|l| l[c] / 255.0).unwrap_or(0.0))
                });
                frame(t, face)
            })
            .collect()
    }

    #[test]
    fn a_face_lit_in_time_passes_and_an_unlit_or_late_one_fails() {
        let l = LightLimits::default();
        let ok = evaluate(&capture(100, 0.2), &shown(), 4000, &l);
        assert!(ok.passed, "{ok:?}");
        assert!((-300..=300).contains(&ok.delay_ms), "{ok:?}");
        let none = evaluate(&capture(100, 0.0), &shown(), 4000, &l);
        assert!(!none.passed, "{none:?}");
        let late = evaluate(&capture(1500, 0.2), &shown(), 4000, &l);
        assert!(!late.passed, "{late:?}");
        assert!(late.delay_ms > l.max_delay_ms, "{late:?}");
    }

    #[test]
    fn exposure_and_white_balance_changes_cancel_out() {
        // The whole picture (face and background) scaled per step: no light on the face.
        let steps = shown();
        let obs: Vec<Observation> = (0..45)
            .map(|i| {
                let t = i * 100;
                let g = 1.0 + 0.3 * ((t / 700) % 3) as f32;
                let mut o = frame(t, [150.0 * g, 110.0 * g, 90.0]);
                if let Some(a) = o.appearance.as_mut() {
                    a.background_rgb = Some([120.0 * g, 110.0 * g, 100.0]);
                }
                o
            })
            .collect();
        let r = evaluate(&obs, &steps, 4000, &LightLimits::default());
        assert!(!r.passed, "{r:?}");
    }
}
