//! What the store holds: API keys, checks with their capture state, frames, images,
//! redeemable tokens and the webhook outbox.

use chrono::{DateTime, Utc};
use livecheck_core::challenge::{ChallengeKind, ChallengeVerdict};
use livecheck_core::continuity::Continuity;
use livecheck_core::decision::FailureReason;
use livecheck_core::face_match::{FaceDescriptor, FaceMatch};
use livecheck_core::light::LightResult;
use livecheck_core::live_signs::LiveSigns;
use livecheck_core::protocol::ChainState;
use livecheck_core::timeline::{CaptureLog, LightPlan};

use crate::risk::RiskSignals;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Since then the key opens nothing (its checks stay).
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created; the link has not been opened.
    Pending,
    /// The link was claimed by a browser; frames may arrive.
    InProgress,
    /// Decided: passed.
    Completed,
    /// Decided: not passed (see failure_reason).
    Failed,
    Cancelled,
    /// The link's validity ended before completion.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::InProgress,
            Self::Completed,
            Self::Failed,
            Self::Cancelled,
            Self::Expired,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The status of a decided check.
    pub fn decided(passed: bool) -> Self {
        if passed {
            Self::Completed
        } else {
            Self::Failed
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::InProgress)
    }
}

/// The verifier's decision as stored and reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub passed: bool,
    pub confidence: f32,
    pub anti_spoof_score: Option<f32>,
    pub challenges: Vec<ChallengeVerdict>,
    pub failure_reason: Option<FailureReason>,
    pub frames: usize,
    pub face_frames: usize,
    /// The probe image against the reference selfie, when the check has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_match: Option<FaceMatch>,
    /// Passive checks: the signs of a live face the frames showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_signs: Option<LiveSigns>,
    /// Whether the frames were one continuous take (captures, not photo sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity: Option<Continuity>,
    /// Checks with the light challenge: whether it ran and what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light: Option<LightOutcome>,
    /// What the SDK reported of its camera and what the verifier saw of the timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskSignals>,
}

/// The light challenge of a check that asked for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LightOutcome {
    /// The user declined it (photosensitivity) before the capture started.
    pub opted_out: bool,
    /// The verdict, when it ran.
    pub result: Option<LightResult>,
}

/// A capture as it went: the light sequence drawn at the claim (secret until shown)
/// and the timeline's log of what was revealed when, and when each frame arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureState {
    pub light: Option<LightPlan>,
    pub log: CaptureLog,
}

#[derive(Clone, Debug)]
pub struct Check {
    pub id: String,
    pub api_key_id: String,
    /// The customer's handle for `GET /liveness_check?token=`.
    pub token: String,
    /// The capture link's path segment (a credential: never logged).
    pub link: String,
    /// Webhook signing secret.
    pub secret: String,
    pub webhook_url: Option<String>,
    pub return_url: String,
    pub cancel_url: Option<String>,
    pub threshold: u8,
    pub audit_images: u8,
    pub challenges: Vec<ChallengeKind>,
    pub user_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    /// SHA-256 of the client token the claiming browser holds.
    pub client_token_hash: Option<String>,
    /// Per-session frame-signing key, hex.
    pub frame_key: String,
    pub nonce: String,
    pub chain: ChainState,
    pub frames: u32,
    /// Bytes of the frames stored so far.
    pub frame_bytes: u64,
    pub outcome: Option<Outcome>,
    pub completed_at: Option<DateTime<Utc>>,
    pub erased_at: Option<DateTime<Utc>>,
    /// The reference selfie's face descriptor, for face match.
    pub reference: Option<FaceDescriptor>,
    /// Answered photo by photo over the API (VerifyHQ) instead of a browser capture.
    pub photo_session: bool,
    /// The capture runs the light challenge (unless the user opts out).
    pub light_challenge: bool,
    pub capture: CaptureState,
    /// A finish holds the check's lease since then: no frame is added under it.
    pub finishing_at: Option<DateTime<Utc>>,
    /// What the browser carries back besides `return_url` itself, which stays as the
    /// customer gave it.
    pub return_params: ReturnParams,
    /// Capture attempts the user may make (1–3); `outcome` is the last one's.
    pub max_attempts: u8,
    /// The attempts before the current one, each judged on its own: all were refused
    /// for something the user could put right.
    pub attempts: Vec<Outcome>,
    /// An attempt was refused and another may start (`POST …/retry`); no frame is
    /// taken until it does.
    pub awaiting_retry: bool,
    /// The hosted page's language as the customer set it (a BCP 47 tag whose language
    /// is built in); otherwise the browser's.
    pub locale: Option<String>,
}

/// The query parameters a dialect adds on the way back to the customer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnParams {
    /// The parameter naming the check's id (GLAIR's `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether `outcome=<completed|canceled|expired|used>` is added (Azure Quick Link's
    /// callback, which has no lc_token to read it from).
    #[serde(default)]
    pub outcome: bool,
}

/// How a browser leaves the hosted page for the customer's page.
#[derive(Clone, Copy, Debug)]
pub enum WayBack<'a> {
    /// The check was decided: the lc_token, and the failure code when not passed.
    Decided {
        lc_token: &'a str,
        error: Option<&'a str>,
    },
    /// The user backed out (with no `cancel_url` to go to).
    Cancelled,
    /// The link's time ran out.
    Expired,
    /// The link was already used (finished, or held by another browser).
    Used,
}

