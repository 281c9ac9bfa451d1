//! The SDK's capture flow over real frames, natively: the d18 clip as a camera at
//! 10 frames per second, through positioning and a [BLINK, SMILE] script, against the
//! verifier's own timeline (core's `CaptureLog`), which answers each frame sent.
#![allow(clippy::unwrap_used)]

use livecheck_core::challenge::{judge_windows, ChallengeRules};
use livecheck_core::decode::{decode, split_mjpeg};
use livecheck_core::manifest::ModelFiles;
use livecheck_core::protocol::{CaptureParams, ChallengeScript};
use livecheck_core::timeline::{CaptureLog, CapturePlan, ClockLimits, Cue, LightPlan};
use livecheck_core::{ChallengeKind, Engine, Observation, ObserveOptions, RgbaImage};
use livecheck_sdk::flow::{
    with_noise, Capture, End, Positioning, Step, MIN_FRAME_GAP_MS, NOISY_HOLD_FRAMES,
    POSITIONED_FRAMES, SEEN_MARGIN,
};
use livecheck_sdk::guidance::Guidance;

fn engine() -> Engine {
    let files = ModelFiles::load_dir(&ModelFiles::default_dir()).expect("run models/fetch.sh");
    Engine::from_model_bytes(&files.model_bytes()).unwrap()
}

/// The SDK's first pass: no anti-spoof; the mesh only once the capture runs.
fn first_pass(engine: &Engine, img: &RgbaImage, t_ms: u64, mesh: bool) -> Observation {
    let options = ObserveOptions {
        mesh,
        anti_spoof: false,
        descriptor: false,
        appearance: false,
    };
    engine
        .observe(&img.frame().unwrap(), t_ms, options)
        .unwrap()
}

