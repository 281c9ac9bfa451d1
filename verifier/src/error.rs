//! The one error shape every caller sees: `{"code", "message", "request_id"}` with a
//! stable snake_case code and its HTTP status. The request-id middleware fills in
//! `request_id` and turns actix's own errors (bad JSON, oversized bodies, …) into the
//! same shape.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use livecheck_core::protocol::EnvelopeError;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Headers the answer carries besides the body (`Retry-After` on 429, `Allow` on 405).
    pub headers: Vec<(&'static str, String)>,
}

/// Every code the API can answer with, its status and meaning (the README's table and
/// the OpenAPI document are built from this list).
pub const CODES: &[(&str, u16, &str)] = &[
    (
        "invalid_request",
        400,
        "The request is malformed or a field is out of range.",
    ),
    (
        "invalid_envelope",
        400,
        "The frame envelope is missing or malformed.",
    ),
    (
        "wrong_session",
        400,
        "The frame was signed for another session.",
    ),
    (
        "image_digest_mismatch",
        400,
        "The image bytes do not match the envelope's sha256.",
    ),
    (
        "unauthorized",
        401,
        "Missing or wrong API key or client token.",
    ),
    (
        "invalid_signature",
        401,
        "The frame's HMAC does not verify.",
    ),
    (
        "invalid_token",
        401,
        "The lc_token is malformed, expired or not signed by this verifier.",
    ),
    ("not_found", 404, "No such check, link, delivery or route."),
    (
        "method_not_allowed",
        405,
        "The route exists but not with this method.",
    ),
    (
        "request_timeout",
        408,
        "The request body did not arrive in full in time.",
    ),
    (
        "link_already_used",
        409,
        "The capture link was already claimed by another browser.",
    ),
    (
        "replayed_frame",
        409,
        "This sequence number or image was already received.",
    ),
    (
        "out_of_order",
        409,
        "A frame was skipped or its time went backwards.",
    ),
    (
        "outside_time_window",
        409,
        "The frame is outside the session's capture time window.",
    ),
    (
        "frame_ahead_of_clock",
        409,
        "The frame claims a capture time ahead of the verifier's clock (sent faster than it was captured).",
    ),
    (
        "frame_too_late",
        409,
        "The frame arrived too long after its capture time.",
    ),
    (
        "frame_rate_exceeded",
        409,
        "The frame's capture time is too close to the previous frame's (over 60 a second).",
    ),
    (
        "frame_limit_reached",
        409,
        "The session already holds its maximum number of frames or bytes of frames.",
    ),
    (
        "invalid_state",
        409,
        "The check is not in a state that allows this (e.g. already finished).",
    ),
    (
        "already_redeemed",
        409,
        "This lc_token was already redeemed.",
    ),
    (
        "idempotency_key_in_use",
        409,
        "A request with this Idempotency-Key is still running; retry when it ends.",
    ),
    (
        "expired",
        410,
        "The link's validity ended before the check completed.",
    ),
    (
        "payload_too_large",
        413,
        "The upload is larger than the limit.",
    ),
    (
        "unsupported_media_type",
        415,
        "The upload is not a JPEG, PNG or WebP image (or, for photos, HEIC).",
    ),
    (
        "invalid_image",
        422,
        "The image cannot be decoded (truncated, corrupt), or its header declares more pixels than the endpoint takes.",
    ),
    (
        "reference_no_face",
        422,
        "The reference image shows no face.",
    ),
    (
        "reference_multiple_faces",
        422,
        "The reference image shows more than one face.",
    ),
    (
        "idempotency_key_reused",
        422,
        "This Idempotency-Key was used with another request in the last 24 hours.",
    ),
    ("rate_limited", 429, "Too many requests; retry later."),
    (
        "internal",
        500,
        "An error on the verifier's side; the request id is in its log.",
    ),
    ("not_ready", 503, "Models or store are not available yet."),
];

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let status = CODES
            .iter()
            .find(|(c, _, _)| *c == code)
            .and_then(|(_, s, _)| StatusCode::from_u16(*s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            "unauthorized",
            "a valid API key is required (Authorization: Bearer … or X-API-Key)",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new("not_found", format!("{what} not found"))
    }

    pub fn expired() -> Self {
        Self::new(
            "expired",
            "the link's validity ended before the check completed",
        )
    }

    /// An upload named `field` that is not an image we read (415) or does not decode (422).
    pub fn bad_image(field: &str, e: &livecheck_core::decode::DecodeError) -> Self {
        match e {
            livecheck_core::decode::DecodeError::UnsupportedFormat => Self::new(
                "unsupported_media_type",
                format!("{field} must be a JPEG, PNG, WebP or (a photo) HEIC image"),
            ),
            e => Self::new("invalid_image", format!("{field}: {e}")),
        }
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new("invalid_state", message)
    }

    /// A fault on our side: the detail goes to the log, never to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new("internal", "internal error")
    }

    /// Maps actix's own errors (extractors, payload limits, routing) to a code.
    pub fn from_status(status: StatusCode, message: String) -> Self {
        let code = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            401 => "unauthorized",
            429 => "rate_limited",
            s if s < 500 => "invalid_request",
            _ => return Self::internal(message),
        };
        Self::new(code, message)
    }

    pub fn response(&self, request_id: &str) -> HttpResponse {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            message: &'a str,
            request_id: &'a str,
        }
        let mut res = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            res.insert_header((*name, value.as_str()));
        }
        res.json(Body {
            code: self.code,
            message: &self.message,
            request_id,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // The middleware replaces this with the same body plus the request id.
        self.response("")
    }
}

impl From<EnvelopeError> for ApiError {
    fn from(e: EnvelopeError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<livecheck_core::timeline::TimingError> for ApiError {
    fn from(e: livecheck_core::timeline::TimingError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound => Self::not_found("record"),
            crate::store::StoreError::Conflict(m) => Self::invalid_state(m),
            other => Self::internal(other),
        }
    }
}

impl From<livecheck_core::ModelError> for ApiError {
    fn from(e: livecheck_core::ModelError) -> Self {
        Self::internal(e)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_unique_and_maps_to_its_status() {
        let mut seen = std::collections::HashSet::new();
        for (code, status, _) in CODES {
            assert!(seen.insert(code), "{code} twice");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(ApiError::new(code, "x").status.as_u16(), *status);
        }
        // Every envelope refusal of core has a row here.
        for e in [
            EnvelopeError::Malformed(String::new()),
            EnvelopeError::WrongSession,
            EnvelopeError::Replayed {
                expected: 1,
                got: 0,
            },
            EnvelopeError::OutOfOrder {
                expected: 0,
                got: 1,
            },
            EnvelopeError::ImageMismatch,
            EnvelopeError::BadSignature,
        ] {
            assert!(CODES.iter().any(|(c, _, _)| *c == e.code()), "{}", e.code());
            assert!(ApiError::from(e).status.is_client_error());
        }
    }

    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../README.md");
        for (code, status, _) in CODES {
            assert!(
                readme.contains(&format!("| `{code}` | {status} |")),
                "README's error table lacks {code}"
            );
        }
    }
}
