//! Persistence behind one trait, so handlers never see SQL. SQLite (embedded, the
//! default) and PostgreSQL (shared by replicas) implement it. Every method that changes
//! more than one row does it in one transaction: a check is never half-written.
//!
//! The traits are async: PostgreSQL's queries wait on the network without holding a
//! thread, and SQLite, whose calls block, runs each on the blocking pool.

#[cfg(test)]
pub(crate) mod contract;
mod postgres;
mod sealed;
pub(crate) mod sqlite;

pub use postgres::PostgresStore;
pub use sealed::Sealer;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use livecheck_core::challenge::ChallengeKind;
use livecheck_core::face_match::FaceDescriptor;
use livecheck_core::protocol::ChainState;

use crate::model::{
    ApiKey, Attempt, CaptureState, Check, Delivery, DeliveryState, FrameRef, ImageKind,
    LivenessSession, Outcome, Status, StoredFrame, StoredImage,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The row changed under us (a concurrent request won) or is in the wrong state.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A status change with the webhook events it fires (if the check has a webhook URL).
pub struct Transition {
    pub check_id: String,
    pub to: Status,
    pub outcome: Option<Outcome>,
    pub images: Vec<StoredImage>,
    pub events: Vec<NewDelivery>,
    /// An issued lc_token `(jti, expires_at)`, recorded for single redemption.
    pub token: Option<(String, DateTime<Utc>)>,
    pub at: DateTime<Utc>,
}

/// What a new attempt starts from: the same link, client and frame key, a new script
/// and nonce, and a chain that remembers every image the check already received.
pub struct NextAttempt {
    pub challenges: Vec<ChallengeKind>,
    pub nonce: String,
    pub chain: ChainState,
    pub capture: CaptureState,
}

pub struct NewDelivery {
    pub id: String,
    pub event: String,
    pub url: String,
    pub body: String,
    pub secret: String,
}

/// What `DELETE /liveness_check/{id}` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Erased {
    pub frames: u32,
    pub probe_image: bool,
    pub audit_images: u32,
    /// Per-challenge measurements and scores derived from the face.
    pub biometric_results: bool,
    pub user_id: bool,
    pub metadata: bool,
    /// The reference selfie's face descriptor.
    pub reference: bool,
}

/// How a liveness session is looked up.
#[derive(Clone, Debug)]
pub enum SessionKey {
    Id(String),
    /// The SHA-256 digest of its client auth token.
    TokenHash(String),
    QuickLink(String),
    /// The last Quick Link that opened an attempt.
    UsedQuickLink(String),
}

/// Every concern a back end serves, each its own trait: a back end implements them one
/// block at a time, and code that needs one concern can take it alone (`&dyn
/// OutboxStore` from a `&dyn Store`).
#[async_trait]
pub trait Store:
    KeyStore
    + CheckStore
    + SessionStore
    + OutboxStore
    + IdempotencyStore
    + RateStore
    + Send
    + Sync
    + 'static
{
    async fn ping(&self) -> StoreResult<()>;
}

/// API keys and the lc_token signing keys.
#[async_trait]
pub trait KeyStore {
    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The key with this digest, unless it was revoked.
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;

    /// Every key, oldest first, revoked ones included.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>>;

    /// Revokes key `id` (`NotFound` if there is none; revoking twice keeps the first time).
    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;

    /// The lc_token signing keys, newest first: the current one and the one before it
    /// (`candidate` when there is none yet: of processes starting together, one
    /// candidate is kept), as `(kid, pkcs8)`.
    async fn signing_keys(
        &self,
        candidate: (String, Vec<u8>),
    ) -> StoreResult<Vec<(String, Vec<u8>)>>;

    /// Makes `kid` the current signing key; keys older than the one before it are dropped.
    async fn add_signing_key(&self, kid: &str, pkcs8: &[u8]) -> StoreResult<()>;
}

/// Checks: their claim, frames, finish lease, attempts, ends, images, reference and
/// lc_token redemption.
#[async_trait]
pub trait CheckStore {
    async fn insert_check(&self, check: &Check) -> StoreResult<()>;

    async fn check(&self, id: &str) -> StoreResult<Option<Check>>;

