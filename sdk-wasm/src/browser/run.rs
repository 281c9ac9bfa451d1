//! One check in the browser, start to end: UI, camera and models, positioning, claim,
//! capture with uploads as it goes, finish, and the way on.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::mpsc;
use futures_util::future::{join, try_join3, LocalBoxFuture, Shared};
use futures_util::FutureExt;
use futures_util::StreamExt;
use livecheck_core::protocol::answers::Finished;
use livecheck_core::protocol::{sha256, FrameSigner};
use livecheck_core::timeline::Cue;
use livecheck_core::tracking::Follower;
use livecheck_core::{Engine, Frame, ModelBytes, ObserveOptions};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::camera::{blob_bytes, Camera};
use super::net::Api;
use super::timer::{now_ms, sleep, wait};
use super::ui::Ui;
use crate::error::{Code, SdkError, SdkResult};
use crate::flow::{with_noise, Capture, FreezeWatch, Positioning, DETECT_EVERY};
use crate::guidance::{Guidance, Label, Locale};

/// What `destroy()` reaches from outside a run: the cancel flag and the mounted UI.
#[derive(Default)]
pub struct Controls {
    cancelled: Rc<Cell<bool>>,
    destroyed: Cell<bool>,
    mounted: RefCell<Option<(web_sys::HtmlElement, web_sys::HtmlVideoElement)>>,
}

impl Controls {
    /// Stops the camera and removes the UI now; the run then ends as cancelled.
    pub fn destroy(&self) {
        self.destroyed.set(true);
        self.cancelled.set(true);
        if let Some((root, video)) = self.mounted.borrow_mut().take() {
            super::ui::unmount(&root, &video);
        }
    }

    /// Keeps the mounted UI for `destroy()`; false (and the UI gone) when it came first.
    fn mounted(&self, ui: &Ui) -> bool {
        if self.destroyed.get() {
            super::ui::unmount(ui.root(), ui.video());
            return false;
        }
        *self.mounted.borrow_mut() = Some((ui.root().clone(), ui.video().clone()));
        true
    }
}

pub struct Options {
    pub link: String,
    pub container: JsValue,
    pub on_prompt: Option<js_sys::Function>,
    pub on_progress: Option<js_sys::Function>,
    pub locale: Locale,
    /// Hosted page: go to the verifier's redirect when done.
    pub redirect: bool,
    pub signal: Option<web_sys::AbortSignal>,
    /// Longest wait for a usable face before the capture starts.
    pub face_timeout_ms: u32,
    /// Decline the light challenge's colours (the user asked: photosensitivity).
    pub light_opt_out: bool,
    pub controls: Rc<Controls>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: String,
    pub passed: bool,
    pub failure_reason: Option<String>,
    pub lc_token: Option<String>,
    pub redirect_url: String,
    /// Attempts made (more than one when the verifier offered another and the user
    /// took it).
    pub attempts: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Prompt<'a> {
    code: &'a str,
    text: &'a str,
    challenge: Option<&'a str>,
    index: Option<usize>,
    total: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    phase: &'static str,
    challenges_done: usize,
    challenges_total: usize,
    frames_sent: u32,
    fraction: f64,
    /// Milliseconds the last frame took, from grab to verdict (JPEG encoding included).
    frame_ms: f64,
    /// Of those, the first-pass check itself: analysing the frame's pixels.
    analysis_ms: f64,
}

/// What one frame cost, for `onProgress` (zero outside the frame loops).
#[derive(Clone, Copy, Default)]
struct Cost {
    frame_ms: f64,
    analysis_ms: f64,
}

/// The page's engine load: one at a time, shared by whoever asks while it runs.
type Loading = Shared<LocalBoxFuture<'static, SdkResult<Rc<Engine>>>>;

thread_local! {
    static ENGINE: RefCell<Option<Loading>> = const { RefCell::new(None) };
}