/// A file of the shared test media.
fn testdata(rel: &str) -> Vec<u8> {
    let path = format!("{}/../../shared/testdata/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Silent-Face live photo through the first pass, mesh included.
fn still_face() -> Observation {
    let img = decode(&testdata("live/silentface_T1_live_upright.jpg")).unwrap();
    first_pass(&engine(), &img, 0, true)
}

/// A distinct picture digest per `n`: frames of a camera that never repeats itself.
fn picture(n: u64) -> [u8; 32] {
    let mut p = [0; 32];
    p[..8].copy_from_slice(&n.to_le_bytes());
    p
}

/// The still live face with only its yaw changed: `deg` degrees turned from its rest,
/// at `t_ms`.
fn turning_face() -> impl Fn(u64, f32) -> Observation {
    let still = still_face();
    let rest = still.mesh.as_ref().unwrap().pose.yaw;
    move |t_ms, deg| {
        let mut o = still.clone();
        o.t_ms = t_ms;
        o.mesh.as_mut().unwrap().pose.yaw = rest + deg;
        o
    }
}

fn script(kinds: &[ChallengeKind]) -> ChallengeScript {
    ChallengeScript {
        session_id: "ses_flow".into(),
        nonce: "00".repeat(32),
        challenge_count: kinds.len() as u16,
        window_ms: 5000,
        light: false,
        capture: CaptureParams::default(),
    }
}

/// The verifier's side of the capture: its timeline, answering every frame sent 30 ms
/// after it was taken.
struct Verifier {
    plan: CapturePlan,
    log: CaptureLog,
}

impl Verifier {
    fn new(kinds: &[ChallengeKind]) -> Self {
        Self {
            plan: CapturePlan {
                challenges: kinds.to_vec(),
                window_ms: 5000,
                baseline_ms: CaptureParams::default().baseline_ms,
                light: None,
            },
            log: CaptureLog::default(),
        }
    }

    fn answer(&mut self, t_ms: u64, index: Option<u16>) -> Cue {
        self.log
            .admit(&self.plan, &ClockLimits::default(), t_ms, t_ms + 30, index)
            .unwrap()
    }
}

/// A capture flow and the verifier it talks to.
struct Session {
    capture: Capture,
    verifier: Verifier,
}

impl Session {
    fn new(kinds: &[ChallengeKind]) -> Self {
        Self {
            capture: Capture::new(script(kinds)),
            verifier: Verifier::new(kinds),
        }
    }

    /// With the light challenge: the verifier's plan as its claim makes it (the
    /// baseline lasts the sequence and 800 ms more).
    fn with_light(kinds: &[ChallengeKind]) -> Self {
        let light = LightPlan::from_seed(&[9; 32]);
        let baseline_ms = light.start_ms + light.total_ms() + 800;
        let mut verifier = Verifier::new(kinds);
        verifier.plan.baseline_ms = baseline_ms;
        verifier.plan.light = Some(light);
        let mut script = script(kinds);
        script.light = true;
        script.capture.baseline_ms = baseline_ms;
        Self {
            capture: Capture::new(script),
            verifier,
        }
    }

    /// One frame through the flow; a frame sent is answered at once.
    fn step(&mut self, obs: Observation, picture: [u8; 32]) -> Step {
        let t = obs.t_ms;
        let step = self.capture.step(obs, picture);
        if let Some(index) = step.send {
            let cue = self.verifier.answer(t, index);
            self.capture.cue(&cue);
        }
        step
    }
}

#[test]
fn d18_at_ten_frames_a_second_is_positioned_then_blinks_and_smiles_in_order() {
    let engine = engine();
    let bytes = testdata("video/lp_d18_actions_640x480_30fps.mjpeg");
    let frames: Vec<_> = split_mjpeg(&bytes).into_iter().step_by(3).collect();

    let mut positioning = Positioning::default();
    let mut used = 0;
    for jpeg in &frames {
        let img = decode(jpeg).unwrap();
        let obs = with_noise(first_pass(&engine, &img, 0, false), &img.frame().unwrap());
        used += 1;
        let (g, ready) = positioning.step(&obs);
        assert_eq!(g, Guidance::LookStraight);
        if ready {
            break;
        }
    }
    assert_eq!(
        used, POSITIONED_FRAMES,
        "a well-framed face is positioned at once"
    );

    let mut capture = Session::new(&[ChallengeKind::Blink, ChallengeKind::Smile]);
    let mut prompts = Vec::new();
    let mut sent = 0;
    let mut end = None;
    for (i, jpeg) in frames[used..].iter().enumerate() {
        let img = decode(jpeg).unwrap();
        let obs = first_pass(&engine, &img, i as u64 * 100, true);
        let step = capture.step(obs, picture(i as u64));
        if prompts.last() != Some(&step.guidance) {
            prompts.push(step.guidance);
        }
        sent += usize::from(step.send.is_some());
        if step.end.is_some() {
            end = step.end;
            break;
        }
    }
    assert_eq!(end, Some(End::AllSeen), "prompts {prompts:?}");
    // Baseline, each challenge in order as the verifier reveals it (holding still for
    // the frame the next reveal takes), then the tail after the last one.
    assert_eq!(
        prompts,
        [
            Guidance::HoldSteady,
            Guidance::Blink,
            Guidance::HoldSteady,
            Guidance::Smile,
            Guidance::HoldSteady
        ]
    );
    assert_eq!(capture.verifier.log.revealed_ms.len(), 2);
    assert!(sent >= 20, "{sent} frames sent");
}

#[test]
fn a_challenge_never_performed_ends_the_capture_when_its_window_passes() {
    let mut capture = Session::new(&[ChallengeKind::TurnLeft]);
    let obs = still_face();
    let mut end = None;
    for i in 0..100u64 {
        let step = capture.step(
            Observation {
                t_ms: i * 100,
                ..obs.clone()
            },
            picture(i),
        );
        if i * 100 <= 6000 {
            assert_eq!(step.end, None, "at {} ms", i * 100);
        }
        if step.end.is_some() {
            end = step.end.map(|e| (e, i * 100));
            break;
        }
    }
    // Asked for at 1000 ms, revealed as that frame arrived (1030): its window ends at 6030.
    assert_eq!(end, Some((End::WindowMissed(0), 6100)));
    assert_eq!(capture.capture.seen(), 0);
}

#[test]
fn at_the_camera_rate_the_furthest_frame_of_an_action_is_sent_even_inside_the_gap() {
    let engine = engine();
    let bytes = testdata("video/lp_s32_turns_640x480_30fps.mjpeg");
    let kind = ChallengeKind::TurnLeft;
    let mut capture = Session::new(&[kind]);
    let baseline_ms = CaptureParams::default().baseline_ms;

    // (t, action value, sent) of each challenge frame until the turn is seen.
    let mut frames = Vec::new();
    let mut last_sent = None;
    for (i, jpeg) in split_mjpeg(&bytes).into_iter().enumerate() {
        // A 30 fps camera: frames 33 ms apart, inside the 60 ms gap.
        let t = i as u64 * 1000 / 30;
        let obs = first_pass(&engine, &decode(jpeg).unwrap(), t, true);
        let value = kind.action_value(&obs);
        let step = capture.step(obs, picture(i as u64));
        if t >= baseline_ms {
            let sent = step.send.is_some();
            let inside_gap = last_sent.is_some_and(|l| t < l + MIN_FRAME_GAP_MS);
            frames.push((t, value, sent, inside_gap));
        }
        if step.send.is_some() {
            last_sent = Some(t);
        }
        if capture.capture.seen() == 1 {
            break;
        }
    }
    assert_eq!(capture.capture.seen(), 1, "the s32 turn is seen");

    let mut furthest = f32::MIN;
    let mut sent_inside_gap = 0;
    for &(t, value, sent, inside_gap) in &frames {
        let further = value.is_some_and(|v| v > furthest);
        if inside_gap {
            assert_eq!(
                sent, further,
                "at {t} ms: value {value:?}, furthest {furthest}"
            );
            sent_inside_gap += usize::from(sent);
        }
        if further {
            furthest = value.unwrap();
        }
    }
    let peak = frames
        .iter()
        .filter_map(|&(t, v, sent, _)| v.map(|v| (v, t, sent)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    assert!(
        peak.2,
        "the peak at {} ms (value {}) was sent",
        peak.1, peak.0
    );
    assert!(sent_inside_gap > 0, "no frame needed the exception");
}

#[test]
fn the_flow_moves_on_only_when_an_action_clears_the_verifiers_threshold_by_the_margin() {
    let turned = turning_face();
    let rules = ChallengeRules::default();
    let barely = rules.turn_degrees * 1.05;
    let clearly = rules.turn_degrees * SEEN_MARGIN * 1.05;

    // At 10 frames a second: rest, the barely-clearing turn (peak at 1400 ms), rest,
    // the clear one (peak at 2100 ms), rest.
    let rest_then = |deg: f32| [0.0, deg / 2.0, deg, deg / 2.0, 0.0];
    let yaws: Vec<f32> = [0.0; 12]
        .into_iter()
        .chain(rest_then(barely))
        .chain([0.0, 0.0])
        .chain(rest_then(clearly))
        .collect();
    let mut session = Session::new(&[ChallengeKind::TurnLeft, ChallengeKind::Blink]);
    let mut sent = Vec::new();
    let mut t = 0;
    for &deg in &yaws {
        let obs = turned(t, deg);
        if session.step(obs.clone(), picture(t)).send.is_some() {
            sent.push(obs);
        }
        assert_eq!(session.capture.seen(), usize::from(t >= 2200), "at {t} ms");
        t += 100;
    }
    // The verifier passes the first, smaller turn in the window it revealed; the flow
    // asked for the blink only once the clear turn was over (2200 ms), and gives up on
    // it when that window closes.
    let windows = session
        .verifier
        .log
        .windows(&session.verifier.plan, &ClockLimits::default());
    let verdicts = judge_windows(&sent, &windows[..1], 700, &rules);
    assert_eq!(verdicts[0].t_ms, Some(1400));
    // The blink is asked for by the frame after the turn was seen (2300 ms).
    assert_eq!(session.verifier.log.revealed_ms, [1030, 2330]);
    let window_end = 2330 + 5000;
    let mut end = None;
    while end.is_none() {
        end = session.step(turned(t, 0.0), picture(t)).end.map(|e| (e, t));
        t += 100;
    }
    assert_eq!(end, Some((End::WindowMissed(1), window_end + 70)));
}

#[test]
fn a_picture_already_sent_is_neither_sent_again_nor_judged() {
    let turned = turning_face();
    let clearly = ChallengeRules::default().turn_degrees * SEEN_MARGIN * 1.5;
    let mut capture = Session::new(&[ChallengeKind::TurnLeft]);
    for i in 0..12 {
        capture.step(turned(i * 100, 0.0), picture(i));
    }
    // Rest (picture 12) and the turn's peak, then a looping camera shows picture 12
    // again: the return it would make is not on the verifier's record.
    assert!(capture.step(turned(1200, 0.0), picture(12)).send.is_some());
    assert!(capture
        .step(turned(1300, clearly), picture(13))
        .send
        .is_some());
    let repeat = capture.step(turned(1400, 0.0), picture(12));
    assert_eq!(
        repeat.send, None,
        "a repeat is not sent, even after the frame gap"
    );
    assert_eq!(capture.capture.seen(), 0, "nor judged");
    // A new picture of the return (half way back: an action passes through
    // intermediate states) completes the turn.
    assert!(capture
        .step(turned(1500, clearly / 2.0), picture(15))
        .send
        .is_some());
    assert_eq!(capture.capture.seen(), 1);
}

#[test]
fn a_picture_sent_in_a_refused_attempt_is_not_sent_in_the_next() {
    let turned = turning_face();
    let mut first = Session::new(&[ChallengeKind::TurnLeft]);
    for i in 0..12 {
        first.step(turned(i * 100, 0.0), picture(i));
    }
    // The next attempt: a looping camera shows picture 5 again, then new ones.
    let mut next = Session {
        capture: first
            .capture
            .next_attempt(script(&[ChallengeKind::TurnLeft])),
        verifier: Verifier::new(&[ChallengeKind::TurnLeft]),
    };
    assert_eq!(next.step(turned(0, 0.0), picture(5)).send, None);
    assert!(next.step(turned(100, 0.0), picture(100)).send.is_some());
    // Nothing else of the first attempt came along.
    assert_eq!(next.capture.seen(), 0);
}

#[test]
fn with_the_light_challenge_the_flow_holds_still_until_the_light_is_done_then_asks() {
    let turned = turning_face();
    let mut session = Session::with_light(&[ChallengeKind::TurnLeft]);
    let mut t = 0;
    let mut tags = Vec::new();
    let mut guidance = Vec::new();
    while session.verifier.log.revealed_ms.is_empty() && t < 10_000 {
        let step = session.step(turned(t, 0.0), picture(t));
        if let Some(tag) = step.send {
            tags.push((t, tag));
        }
        guidance.push((t, step.guidance));
        t += 100;
    }
    let off = session
        .verifier
        .log
        .light_off_ms
        .expect("the light ran to its end");
    let first_ask = tags.iter().find(|(_, tag)| tag.is_some()).map(|&(t, _)| t);
    // Not one frame asked for a challenge while the colours showed.
    assert!(
        first_ask.is_some_and(|a| a + 30 >= off),
        "asked at {first_ask:?}, light off at {off}"
    );
    assert!(guidance
        .iter()
        .filter(|(t, _)| t + 30 < off)
        .all(|(_, g)| *g == Guidance::Light));
    assert_eq!(session.verifier.log.light_shown_ms.len(), 5);
    assert!(session.verifier.log.revealed_ms[0] >= off);
}

#[test]
fn a_passive_capture_with_the_light_ends_only_after_the_light() {
    let obs = still_face();
    let mut session = Session::with_light(&[]);
    let mut end = None;
    let mut t = 0;
    while end.is_none() && t < 10_000 {
        end = session
            .step(
                Observation {
                    t_ms: t,
                    ..obs.clone()
                },
                picture(t),
            )
            .end
            .map(|e| (e, t));
        t += 100;
    }
    let off = session
        .verifier
        .log
        .light_off_ms
        .expect("the light ran to its end");
    let (e, at) = end.unwrap();
    assert_eq!(e, End::AllSeen);
    assert!(
        at + 30 >= off && at >= session.verifier.plan.baseline_ms,
        "ended at {at}, light off at {off}"
    );
}

/// A dim camera's grain (Gaussian noise of σ 6 in each channel, a fixed seed) on d18:
/// positioning asks for more light for a while, then lets the capture go ahead.
#[test]
fn a_grainy_face_is_asked_for_more_light_before_the_capture_then_let_through() {
    let engine = engine();
    let clean = decode(&testdata("live_frames/lp_d18_t0.5_neutral.png")).unwrap();
    let mut grainy = clean.clone();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 11) as f32 + 0.5) / (1u64 << 53) as f32
    };
    for v in grainy.data.chunks_exact_mut(4).flat_map(|px| &mut px[..3]) {
        let (a, b) = (uniform(), uniform());
        let g = (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos();
        *v = (*v as f32 + 6.0 * g).round().clamp(0.0, 255.0) as u8;
    }
    let observe =
        |img: &RgbaImage| with_noise(first_pass(&engine, img, 0, false), &img.frame().unwrap());

    let mut positioning = Positioning::default();
    let clean = observe(&clean);
    for _ in 1..POSITIONED_FRAMES {
        assert_eq!(positioning.step(&clean), (Guidance::LookStraight, false));
    }
    assert_eq!(positioning.step(&clean), (Guidance::LookStraight, true));

    let grainy = observe(&grainy);
    assert!(grainy.quality.issues.is_empty(), "{:?}", grainy.quality);
    let mut positioning = Positioning::default();
    for i in 0..NOISY_HOLD_FRAMES {
        assert_eq!(
            positioning.step(&grainy),
            (Guidance::TooDark, false),
            "frame {i}"
        );
    }
    for _ in 1..POSITIONED_FRAMES {
        assert_eq!(positioning.step(&grainy), (Guidance::LookStraight, false));
    }
    assert_eq!(positioning.step(&grainy), (Guidance::LookStraight, true));
}
