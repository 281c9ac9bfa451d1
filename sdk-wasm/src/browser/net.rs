//! The verifier's capture API, seen from the browser. Every call has a deadline and
//! every refusal becomes an `SdkError` with the SDK's own code.

use std::cell::RefCell;

use livecheck_core::protocol::answers::{Cancelled, ClaimIn, Claimed, Finished, Retried};
use livecheck_core::protocol::FrameEnvelope;
use livecheck_core::timeline::Cue;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, Headers, RequestInit, RequestMode, Response};

use super::timer::{wait, within};
use crate::error::{js_message, Code, SdkError, SdkResult};

#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    code: String,
    message: String,
}

const CALL_MS: u32 = 20_000;
/// Finishing runs every model over every frame on the verifier.
const FINISH_MS: u32 = 120_000;
const MODEL_MS: u32 = 120_000;

pub struct Api {
    origin: String,
    link: String,
    client_token: RefCell<Option<String>>,
}

enum Body<'a> {
    None,
    Image(&'a [u8], &'a str),
    Json(&'a str),
}

impl Api {
    /// `link` is the capture URL the verifier gave (`https://verifier/l/<link>`), or a
    /// path relative to the page.
    /// An `Api` on the same verifier and link, holding no claim: for downloads that
    /// outlive the capture that asked for them.
    pub fn same_origin(&self) -> Self {
        Self {
            origin: self.origin.clone(),
            link: self.link.clone(),
            client_token: RefCell::new(None),
        }
    }