/// The first-pass engine (no anti-spoof: that is the verifier's), loaded once per page
/// (`preload()` loads it ahead). A start while the preload runs waits for that load
/// instead of fetching the models again; a load that failed is tried afresh next time.
pub async fn engine(api: &Api) -> SdkResult<Rc<Engine>> {
    let loading = ENGINE.with(|e| e.borrow().clone()).unwrap_or_else(|| {
        let models = api.same_origin();
        let loading = async move { load_engine(&models).await }
            .boxed_local()
            .shared();
        ENGINE.with(|e| *e.borrow_mut() = Some(loading.clone()));
        loading
    });
    let engine = loading.await;
    if engine.is_err() {
        ENGINE.with(|e| *e.borrow_mut() = None);
    }
    engine
}

async fn load_engine(api: &Api) -> SdkResult<Rc<Engine>> {
    // The three downloads at once: on a slow link the page waits for the largest only.
    let (yunet, mesh, blend) = try_join3(
        api.model("yunet"),
        api.model("face_mesh"),
        api.model("blendshapes"),
    )
    .await?;
    let engine = Engine::from_model_bytes(&ModelBytes {
        yunet: &yunet,
        face_mesh: &mesh,
        blendshapes: &blend,
        anti_spoof: None,
        face_recognition: None,
    })
    .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
    Ok(Rc::new(engine))
}

struct Session<'a> {
    opts: &'a Options,
    ui: Ui,
    cancelled: Rc<Cell<bool>>,
    total: Cell<usize>,
    /// The attempt offered next and the attempts allowed, once the verifier offers one.
    next_attempt: Cell<(u32, u32)>,
}

impl Session<'_> {
    fn prompt(&self, g: Guidance, challenge: Option<(usize, &str)>) {
        if !self.ui.show(g) {
            return;
        }
        if let Some(f) = &self.opts.on_prompt {
            let text = self.ui.text(g);
            let p = Prompt {
                code: g.code(),
                text: &text,
                challenge: challenge.map(|c| c.1),
                index: challenge.map(|c| c.0),
                total: self.total.get(),
            };
            if let Ok(v) = serde_wasm_bindgen::to_value(&p) {
                let _ = f.call1(&JsValue::NULL, &v);
            }
        }
    }

    fn progress(&self, phase: &'static str, done: usize, sent: u32, fraction: f64, cost: Cost) {
        let total = self.total.get();
        let ui = &self.ui;
        let step = match phase {
            "loading" => ui.label(Label::StepLoading, 0, 0),
            "positioning" => ui.label(Label::StepPositioning, 0, 0),
            "capture" if total > 0 => ui.label(Label::StepChallenge, (done + 1).min(total), total),
            "capture" => ui.label(Label::StepLooking, 0, 0),
            "checking" => ui.label(Label::StepChecking, 0, 0),
            "retry" => {
                let (next, of) = self.next_attempt.get();
                ui.label(Label::StepRetry, next as usize, of as usize)
            }
            _ => ui.label(Label::StepDone, 0, 0),
        };
        self.ui.progress(fraction, &step);
        if let Some(f) = &self.opts.on_progress {
            let p = Progress {
                phase,
                challenges_done: done,
                challenges_total: self.total.get(),
                frames_sent: sent,
                fraction,
                frame_ms: cost.frame_ms,
                analysis_ms: cost.analysis_ms,
            };
            if let Ok(v) = serde_wasm_bindgen::to_value(&p) {
                let _ = f.call1(&JsValue::NULL, &v);
            }
        }
    }

    fn check_cancelled(&self) -> SdkResult<()> {
        if self.cancelled.get() {
            Err(SdkError::new(Code::Cancelled, "the user cancelled"))
        } else {
            Ok(())
        }
    }
}

fn frame_of(px: &super::camera::Pixels) -> SdkResult<Frame<'_>> {
    Frame::new(px.width, px.height, &px.rgba)
        .map_err(|e| SdkError::new(Code::Internal, e.to_string()))
}

fn model_error(e: livecheck_core::ModelError) -> SdkError {
    SdkError::new(Code::Internal, e.to_string())
}

