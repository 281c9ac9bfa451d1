//! The authoritative decision: core's engine over the frames the verifier received,
//! nothing taken from the client's own judgement. Also picks the probe image (the best
//! neutral frame) and the audit images (the challenge peaks first).

use livecheck_core::challenge::{ChallengeRules, ChallengeWindow};
use livecheck_core::consistency::{reference_frames, ConsistencyLimits};
use livecheck_core::continuity::ContinuityLimits;
use livecheck_core::decision::{decide, DecisionInput, LightInput};
use livecheck_core::decode::decode;
use livecheck_core::engine::{Observation, ObserveOptions};
use livecheck_core::light::{LightLimits, LightResult};
use livecheck_core::timeline::Shown;
use livecheck_core::{Engine, ModelError};

use crate::model::{FrameRef, ImageKind, Outcome, StoredImage};

pub struct JudgeInput<'a> {
    /// The frames in order; their bytes are loaded one at a time, so a decision holds
    /// one frame's pixels however many the session stored.
    pub frames: &'a [FrameRef],
    /// Each challenge's window as the timeline revealed it.
    pub windows: &'a [ChallengeWindow],
    /// Frames before this are the neutral baseline.
    pub baseline_ms: u64,
    /// The light sequence as shown, and when it went off.
    pub light: Option<(&'a [Shown], u64)>,
    pub threshold: f32,
    pub audit_images: usize,
    /// Frames, spread over the capture, that the anti-spoof pair runs on.
    pub anti_spoof_frames: usize,
}

pub struct Judgement {
    pub outcome: Outcome,
    /// What the engine read of each frame that decoded, in order.
    pub observations: Vec<Observation>,
    pub images: Vec<StoredImage>,
    pub light: Option<LightResult>,
}

/// Judges the frames, reading each one's bytes through `load` when it is its turn.
pub fn judge<E: From<ModelError>>(
    engine: &Engine,
    input: &JudgeInput<'_>,
    load: impl Fn(&FrameRef) -> Result<Vec<u8>, E>,
) -> Result<Judgement, E> {
    let n = input.frames.len();
    let spoof_at = anti_spoof_frames(input);
    let mut observations: Vec<Observation> = Vec::with_capacity(n);
    let mut sources: Vec<usize> = Vec::with_capacity(n);
    for (i, f) in input.frames.iter().enumerate() {
        // Uploads were decoded once on arrival; a frame that fails now is skipped.
        let Ok(img) = decode(&load(f)?) else { continue };
        let Ok(frame) = img.frame() else { continue };
        // Anti-spoof and the identity descriptor are the costly models: a spread of
        // frames is enough for both.
        let spread_frame = spoof_at.contains(&i);
        let options = ObserveOptions {
            mesh: true,
            anti_spoof: spread_frame,
            descriptor: spread_frame,
            // The patch and colours continuity and the light challenge read.
            appearance: true,
        };
        observations.push(engine.observe(&frame, f.t_ms, options)?);
        sources.push(i);
    }
    // The faces the rest are compared with: the most neutral of the baseline, chosen by
    // their mesh, then described (a second decode of at most three frames).
    let baseline: Vec<usize> = (0..observations.len())
        .filter(|&k| observations[k].t_ms < input.baseline_ms)
        .collect();
    let candidates = unlit_or_all(input, baseline, 1, |k| observations[k].t_ms);
    for k in reference_frames(&observations, &candidates) {
        if observations[k].descriptor.is_some() {
            continue;
        }
        let Ok(img) = decode(&load(&input.frames[sources[k]])?) else {
            continue;
        };
        let Ok(frame) = img.frame() else { continue };
        if let Some(face) = observations[k].face.clone() {
            observations[k].descriptor = engine.describe(&frame, &face)?;
        }
    }
    let d = decide(&DecisionInput {
        observations: &observations,
        windows: input.windows,
        baseline_ms: input.baseline_ms,
        threshold: input.threshold,
        rules: ChallengeRules::default(),
        consistency: ConsistencyLimits::default(),
        continuity: ContinuityLimits::default(),
        light: input
            .light
            .map(|(shown, off_ms)| LightInput { shown, off_ms }),
        light_limits: LightLimits::default(),
    });
    let light = d.light.clone();
    let outcome = Outcome::from_decision(d);

    let image = |i: usize, kind: ImageKind, index: u32| -> Result<StoredImage, E> {
        let f = &input.frames[sources[i]];
        Ok(StoredImage {
            kind,
            index,
            content_type: f.content_type.clone(),
            bytes: load(f)?,
        })
    };
    let mut images = Vec::new();
    if let Some(p) = probe(&observations, input.baseline_ms) {
        images.push(image(p, ImageKind::Probe, 0)?);
    }
    let mut audit: Vec<usize> = outcome
        .challenges
        .iter()
        .filter_map(|v| v.frames.get(1).copied())
        .collect();
    audit.extend(spread(observations.len(), input.audit_images));
    let mut seen = std::collections::HashSet::new();
    audit.retain(|i| *i < observations.len() && seen.insert(*i));
    for (k, i) in audit.into_iter().take(input.audit_images).enumerate() {
        images.push(image(i, ImageKind::Audit, k as u32)?);
    }
    Ok(Judgement {
        outcome,
        observations,
        images,
        light,
    })
}

