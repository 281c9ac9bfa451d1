//! The front camera: permission, the live `<video>`, and frames read back as RGBA
//! (unmirrored: the preview's mirror is CSS only) or encoded as JPEG.

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlVideoElement, MediaStream};

use super::timer::{sleep, wait, within};
use crate::error::{js_message, Code, SdkError, SdkResult};

const JPEG_QUALITY: f64 = 0.92;
const OPEN_MS: u32 = 30_000;

pub struct Camera {
    stream: MediaStream,
    video: HtmlVideoElement,
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    last_digest: Cell<u64>,
}

/// One RGBA frame read from the camera.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

fn camera_error(e: &JsValue) -> SdkError {
    let name = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| d.name())
        .unwrap_or_default();
    let code = match name.as_str() {
        "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => Code::PermissionDenied,
        "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => Code::NoCamera,
        "NotReadableError" | "AbortError" | "TrackStartError" => Code::CameraInUse,
        _ => Code::Internal,
    };
    SdkError::new(code, format!("camera: {name} {}", js_message(e)))
}

impl Camera {
    /// Asks for the front camera at about `width`×`height` and plays it into `video`.
    pub async fn open(video: &HtmlVideoElement, width: u32, height: u32) -> SdkResult<Self> {
        let window = web_sys::window()
            .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no window"))?;
        if !window.is_secure_context() {
            return Err(SdkError::new(
                Code::InsecureContext,
                "the camera needs https (or http on localhost)",
            ));
        }
        let devices = window.navigator().media_devices().map_err(|_| {
            SdkError::new(Code::UnsupportedBrowser, "this browser has no camera API")
        })?;
        let constraints = js_sys::JSON::parse(&format!(
            r#"{{"audio":false,"video":{{"facingMode":"user","width":{{"ideal":{width}}},"height":{{"ideal":{height}}}}}}}"#
        ))
        .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))?;
        let promise = devices
            .get_user_media_with_constraints(constraints.unchecked_ref())
            .map_err(|_| {
                SdkError::new(Code::UnsupportedBrowser, "getUserMedia is not available")
            })?;
        let stream: MediaStream = within(OPEN_MS, "opening the camera", async {
            wasm_bindgen_futures::JsFuture::from(promise)
                .await
                .map_err(|e| camera_error(&e))
        })
        .await?
        .unchecked_into();

        video.set_muted(true);
        let _ = video.set_attribute("playsinline", "");
        let _ = video.set_attribute("autoplay", "");
        video.set_src_object(Some(&stream));
        let camera = {
            let document = window
                .document()
                .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no document"))?;
            let canvas: HtmlCanvasElement = document
                .create_element("canvas")
                .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))?
                .unchecked_into();
            let opts =
                js_sys::JSON::parse(r#"{"willReadFrequently":true}"#).unwrap_or(JsValue::NULL);
            let ctx: CanvasRenderingContext2d = canvas
                .get_context_with_context_options("2d", &opts)
                .ok()
                .flatten()
                .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no 2D canvas"))?
                .unchecked_into();
            Camera {
                stream,
                video: video.clone(),
                canvas,
                ctx,
                last_digest: Cell::new(0),
            }
        };
        if let Ok(p) = video.play() {
            // Autoplay of a muted stream is allowed; a refusal shows up as no frames below.
            let _ = wait(p, Code::Internal).await;
        }
        within(OPEN_MS, "the first camera frame", async {
            while video.video_width() == 0 {
                sleep(50).await;
            }
            Ok(())
        })
        .await
        .inspect_err(|_| camera.stop())?;
        Ok(camera)
    }

    /// The current frame, or `None` when it is the same picture as the last one read
    /// (the camera has not delivered a new frame yet).
    pub fn grab(&self) -> SdkResult<Option<Pixels>> {
        let (w, h) = (self.video.video_width(), self.video.video_height());
        if w == 0 || h == 0 {
            return Ok(None);
        }
        if self.canvas.width() != w || self.canvas.height() != h {
            self.canvas.set_width(w);
            self.canvas.set_height(h);
        }
        self.ctx
            .draw_image_with_html_video_element(&self.video, 0.0, 0.0)
            .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))?;
        let data = self
            .ctx
            .get_image_data(0.0, 0.0, w as f64, h as f64)
            .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))?;
        let rgba = data.data().0;
        let digest = quick_digest(&rgba);
        if digest == self.last_digest.replace(digest) {
            return Ok(None);
        }
        Ok(Some(Pixels {
            width: w,
            height: h,
            rgba,
        }))
    }

    /// The frame last grabbed, as JPEG bytes (the canvas is copied now, encoded later).
    pub fn jpeg(&self) -> js_sys::Promise {
        let canvas = self.canvas.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            let cb = Closure::once_into_js(move |blob: JsValue| {
                let _ = resolve.call1(&JsValue::NULL, &blob);
            });
            if let Err(e) = canvas.to_blob_with_type_and_encoder_options(
                cb.unchecked_ref(),
                "image/jpeg",
                &JPEG_QUALITY.into(),
            ) {
                let _ = reject.call1(&JsValue::NULL, &e);
            }
        })
    }

    /// What the camera says of itself, for the verifier's risk signals (`risk.rs`):
    /// the track's label and settings.
    pub fn report(&self) -> serde_json::Value {
        let Some(track) = self
            .stream
            .get_video_tracks()
            .get(0)
            .dyn_into::<web_sys::MediaStreamTrack>()
            .ok()
        else {
            return serde_json::Value::Null;
        };
        let settings = js_sys::Reflect::get(&track, &"getSettings".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call0(&track).ok())
            .unwrap_or(JsValue::UNDEFINED);
        let num = |k: &str| {
            js_sys::Reflect::get(&settings, &k.into())
                .ok()
                .and_then(|v| v.as_f64())
        };
        let text = js_sys::Reflect::get(&settings, &"facingMode".into())
            .ok()
            .and_then(|v| v.as_string());
        serde_json::json!({
            "label": track.label(),
            "width": num("width").map(|v| v as u32),
            "height": num("height").map(|v| v as u32),
            "frame_rate": num("frameRate"),
            "facing_mode": text,
        })
    }

    pub fn stop(&self) {
        for track in self.stream.get_tracks().iter() {
            if let Ok(t) = track.dyn_into::<web_sys::MediaStreamTrack>() {
                t.stop();
            }
        }
        self.video.set_src_object(None);
    }
}

/// FNV-1a over a sparse sample of the pixels: enough to tell a repeated frame.
fn quick_digest(rgba: &[u8]) -> u64 {
    rgba.iter()
        .step_by(61)
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        })
}

/// Bytes of a `Blob`.
pub async fn blob_bytes(blob: JsValue) -> SdkResult<Vec<u8>> {
    let blob: web_sys::Blob = blob
        .dyn_into()
        .map_err(|_| SdkError::new(Code::Internal, "the frame could not be encoded"))?;
    let buf = wait(blob.array_buffer(), Code::Internal).await?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