    async fn check_by_token(&self, token: &str) -> StoreResult<Option<Check>>;

    async fn check_by_link(&self, link: &str) -> StoreResult<Option<Check>>;

    /// A page of one key's checks for a user (or only its photo sessions), newest
    /// first, and the total count.
    async fn checks_by_user(
        &self,
        api_key_id: &str,
        user_id: &str,
        photo_sessions_only: bool,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<Check>, u64)>;

    /// Up to `limit` of one key's checks that `filter` keeps, newest first (created
    /// time, then id, both descending).
    async fn list_checks(
        &self,
        api_key_id: &str,
        filter: &CheckFilter,
        limit: u32,
    ) -> StoreResult<Vec<Check>>;

    /// Binds a pending link to one browser with the capture's starting state;
    /// `Conflict` when it was already claimed.
    async fn claim(
        &self,
        check_id: &str,
        client_token_hash: &str,
        at: DateTime<Utc>,
        capture: &CaptureState,
    ) -> StoreResult<()>;

    /// Stores a frame with the chain and capture state after it, if the chain is still
    /// at `expected_seq` and the session's frames stay within `max_bytes` (else
    /// `Conflict`: a concurrent upload won, or the session is full).
    async fn add_frame(
        &self,
        check_id: &str,
        expected_seq: u32,
        chain: &ChainState,
        capture: &CaptureState,
        frame: &StoredFrame,
        max_bytes: u64,
    ) -> StoreResult<()>;

