//! The JavaScript API (wasm-bindgen) and its TypeScript types.

mod camera;
mod net;
mod run;
mod timer;
mod ui;

use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Code, SdkError};
use crate::guidance::{Guidance, Label, Locale};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A challenge the verifier's script may ask for. "Left" and "right" are the user's own. */
export type ChallengeType = "BLINK" | "TURN_LEFT" | "TURN_RIGHT" | "LOOK_UP" | "SMILE" | "OPEN_MOUTH";

/** What the user is being told, as a stable code (the text is in `PromptEvent.text`). */
export type GuidanceCode =
  | "loading" | "camera_starting" | "face_not_found" | "multiple_faces" | "move_closer"
  | "move_back" | "centre_face" | "face_out_of_frame" | "too_dark" | "too_bright"
  | "colour_camera" | "camera_frozen" | "hold_steady" | "look_straight" | "light" | "blink" | "turn_left" | "turn_right" | "look_up"
  | "smile" | "open_mouth" | "checking" | "passed" | "not_passed"
  | "retry_challenge_missed" | "retry_face_not_seen" | "retry_multiple_faces" | "retry_unsuitable_camera"
  | "cancelled" | "error";

/** The SDK's buttons and progress steps (`{n}` and `{total}` are filled in). */
export type LabelCode =
  | "button_cancel" | "button_back" | "button_try_again" | "button_continue" | "progress_label"
  | "step_loading" | "step_positioning" | "step_challenge" | "step_looking" | "step_checking"
  | "step_retry" | "step_done";

/** Errors to branch on (`error.code`). */
export type ErrorCode =
  | "permission_denied" | "no_camera" | "camera_in_use" | "insecure_context"
  | "unsupported_browser" | "session_expired" | "link_already_used" | "network"
  | "timeout" | "camera_frozen" | "cancelled" | "invalid_link" | "internal";

/** Every rejection and `onError` of the SDK: `e instanceof LivecheckError`, then `e.code`. */
export class LivecheckError extends Error {
  constructor(code: ErrorCode, message: string);
  name: "LivecheckError";
  code: ErrorCode;
}

export interface PromptEvent {
  code: GuidanceCode;
  text: string;
  /** The challenge being prompted, when the prompt is one. */
  challenge: ChallengeType | null;
  index: number | null;
  total: number;
}

export interface ProgressEvent {
  /** `retry`: an attempt was refused for something the user can put right; the SDK shows why and a Try again button. */
  phase: "loading" | "positioning" | "capture" | "checking" | "retry" | "done";
  challengesDone: number;
  challengesTotal: number;
  framesSent: number;
  /** 0–1 */
  fraction: number;
  /** Milliseconds the last frame took, from grab to verdict (JPEG encoding included). */
  frameMs: number;
  /** Of those, the first-pass check itself: decoding and analysing the frame. */
  analysisMs: number;
}

export interface StartOptions {
  /** The capture link the verifier returned (`https://verifier.example/l/…`). */
  link: string;
  /** Where the preview and prompts go: an element or a CSS selector (default: a new div at the end of the body). */
  container?: Element | string;
  onPrompt?: (prompt: PromptEvent) => void;
  onProgress?: (progress: ProgressEvent) => void;
  onError?: (error: LivecheckError) => void;
  /**
   * The language of the built-in texts, a BCP 47 tag (`"fr"`, `"pt-BR"`): English, Spanish,
   * French, German, Portuguese, Indonesian, Japanese and Arabic (right to left) are built
   * in. Default: the browser's languages (`navigator.languages`), else English.
   */
  language?: string;
  /** Texts by code (guidance codes, and `LabelCode`s for buttons and progress), replacing the language's. */
  locale?: Partial<Record<GuidanceCode | LabelCode, string>>;
  /** Go to the verifier's redirect when done (the hosted page does). Default false. */
  redirect?: boolean;
  /** Aborting it cancels the check. */
  signal?: AbortSignal;
  /** Longest wait for a usable face before the capture starts, ms (default 30000). */
  faceTimeoutMs?: number;
  /**
   * Decline the light challenge (checks created with `light_challenge`): the screen then
   * shows no colours, and the result records that the user opted out. Offer it to
   * users who are sensitive to flashing light; the colours change at most twice a
   * second and include no saturated red. Default false.
   */
  lightOptOut?: boolean;
}

export interface LivecheckResult {
  status: "completed" | "failed";
  passed: boolean;
  failureReason: string | null;
  /** The signed result token to hand to your backend. */
  lcToken: string | null;
  redirectUrl: string;
  /** Attempts the user made (the verifier may offer another after a missed challenge). */
  attempts: number;
}
"#;