pub async fn run(opts: Options) -> SdkResult<Outcome> {
    let api = Api::from_link(&opts.link)?;
    let cancelled = opts.controls.cancelled.clone();
    let _abort = opts.signal.as_ref().map(|s| {
        let flag = cancelled.clone();
        let cb = Closure::<dyn FnMut()>::new(move || flag.set(true));
        s.set_onabort(Some(cb.as_ref().unchecked_ref()));
        cb
    });
    let container = super::ui::container(&opts.container)?;
    let ui = Ui::mount(&container, opts.locale.clone(), cancelled.clone())?;
    if !opts.controls.mounted(&ui) {
        return Err(SdkError::new(Code::Cancelled, "destroyed"));
    }
    let s = Session {
        opts: &opts,
        ui,
        cancelled,
        total: Cell::new(0),
        next_attempt: Cell::new((1, 1)),
    };
    s.prompt(Guidance::Loading, None);
    s.progress("loading", 0, 0, 0.0, Cost::default());

    // Models first, then the camera: its light comes on only once frames can be checked.
    let result = async {
        let engine = engine(&api).await?;
        s.check_cancelled()?;
        s.prompt(Guidance::CameraStarting, None);
        let camera = Camera::open(s.ui.video(), 640, 480).await?;
        let result = capture(&s, &api, &engine, &camera).await;
        camera.stop();
        result
    }
    .await;
    match result {
        Ok(outcome) => Ok(outcome),
        Err(e) if e.code == Code::Cancelled && opts.controls.destroyed.get() => {
            // Taken out of the page: a capture under way ends as cancelled, but a link
            // not yet claimed stays unused (a framework may mount the SDK again).
            if api.claimed() {
                let _ = api.cancel().await;
            }
            Err(e)
        }
        Err(e) if e.code == Code::Cancelled => {
            s.prompt(Guidance::Cancelled, None);
            s.ui.finished();
            // The verifier hears of it: the check ends as cancelled (its webhook fires).
            if let Ok(url) = api.cancel().await {
                if opts.redirect {
                    navigate(&url);
                }
            }
            Err(e)
        }
        Err(e) => {
            s.prompt(Guidance::Error, None);
            s.ui.finished();
            Err(e)
        }
    }
}

/// Frames queued longer than this (ms after they were taken) are dropped, not sent.
const STALE_MS: f64 = 1500.0;

/// What the SDK tells the verifier with the finish call: its camera, and the time
/// between the frames it analysed. Risk signals only: the verifier decides without them.
fn finish_report(camera: &Camera, intervals: &[f64]) -> serde_json::Value {
    let mut sorted = intervals.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    serde_json::json!({
        "camera": camera.report(),
        "timing": {
            "frames_analysed": intervals.len() + usize::from(!intervals.is_empty()),
            "median_interval_ms": at(0.5),
            "p90_interval_ms": at(0.9),
        },
    })
}

fn navigate(url: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(url);
    }
}

async fn capture(
    s: &Session<'_>,
    api: &Api,
    engine: &Engine,
    camera: &Camera,
) -> SdkResult<Outcome> {
    position(s, engine, camera).await?;
    let claimed = api.claim(s.opts.light_opt_out).await?;
    s.ui.set_cancel_visible(
        claimed.can_cancel || !s.opts.redirect,
        if s.opts.redirect {
            Label::Back
        } else {
            Label::Cancel
        },
    );
    let key = hex::decode(&claimed.frame_key)
        .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
    let mut flow = Capture::new(claimed.script);
    let mut attempts = 1;
    let finished = loop {
        let (finished, done) = take(s, api, engine, camera, &key, flow).await?;
        let Some(offer) = &finished.retry else {
            break finished;
        };
        s.next_attempt.set((offer.attempt + 1, offer.max_attempts));
        // Refused for something the user can put right: say what, and let them choose
        // when to go again (or leave with Cancel/Back).
        s.ui.state("warn");
        s.prompt(Guidance::for_retry(finished.failure_reason), None);
        s.progress("retry", 0, 0, 0.0, Cost::default());
        s.ui.offer_retry();
        while !s.ui.take_retry() {
            s.check_cancelled()?;
            sleep(50).await;
        }
        position(s, engine, camera).await?;
        let next = api.retry().await?;
        attempts = next.attempt;
        flow = done.next_attempt(next.script);
    };
    let redirect_url = finished.redirect_url.unwrap_or_default();
    let lc_token = web_sys::Url::new(&redirect_url)
        .ok()
        .and_then(|u| u.search_params().get("lc_token"));
    s.prompt(
        if finished.passed {
            Guidance::Passed
        } else {
            Guidance::NotPassed
        },
        None,
    );
    s.progress("done", 0, 0, 1.0, Cost::default());
    s.ui.finished();
    if s.opts.redirect {
        if finished.passed {
            navigate(&redirect_url);
        } else {
            s.ui.offer_continue(&redirect_url);
        }
    }
    Ok(Outcome {
        status: finished.status.as_str().to_string(),
        passed: finished.passed,
        failure_reason: finished.failure_reason.map(|r| r.code().to_string()),
        lc_token,
        redirect_url,
        attempts,
    })
}

