//! What every store back end must do, written once over `&dyn Store` and run against
//! each: SQLite (a temporary file) and PostgreSQL (a fresh database on the test cluster,
//! `LIVECHECK_TEST_POSTGRES_URL`; required in CI). Each test gets two handles on the same
//! data, as two verifier processes would have.

use chrono::Utc;
use livecheck_core::challenge::ChallengeKind;
use livecheck_core::protocol::ChainState;

use super::{Idempotent, NewDelivery, SessionKey, Store, StoreError, Transition};
use crate::model::{
    Attempt, CaptureState, Check, DeliveryState, ImageKind, LivenessSession, Status, StoredFrame,
    StoredImage,
};

/// No byte cap.
pub(crate) const ANY: u64 = u64::MAX;

pub(crate) fn check(id: &str, link: &str) -> Check {
    let nonce = "00".repeat(32);
    Check {
        id: id.into(),
        api_key_id: "k".into(),
        token: format!("t-{id}"),
        link: link.into(),
        secret: "whsec_x".into(),
        webhook_url: None,
        return_url: "https://r.example".into(),
        cancel_url: None,
        threshold: 70,
        audit_images: 1,
        challenges: vec![ChallengeKind::Blink],
        user_id: Some("u".into()),
        metadata: None,
        status: Status::Pending,
        created_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::minutes(10),
        claimed_at: None,
        client_token_hash: None,
        frame_key: "00".into(),
        nonce: nonce.clone(),
        chain: ChainState::new(id, &nonce).unwrap(),
        frames: 0,
        outcome: None,
        completed_at: None,
        erased_at: None,
        reference: None,
        photo_session: false,
        light_challenge: false,
        capture: CaptureState::default(),
        finishing_at: None,
        return_params: Default::default(),
        frame_bytes: 0,
        max_attempts: 2,
        attempts: Vec::new(),
        awaiting_retry: false,
        locale: None,
    }
}

pub(crate) fn frame(seq: u32) -> StoredFrame {
    StoredFrame {
        seq,
        t_ms: seq as u64 * 100,
        content_type: "image/jpeg".into(),
        bytes: vec![seq as u8; 4],
    }
}

/// Two handles on one store with the test's API key `k` in it, and what keeps it alive.
pub(crate) struct Pair {
    pub a: Box<dyn Store>,
    pub b: Box<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

impl Pair {
    fn with_key(a: Box<dyn Store>, b: Box<dyn Store>, dir: Option<tempfile::TempDir>) -> Self {
        run(async {
            a.insert_api_key("k", "test", "hash", Utc::now())
                .await
                .unwrap()
        });
        Self { a, b, _dir: dir }
    }

    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let a = super::SqliteStore::open(dir.path()).unwrap();
        let b = super::SqliteStore::open(dir.path()).unwrap();
        Self::with_key(Box::new(a), Box::new(b), Some(dir))
    }

    /// `None` when no test cluster is configured, outside CI only.
    pub(crate) fn postgres() -> Option<Self> {
        let admin = postgres_admin_url()?;
        let name = format!(
            "lc_unit_{}",
            hex::encode(crate::secrets::random_bytes::<8>())
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        let a = super::PostgresStore::open(&url, 4, None).unwrap();
        let b = super::PostgresStore::open(&url, 4, None).unwrap();
        Some(Self::with_key(Box::new(a), Box::new(b), None))
    }
}

/// The test cluster's URL (`LIVECHECK_TEST_POSTGRES_URL`); `None` outside CI when there
/// is none. In CI a missing cluster fails the test: PostgreSQL tests never skip there.
pub(crate) fn postgres_admin_url() -> Option<String> {
    let Ok(admin) = std::env::var("LIVECHECK_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the PostgreSQL tests: set LIVECHECK_TEST_POSTGRES_URL (scripts/check.sh does)"
        );
        eprintln!("no LIVECHECK_TEST_POSTGRES_URL: this PostgreSQL test does not run");
        return None;
    };
    Some(admin)
}

/// Runs a contract function to its end. The stores are opened outside it: opening
/// blocks (PostgreSQL's migrations wait on the store's runtime).
fn run(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test)
}

/// `#[test]`s of each contract function on SQLite and on PostgreSQL.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                let p = super::Pair::sqlite();
                super::run(super::$name(p.a.as_ref(), p.b.as_ref()));
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(p) = super::Pair::postgres() {
                    super::run(super::$name(p.a.as_ref(), p.b.as_ref()));
                }
            })*
        }
    };
}