impl WayBack<'_> {
    /// The `error` parameter (GlobalData: "an error parameter on terminal failure
    /// states"), from the API's error codes.
    fn error(&self) -> Option<&str> {
        match self {
            WayBack::Decided { error, .. } => *error,
            WayBack::Cancelled => Some("cancelled"),
            WayBack::Expired => Some("expired"),
            WayBack::Used => Some("link_already_used"),
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            WayBack::Decided { .. } => "completed",
            WayBack::Cancelled => "canceled",
            WayBack::Expired => "expired",
            WayBack::Used => "used",
        }
    }
}

/// `base` with `params` appended to its query (a base that is no URL is kept as is).
pub fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        Err(_) => base.to_string(),
    }
}

impl Outcome {
    /// What an erased check keeps: whether it passed and why not.
    pub fn minimal(&self) -> Self {
        Self {
            passed: self.passed,
            confidence: 0.0,
            anti_spoof_score: None,
            challenges: Vec::new(),
            failure_reason: self.failure_reason,
            frames: self.frames,
            face_frames: 0,
            face_match: None,
            live_signs: None,
            continuity: None,
            light: None,
            risk: None,
        }
    }

    /// Core's decision as stored; face match is the caller's to add.
    pub fn from_decision(d: livecheck_core::decision::Decision) -> Self {
        Self {
            passed: d.passed,
            confidence: d.confidence,
            anti_spoof_score: d.anti_spoof_score,
            failure_reason: d.failure_reason,
            frames: d.frames,
            face_frames: d.face_frames,
            face_match: None,
            live_signs: d.live_signs,
            challenges: d.challenges,
            continuity: Some(d.continuity),
            light: None,
            risk: None,
        }
    }
}

impl Check {
    /// Where the browser goes back to the customer: `return_url` with the check's id
    /// (when the dialect asks for it), the lc_token, the `error` code of a terminal
    /// failure and the dialect's `outcome`.
    pub fn back_to(&self, way: WayBack<'_>) -> String {
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(4);
        if let Some(name) = &self.return_params.id {
            params.push((name, &self.id));
        }
        if let WayBack::Decided { lc_token, .. } = way {
            params.push(("lc_token", lc_token));
        }
        if let Some(code) = way.error() {
            params.push(("error", code));
        }
        if self.return_params.outcome {
            params.push(("outcome", way.outcome()));
        }
        with_params(&self.return_url, &params)
    }

    /// The link's validity ended before the check completed (whether or not the
    /// sweeper has marked it yet).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Expired || (!self.status.is_terminal() && now >= self.expires_at)
    }

    /// A passive check has no challenges: the user only looks at the camera.
    pub fn is_passive(&self) -> bool {
        self.challenges.is_empty()
    }

    /// Whether a refused attempt leaves the user another: the reason is one they can
    /// put right, attempts remain, and the link is still valid.
    pub fn may_retry(&self, outcome: &Outcome, now: DateTime<Utc>) -> bool {
        !outcome.passed
            && outcome
                .failure_reason
                .is_some_and(FailureReason::user_can_act)
            && self.attempts.len() + 1 < self.max_attempts as usize
            && !self.is_expired(now)
    }

    /// Whether `client_token` is the one the claiming browser was given.
    pub fn held_by(&self, client_token: Option<&str>) -> bool {
        match (&self.client_token_hash, client_token) {
            (Some(stored), Some(t)) => crate::secrets::matches_digest(t, stored),
            _ => false,
        }
    }
}

/// A session of up to `attempts_allowed` capture attempts (Azure's liveness sessions):
/// each attempt is a check of its own; the session holds the client's auth token (as a
/// digest), the mode, the verify image's descriptor and the Quick Link on offer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessSession {
    pub id: String,
    pub api_key_id: String,
    pub token_hash: String,
    pub passive: bool,
    pub device_correlation_id: Option<String>,
    pub token_ttl_secs: u32,
    pub attempts_allowed: u32,
    /// Created with a verify image (`detectLivenessWithVerify`): its face descriptor.
    pub verify: Option<FaceDescriptor>,
    pub with_verify: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Where the Quick Link page sends the browser at the end.
    pub callback_url: Option<String>,
    /// An issued Quick Link not yet opened (single use).
    pub quick_link: Option<String>,
    /// Attempt check ids, oldest first.
    pub attempts: Vec<String>,
    /// The stored revision this copy was read at: an update names it, and loses to any
    /// write made since (kept in its own column, not in the body).
    #[serde(skip)]
    pub revision: u64,
}

#[derive(Clone, Debug)]
pub struct StoredFrame {
    pub seq: u32,
    pub t_ms: u64,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A stored frame without its bytes: a decision lists these and loads the bytes one
/// frame at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameRef {
    pub seq: u32,
    pub t_ms: u64,
    pub content_type: String,
}

impl StoredFrame {
    pub fn to_ref(&self) -> FrameRef {
        FrameRef {
            seq: self.seq,
            t_ms: self.t_ms,
            content_type: self.content_type.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Probe,
    Audit,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Audit => "audit",
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoredImage {
    pub kind: ImageKind,
    pub index: u32,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A webhook event waiting in (or delivered from) the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub check_id: String,
    pub event: String,
    pub url: String,
    pub body: String,
    pub secret: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// HTTP status the receiver answered, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}