/// The frames the anti-spoof models and the descriptor run on: spread over the capture,
/// leaving out the frames the light sequence lit when enough others remain (a face in
/// coloured light is not what the anti-spoof models learnt live faces look like: d18
/// lit by the e2e's scripted camera read 69.3 against the pass mark of 70).
fn anti_spoof_frames(input: &JudgeInput<'_>) -> Vec<usize> {
    let least = MIN_UNLIT_FRAMES.min(input.anti_spoof_frames);
    let pool = unlit_or_all(input, (0..input.frames.len()).collect(), least, |i| {
        input.frames[i].t_ms
    });
    spread(pool.len(), input.anti_spoof_frames)
        .into_iter()
        .map(|j| pool[j])
        .collect()
}

/// Those of `indices` whose frame (taken at `t_ms(i)`) the light sequence did not
/// colour, when at least `least` remain; else all of them.
fn unlit_or_all(
    input: &JudgeInput<'_>,
    indices: Vec<usize>,
    least: usize,
    t_ms: impl Fn(usize) -> u64,
) -> Vec<usize> {
    let lit = |t: u64| {
        input.light.is_some_and(|(shown, off)| {
            shown.first().is_some_and(|s| t >= s.at_ms) && t <= off + LIGHT_SETTLE_MS
        })
    };
    let unlit: Vec<usize> = indices.iter().copied().filter(|&i| !lit(t_ms(i))).collect();
    if unlit.len() >= least.max(1) {
        unlit
    } else {
        indices
    }
}

/// The camera shows the light's end a frame or two late.
const LIGHT_SETTLE_MS: u64 = 200;
/// Least number of unlit frames worth judging anti-spoof on alone.
const MIN_UNLIT_FRAMES: usize = 3;

/// `k` indices spread evenly over `0..n`.
pub(crate) fn spread(n: usize, k: usize) -> Vec<usize> {
    let k = k.min(n);
    (0..k).map(|j| (2 * j + 1) * n / (2 * k)).collect()
}

/// The single-face frame with no quality issue and the most confident detection,
/// preferring the neutral baseline (photo sessions have none: pass 0).
pub(crate) fn probe(obs: &[Observation], baseline_ms: u64) -> Option<usize> {
    let score = |o: &Observation| o.face.as_ref().map(|f| f.score).unwrap_or(0.0);
    let best = |pred: &dyn Fn(&Observation) -> bool| {
        obs.iter()
            .enumerate()
            .filter(|(_, o)| o.faces == 1 && pred(o))
            .max_by(|a, b| score(a.1).total_cmp(&score(b.1)))
            .map(|(i, _)| i)
    };
    best(&|o| o.quality.issues.is_empty() && o.t_ms < baseline_ms)
        .or_else(|| best(&|o| o.quality.issues.is_empty()))
        .or_else(|| best(&|_| true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anti_spoof_runs_on_frames_the_light_did_not_colour() {
        let frames: Vec<FrameRef> = (0..60)
            .map(|i| FrameRef {
                seq: i,
                t_ms: i as u64 * 100,
                content_type: "image/jpeg".into(),
            })
            .collect();
        let shown = [Shown {
            at_ms: 500,
            colour: [30, 60, 255],
        }];
        let input = JudgeInput {
            frames: &frames,
            windows: &[],
            baseline_ms: 5000,
            light: Some((&shown, 4300)),
            threshold: 70.0,
            audit_images: 0,
            anti_spoof_frames: 6,
        };
        let picked = anti_spoof_frames(&input);
        assert_eq!(picked.len(), 6);
        assert!(picked.iter().all(|&i| !(5..=45).contains(&i)), "{picked:?}");
        // Without a light sequence, spread over the whole capture.
        let plain = JudgeInput {
            light: None,
            ..input
        };
        assert_eq!(anti_spoof_frames(&plain), spread(60, 6));
    }

    #[test]
    fn spread_covers_the_range_without_repeats() {
        assert_eq!(spread(10, 5), [1, 3, 5, 7, 9]);
        assert_eq!(spread(3, 6), [0, 1, 2]);
        assert!(spread(0, 4).is_empty());
        assert_eq!(spread(100, 1), [50]);
    }
}
