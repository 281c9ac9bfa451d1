//! Errors an integrator can branch on: a stable `code` and a message for people.

use wasm_bindgen::{JsCast, JsValue};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    PermissionDenied,
    NoCamera,
    CameraInUse,
    InsecureContext,
    UnsupportedBrowser,
    SessionExpired,
    LinkAlreadyUsed,
    Network,
    Timeout,
    /// The camera's picture stopped changing before the capture could start.
    CameraFrozen,
    Cancelled,
    /// The link or the verifier's answer is not what the SDK expects (a bad `link`,
    /// a model that fails its checksum, a refused frame).
    InvalidLink,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PermissionDenied => "permission_denied",
            Self::NoCamera => "no_camera",
            Self::CameraInUse => "camera_in_use",
            Self::InsecureContext => "insecure_context",
            Self::UnsupportedBrowser => "unsupported_browser",
            Self::SessionExpired => "session_expired",
            Self::LinkAlreadyUsed => "link_already_used",
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::CameraFrozen => "camera_frozen",
            Self::Cancelled => "cancelled",
            Self::InvalidLink => "invalid_link",
            Self::Internal => "internal",
        }
    }

    /// The verifier's error code for a capture call, as the SDK reports it.
    pub fn from_verifier(code: &str) -> Self {
        match code {
            "expired" | "outside_time_window" => Self::SessionExpired,
            "link_already_used" | "unauthorized" | "invalid_state" => Self::LinkAlreadyUsed,
            "not_found" => Self::InvalidLink,
            "rate_limited" | "not_ready" => Self::Network,
            _ => Self::Internal,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkError {
    pub code: Code,
    pub message: String,
}

impl SdkError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A `LivecheckError` (a subclass of `Error`, exported by the package) with `code`
    /// set, so `catch (e) { e instanceof LivecheckError && e.code }` works.
    pub fn to_js(&self) -> JsValue {
        LivecheckErrorJs::new(self.code.as_str(), &self.message).into()
    }
}

pub type SdkResult<T> = Result<T, SdkError>;

#[wasm_bindgen::prelude::wasm_bindgen(module = "/js/error.js")]
extern "C" {
    #[wasm_bindgen(js_name = LivecheckError)]
    type LivecheckErrorJs;

    #[wasm_bindgen(constructor, js_class = "LivecheckError")]
    fn new(code: &str, message: &str) -> LivecheckErrorJs;
}

/// Any JS exception as an internal error with its message.
pub fn js_message(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_codes_map_to_sdk_codes() {
        assert_eq!(Code::from_verifier("expired"), Code::SessionExpired);
        assert_eq!(
            Code::from_verifier("link_already_used"),
            Code::LinkAlreadyUsed
        );
        assert_eq!(Code::from_verifier("not_found"), Code::InvalidLink);
    }
}
