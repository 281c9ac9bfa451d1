//! `livecheck-verifier evaluate DIR`: the decision over a labelled folder of photos and
//! clips, with the error rates ISO/IEC 30107-3 names (APCER per attack species, BPCER)
//! and an HTML report of each item's per-frame signals.
//!
//! `DIR/labels.toml` lists the items:
//!
//! ```toml
//! [[item]]
//! file = "clips/anna_blink.mjpeg"   # a photo (JPEG, PNG, WebP) or an MJPEG clip at 30 fps
//! label = "live"                    # or the attack species: "print", "screen", "mask", …
//! actions = ["BLINK"]               # a live clip's actions, in order (none: passive)
//! ```
//!
//! A photo is judged by anti-spoof alone (the pass mark). A clip goes through the
//! verifier's own judgement of a capture (`judge`), the labelled actions as challenges
//! in order after a one-second baseline, none for a passive capture.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use livecheck_core::challenge::{judge_windows, ChallengeRules, ChallengeWindow};
use livecheck_core::consistency::identity_distances;
use livecheck_core::decision::FailureReason;
use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::liveness::aggregate_score;
use livecheck_core::{ChallengeKind, Engine, ModelError, Observation, ObserveOptions};

use crate::judge::{judge, JudgeInput};
use crate::model::FrameRef;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Labels {
    item: Vec<Item>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub file: PathBuf,
    /// `live`, or the attack species.
    pub label: String,
    #[serde(default)]
    pub actions: Vec<ChallengeKind>,
}

impl Item {
    pub fn is_live(&self) -> bool {
        self.label == "live"
    }
}

/// What the decision made of one item.
pub struct Judged {
    pub item: Item,
    pub passed: bool,
    pub anti_spoof: Option<f32>,
    pub failure_reason: Option<FailureReason>,
    /// Clips: the actions found anywhere after the baseline.
    pub actions_found: Vec<ChallengeKind>,
    pub observations: Vec<Observation>,
}

/// The error rates over the items judged.
pub struct Rates {
    /// Live items refused, and live items.
    pub bpcer: (usize, usize),
    /// Per attack species: attacks accepted, and attacks.
    pub apcer: Vec<(String, usize, usize)>,
}

pub fn rates(judged: &[Judged]) -> Rates {
    let live: Vec<&Judged> = judged.iter().filter(|j| j.item.is_live()).collect();
    let mut species: Vec<String> = judged
        .iter()
        .filter(|j| !j.item.is_live())
        .map(|j| j.item.label.clone())
        .collect();
    species.sort();
    species.dedup();
    Rates {
        bpcer: (live.iter().filter(|j| !j.passed).count(), live.len()),
        apcer: species
            .into_iter()
            .map(|s| {
                let of: Vec<&Judged> = judged.iter().filter(|j| j.item.label == s).collect();
                let accepted = of.iter().filter(|j| j.passed).count();
                (s, accepted, of.len())
            })
            .collect(),
    }
}