/// Positioning: detection and quality only, until the face is ready (before the link
/// is used, and again before another attempt).
async fn position(s: &Session<'_>, engine: &Engine, camera: &Camera) -> SdkResult<()> {
    let deadline = now_ms() + s.opts.face_timeout_ms as f64;
    let mut positioning = Positioning::default();
    let mut freeze = FreezeWatch::default();
    s.progress("positioning", 0, 0, 0.0, Cost::default());
    loop {
        s.check_cancelled()?;
        let now = now_ms();
        if freeze.given_up(now) || (now > deadline && freeze.frozen(now)) {
            return Err(SdkError::new(
                Code::CameraFrozen,
                format!(
                    "the camera's picture did not change for {:.0} s",
                    freeze.still_for(now) / 1000.0
                ),
            ));
        }
        if now > deadline {
            return Err(SdkError::new(
                Code::Timeout,
                format!("no usable face within {} s", s.opts.face_timeout_ms / 1000),
            ));
        }
        let Some(px) = camera.grab()? else {
            if freeze.frozen(now) {
                // Not "we can't see a face", and no green frame: the picture is stuck.
                s.ui.state("warn");
                s.prompt(Guidance::CameraFrozen, None);
            }
            sleep(15).await;
            continue;
        };
        freeze.changed(now);
        let t0 = now_ms();
        let frame = frame_of(&px)?;
        let obs = engine
            .observe(
                &frame,
                0,
                ObserveOptions {
                    mesh: false,
                    anti_spoof: false,
                    descriptor: false,
                    appearance: false,
                },
            )
            .map_err(model_error)?;
        let (g, ready) = positioning.step(&with_noise(obs, &frame));
        s.ui.state(if g == Guidance::LookStraight {
            "ok"
        } else {
            "warn"
        });
        s.prompt(g, None);
        let ms = now_ms() - t0;
        let cost = Cost {
            frame_ms: ms,
            analysis_ms: ms,
        };
        s.progress("positioning", 0, 0, 0.0, cost);
        if ready {
            return Ok(());
        }
        sleep(0).await;
    }
}