on_every_store!(
    a_link_is_claimed_once_and_frames_advance_only_from_the_expected_position,
    a_session_update_loses_to_a_write_made_since_it_was_read,
    a_session_stores_frames_up_to_its_byte_cap,
    under_a_finish_lease_no_frame_is_added_and_a_second_finish_waits,
    a_delivery_is_leased_to_one_process_until_its_attempt_or_its_lease_ends,
    a_transition_happens_once_with_its_images_event_and_token,
    what_one_process_writes_the_other_reads,
    the_signing_key_is_made_once_and_rotates_for_both,
    rate_windows_are_shared,
    an_idempotency_key_is_claimed_by_one_process,
    erasure_keeps_the_verdict_and_strips_the_outbox,
    large_images_come_back_whole,
);

pub(crate) async fn a_link_is_claimed_once_and_frames_advance_only_from_the_expected_position(
    s: &dyn Store,
    b: &dyn Store,
) {
    s.insert_check(&check("c1", "l1")).await.unwrap();
    s.claim("c1", "h1", Utc::now(), &CaptureState::default())
        .await
        .unwrap();
    // The other process's claim loses.
    assert!(matches!(
        b.claim("c1", "h2", Utc::now(), &CaptureState::default())
            .await,
        Err(StoreError::Conflict(_))
    ));
    let c = s.check_by_link("l1").await.unwrap().unwrap();
    assert_eq!(
        (c.status, c.client_token_hash.as_deref()),
        (Status::InProgress, Some("h1"))
    );

    let mut chain = c.chain.clone();
    chain.next_seq = 1;
    s.add_frame("c1", 0, &chain, &CaptureState::default(), &frame(0), ANY)
        .await
        .unwrap();
    // A second writer that read the same position loses and writes nothing.
    assert!(matches!(
        b.add_frame("c1", 0, &chain, &CaptureState::default(), &frame(0), ANY)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let c = s.check("c1").await.unwrap().unwrap();
    assert_eq!((c.frames, c.chain.next_seq), (1, 1));
    assert_eq!(s.frames("c1").await.unwrap().len(), 1);
    assert_eq!(s.frame_refs("c1").await.unwrap(), [frame(0).to_ref()]);
    assert_eq!(s.frame_bytes("c1", 0).await.unwrap(), frame(0).bytes);
    assert!(matches!(
        s.frame_bytes("c1", 1).await,
        Err(StoreError::NotFound)
    ));
}

pub(crate) async fn a_session_update_loses_to_a_write_made_since_it_was_read(
    s: &dyn Store,
    _b: &dyn Store,
) {
    let now = Utc::now();
    let session = LivenessSession {
        id: "s1".into(),
        api_key_id: "k".into(),
        token_hash: "t1".into(),
        passive: true,
        device_correlation_id: None,
        token_ttl_secs: 600,
        attempts_allowed: 1,
        verify: None,
        with_verify: false,
        created_at: now,
        expires_at: now,
        deleted_at: None,
        callback_url: None,
        quick_link: Some("q1".into()),
        attempts: Vec::new(),
        revision: 0,
    };
    s.insert_session(&session).await.unwrap();
    async fn read(s: &dyn Store) -> LivenessSession {
        let id = SessionKey::Id("s1".into());
        s.session(id).await.unwrap().unwrap()
    }
    let (mut a, mut b) = (read(s).await, read(s).await);
    a.attempts.push("c1".into());
    s.update_session(&a).await.unwrap();
    b.quick_link = Some("q2".into());
    assert!(matches!(
        s.update_session(&b).await,
        Err(StoreError::Conflict(_))
    ));
    let now = read(s).await;
    assert_eq!((now.attempts.len(), now.revision), (1, 1));
    assert_eq!(now.quick_link.as_deref(), Some("q1"));
    // Opening a link also names the revision it read.
    assert!(matches!(
        s.start_attempt(&b, "q1", &check("c2", "l2")).await,
        Err(StoreError::Conflict(_))
    ));
}

pub(crate) async fn a_session_stores_frames_up_to_its_byte_cap(s: &dyn Store, _b: &dyn Store) {
    s.insert_check(&check("c1", "l1")).await.unwrap();
    s.claim("c1", "h1", Utc::now(), &CaptureState::default())
        .await
        .unwrap();
    let chain = s.check("c1").await.unwrap().unwrap().chain;
    let size = frame(0).bytes.len() as u64;
    s.add_frame(
        "c1",
        0,
        &chain,
        &CaptureState::default(),
        &frame(0),
        2 * size,
    )
    .await
    .unwrap();
    s.add_frame(
        "c1",
        1,
        &chain,
        &CaptureState::default(),
        &frame(1),
        2 * size,
    )
    .await
    .unwrap();
    // The third would pass the cap: refused, and nothing of it is kept.
    assert!(matches!(
        s.add_frame(
            "c1",
            2,
            &chain,
            &CaptureState::default(),
            &frame(2),
            2 * size
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let c = s.check("c1").await.unwrap().unwrap();
    assert_eq!((c.frames, c.frame_bytes), (2, 2 * size));
    assert_eq!(s.frame_refs("c1").await.unwrap().len(), 2);
}

pub(crate) async fn under_a_finish_lease_no_frame_is_added_and_a_second_finish_waits(
    s: &dyn Store,
    b: &dyn Store,
) {
    s.insert_check(&check("c1", "l1")).await.unwrap();
    s.claim("c1", "h1", Utc::now(), &CaptureState::default())
        .await
        .unwrap();
    let chain = s.check("c1").await.unwrap().unwrap().chain;
    let now = Utc::now();
    let minute = chrono::Duration::minutes(1);
    s.begin_finish("c1", now, now - minute).await.unwrap();
    assert!(s.check("c1").await.unwrap().unwrap().finishing_at.is_some());
    // An upload that read the check before the lease loses.
    assert!(matches!(
        s.add_frame("c1", 0, &chain, &CaptureState::default(), &frame(0), ANY)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.frames("c1").await.unwrap().is_empty());
    // A second finish waits for the first; a lease older than the stale line is
    // taken over (its process died mid-finish).
    assert!(matches!(
        b.begin_finish("c1", now, now - minute).await,
        Err(StoreError::Conflict(_))
    ));
    let later = now + chrono::Duration::minutes(3);
    b.begin_finish("c1", later, later - minute).await.unwrap();
    // Released, frames are added again.
    s.end_finish("c1").await.unwrap();
    s.add_frame("c1", 0, &chain, &CaptureState::default(), &frame(0), ANY)
        .await
        .unwrap();
}

pub(crate) async fn a_delivery_is_leased_to_one_process_until_its_attempt_or_its_lease_ends(
    s: &dyn Store,
    b: &dyn Store,
) {
    // `b` is a second process on the same store.
    let a = s;
    a.insert_check(&check("c1", "l1")).await.unwrap();
    let now = Utc::now();
    a.transition(Transition {
        check_id: "c1".into(),
        to: Status::Cancelled,
        outcome: None,
        images: Vec::new(),
        events: vec![NewDelivery {
            id: "d1".into(),
            event: "cancelled".into(),
            url: "http://127.0.0.1:9/hook".into(),
            body: "{}".into(),
            secret: "whsec_x".into(),
        }],
        token: None,
        at: now,
    })
    .await
    .unwrap();
    async fn due(s: &dyn Store, at: chrono::DateTime<Utc>) -> usize {
        s.due_deliveries(at, 4, 10).await.unwrap().len()
    }
    let secs = chrono::Duration::seconds;
    assert_eq!((due(a, now).await, due(b, now).await), (1, 1));
    assert!(a.lease_delivery("d1", now, now + secs(40)).await.unwrap());
    assert!(!b.lease_delivery("d1", now, now + secs(40)).await.unwrap());
    assert_eq!(due(b, now + secs(39)).await, 0);
    // A lease left by a process that died runs out, and another takes it.
    let later = now + secs(41);
    assert_eq!(due(b, later).await, 1);
    assert!(b
        .lease_delivery("d1", later, later + secs(40))
        .await
        .unwrap());
    // The attempt's record releases it: the retry is due for whoever polls.
    let attempt = |status| Attempt {
        at: later,
        status: Some(status),
        error: (status != 200).then(|| "receiver answered 500".to_string()),
        duration_ms: 1,
    };
    b.record_attempt("d1", &attempt(500), DeliveryState::Pending, Some(later))
        .await
        .unwrap();
    assert_eq!(due(a, later).await, 1);
    assert!(a
        .lease_delivery("d1", later, later + secs(40))
        .await
        .unwrap());
    a.record_attempt("d1", &attempt(200), DeliveryState::Delivered, None)
        .await
        .unwrap();
    // Delivered: nothing left to lease.
    assert!(!b
        .lease_delivery("d1", later, later + secs(40))
        .await
        .unwrap());
    assert_eq!(due(b, later + secs(100)).await, 0);
}

pub(crate) async fn a_transition_happens_once_with_its_images_event_and_token(
    s: &dyn Store,
    _b: &dyn Store,
) {
    s.insert_check(&check("c1", "l1")).await.unwrap();
    s.claim("c1", "h", Utc::now(), &CaptureState::default())
        .await
        .unwrap();
    s.add_frame(
        "c1",
        0,
        &check("c1", "l1").chain,
        &CaptureState::default(),
        &frame(0),
        ANY,
    )
    .await
    .unwrap();
    let img = StoredImage {
        kind: ImageKind::Audit,
        index: 0,
        content_type: "image/jpeg".into(),
        bytes: vec![1, 2, 3],
    };
    let t = |jti: &str| Transition {
        check_id: "c1".into(),
        to: Status::Failed,
        outcome: None,
        images: vec![img.clone()],
        events: vec![NewDelivery {
            id: format!("d-{jti}"),
            event: "failed".into(),
            url: "http://127.0.0.1:9/hook".into(),
            body: "{}".into(),
            secret: "whsec_x".into(),
        }],
        token: Some((jti.to_string(), Utc::now())),
        at: Utc::now(),
    };
    s.transition(t("j1")).await.unwrap();
    assert!(matches!(
        s.transition(t("j2")).await,
        Err(StoreError::Conflict(_))
    ));
    // The losing transition wrote nothing: one delivery, one token, frames gone.
    assert_eq!(s.deliveries("c1").await.unwrap().len(), 1);
    assert!(matches!(
        s.redeem_token("j2", "c1", Utc::now()).await,
        Err(StoreError::NotFound)
    ));
    // A token's id redeems only the check it was issued for.
    assert!(matches!(
        s.redeem_token("j1", "c2", Utc::now()).await,
        Err(StoreError::NotFound)
    ));
    s.redeem_token("j1", "c1", Utc::now()).await.unwrap();
    assert!(matches!(
        s.redeem_token("j1", "c1", Utc::now()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.frames("c1").await.unwrap().is_empty());
    assert_eq!(s.image_counts("c1").await.unwrap(), (false, 1));

    // Audit images outlive nothing past their retention.
    assert_eq!(
        s.erase_audit_images(Utc::now() - chrono::Duration::minutes(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.erase_audit_images(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.image_counts("c1").await.unwrap(), (false, 0));
}

pub(crate) async fn what_one_process_writes_the_other_reads(s: &dyn Store, b: &dyn Store) {
    s.insert_check(&check("c1", "l1")).await.unwrap();
    assert_eq!(
        b.api_key_by_hash("hash").await.unwrap().unwrap().name,
        "test"
    );
    assert_eq!(
        b.check("c1").await.unwrap().unwrap().challenges,
        [ChallengeKind::Blink]
    );
    assert_eq!(
        b.overdue_checks(Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub(crate) async fn the_signing_key_is_made_once_and_rotates_for_both(
    s: &dyn Store,
    b: &dyn Store,
) {
    let make = |kid: &str| (kid.to_string(), vec![1, 2, 3]);
    let first = s.signing_keys(make("k1")).await.unwrap();
    // The second process finds the key the first made, and makes none.
    assert_eq!(b.signing_keys(make("k2")).await.unwrap(), first);
    assert_eq!(first, [("k1".to_string(), vec![1, 2, 3])]);
    b.add_signing_key("k3", &[4]).await.unwrap();
    s.add_signing_key("k4", &[5]).await.unwrap();
    let kids: Vec<String> = s
        .signing_keys(make("k5"))
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    // The newest and the one before it; the oldest is gone.
    assert_eq!(kids, ["k4", "k3"]);
}

pub(crate) async fn rate_windows_are_shared(s: &dyn Store, b: &dyn Store) {
    let t0 = Utc::now();
    let minute = chrono::Duration::minutes(1);
    let sec = chrono::Duration::seconds;
    assert_eq!(s.count_request("k", t0, minute).await.unwrap().0, 1);
    assert_eq!(
        b.count_request("k", t0 + sec(1), minute).await.unwrap().0,
        2
    );
    let (n, start) = s.count_request("k", t0 + sec(2), minute).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(start.timestamp_millis(), t0.timestamp_millis());
    // A window that ended starts again.
    let (n, start) = b.count_request("k", t0 + sec(61), minute).await.unwrap();
    assert_eq!(
        (n, start.timestamp_millis()),
        (1, (t0 + sec(61)).timestamp_millis())
    );
    assert_eq!(s.erase_rate_windows(t0 + sec(62)).await.unwrap(), 1);
}

pub(crate) async fn an_idempotency_key_is_claimed_by_one_process(s: &dyn Store, b: &dyn Store) {
    let now = Utc::now();
    let (stale, old) = (
        now - chrono::Duration::minutes(5),
        now - chrono::Duration::days(1),
    );
    assert_eq!(
        s.begin_idempotent("k", "key1", "req", now, stale, old)
            .await
            .unwrap(),
        Idempotent::Claimed
    );
    assert_eq!(
        b.begin_idempotent("k", "key1", "req", now, stale, old)
            .await
            .unwrap(),
        Idempotent::InFlight
    );
    assert_eq!(
        b.begin_idempotent("k", "key1", "other", now, stale, old)
            .await
            .unwrap(),
        Idempotent::Mismatch
    );
    s.finish_idempotent("k", "key1", 201, b"{\"id\":1}")
        .await
        .unwrap();
    assert_eq!(
        b.begin_idempotent("k", "key1", "req", now, stale, old)
            .await
            .unwrap(),
        Idempotent::Answered {
            status: 201,
            body: b"{\"id\":1}".to_vec()
        }
    );
}

pub(crate) async fn erasure_keeps_the_verdict_and_strips_the_outbox(s: &dyn Store, _b: &dyn Store) {
    let mut c = check("c1", "l1");
    c.metadata = Some(serde_json::json!({"order": 7}));
    s.insert_check(&c).await.unwrap();
    let body = serde_json::json!({"type": "cancelled", "data": {"id": "c1", "user_id": "u", "metadata": {"order": 7}}});
    s.transition(Transition {
        check_id: "c1".into(),
        to: Status::Cancelled,
        outcome: None,
        images: Vec::new(),
        events: vec![NewDelivery {
            id: "d1".into(),
            event: "cancelled".into(),
            url: "http://127.0.0.1:9/hook".into(),
            body: body.to_string(),
            secret: "whsec_x".into(),
        }],
        token: None,
        at: Utc::now(),
    })
    .await
    .unwrap();
    let erased = s.erase_check("c1", Utc::now()).await.unwrap();
    assert!(erased.user_id && erased.metadata);
    let after = s.check("c1").await.unwrap().unwrap();
    assert_eq!(
        (after.user_id, after.metadata, after.status),
        (None, None, Status::Cancelled)
    );
    assert!(after.erased_at.is_some());
    let (d, _) = s.deliveries("c1").await.unwrap().remove(0);
    let sent: serde_json::Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(sent["data"]["user_id"], serde_json::Value::Null);
    assert_eq!(sent["data"]["metadata"], serde_json::Value::Null);
    assert_eq!(sent["data"]["id"], "c1");
    // Nothing more is written into an erased check.
    assert!(matches!(
        s.claim("c1", "h", Utc::now(), &CaptureState::default())
            .await,
        Err(StoreError::Conflict(_))
    ));
}

/// Larger than a PostgreSQL message chunk (1 MiB): frames and images cross in pieces.
pub(crate) async fn large_images_come_back_whole(s: &dyn Store, b: &dyn Store) {
    let big: Vec<u8> = (0..(2 << 20) + 12_345)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    s.insert_check(&check("c1", "l1")).await.unwrap();
    s.claim("c1", "h", Utc::now(), &CaptureState::default())
        .await
        .unwrap();
    let chain = s.check("c1").await.unwrap().unwrap().chain;
    let f = StoredFrame {
        bytes: big.clone(),
        ..frame(0)
    };
    s.add_frame("c1", 0, &chain, &CaptureState::default(), &f, ANY)
        .await
        .unwrap();
    assert_eq!(b.frame_bytes("c1", 0).await.unwrap(), big);
    assert_eq!(b.frames("c1").await.unwrap()[0].bytes, big);
    let img = StoredImage {
        kind: ImageKind::Probe,
        index: 0,
        content_type: "image/jpeg".into(),
        bytes: big.clone(),
    };
    s.transition(Transition {
        check_id: "c1".into(),
        to: Status::Completed,
        outcome: None,
        images: vec![img.clone()],
        events: Vec::new(),
        token: None,
        at: Utc::now(),
    })
    .await
    .unwrap();
    assert_eq!(
        b.image("c1", ImageKind::Probe, 0)
            .await
            .unwrap()
            .unwrap()
            .bytes,
        big
    );
    assert!(b.image("c1", ImageKind::Audit, 0).await.unwrap().is_none());
}
