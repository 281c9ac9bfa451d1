//! The capture API's bodies, as the verifier sends them and the SDK reads them: one
//! declaration for both sides, so a renamed field breaks the build, not a capture.
//! Times are RFC 3339 strings (UTC, `Z`): core carries no calendar library.

use serde::{Deserialize, Serialize};

use crate::decision::FailureReason;
use crate::protocol::ChallengeScript;
use crate::timeline::Cue;

/// The claim's optional JSON body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimIn {
    /// The user declined the light challenge's colours (photosensitivity); the result
    /// records it.
    pub light_opt_out: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claimed {
    /// Sent back as `Authorization: Bearer …` on every capture call.
    pub client_token: String,
    /// The challenge script (core's `ChallengeScript`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub script: ChallengeScript,
    /// Per-session frame-signing key, hex.
    pub frame_key: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
    /// Uploads are refused after this time.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub capture_deadline: String,
    pub can_cancel: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FrameAccepted {
    pub seq: u32,
    pub frames: u32,
    /// What to show now (core's `timeline::Cue`): `challenge` (the latest revealed:
    /// `{index, type, revealed_ms, window_ms}`), `light` (`[r, g, b]` to paint around
    /// the preview, or null) and `light_done`.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub cue: Cue,
}

/// Where a capture call leaves the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaptureStatus {
    /// Another attempt is offered.
    InProgress,
    /// Decided: passed.
    Completed,
    /// Decided: not passed (see `failure_reason`).
    Failed,
    Cancelled,
}

impl CaptureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn decided(passed: bool) -> Self {
        if passed {
            Self::Completed
        } else {
            Self::Failed
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finished {
    /// `in_progress` when another attempt is offered.
    pub status: CaptureStatus,
    pub passed: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub failure_reason: Option<FailureReason>,
    /// Where the browser goes next: `return_url?lc_token=…` (`&error=<code>` when not
    /// passed). Null while another attempt is offered.
    pub redirect_url: Option<String>,
    /// The attempt was refused for something the user can put right (the reason says
    /// what) and another may start: `POST …/retry` when the user is ready, or cancel.
    pub retry: Option<RetryOffer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetryOffer {
    /// The attempt just refused, 1 for the first.
    pub attempt: u32,
    pub max_attempts: u32,
}

/// The next attempt's start: its own script and time; the client token and frame key
/// stay those of the claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retried {
    /// 2 for the second.
    pub attempt: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub script: ChallengeScript,
    /// Uploads are refused after this time.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub capture_deadline: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cancelled {
    pub status: CaptureStatus,
    pub redirect_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_attempt_reads_back_with_its_reason_and_offer() {
        // The verifier's wire form, written out: the SDK must read exactly this.
        let wire = r#"{"status":"in_progress","passed":false,
            "failure_reason":"challenge_failed","redirect_url":null,
            "retry":{"attempt":1,"max_attempts":2}}"#;
        let f: Finished = serde_json::from_str(wire).unwrap();
        assert_eq!(f.status, CaptureStatus::InProgress);
        assert_eq!(f.failure_reason, Some(FailureReason::ChallengeFailed));
        assert_eq!(
            f.retry,
            Some(RetryOffer {
                attempt: 1,
                max_attempts: 2
            })
        );
        for status in [
            CaptureStatus::InProgress,
            CaptureStatus::Completed,
            CaptureStatus::Failed,
            CaptureStatus::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        let back: serde_json::Value = serde_json::to_value(&f).unwrap();
        assert_eq!(back["status"], "in_progress");
        assert_eq!(back["failure_reason"], "challenge_failed");
    }

    #[test]
    fn the_claim_body_refuses_unknown_fields() {
        assert!(serde_json::from_str::<ClaimIn>(r#"{"light_opt_out":true}"#).is_ok());
        assert!(serde_json::from_str::<ClaimIn>(r#"{"light_optout":true}"#).is_err());
    }

    #[test]
    fn a_frame_answer_flattens_its_cue() {
        let a = FrameAccepted {
            seq: 3,
            frames: 4,
            cue: Cue {
                challenge: None,
                light: None,
                light_done: true,
            },
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"seq": 3, "frames": 4, "challenge": null, "light": null, "light_done": true})
        );
    }
}
