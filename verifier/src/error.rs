//! The one error shape every caller sees: `{"code", "message", "request_id"}` with a
//! stable snake_case code and its HTTP status. The request-id middleware fills in
//! `request_id` and turns actix's own errors (bad JSON, oversized bodies, …) into the
//! same shape.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use livecheck_core::protocol::EnvelopeError;
use livecheck_core::timeline::TimingError;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Headers the answer carries besides the body (`Retry-After` on 429, `Allow` on 405).
    pub headers: Vec<(&'static str, String)>,
}

/// Every code the API can answer with: its wire name, HTTP status and meaning. The README's
/// error table is checked against `ErrorCode::ALL`; a refusal names its code as a type,
/// so a code without a row cannot be answered.
macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:literal, $meaning:literal),)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable snake_case name callers match on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::from_u16($status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),)*
                }
            }

            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidRequest => ("invalid_request", 400, "The request is malformed or a field is out of range."),
    InvalidEnvelope => ("invalid_envelope", 400, "The frame envelope is missing or malformed."),
    WrongSession => ("wrong_session", 400, "The frame was signed for another session."),
    ImageDigestMismatch => ("image_digest_mismatch", 400, "The image bytes do not match the envelope's sha256."),
    Unauthorized => ("unauthorized", 401, "Missing or wrong API key or client token."),
    InvalidSignature => ("invalid_signature", 401, "The frame's HMAC does not verify."),
    InvalidToken => ("invalid_token", 401, "The lc_token is malformed, expired or not signed by this verifier."),
    NotFound => ("not_found", 404, "No such check, link, delivery or route."),
    MethodNotAllowed => ("method_not_allowed", 405, "The route exists but not with this method."),
    RequestTimeout => ("request_timeout", 408, "The request body did not arrive in full in time."),
    LinkAlreadyUsed => ("link_already_used", 409, "The capture link was already claimed by another browser."),
    ReplayedFrame => ("replayed_frame", 409, "This sequence number or image was already received."),
    OutOfOrder => ("out_of_order", 409, "A frame was skipped or its time went backwards."),
    OutsideTimeWindow => ("outside_time_window", 409, "The frame is outside the session's capture time window."),
    FrameAheadOfClock => ("frame_ahead_of_clock", 409, "The frame claims a capture time ahead of the verifier's clock (sent faster than it was captured)."),
    FrameTooLate => ("frame_too_late", 409, "The frame arrived too long after its capture time."),
    FrameRateExceeded => ("frame_rate_exceeded", 409, "The frame's capture time is too close to the previous frame's (over 60 a second)."),
    FrameLimitReached => ("frame_limit_reached", 409, "The session already holds its maximum number of frames or bytes of frames."),
    InvalidState => ("invalid_state", 409, "The check is not in a state that allows this (e.g. already finished)."),
    AlreadyRedeemed => ("already_redeemed", 409, "This lc_token was already redeemed."),
    IdempotencyKeyInUse => ("idempotency_key_in_use", 409, "A request with this Idempotency-Key is still running; retry when it ends."),
    Expired => ("expired", 410, "The link's validity ended before the check completed."),
    PayloadTooLarge => ("payload_too_large", 413, "The upload is larger than the limit."),
    UnsupportedMediaType => ("unsupported_media_type", 415, "The upload is not a JPEG, PNG or WebP image (or, for photos, HEIC)."),
    InvalidImage => ("invalid_image", 422, "The image cannot be decoded (truncated, corrupt), or its header declares more pixels than the endpoint takes."),
    ReferenceNoFace => ("reference_no_face", 422, "The reference image shows no face."),
    ReferenceMultipleFaces => ("reference_multiple_faces", 422, "The reference image shows more than one face."),
    IdempotencyKeyReused => ("idempotency_key_reused", 422, "This Idempotency-Key was used with another request in the last 24 hours."),
    RateLimited => ("rate_limited", 429, "Too many requests; retry later."),
    Internal => ("internal", 500, "An error on the verifier's side; the request id is in its log."),
    NotReady => ("not_ready", 503, "Models or store are not available yet."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
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
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "a valid API key is required (Authorization: Bearer … or X-API-Key)",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn expired() -> Self {
        Self::new(
            ErrorCode::Expired,
            "the link's validity ended before the check completed",
        )
    }

    /// An upload named `field` that is not an image we read (415) or does not decode (422).
    pub fn bad_image(field: &str, e: &livecheck_core::decode::DecodeError) -> Self {
        match e {
            livecheck_core::decode::DecodeError::UnsupportedFormat => Self::new(
                ErrorCode::UnsupportedMediaType,
                format!("{field} must be a JPEG, PNG, WebP or (a photo) HEIC image"),
            ),
            e => Self::new(ErrorCode::InvalidImage, format!("{field}: {e}")),
        }
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }

    /// A fault on our side: the detail goes to the log, never to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// Maps actix's own errors (extractors, payload limits, routing) to a code.
    pub fn from_status(status: StatusCode, message: String) -> Self {
        let code = match status.as_u16() {
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            401 => ErrorCode::Unauthorized,
            429 => ErrorCode::RateLimited,
            s if s < 500 => ErrorCode::InvalidRequest,
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
            code: self.code.as_str(),
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
        let code = match e {
            EnvelopeError::Malformed(_) => ErrorCode::InvalidEnvelope,
            EnvelopeError::WrongSession => ErrorCode::WrongSession,
            EnvelopeError::Replayed { .. } | EnvelopeError::ReplayedImage => {
                ErrorCode::ReplayedFrame
            }
            EnvelopeError::OutOfOrder { .. } | EnvelopeError::TimeReversed { .. } => {
                ErrorCode::OutOfOrder
            }
            EnvelopeError::ImageMismatch => ErrorCode::ImageDigestMismatch,
            EnvelopeError::BadSignature => ErrorCode::InvalidSignature,
        };
        Self::new(code, e.to_string())
    }
}

impl From<TimingError> for ApiError {
    fn from(e: TimingError) -> Self {
        let code = match e {
            TimingError::Ahead { .. } => ErrorCode::FrameAheadOfClock,
            TimingError::Late { .. } => ErrorCode::FrameTooLate,
            TimingError::TooClose { .. } => ErrorCode::FrameRateExceeded,
            TimingError::ChallengeSkipped { .. } | TimingError::ChallengeBack { .. } => {
                ErrorCode::InvalidEnvelope
            }
        };
        Self::new(code, e.to_string())
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
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(ApiError::new(*code, "x").status, code.status());
        }
        // Every envelope and timing refusal of core answers the code core names for it
        // (the SDK reads core's), as a caller's mistake.
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
            EnvelopeError::TimeReversed {
                previous: 2,
                got: 1,
            },
            EnvelopeError::ImageMismatch,
            EnvelopeError::ReplayedImage,
            EnvelopeError::BadSignature,
        ] {
            let core = e.code();
            let api = ApiError::from(e);
            assert_eq!(api.code.as_str(), core);
            assert!(api.status.is_client_error());
        }
        for e in [
            TimingError::Ahead {
                t_ms: 2,
                clock_ms: 1,
            },
            TimingError::Late {
                t_ms: 1,
                clock_ms: 4000,
                max_ms: 3000,
            },
            TimingError::TooClose {
                gap_ms: 1,
                min_ms: 15,
            },
            TimingError::ChallengeSkipped { asked: 2, next: 1 },
            TimingError::ChallengeBack {
                asked: 0,
                current: 1,
            },
        ] {
            let core = e.code();
            let api = ApiError::from(e);
            assert_eq!(api.code.as_str(), core);
            assert!(api.status.is_client_error());
        }
    }

    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../README.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{code}` | {} |", code.status().as_u16());
            assert!(readme.contains(&row), "README's error table lacks {row}");
        }
    }
}