    pub fn from_link(link: &str) -> SdkResult<Self> {
        let bad = || {
            SdkError::new(
                Code::InvalidLink,
                "link must be a capture URL such as https://verifier.example/l/…",
            )
        };
        let base = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default();
        let url = web_sys::Url::new_with_base(link, &base).map_err(|_| bad())?;
        let path = url.pathname();
        let id = path
            .strip_prefix("/l/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .ok_or_else(bad)?;
        Ok(Self {
            origin: url.origin(),
            link: id.to_string(),
            client_token: RefCell::new(None),
        })
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        extra: &[(&str, &str)],
        ms: u32,
    ) -> SdkResult<Response> {
        let window = web_sys::window()
            .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no window"))?;
        let init = RequestInit::new();
        init.set_method(method);
        init.set_mode(RequestMode::Cors);
        let headers = Headers::new().map_err(internal)?;
        if let Some(t) = self.client_token.borrow().as_deref() {
            headers
                .set("authorization", &format!("Bearer {t}"))
                .map_err(internal)?;
        }
        for (k, v) in extra {
            headers.set(k, v).map_err(internal)?;
        }
        match body {
            Body::Image(bytes, ty) => {
                headers.set("content-type", ty).map_err(internal)?;
                init.set_body(&js_sys::Uint8Array::from(bytes).into());
            }
            Body::Json(text) => {
                headers
                    .set("content-type", "application/json")
                    .map_err(internal)?;
                init.set_body(&JsValue::from_str(text));
            }
            Body::None => {}
        }
        init.set_headers(&headers);
        let ctrl = AbortController::new().map_err(internal)?;
        init.set_signal(Some(&ctrl.signal()));
        let url = format!("{}{}", self.origin, path);
        let fetch = async {
            let resp = wait(window.fetch_with_str_and_init(&url, &init), Code::Network).await?;
            resp.dyn_into::<Response>().map_err(internal)
        };
        let r = within(ms, "the verifier", fetch).await;
        if r.is_err() {
            ctrl.abort();
        }
        r
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        extra: &[(&str, &str)],
        ms: u32,
    ) -> SdkResult<T> {
        let resp = self.send(method, path, body, extra, ms).await?;
        let value = match resp.json() {
            Ok(p) => within(ms, "the verifier's answer", wait(p, Code::Network)).await?,
            Err(e) => return Err(internal(e)),
        };
        if !resp.ok() {
            let e: ApiErrorBody = serde_wasm_bindgen::from_value(value).map_err(|_| {
                SdkError::new(
                    Code::Network,
                    format!("the verifier answered {}", resp.status()),
                )
            })?;
            return Err(SdkError::new(
                Code::from_verifier(&e.code),
                format!("{}: {}", e.code, e.message),
            ));
        }
        serde_wasm_bindgen::from_value(value).map_err(|e| {
            SdkError::new(
                Code::Internal,
                format!("unexpected answer from the verifier: {e}"),
            )
        })
    }

    /// `POST /capture/{link}/{action}`.
    async fn capture<T: DeserializeOwned>(
        &self,
        action: &str,
        body: Body<'_>,
        extra: &[(&str, &str)],
        ms: u32,
    ) -> SdkResult<T> {
        let path = format!("/capture/{}/{action}", self.link);
        self.json("POST", &path, body, extra, ms).await
    }

    /// Whether this page claimed the link.
    pub fn claimed(&self) -> bool {
        self.client_token.borrow().is_some()
    }

    /// Claims the link; `light_opt_out` declines the light challenge's colours.
    pub async fn claim(&self, light_opt_out: bool) -> SdkResult<Claimed> {
        let body = serde_json::to_string(&ClaimIn {
            light_opt_out: Some(light_opt_out),
        })
        .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
        let c: Claimed = self
            .capture("claim", Body::Json(&body), &[], CALL_MS)
            .await?;
        *self.client_token.borrow_mut() = Some(c.client_token.clone());
        Ok(c)
    }

    /// Uploads one frame; the answer says what to show now (a challenge revealed, the
    /// light's colour).
    pub async fn upload(&self, envelope: &FrameEnvelope, jpeg: &[u8]) -> SdkResult<Cue> {
        let env = serde_json::to_string(envelope)
            .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
        let headers = [("livecheck-envelope", env.as_str())];
        self.capture("frames", Body::Image(jpeg, "image/jpeg"), &headers, CALL_MS)
            .await
    }

    /// Asks for the decision, with what the SDK saw of its camera and timing.
    pub async fn finish(&self, report: &serde_json::Value) -> SdkResult<Finished> {
        let body = report.to_string();
        self.capture("finish", Body::Json(&body), &[], FINISH_MS)
            .await
    }

    /// Starts the attempt the last finish offered.
    pub async fn retry(&self) -> SdkResult<Retried> {
        self.capture("retry", Body::None, &[], CALL_MS).await
    }

    /// Cancels the check; returns where the browser should go.
    pub async fn cancel(&self) -> SdkResult<String> {
        let c: Cancelled = self.capture("cancel", Body::None, &[], CALL_MS).await?;
        Ok(c.redirect_url)
    }

    /// A model file from the verifier's origin, checked against the manifest's sha256.
    /// Its URL names that sha256, so the browser keeps the file until the model changes.
    /// Downloaded in its planes form (`livecheck_core::model_planes`: a ninth smaller
    /// under brotli) and turned back into the ONNX bytes; the plain file when the verifier
    /// has no planes form (its models were fetched without Node).
    pub async fn model(&self, name: &str) -> SdkResult<Vec<u8>> {
        let entry = livecheck_core::manifest::entry(name).ok_or_else(|| {
            SdkError::new(
                Code::Internal,
                format!("model {name} is not in the manifest"),
            )
        })?;
        let planes = format!("{}.planes", entry.file);
        let bytes = match self.download(&planes, &entry.sha256).await? {
            Some(p) => livecheck_core::model_planes::decode(&p)
                .map_err(|e| SdkError::new(Code::Internal, format!("{planes}: {e}")))?,
            None => self
                .download(&entry.file, &entry.sha256)
                .await?
                .ok_or_else(|| {
                    SdkError::new(Code::Network, format!("model {} answered 404", entry.file))
                })?,
        };
        livecheck_core::manifest::verify(name, &bytes)
            .map_err(|e| SdkError::new(Code::Internal, e.to_string()))?;
        Ok(bytes)
    }

    /// `/models/{file}?v={sha256}`; `None` when the verifier does not have it.
    async fn download(&self, file: &str, sha256: &str) -> SdkResult<Option<Vec<u8>>> {
        let resp = self
            .send(
                "GET",
                &format!("/models/{file}?v={sha256}"),
                Body::None,
                &[],
                MODEL_MS,
            )
            .await?;
        if resp.status() == 404 {
            return Ok(None);
        }
        if !resp.ok() {
            return Err(SdkError::new(
                Code::Network,
                format!("model {file} answered {}", resp.status()),
            ));
        }
        let buf = within(
            MODEL_MS,
            "a model download",
            wait(resp.array_buffer().map_err(internal)?, Code::Network),
        )
        .await?;
        Ok(Some(js_sys::Uint8Array::new(&buf).to_vec()))
    }
}

fn internal(e: JsValue) -> SdkError {
    SdkError::new(Code::Internal, js_message(&e))
}