/// One attempt: the capture with uploads as it goes, then the verifier's decision.
async fn take(
    s: &Session<'_>,
    api: &Api,
    engine: &Engine,
    camera: &Camera,
    key: &[u8],
    mut flow: Capture,
) -> SdkResult<(Finished, Capture)> {
    let script = flow.script().clone();
    s.total.set(script.challenge_count as usize);
    let signer = FrameSigner::new(key, &script.session_id, &script.nonce)
        .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
    let cap_ms = script.capture_ms() as f64 + 2000.0;

    let (tx, rx) = mpsc::unbounded::<(u64, Option<u16>, Vec<u8>)>();
    let upload_error: RefCell<Option<SdkError>> = RefCell::new(None);
    let sent = Cell::new(0u32);
    // The verifier's answers, for the capture loop to read (the light is painted at once).
    let cues: RefCell<Vec<Cue>> = RefCell::new(Vec::new());
    // The capture's clock starts now, just after the claim's answer (the verifier's
    // starts at the claim: ours runs a network trip behind, never ahead).
    let start = now_ms();

    let uploader = async {
        let mut signer = signer;
        let mut rx = rx;
        let mut painted = None;
        while let Some((t, index, bytes)) = rx.next().await {
            if upload_error.borrow().is_some() {
                continue;
            }
            // A frame queued behind a slow upload for longer than this is dropped
            // rather than sent late (the verifier refuses frames older than 3 s).
            if now_ms() - (start + t as f64) > STALE_MS {
                continue;
            }
            let result = async {
                let env = signer
                    .sign(t, index, &bytes)
                    .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
                let mut tries = 0;
                let cue = loop {
                    match api.upload(&env, &bytes).await {
                        Err(e) if e.code == Code::Network && tries < 2 => {
                            tries += 1;
                            sleep(300 * tries).await;
                        }
                        r => break r,
                    }
                }?;
                if cue.light != painted {
                    painted = cue.light;
                    s.ui.light(cue.light);
                }
                cues.borrow_mut().push(cue);
                sent.set(sent.get() + 1);
                Ok(())
            }
            .await;
            if let Err(e) = result {
                *upload_error.borrow_mut() = Some(e);
            }
        }
    };

    let intervals: RefCell<Vec<f64>> = RefCell::new(Vec::new());
    let capture_loop = async {
        let mut end = None;
        let mut last_grab: Option<f64> = None;
        let mut follower = Follower::default();
        let mut analysed = 0usize;
        while end.is_none() {
            s.check_cancelled()?;
            if let Some(e) = upload_error.borrow().clone() {
                return Err(e);
            }
            if now_ms() - start > cap_ms {
                break;
            }
            let Some(px) = camera.grab()? else {
                sleep(10).await;
                continue;
            };
            let t0 = now_ms();
            let t = (t0 - start).max(0.0) as u64;
            if let Some(last) = last_grab.replace(t0) {
                intervals.borrow_mut().push(t0 - last);
            }
            for cue in cues.borrow_mut().drain(..) {
                flow.cue(&cue);
            }
            // The browser encodes the JPEG the verifier receives (the canvas as grabbed)
            // while the same pixels are analysed here.
            let encoding = camera.jpeg();
            let frame = frame_of(&px)?;
            let options = ObserveOptions {
                mesh: true,
                anti_spoof: false,
                descriptor: false,
                appearance: false,
            };
            let (obs, _) = follower
                .observe(
                    engine,
                    &frame,
                    t,
                    options,
                    analysed.is_multiple_of(DETECT_EVERY),
                )
                .map_err(model_error)?;
            analysed += 1;
            let t1 = now_ms();
            let jpeg = blob_bytes(wait(encoding, Code::Internal).await?).await?;
            let cost = Cost {
                frame_ms: now_ms() - t0,
                analysis_ms: t1 - t0,
            };
            let step = flow.step(obs, sha256(&jpeg));
            if let Some(index) = step.send {
                let _ = tx.unbounded_send((t, index, jpeg));
            }
            let challenge = flow
                .current()
                .filter(|_| step.guidance.is_challenge())
                .map(|c| (step.seen, c.kind.as_str()));
            s.ui.state(
                if matches!(
                    step.guidance,
                    Guidance::FaceNotFound
                        | Guidance::MultipleFaces
                        | Guidance::FaceOutOfFrame
                        | Guidance::TooDark
                        | Guidance::TooBright
                ) {
                    "warn"
                } else {
                    "ok"
                },
            );
            s.prompt(step.guidance, challenge);
            let total = flow.total().max(1) as f64;
            s.progress(
                "capture",
                step.seen,
                sent.get(),
                step.seen as f64 / total,
                cost,
            );
            end = step.end;
            sleep(0).await;
        }
        // However it ended (all seen, a window missed, the frame limit), the verifier
        // decides from the frames it has, and says why.
        Ok(())
    };
    let capture_loop = async {
        let r = capture_loop.await;
        tx.close_channel();
        r
    };
    let (captured, ()) = join(capture_loop, uploader).await;
    captured?;
    if let Some(e) = upload_error.borrow().clone() {
        return Err(e);
    }

    s.ui.light(None);
    s.ui.state("idle");
    s.prompt(Guidance::Checking, None);
    s.progress("checking", flow.seen(), sent.get(), 1.0, Cost::default());
    let report = finish_report(camera, &intervals.borrow());
    Ok((api.finish(&report).await?, flow))
}