pub fn load_labels(dir: &Path) -> Result<Vec<Item>, String> {
    let path = dir.join("labels.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let labels: Labels = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(labels.item)
}

/// Frames sampled from a clip: every `step`-th at 30 fps.
const CLIP_FPS: u64 = 30;
const BASELINE_MS: u64 = 1000;
const SPREAD_FRAMES: usize = 6;

pub fn judge_item(
    engine: &Engine,
    dir: &Path,
    item: &Item,
    threshold: f32,
    step: usize,
) -> Result<Judged, String> {
    let path = dir.join(&item.file);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_clip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mjpeg") || e.eq_ignore_ascii_case("mjpg"));
    if !is_clip {
        let img = decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let frame = img.frame().map_err(|e| e.to_string())?;
        let o = engine
            .observe(&frame, 0, ObserveOptions::default())
            .map_err(|e| e.to_string())?;
        let score = o.live_probability.and_then(|p| aggregate_score(&[p]));
        let passed = o.faces == 1 && score.is_some_and(|s| s >= threshold);
        let failure_reason = (!passed).then_some(if o.faces != 1 {
            FailureReason::FaceNotFound
        } else {
            FailureReason::SpoofDetected
        });
        return Ok(Judged {
            item: item.clone(),
            passed,
            anti_spoof: score,
            failure_reason,
            actions_found: Vec::new(),
            observations: vec![o],
        });
    }
    // As the verifier takes a capture: its own judgement over the sampled frames.
    let jpegs = split_mjpeg(&bytes);
    let frames: Vec<FrameRef> = (0..jpegs.len())
        .step_by(step.max(1))
        .map(|i| FrameRef {
            seq: i as u32,
            t_ms: i as u64 * 1000 / CLIP_FPS,
            content_type: "image/jpeg".into(),
        })
        .collect();
    let end = frames.last().map_or(0, |f| f.t_ms + 1);
    let windows: Vec<ChallengeWindow> = item
        .actions
        .iter()
        .map(|&k| ChallengeWindow::new(k, BASELINE_MS, end))
        .collect();
    let input = JudgeInput {
        frames: &frames,
        windows: &windows,
        baseline_ms: BASELINE_MS,
        light: None,
        threshold,
        audit_images: 0,
        anti_spoof_frames: SPREAD_FRAMES,
    };
    let judgement = judge(
        engine,
        &input,
        |f: &FrameRef| -> Result<Vec<u8>, ModelError> { Ok(jpegs[f.seq as usize].to_vec()) },
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let observations = judgement.observations;
    let actions_found = ChallengeKind::ALL
        .into_iter()
        .filter(|&k| {
            let w = [ChallengeWindow::new(k, BASELINE_MS, end)];
            judge_windows(&observations, &w, BASELINE_MS, &ChallengeRules::default())
                .first()
                .is_some_and(|v| v.passed)
        })
        .collect();
    let outcome = judgement.outcome;
    Ok(Judged {
        item: item.clone(),
        passed: outcome.passed,
        anti_spoof: outcome.anti_spoof_score,
        failure_reason: outcome.failure_reason,
        actions_found,
        observations,
    })
}

/// One line per item, then the rates.
pub fn summary(judged: &[Judged]) -> String {
    let mut out = String::new();
    for j in judged {
        let kinds = |k: &[ChallengeKind]| {
            k.iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\tanti-spoof {}\t{}\tactions {} found {}",
            j.item.file.display(),
            j.item.label,
            if j.passed { "pass" } else { "refused" },
            j.anti_spoof.map_or("-".into(), |s| format!("{s:.1}")),
            j.failure_reason.map_or("-", FailureReason::code),
            kinds(&j.item.actions),
            kinds(&j.actions_found),
        );
    }
    let r = rates(judged);
    let pct = |a: usize, n: usize| {
        if n == 0 {
            0.0
        } else {
            100.0 * a as f64 / n as f64
        }
    };
    let _ = writeln!(
        out,
        "BPCER {:.1} % ({} of {} live refused)",
        pct(r.bpcer.0, r.bpcer.1),
        r.bpcer.0,
        r.bpcer.1
    );
    for (s, a, n) in &r.apcer {
        let _ = writeln!(out, "APCER {s} {:.1} % ({a} of {n} accepted)", pct(*a, *n));
    }
    out
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A 0–1 series over the clip's time as an SVG polyline.
fn polyline(points: &[(u64, f32)], end: u64, colour: &str) -> String {
    let (w, h) = (720.0, 160.0);
    let pts: Vec<String> = points
        .iter()
        .map(|&(t, v)| {
            let x = t as f32 / end.max(1) as f32 * w;
            let y = h - v.clamp(0.0, 1.0) * h;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
        pts.join(" ")
    )
}

/// The HTML report: the rates, then per item its verdict and, for clips, the signals
/// the decision read, frame by frame.
pub fn html(judged: &[Judged]) -> String {
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>livecheck evaluation</title>\
         <style>body{font:14px system-ui;margin:2em;max-width:780px}svg{background:#f6f6f6}\
         .k span{margin-right:1em}</style><h1>livecheck evaluation</h1><pre>",
    );
    out.push_str(&esc(&summary(judged)));
    out.push_str("</pre>");
    let series: [(&str, &str); 7] = [
        ("eye closure", "#1f77b4"),
        ("smile", "#2ca02c"),
        ("jaw open", "#d62728"),
        ("yaw ±45°", "#9467bd"),
        ("pitch ±45°", "#8c564b"),
        ("anti-spoof", "#000"),
        ("identity distance", "#ff7f0e"),
    ];
    for j in judged {
        let _ = write!(
            out,
            "<h2>{}</h2><p>{} — {}{}</p>",
            esc(&j.item.file.display().to_string()),
            esc(&j.item.label),
            if j.passed { "passed" } else { "refused" },
            j.failure_reason
                .map(|r| format!(" ({})", r.code()))
                .unwrap_or_default()
        );
        if j.observations.len() < 2 {
            continue;
        }
        let end = j.observations.last().map_or(1, |o| o.t_ms.max(1));
        let mesh = |f: &dyn Fn(&livecheck_core::landmarks::FaceMeshResult) -> f32| {
            j.observations
                .iter()
                .filter_map(|o| o.mesh.as_ref().map(|m| (o.t_ms, f(m))))
                .collect::<Vec<_>>()
        };
        let identity: Vec<(u64, f32)> = j
            .observations
            .iter()
            .filter(|o| o.descriptor.is_some())
            .map(|o| o.t_ms)
            .zip(identity_distances(&j.observations))
            .collect();
        let lines = [
            mesh(&|m| m.expression.eye_closure),
            mesh(&|m| m.expression.smile),
            mesh(&|m| m.expression.jaw_open),
            mesh(&|m| 0.5 + m.pose.yaw / 90.0),
            mesh(&|m| 0.5 + m.pose.pitch / 90.0),
            j.observations
                .iter()
                .filter_map(|o| o.live_probability.map(|p| (o.t_ms, p)))
                .collect(),
            identity,
        ];
        out.push_str("<svg width=\"720\" height=\"160\" viewBox=\"0 0 720 160\">");
        for (points, (_, colour)) in lines.iter().zip(series) {
            out.push_str(&polyline(points, end, colour));
        }
        out.push_str("</svg><p class=\"k\">");
        for (name, colour) in series {
            let _ = write!(out, "<span style=\"color:{colour}\">■ {name}</span>");
        }
        let _ = write!(out, "<span>0–{end} ms</span></p>");
    }
    out.push_str("</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(label: &str, passed: bool) -> Judged {
        Judged {
            item: Item {
                file: "x".into(),
                label: label.into(),
                actions: Vec::new(),
            },
            passed,
            anti_spoof: None,
            failure_reason: None,
            actions_found: Vec::new(),
            observations: Vec::new(),
        }
    }

    #[test]
    fn rates_count_refused_live_items_and_accepted_attacks_per_species() {
        let r = rates(&[
            judged("live", true),
            judged("live", false),
            judged("print", false),
            judged("print", true),
            judged("screen", false),
        ]);
        assert_eq!(r.bpcer, (1, 2));
        assert_eq!(
            r.apcer,
            [("print".to_string(), 1, 2), ("screen".to_string(), 0, 1)]
        );
        let labels: Labels = toml::from_str(
            "[[item]]\nfile = \"a.mjpeg\"\nlabel = \"live\"\nactions = [\"BLINK\", \"SMILE\"]\n",
        )
        .unwrap();
        assert_eq!(
            labels.item[0].actions,
            [ChallengeKind::Blink, ChallengeKind::Smile]
        );
    }
}