    /// Takes the finish lease of an in-progress check: from now on no frame is added
    /// (`add_frame` answers `Conflict`). `Conflict` when another finish holds a lease
    /// taken after `stale_before` (one whose process died leaves a stale lease).
    async fn begin_finish(
        &self,
        check_id: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Releases a finish lease that did not end in a decision.
    async fn end_finish(&self, check_id: &str) -> StoreResult<()>;

    /// Ends a refused attempt under its finish lease, in one transaction: `attempts`
    /// (the earlier ones and this one) is stored, the frames go, and the check awaits
    /// the next attempt. `Conflict` unless a finish holds the check's lease.
    async fn end_attempt(&self, check_id: &str, attempts: &[Outcome]) -> StoreResult<()>;

    /// Starts the awaited attempt: its script, chain and capture state, its clock from
    /// `at`. `Conflict` unless the check was awaiting one.
    async fn next_attempt(
        &self,
        check_id: &str,
        next: NextAttempt,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// A check's frames, without their bytes, in order.
    async fn frame_refs(&self, check_id: &str) -> StoreResult<Vec<FrameRef>>;

    /// One frame's bytes.
    async fn frame_bytes(&self, check_id: &str, seq: u32) -> StoreResult<Vec<u8>>;

    /// A check's frames with their bytes (photo sessions: a handful of photos).
    async fn frames(&self, check_id: &str) -> StoreResult<Vec<StoredFrame>>;

    /// Moves a pending or in-progress check to a terminal status, with its outcome,
    /// images and webhook event, and drops its raw frames. `Conflict` if it was
    /// already terminal.
    async fn transition(&self, t: Transition) -> StoreResult<()>;

    /// Checks whose link validity ended before completion, as of `now`.
    async fn overdue_checks(&self, now: DateTime<Utc>) -> StoreResult<Vec<Check>>;

    async fn image(
        &self,
        check_id: &str,
        kind: ImageKind,
        index: u32,
    ) -> StoreResult<Option<StoredImage>>;

    async fn image_counts(&self, check_id: &str) -> StoreResult<(bool, u32)>;

    /// Erases audit images of checks completed before `before`; returns how many.
    async fn erase_audit_images(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// Erases images and biometric data, keeping a minimal audit row, and the user id
    /// and metadata in the check's webhook events; a check still open is cancelled so
    /// that nothing is stored into it afterwards.
    async fn erase_check(&self, check_id: &str, at: DateTime<Utc>) -> StoreResult<Erased>;

    /// Sets a check's reference descriptor and, for a decided check, its outcome with
    /// the new face match. `Conflict` if the check was erased meanwhile.
    async fn set_reference(
        &self,
        check_id: &str,
        reference: &FaceDescriptor,
        outcome: Option<&Outcome>,
    ) -> StoreResult<()>;

    /// Marks check `check_id`'s token `jti` redeemed; `Conflict` if it already was,
    /// `NotFound` if that check issued no such token.
    async fn redeem_token(&self, jti: &str, check_id: &str, at: DateTime<Utc>) -> StoreResult<()>;
}

/// A dialect's sessions of several attempts (Azure's liveness sessions).
#[async_trait]
pub trait SessionStore {
    async fn insert_session(&self, session: &LivenessSession) -> StoreResult<()>;

    async fn session(&self, by: SessionKey) -> StoreResult<Option<LivenessSession>>;

    /// Writes a session (its quick link and body) if it is still at the revision it was
    /// read at; `Conflict` when another write came first (re-read and decide again).
    async fn update_session(&self, session: &LivenessSession) -> StoreResult<()>;

    /// Opens an attempt in one transaction: consumes `quick_link` (`Conflict` if it was
    /// already used, or the session changed since it was read), stores `session` as
    /// given (with the attempt listed) and `check`.
    async fn start_attempt(
        &self,
        session: &LivenessSession,
        quick_link: &str,
        check: &Check,
    ) -> StoreResult<()>;
}

/// The webhook outbox: deliveries, their leases and attempts.
#[async_trait]
pub trait OutboxStore {
    /// Pending deliveries due at `now`, oldest first: at most `per_url` to one URL and
    /// `limit` in all.
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        per_url: u32,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;

    /// Leases a pending delivery to this process until `until`, unless another holds an
    /// unexpired lease on it: whether this one got it. Of processes sharing the store,
    /// one sends each attempt; a lease left by one that died runs out and another
    /// sends. `due_deliveries` leaves out leased deliveries; `record_attempt` releases.
    async fn lease_delivery(
        &self,
        delivery_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Logs an attempt and sets the delivery's next state.
    async fn record_attempt(
        &self,
        delivery_id: &str,
        attempt: &Attempt,
        state: DeliveryState,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;

    async fn deliveries(&self, check_id: &str) -> StoreResult<Vec<(Delivery, Vec<Attempt>)>>;

    /// Queues a delivery to be sent again now.
    async fn retry_delivery(
        &self,
        check_id: &str,
        delivery_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// `Idempotency-Key` answers.
#[async_trait]
pub trait IdempotencyStore {
    /// Claims `(scope, key)` for a request whose digest is `request`: `Claimed` when it
    /// is new (or its earlier claim is older than `stale_before`, a request that died),
    /// else what the first request left. Keys older than `expired_before` are new.
    async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        request: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Idempotent>;

    /// Keeps the first answer to `(scope, key)`, replayed to every retry.
    async fn finish_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()>;

    /// Lets `(scope, key)` go: the request was refused, and may be sent again.
    async fn abandon_idempotent(&self, scope: &str, key: &str) -> StoreResult<()>;

    /// Forgets keys created before `before`; returns how many.
    async fn erase_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// Rate-limit windows shared by every process on the store.
#[async_trait]
pub trait RateStore {
    /// Counts one more request of `key` in its window: the one that started less than
    /// `window` before `now`, else a new one starting now. The count with this one, and
    /// when its window started. Every process on the store counts in the same windows.
    async fn count_request(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<(u32, DateTime<Utc>)>;

    /// Drops the windows that started before `before`.
    async fn erase_rate_windows(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// Which checks a list keeps. A check whose link ran out counts as `Expired` from that
/// moment, as every answer about it says, before the sweeper marks it.
#[derive(Clone, Debug, Default)]
pub struct CheckFilter {
    pub status: Option<Status>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Only checks after this one in the list's order (a cursor: created time and id).
    pub after: Option<(DateTime<Utc>, String)>,
    /// The time expiry is judged at.
    pub now: DateTime<Utc>,
}

/// What an `Idempotency-Key` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Idempotent {
    /// First use: the request runs.
    Claimed,
    /// Used with this request before: its answer.
    Answered { status: u16, body: Vec<u8> },
    /// Used with this request, which is still running.
    InFlight,
    /// Used with another request.
    Mismatch,
}