/// The SDK's entry point.
#[wasm_bindgen]
pub struct Livecheck {
    _private: (),
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn function(obj: &JsValue, key: &str) -> Option<js_sys::Function> {
    get(obj, key).dyn_into().ok()
}

fn options(value: &JsValue, controls: Rc<run::Controls>) -> Result<run::Options, SdkError> {
    let link = get(value, "link").as_string().ok_or_else(|| {
        SdkError::new(
            Code::InvalidLink,
            "options.link (the capture URL) is required",
        )
    })?;
    let locale_value = get(value, "locale");
    let texts: HashMap<String, String> = if locale_value.is_undefined() || locale_value.is_null() {
        HashMap::new()
    } else {
        serde_wasm_bindgen::from_value(locale_value)
            .map_err(|e| SdkError::new(Code::Internal, format!("options.locale: {e}")))?
    };
    // The integrator's language, else the browser's, most wanted first.
    let preferred: Vec<String> = match get(value, "language").as_string() {
        Some(tag) => vec![tag],
        None => web_sys::window()
            .map(|w| w.navigator().languages())
            .map(|list| list.iter().filter_map(|v| v.as_string()).collect())
            .unwrap_or_default(),
    };
    let timeout = get(value, "faceTimeoutMs").as_f64().unwrap_or(30_000.0);
    Ok(run::Options {
        link,
        container: get(value, "container"),
        on_prompt: function(value, "onPrompt"),
        on_progress: function(value, "onProgress"),
        locale: Locale::pick(preferred.iter().map(String::as_str), texts),
        redirect: get(value, "redirect").as_bool().unwrap_or(false),
        signal: get(value, "signal").dyn_into().ok(),
        face_timeout_ms: timeout.clamp(1000.0, 600_000.0) as u32,
        light_opt_out: get(value, "lightOptOut").as_bool().unwrap_or(false),
        controls,
    })
}

/// One check mounted in the page: its result, and `destroy()` to take it out.
#[wasm_bindgen]
pub struct LivecheckCapture {
    result: js_sys::Promise,
    controls: Rc<run::Controls>,
}

#[wasm_bindgen]
impl LivecheckCapture {
    /// Resolves with the verifier's decision; rejects with a `LivecheckError`.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<LivecheckResult>")]
    pub fn result(&self) -> js_sys::Promise {
        self.result.clone()
    }

    /// Stops the camera and removes the SDK's UI at once; `result` then rejects with
    /// `cancelled`. A capture under way ends its check as cancelled; a link not yet
    /// claimed stays unused, so the check can be mounted again (React's StrictMode
    /// mounts, destroys and mounts again).
    pub fn destroy(&self) {
        self.controls.destroy();
    }
}

#[wasm_bindgen]
impl Livecheck {
    /// Runs one check. Resolves with the verifier's decision; rejects with a
    /// `LivecheckError` (also passed to `onError`). `mount` does the same and can be
    /// destroyed.
    #[wasm_bindgen(unchecked_return_type = "Promise<LivecheckResult>")]
    pub fn start(
        #[wasm_bindgen(unchecked_param_type = "StartOptions")] options_value: JsValue,
    ) -> js_sys::Promise {
        Self::mount(options_value).result
    }

    /// Mounts one check in the page: `result` is what `start` resolves with, and
    /// `destroy()` takes it out (a component's unmount).
    pub fn mount(
        #[wasm_bindgen(unchecked_param_type = "StartOptions")] options_value: JsValue,
    ) -> LivecheckCapture {
        let controls = Rc::new(run::Controls::default());
        let on_error = function(&options_value, "onError");
        let parsed = options(&options_value, controls.clone());
        let result = wasm_bindgen_futures::future_to_promise(async move {
            let result = match parsed {
                Ok(opts) => run::run(opts).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(outcome) => serde_wasm_bindgen::to_value(&outcome)
                    .map_err(|e| SdkError::new(Code::Internal, e.to_string()).to_js()),
                Err(e) => {
                    let err = e.to_js();
                    if let Some(f) = &on_error {
                        let _ = f.call1(&JsValue::NULL, &err);
                    }
                    Err(err)
                }
            }
        });
        LivecheckCapture { result, controls }
    }
}

/// Downloads and checks the first-pass models from the verifier of `link` ahead of
/// `start` (call after `init()`, e.g. while the user reads the page): the capture then
/// starts without waiting for them. Browsers cache them by content hash.
#[wasm_bindgen(js_name = preload)]
pub async fn preload(link: String) -> Result<(), JsValue> {
    let api = net::Api::from_link(&link).map_err(|e| e.to_js())?;
    run::engine(&api).await.map(|_| ()).map_err(|e| e.to_js())
}

/// Every text of a built-in language (English when `language` is not built in or not
/// given), by guidance and label code: a starting point for a locale.
#[wasm_bindgen(js_name = defaultTexts, unchecked_return_type = "Record<GuidanceCode | LabelCode, string>")]
pub fn default_texts(language: Option<String>) -> JsValue {
    let locale = Locale::pick(language.as_deref(), HashMap::new());
    let obj = js_sys::Object::new();
    for g in Guidance::ALL {
        let _ = js_sys::Reflect::set(&obj, &g.code().into(), &locale.text(g).into());
    }
    for l in Label::ALL {
        let _ = js_sys::Reflect::set(&obj, &l.code().into(), &locale.template(l).into());
    }
    obj.into()
}

/// The built-in languages (ISO 639-1), English first.
#[wasm_bindgen(js_name = languages, unchecked_return_type = "string[]")]
pub fn languages() -> JsValue {
    crate::guidance::languages()
        .map(JsValue::from)
        .collect::<js_sys::Array>()
        .into()
}

/// The SDK's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
