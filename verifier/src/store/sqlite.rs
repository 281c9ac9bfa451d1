//! The embedded store: one SQLite file in the data directory, migrated at open.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use livecheck_core::challenge::ChallengeKind;
use livecheck_core::face_match::FaceDescriptor;
use livecheck_core::protocol::ChainState;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::sealed::{open, open_text, seal, seal_text, Sealer};
use super::{
    CheckFilter, CheckStore, Erased, IdempotencyStore, Idempotent, KeyStore, NextAttempt,
    OutboxStore, RateStore, SessionKey, SessionStore, Store, StoreError, StoreResult, Transition,
};
use crate::model::{
    ApiKey, Attempt, CaptureState, Check, Delivery, DeliveryState, FrameRef, ImageKind,
    LivenessSession, Outcome, ReturnParams, Status, StoredFrame, StoredImage,
};

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    pkcs8 BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE checks (
    id TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys(id),
    token TEXT NOT NULL UNIQUE,
    link TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    webhook_url TEXT,
    return_url TEXT NOT NULL,
    cancel_url TEXT,
    threshold INTEGER NOT NULL,
    audit_images INTEGER NOT NULL,
    challenges TEXT NOT NULL,
    user_id TEXT,
    metadata TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    claimed_at INTEGER,
    client_token_hash TEXT,
    frame_key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    chain TEXT NOT NULL,
    frames INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    completed_at INTEGER,
    erased_at INTEGER
);
CREATE INDEX checks_user ON checks(api_key_id, user_id, created_at);
CREATE INDEX checks_open ON checks(status, expires_at);
CREATE TABLE frames (
    check_id TEXT NOT NULL REFERENCES checks(id),
    seq INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (check_id, seq)
);
CREATE TABLE images (
    check_id TEXT NOT NULL REFERENCES checks(id),
    kind TEXT NOT NULL,
    idx INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (check_id, kind, idx)
);
CREATE TABLE tokens (
    jti TEXT PRIMARY KEY,
    check_id TEXT NOT NULL REFERENCES checks(id),
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER
);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    check_id TEXT NOT NULL REFERENCES checks(id),
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    secret TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
CREATE TABLE attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(id),
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX attempts_delivery ON attempts(delivery_id, at);
"#,
    // Face match: the reference selfie's descriptor (the image itself is not kept).
    r#"
ALTER TABLE checks ADD COLUMN reference_descriptor TEXT;
"#,
    // Sessions of several attempts (Azure's liveness sessions); each attempt is a check.
    r#"
CREATE TABLE liveness_sessions (
    id TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys(id),
    token_hash TEXT NOT NULL UNIQUE,
    quick_link TEXT UNIQUE,
    body TEXT NOT NULL
);
"#,
    // Checks answered photo by photo over the API (VerifyHQ): no capture link.
    r#"
ALTER TABLE checks ADD COLUMN photo_session INTEGER NOT NULL DEFAULT 0;
"#,
    // The capture's timeline (reveals, light steps, frame arrivals) and the light challenge.
    r#"
ALTER TABLE checks ADD COLUMN light_challenge INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN capture TEXT;
"#,
    // A finish in progress holds a lease: no frame is added under it.
    r#"
ALTER TABLE checks ADD COLUMN finishing_at INTEGER;
"#,
    // The bytes of a check's stored frames, capped per session.
    r#"
ALTER TABLE checks ADD COLUMN frame_bytes INTEGER NOT NULL DEFAULT 0;
"#,
    // Session writes are conditional on the revision they read.
    r#"
ALTER TABLE liveness_sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
"#,
    // What the browser carries back to return_url besides it (GLAIR's sid, Azure's
    // outcome), so return_url is kept as the customer gave it.
    r#"
ALTER TABLE checks ADD COLUMN return_params TEXT;
"#,
    // A Quick Link opened once is remembered, so opening it again returns the user to
    // the session's callback instead of a dead end.
    r#"
ALTER TABLE liveness_sessions ADD COLUMN used_quick_link TEXT;
CREATE INDEX liveness_sessions_used_quick_link ON liveness_sessions (used_quick_link);
"#,
    // Idempotency-Key: the first answer to each (caller, key), kept 24 h.
    r#"
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
"#,
    // A key's checks, newest first, for the list and its cursor.
    r#"
CREATE INDEX checks_listed ON checks (api_key_id, created_at, id);
"#,
    // A revoked API key opens nothing from then on.
    r#"
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
"#,
    // Retries within one check: the attempts allowed (checks made before: one), the
    // refused attempts before the current one, and the pause between two.
    r#"
ALTER TABLE checks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE checks ADD COLUMN attempts TEXT;
ALTER TABLE checks ADD COLUMN awaiting_retry INTEGER NOT NULL DEFAULT 0;
"#,
    // The hosted page's language, when the customer chose it.
    r#"
ALTER TABLE checks ADD COLUMN locale TEXT;
"#,
    // Processes sharing this store: a delivery being sent is leased to one of them until
    // `leased_until` (a lease left by a process that died runs out), and rate-limit
    // windows are counted here, not in each process.
    r#"
ALTER TABLE deliveries ADD COLUMN leased_until INTEGER;
CREATE TABLE rate_windows (
    key TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);
"#,
];

/// The embedded store: one connection, used from the blocking pool (rusqlite blocks).
/// Not `Clone`: its one handle is what `sealed_with` relies on.
pub struct SqliteStore {
    db: Arc<Db>,
}

/// What the blocking pool works on: every method runs its statements on the one
/// connection, under its lock.
struct Db {
    conn: Mutex<Connection>,
    /// Seals secrets at rest when a key is configured.
    sealer: Option<Sealer>,
}

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(db)
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

const CHECK_COLUMNS: &str = "id, api_key_id, token, link, secret, webhook_url, return_url, \
    cancel_url, threshold, audit_images, challenges, user_id, metadata, status, created_at, \
    expires_at, claimed_at, client_token_hash, frame_key, nonce, chain, frames, outcome, \
    completed_at, erased_at, reference_descriptor, photo_session, light_challenge, capture, \
    finishing_at, frame_bytes, return_params, max_attempts, attempts, awaiting_retry, locale";

fn api_key_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: time(r.get(2)?),
        revoked_at: r.get::<_, Option<i64>>(3)?.map(time),
    })
}

fn check_row(r: &Row<'_>) -> rusqlite::Result<Check> {
    let challenges: Vec<ChallengeKind> = parse_json(&r.get::<_, String>(10)?)?;
    let metadata: Option<String> = r.get(12)?;
    let status: String = r.get(13)?;
    let outcome: Option<String> = r.get(22)?;
    let reference: Option<String> = r.get(25)?;
    let capture: Option<String> = r.get(28)?;
    Ok(Check {
        id: r.get(0)?,
        api_key_id: r.get(1)?,
        token: r.get(2)?,
        link: r.get(3)?,
        secret: r.get(4)?,
        webhook_url: r.get(5)?,
        return_url: r.get(6)?,
        cancel_url: r.get(7)?,
        threshold: r.get(8)?,
        audit_images: r.get(9)?,
        challenges,
        user_id: r.get(11)?,
        metadata: metadata.as_deref().map(parse_json).transpose()?,
        status: Status::parse(&status).unwrap_or(Status::Failed),
        created_at: time(r.get(14)?),
        expires_at: time(r.get(15)?),
        claimed_at: r.get::<_, Option<i64>>(16)?.map(time),
        client_token_hash: r.get(17)?,
        frame_key: r.get(18)?,
        nonce: r.get(19)?,
        chain: parse_json(&r.get::<_, String>(20)?)?,
        frames: r.get(21)?,
        outcome: outcome.as_deref().map(parse_json::<Outcome>).transpose()?,
        completed_at: r.get::<_, Option<i64>>(23)?.map(time),
        erased_at: r.get::<_, Option<i64>>(24)?.map(time),
        reference: reference.as_deref().map(parse_json).transpose()?,
        photo_session: r.get(26)?,
        light_challenge: r.get(27)?,
        capture: capture
            .as_deref()
            .map(parse_json)
            .transpose()?
            .unwrap_or_default(),
        finishing_at: r.get::<_, Option<i64>>(29)?.map(time),
        frame_bytes: r.get::<_, i64>(30)? as u64,
        return_params: r
            .get::<_, Option<String>>(31)?
            .as_deref()
            .map(parse_json)
            .transpose()?
            .unwrap_or_default(),
        max_attempts: r.get(32)?,
        attempts: r
            .get::<_, Option<String>>(33)?
            .as_deref()
            .map(parse_json)
            .transpose()?
            .unwrap_or_default(),
        awaiting_retry: r.get(34)?,
        locale: r.get(35)?,
    })
}

/// A check's column values, serialised once, for an INSERT inside any transaction.
struct CheckRow<'a> {
    k: &'a Check,
    secret: String,
    frame_key: String,
    challenges: String,
    metadata: Option<String>,
    chain: String,
    reference: Option<String>,
    return_params: Option<String>,
}

impl<'a> CheckRow<'a> {
    fn of(k: &'a Check, sealer: Option<&Sealer>) -> StoreResult<Self> {
        Ok(Self {
            k,
            secret: seal_text(sealer, &format!("checks.secret:{}", k.id), &k.secret),
            frame_key: seal_text(sealer, &format!("checks.frame_key:{}", k.id), &k.frame_key),
            challenges: json(&k.challenges)?,
            metadata: k.metadata.as_ref().map(json).transpose()?,
            chain: json(&k.chain)?,
            reference: k.reference.as_ref().map(json).transpose()?,
            return_params: (k.return_params != ReturnParams::default())
                .then(|| json(&k.return_params))
                .transpose()?,
        })
    }

    fn insert(&self, c: &Connection) -> rusqlite::Result<()> {
        let k = self.k;
        c.execute(
            "INSERT INTO checks (id, api_key_id, token, link, secret, webhook_url, return_url, \
             cancel_url, threshold, audit_images, challenges, user_id, metadata, status, \
             created_at, expires_at, frame_key, nonce, chain, reference_descriptor, photo_session, \
             light_challenge, return_params, max_attempts, locale) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
             ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
            params![
                k.id,
                k.api_key_id,
                k.token,
                k.link,
                self.secret,
                k.webhook_url,
                k.return_url,
                k.cancel_url,
                k.threshold,
                k.audit_images,
                self.challenges,
                k.user_id,
                self.metadata,
                k.status.as_str(),
                ms(k.created_at),
                ms(k.expires_at),
                self.frame_key,
                k.nonce,
                self.chain,
                self.reference,
                k.photo_session,
                k.light_challenge,
                self.return_params,
                k.max_attempts,
                k.locale
            ],
        )
        .map(|_| ())
    }
}

const DELIVERY_COLUMNS: &str =
    "id, check_id, event, url, body, secret, state, attempts, next_attempt_at, created_at";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    let state: String = r.get(6)?;
    Ok(Delivery {
        id: r.get(0)?,
        check_id: r.get(1)?,
        event: r.get(2)?,
        url: r.get(3)?,
        body: r.get(4)?,
        secret: r.get(5)?,
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
        attempts: r.get(7)?,
        next_attempt_at: r.get::<_, Option<i64>>(8)?.map(time),
        created_at: time(r.get(9)?),
    })
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/livecheck.sqlite3` and runs pending migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        Ok(Self {
            db: Arc::new(Db::open(dir)?),
        })
    }

    /// Seals the secrets written from now on with `sealer`, and opens sealed ones.
    pub fn sealed_with(mut self, sealer: Option<Sealer>) -> Self {
        match Arc::get_mut(&mut self.db) {
            Some(db) => db.sealer = sealer,
            // `open` returns the only handle and runs nothing that could hold another
            // (calls hold one while they run), and the store is not `Clone`.
            None => unreachable!("a store is sealed before it is used"),
        }
        self
    }

    /// Runs `f` on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.db.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(db)?
    }
}

impl Db {
    fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| db(format!("{}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("livecheck.sqlite3")).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
            .map_err(db)?;
        // Each migration in a write transaction that reads the version first: of two
        // processes starting on one new store, the second finds the work done.
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
            let run = || -> rusqlite::Result<()> {
                let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                if version <= i {
                    conn.execute_batch(&format!("{sql}; PRAGMA user_version = {};", i + 1))?;
                }
                Ok(())
            };
            match run() {
                Ok(()) => conn.execute_batch("COMMIT").map_err(db)?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(db(e));
                }
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
            sealer: None,
        })
    }

    /// A check as read, its sealed secrets opened.
    fn opened(&self, mut k: Check) -> StoreResult<Check> {
        let s = self.sealer.as_ref();
        k.secret = open_text(s, &format!("checks.secret:{}", k.id), k.secret)?;
        k.frame_key = open_text(s, &format!("checks.frame_key:{}", k.id), k.frame_key)?;
        Ok(k)
    }

    fn opened_delivery(&self, mut d: Delivery) -> StoreResult<Delivery> {
        let place = format!("deliveries.secret:{}", d.id);
        d.secret = open_text(self.sealer.as_ref(), &place, d.secret)?;
        Ok(d)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().map_err(|_| db("store lock poisoned"))?;
        f(&mut conn).map_err(db)
    }

    fn one_check(&self, column: &str, value: &str) -> StoreResult<Option<Check>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {CHECK_COLUMNS} FROM checks WHERE {column} = ?1"),
                [value],
                check_row,
            )
            .optional()
        })?
        .map(|k| self.opened(k))
        .transpose()
    }
}

impl Db {
    fn ping(&self) -> StoreResult<()> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }
}

impl Db {
    fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (id, name, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, key_hash, ms(at)],
            )
        })
        .map(|_| ())
    }

    fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, created_at, revoked_at FROM api_keys \
                 WHERE key_hash = ?1 AND revoked_at IS NULL",
                [key_hash],
                api_key_row,
            )
            .optional()
        })
    }

    fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.with(|c| {
            c.prepare(
                "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
            )?
            .query_map([], api_key_row)?
            .collect()
        })
    }

    fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, ms(at)],
            )
        })?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    fn signing_keys(&self, candidate: (String, Vec<u8>)) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let sealer = self.sealer.as_ref();
        let stored = self.with(|c| {
            // A write transaction from the start: processes starting at once on an empty
            // store make one key between them, not one each.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let newest = |tx: &rusqlite::Transaction<'_>| {
                let mut stmt = tx.prepare(
                    "SELECT kid, pkcs8 FROM signing_keys ORDER BY created_at DESC, rowid DESC \
                     LIMIT 2",
                )?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>();
                rows
            };
            let mut keys = newest(&tx)?;
            if keys.is_empty() {
                let (kid, pkcs8) = candidate;
                let sealed = seal(sealer, &format!("signing_keys.pkcs8:{kid}"), &pkcs8);
                tx.execute(
                    "INSERT INTO signing_keys (kid, pkcs8, created_at) VALUES (?1, ?2, ?3)",
                    params![kid, sealed, ms(Utc::now())],
                )?;
                keys = newest(&tx)?;
            }
            tx.commit()?;
            Ok(keys)
        })?;
        stored
            .into_iter()
            .map(|(kid, pkcs8)| {
                let plain = open(sealer, &format!("signing_keys.pkcs8:{kid}"), &pkcs8)?;
                Ok((kid, plain))
            })
            .collect()
    }

    fn add_signing_key(&self, kid: &str, pkcs8: &[u8]) -> StoreResult<()> {
        let sealed = seal(
            self.sealer.as_ref(),
            &format!("signing_keys.pkcs8:{kid}"),
            pkcs8,
        );
        self.with(|c| {
            let tx = c.transaction()?;
            let newest: Option<i64> =
                tx.query_row("SELECT MAX(created_at) FROM signing_keys", [], |r| r.get(0))?;
            // Strictly newer than every key so far, whatever the clock says.
            let at = ms(Utc::now()).max(newest.map_or(0, |n| n + 1));
            tx.execute(
                "INSERT INTO signing_keys (kid, pkcs8, created_at) VALUES (?1, ?2, ?3)",
                params![kid, sealed, at],
            )?;
            // Only the new key and the one before it are kept (and published).
            tx.execute(
                "DELETE FROM signing_keys WHERE kid NOT IN \
                 (SELECT kid FROM signing_keys ORDER BY created_at DESC, rowid DESC LIMIT 2)",
                [],
            )?;
            tx.commit()
        })
    }
}

impl Db {
    fn insert_check(&self, k: &Check) -> StoreResult<()> {
        let row = CheckRow::of(k, self.sealer.as_ref())?;
        self.with(|c| row.insert(c))
    }

    fn check(&self, id: &str) -> StoreResult<Option<Check>> {
        self.one_check("id", id)
    }

    fn check_by_token(&self, token: &str) -> StoreResult<Option<Check>> {
        self.one_check("token", token)
    }

    fn check_by_link(&self, link: &str) -> StoreResult<Option<Check>> {
        // A photo session has no browser capture: its link opens nothing.
        Ok(self.one_check("link", link)?.filter(|c| !c.photo_session))
    }

    fn checks_by_user(
        &self,
        api_key_id: &str,
        user_id: &str,
        photo_sessions_only: bool,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<Check>, u64)> {
        self.with(|c| {
            let filter = "api_key_id = ?1 AND user_id = ?2 AND (?3 = 0 OR photo_session = 1)";
            let total: u64 = c.query_row(
                &format!("SELECT COUNT(*) FROM checks WHERE {filter}"),
                params![api_key_id, user_id, photo_sessions_only],
                |r| r.get(0),
            )?;
            let mut stmt = c.prepare(&format!(
                "SELECT {CHECK_COLUMNS} FROM checks WHERE {filter} \
                 ORDER BY created_at DESC, id LIMIT ?4 OFFSET ?5"
            ))?;
            let rows = stmt
                .query_map(
                    params![api_key_id, user_id, photo_sessions_only, limit, offset],
                    check_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total))
        })
        .and_then(|(rows, total)| {
            let rows = rows.into_iter().map(|k| self.opened(k));
            Ok((rows.collect::<StoreResult<Vec<_>>>()?, total))
        })
    }

    fn list_checks(
        &self,
        api_key_id: &str,
        filter: &CheckFilter,
        limit: u32,
    ) -> StoreResult<Vec<Check>> {
        let now = ms(filter.now);
        let status = filter.status.map(|s| s.as_str());
        let from = filter.created_from.map(ms);
        let before = filter.created_before.map(ms);
        let (after_ms, after_id) = match &filter.after {
            Some((t, id)) => (Some(ms(*t)), Some(id.as_str())),
            None => (None, None),
        };
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {CHECK_COLUMNS} FROM checks WHERE api_key_id = ?1 \
                 AND (?2 IS NULL \
                      OR (?2 = 'expired' AND (status = 'expired' \
                          OR (status IN ('pending', 'in_progress') AND expires_at <= ?3))) \
                      OR (?2 IN ('pending', 'in_progress') AND status = ?2 AND expires_at > ?3) \
                      OR (?2 NOT IN ('expired', 'pending', 'in_progress') AND status = ?2)) \
                 AND (?4 IS NULL OR created_at >= ?4) \
                 AND (?5 IS NULL OR created_at < ?5) \
                 AND (?6 IS NULL OR created_at < ?6 OR (created_at = ?6 AND id < ?7)) \
                 ORDER BY created_at DESC, id DESC LIMIT ?8"
            ))?;
            let rows = stmt
                .query_map(
                    params![api_key_id, status, now, from, before, after_ms, after_id, limit],
                    check_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?
        .into_iter()
        .map(|k| self.opened(k))
        .collect()
    }

    fn claim(
        &self,
        check_id: &str,
        client_token_hash: &str,
        at: DateTime<Utc>,
        capture: &CaptureState,
    ) -> StoreResult<()> {
        let capture = json(capture)?;
        let n = self.with(|c| {
            c.execute(
                "UPDATE checks SET status = 'in_progress', claimed_at = ?2, client_token_hash = ?3, \
                 capture = ?4 \
                 WHERE id = ?1 AND status = 'pending' AND client_token_hash IS NULL",
                params![check_id, ms(at), client_token_hash, capture],
            )
        })?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict("link already claimed".into()))
        }
    }

    fn add_frame(
        &self,
        check_id: &str,
        expected_seq: u32,
        chain: &ChainState,
        capture: &CaptureState,
        frame: &StoredFrame,
        max_bytes: u64,
    ) -> StoreResult<()> {
        let chain = json(chain)?;
        let capture = json(capture)?;
        let won = self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE checks SET chain = ?2, capture = ?4, frames = frames + 1, \
                 frame_bytes = frame_bytes + ?5 \
                 WHERE id = ?1 AND frames = ?3 AND status = 'in_progress' \
                 AND finishing_at IS NULL AND frame_bytes + ?5 <= ?6",
                params![
                    check_id,
                    chain,
                    expected_seq,
                    capture,
                    frame.bytes.len() as i64,
                    max_bytes.min(i64::MAX as u64) as i64
                ],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO frames (check_id, seq, t_ms, content_type, bytes) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    check_id,
                    frame.seq,
                    frame.t_ms as i64,
                    frame.content_type,
                    frame.bytes
                ],
            )?;
            tx.commit()?;
            Ok(true)
        })?;
        if won {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "the session moved on (concurrent upload or finished)".into(),
            ))
        }
    }

    fn begin_finish(
        &self,
        check_id: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE checks SET finishing_at = ?2 WHERE id = ?1 AND status = 'in_progress' \
                 AND (finishing_at IS NULL OR finishing_at < ?3)",
                params![check_id, ms(at), ms(stale_before)],
            )
        })?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "the check is already being finished, or not in progress".into(),
            ))
        }
    }

    fn end_finish(&self, check_id: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE checks SET finishing_at = NULL WHERE id = ?1 AND status = 'in_progress'",
                [check_id],
            )
        })
        .map(|_| ())
    }

    fn end_attempt(&self, check_id: &str, attempts: &[Outcome]) -> StoreResult<()> {
        let attempts = json(&attempts)?;
        let won = self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE checks SET attempts = ?2, awaiting_retry = 1, finishing_at = NULL, \
                 frames = 0, frame_bytes = 0 \
                 WHERE id = ?1 AND status = 'in_progress' AND finishing_at IS NOT NULL \
                 AND awaiting_retry = 0",
                params![check_id, attempts],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute("DELETE FROM frames WHERE check_id = ?1", [check_id])?;
            tx.commit()?;
            Ok(true)
        })?;
        if won {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "the check is not being finished".into(),
            ))
        }
    }

    fn next_attempt(
        &self,
        check_id: &str,
        next: NextAttempt,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let challenges = json(&next.challenges)?;
        let chain = json(&next.chain)?;
        let capture = json(&next.capture)?;
        let n = self.with(|c| {
            c.execute(
                "UPDATE checks SET challenges = ?2, nonce = ?3, chain = ?4, capture = ?5, \
                 claimed_at = ?6, awaiting_retry = 0 \
                 WHERE id = ?1 AND status = 'in_progress' AND awaiting_retry = 1",
                params![check_id, challenges, next.nonce, chain, capture, ms(at)],
            )
        })?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict("no attempt is awaited".into()))
        }
    }

    fn frame_refs(&self, check_id: &str) -> StoreResult<Vec<FrameRef>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, t_ms, content_type FROM frames WHERE check_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map([check_id], |r| {
                    Ok(FrameRef {
                        seq: r.get(0)?,
                        t_ms: r.get::<_, i64>(1)? as u64,
                        content_type: r.get(2)?,
                    })
                })?
                .collect();
            rows
        })
    }

    fn frame_bytes(&self, check_id: &str, seq: u32) -> StoreResult<Vec<u8>> {
        self.with(|c| {
            c.query_row(
                "SELECT bytes FROM frames WHERE check_id = ?1 AND seq = ?2",
                params![check_id, seq],
                |r| r.get(0),
            )
            .optional()
        })?
        .ok_or(StoreError::NotFound)
    }

    fn frames(&self, check_id: &str) -> StoreResult<Vec<StoredFrame>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, t_ms, content_type, bytes FROM frames WHERE check_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map([check_id], |r| {
                    Ok(StoredFrame {
                        seq: r.get(0)?,
                        t_ms: r.get::<_, i64>(1)? as u64,
                        content_type: r.get(2)?,
                        bytes: r.get(3)?,
                    })
                })?
                .collect();
            rows
        })
    }

    fn transition(&self, t: Transition) -> StoreResult<()> {
        let outcome = t.outcome.as_ref().map(json).transpose()?;
        let won = self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE checks SET status = ?2, outcome = COALESCE(?3, outcome), completed_at = ?4 \
                 WHERE id = ?1 AND status IN ('pending', 'in_progress')",
                params![t.check_id, t.to.as_str(), outcome, ms(t.at)],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute("DELETE FROM frames WHERE check_id = ?1", [&t.check_id])?;
            for img in t.images {
                tx.execute(
                    "INSERT INTO images (check_id, kind, idx, content_type, bytes) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![t.check_id, img.kind.as_str(), img.index, img.content_type, img.bytes],
                )?;
            }
            if let Some((jti, exp)) = &t.token {
                tx.execute(
                    "INSERT INTO tokens (jti, check_id, expires_at) VALUES (?1, ?2, ?3)",
                    params![jti, t.check_id, ms(*exp)],
                )?;
            }
            for d in &t.events {
                let secret = seal_text(
                    self.sealer.as_ref(),
                    &format!("deliveries.secret:{}", d.id),
                    &d.secret,
                );
                tx.execute(
                    "INSERT INTO deliveries (id, check_id, event, url, body, secret, state, \
                     next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
                    params![d.id, t.check_id, d.event, d.url, d.body, secret, ms(t.at)],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })?;
        if won {
            Ok(())
        } else {
            Err(StoreError::Conflict("the check is already finished".into()))
        }
    }

    fn overdue_checks(&self, now: DateTime<Utc>) -> StoreResult<Vec<Check>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {CHECK_COLUMNS} FROM checks \
                 WHERE status IN ('pending', 'in_progress') AND expires_at <= ?1 LIMIT 500"
            ))?;
            let rows: rusqlite::Result<Vec<Check>> =
                stmt.query_map([ms(now)], check_row)?.collect();
            rows
        })?
        .into_iter()
        .map(|k| self.opened(k))
        .collect()
    }

    fn image(
        &self,
        check_id: &str,
        kind: ImageKind,
        index: u32,
    ) -> StoreResult<Option<StoredImage>> {
        self.with(|c| {
            c.query_row(
                "SELECT content_type, bytes FROM images WHERE check_id = ?1 AND kind = ?2 AND idx = ?3",
                params![check_id, kind.as_str(), index],
                |r| {
                    Ok(StoredImage {
                        kind,
                        index,
                        content_type: r.get(0)?,
                        bytes: r.get(1)?,
                    })
                },
            )
            .optional()
        })
    }

    fn image_counts(&self, check_id: &str) -> StoreResult<(bool, u32)> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(kind = 'probe'), 0), COALESCE(SUM(kind = 'audit'), 0) \
                 FROM images WHERE check_id = ?1",
                [check_id],
                |r| Ok((r.get::<_, i64>(0)? > 0, r.get(1)?)),
            )
        })
    }

    fn erase_audit_images(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.with(|c| {
            c.execute(
                "DELETE FROM images WHERE kind = 'audit' AND check_id IN \
                 (SELECT id FROM checks WHERE completed_at IS NOT NULL AND completed_at <= ?1)",
                [ms(before)],
            )
        })
        .map(|n| n as u64)
    }

    fn erase_check(&self, check_id: &str, at: DateTime<Utc>) -> StoreResult<Erased> {
        let check = self.check(check_id)?.ok_or(StoreError::NotFound)?;
        // Keep only what an auditor needs: whether each attempt passed and why not.
        let minimal = check.outcome.as_ref().map(Outcome::minimal);
        let minimal = minimal.as_ref().map(json).transpose()?;
        let attempts: Vec<Outcome> = check.attempts.iter().map(Outcome::minimal).collect();
        let attempts = (!attempts.is_empty())
            .then(|| json(&attempts))
            .transpose()?;
        self.with(|c| {
            let tx = c.transaction()?;
            let frames = tx.execute("DELETE FROM frames WHERE check_id = ?1", [check_id])? as u32;
            let probe = tx.execute(
                "DELETE FROM images WHERE check_id = ?1 AND kind = 'probe'",
                [check_id],
            )? > 0;
            let audit = tx.execute(
                "DELETE FROM images WHERE check_id = ?1 AND kind = 'audit'",
                [check_id],
            )? as u32;
            // An open check ends here (cancelled): nothing can be claimed, uploaded or
            // decided into it afterwards, so no finish racing the erasure stores anything.
            tx.execute(
                "UPDATE checks SET outcome = ?2, user_id = NULL, metadata = NULL, erased_at = ?3, \
                 frames = 0, reference_descriptor = NULL, attempts = ?4, awaiting_retry = 0, \
                 status = CASE WHEN status IN ('pending', 'in_progress') THEN 'cancelled' \
                 ELSE status END, completed_at = COALESCE(completed_at, ?3) WHERE id = ?1",
                params![check_id, minimal, ms(at), attempts],
            )?;
            // The outbox too: an event sent again after the erasure carries no user id
            // or metadata.
            tx.execute(
                "UPDATE deliveries SET body = json_set(body, '$.data.user_id', NULL, \
                 '$.data.metadata', NULL) WHERE check_id = ?1 AND json_valid(body)",
                [check_id],
            )?;
            tx.commit()?;
            Ok(Erased {
                frames,
                probe_image: probe,
                audit_images: audit,
                biometric_results: check
                    .outcome
                    .as_ref()
                    .is_some_and(|o| o.anti_spoof_score.is_some() || !o.challenges.is_empty()),
                reference: check.reference.is_some(),
                user_id: check.user_id.is_some(),
                metadata: check.metadata.is_some(),
            })
        })
    }

    fn set_reference(
        &self,
        check_id: &str,
        reference: &FaceDescriptor,
        outcome: Option<&Outcome>,
    ) -> StoreResult<()> {
        let reference = json(reference)?;
        let outcome = outcome.map(json).transpose()?;
        self.with(|c| {
            let n = c.execute(
                "UPDATE checks SET reference_descriptor = ?2, outcome = COALESCE(?3, outcome) \
                 WHERE id = ?1 AND erased_at IS NULL",
                params![check_id, reference, outcome],
            )?;
            Ok(if n == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict("the check was erased".into()))
            })
        })?
    }

    fn redeem_token(&self, jti: &str, check_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE tokens SET redeemed_at = ?3 \
                 WHERE jti = ?1 AND check_id = ?2 AND redeemed_at IS NULL",
                params![jti, check_id, ms(at)],
            )?;
            if n == 1 {
                return Ok(Ok(()));
            }
            let known = c
                .query_row(
                    "SELECT 1 FROM tokens WHERE jti = ?1 AND check_id = ?2",
                    [jti, check_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            Ok(Err(if known {
                StoreError::Conflict("already redeemed".into())
            } else {
                StoreError::NotFound
            }))
        })?
    }
}

impl Db {
    fn insert_session(&self, session: &LivenessSession) -> StoreResult<()> {
        let body = json(session)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO liveness_sessions (id, api_key_id, token_hash, quick_link, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    session.id,
                    session.api_key_id,
                    session.token_hash,
                    session.quick_link,
                    body
                ],
            )
            .map(|_| ())
        })
    }

    fn session(&self, by: SessionKey) -> StoreResult<Option<LivenessSession>> {
        let (column, value) = match by {
            SessionKey::Id(v) => ("id", v),
            SessionKey::TokenHash(v) => ("token_hash", v),
            SessionKey::QuickLink(v) => ("quick_link", v),
            SessionKey::UsedQuickLink(v) => ("used_quick_link", v),
        };
        self.with(|c| {
            c.query_row(
                &format!("SELECT body, revision FROM liveness_sessions WHERE {column} = ?1"),
                [value],
                |r| {
                    let mut session = parse_json::<LivenessSession>(&r.get::<_, String>(0)?)?;
                    session.revision = r.get::<_, i64>(1)? as u64;
                    Ok(session)
                },
            )
            .optional()
        })
    }

    fn update_session(&self, session: &LivenessSession) -> StoreResult<()> {
        let body = json(session)?;
        let n =
            self.with(|c| {
                c.execute(
                "UPDATE liveness_sessions SET quick_link = ?2, body = ?3, revision = revision + 1 \
                 WHERE id = ?1 AND revision = ?4",
                params![session.id, session.quick_link, body, session.revision as i64],
            )
            })?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict("the session changed meanwhile".into()))
        }
    }

    fn start_attempt(
        &self,
        session: &LivenessSession,
        quick_link: &str,
        check: &Check,
    ) -> StoreResult<()> {
        let body = json(session)?;
        let row = CheckRow::of(check, self.sealer.as_ref())?;
        let won = self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE liveness_sessions SET quick_link = NULL, used_quick_link = ?2, body = ?3, \
                 revision = revision + 1 WHERE id = ?1 AND quick_link = ?2 AND revision = ?4",
                params![session.id, quick_link, body, session.revision as i64],
            )?;
            if n != 1 {
                return Ok(false);
            }
            row.insert(&tx)?;
            tx.commit()?;
            Ok(true)
        })?;
        if won {
            Ok(())
        } else {
            Err(StoreError::Conflict("the link was already used".into()))
        }
    }
}

impl Db {
    fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        per_url: u32,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        self.with(|c| {
            // The oldest few of each URL: a receiver with a long backlog takes no more
            // of the batch than one with a single event.
            let mut stmt = c.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER \
                 (PARTITION BY url ORDER BY next_attempt_at, id) AS nth FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= ?1 \
                 AND (leased_until IS NULL OR leased_until <= ?1)) \
                 WHERE nth <= ?2 ORDER BY next_attempt_at LIMIT ?3"
            ))?;
            let rows: rusqlite::Result<Vec<Delivery>> = stmt
                .query_map(params![ms(now), per_url, limit], delivery_row)?
                .collect();
            rows
        })?
        .into_iter()
        .map(|d| self.opened_delivery(d))
        .collect()
    }

    fn lease_delivery(
        &self,
        delivery_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET leased_until = ?3 WHERE id = ?1 AND state = 'pending' \
                 AND (leased_until IS NULL OR leased_until <= ?2)",
                params![delivery_id, ms(now), ms(until)],
            )
        })
        .map(|n| n == 1)
    }

    fn record_attempt(
        &self,
        delivery_id: &str,
        attempt: &Attempt,
        state: DeliveryState,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO attempts (delivery_id, at, status, error, duration_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    delivery_id,
                    ms(attempt.at),
                    attempt.status,
                    attempt.error,
                    attempt.duration_ms as i64
                ],
            )?;
            tx.execute(
                "UPDATE deliveries SET attempts = attempts + 1, state = ?2, next_attempt_at = ?3, \
                 leased_until = NULL WHERE id = ?1",
                params![delivery_id, state.as_str(), next_attempt_at.map(ms)],
            )?;
            tx.commit()
        })
    }

    fn deliveries(&self, check_id: &str) -> StoreResult<Vec<(Delivery, Vec<Attempt>)>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE check_id = ?1 ORDER BY created_at, id"
            ))?;
            let deliveries = stmt
                .query_map([check_id], delivery_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut stmt = c.prepare(
                "SELECT at, status, error, duration_ms FROM attempts WHERE delivery_id = ?1 \
                 ORDER BY at, rowid",
            )?;
            deliveries
                .into_iter()
                .map(|d| {
                    let attempts = stmt
                        .query_map([&d.id], |r| {
                            Ok(Attempt {
                                at: time(r.get(0)?),
                                status: r.get(1)?,
                                error: r.get(2)?,
                                duration_ms: r.get::<_, i64>(3)? as u64,
                            })
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    Ok((d, attempts))
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(|(d, attempts)| Ok((self.opened_delivery(d)?, attempts)))
        .collect()
    }

    fn retry_delivery(
        &self,
        check_id: &str,
        delivery_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = ?3 \
                 WHERE id = ?2 AND check_id = ?1",
                params![check_id, delivery_id, ms(now)],
            )
        })?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}

impl Db {
    fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        request: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Idempotent> {
        let found = self.with(|c| {
            // A write transaction from the read on: of two processes, one claims the key.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let row: Option<(String, Option<u16>, Option<String>, i64)> = tx
                .query_row(
                    "SELECT request, status, body, created_at FROM idempotency_keys \
                     WHERE scope = ?1 AND key = ?2",
                    params![scope, key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            // Past its day, or claimed by a request that never answered: new again.
            let found = row.filter(|(_, status, _, created)| {
                *created >= ms(expired_before) && (status.is_some() || *created >= ms(stale_before))
            });
            if let Some((req, status, body, _)) = found {
                return Ok(Some((req, status, body)));
            }
            tx.execute(
                "INSERT OR REPLACE INTO idempotency_keys (scope, key, request, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![scope, key, request, ms(now)],
            )?;
            tx.commit()?;
            Ok(None)
        })?;
        Ok(match found {
            None => Idempotent::Claimed,
            Some((req, _, _)) if req != request => Idempotent::Mismatch,
            Some((_, None, _)) => Idempotent::InFlight,
            Some((_, Some(status), body)) => {
                let place = format!("idempotency_keys.body:{scope}:{key}");
                let body = open_text(self.sealer.as_ref(), &place, body.unwrap_or_default())?;
                Idempotent::Answered {
                    status,
                    body: body.into_bytes(),
                }
            }
        })
    }

    fn finish_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        // The answer holds credentials (a check's token, link and webhook secret).
        let place = format!("idempotency_keys.body:{scope}:{key}");
        let body = seal_text(self.sealer.as_ref(), &place, &String::from_utf8_lossy(body));
        self.with(|c| {
            c.execute(
                "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE scope = ?1 AND key = ?2",
                params![scope, key, status, body],
            )
        })
        .map(|_| ())
    }

    fn abandon_idempotent(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND status IS NULL",
                params![scope, key],
            )
        })
        .map(|_| ())
    }

    fn erase_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.with(|c| {
            c.execute(
                "DELETE FROM idempotency_keys WHERE created_at < ?1",
                [ms(before)],
            )
        })
        .map(|n| n as u64)
    }
}

impl Db {
    fn count_request(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<(u32, DateTime<Utc>)> {
        let (count, start) = self.with(|c| {
            c.query_row(
                "INSERT INTO rate_windows (key, window_start, count) VALUES (?1, ?2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 count = CASE WHEN window_start > ?3 THEN count + 1 ELSE 1 END, \
                 window_start = CASE WHEN window_start > ?3 THEN window_start ELSE ?2 END \
                 RETURNING count, window_start",
                params![key, ms(now), ms(now - window)],
                |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)),
            )
        })?;
        Ok((count, time(start)))
    }

    fn erase_rate_windows(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.with(|c| {
            c.execute(
                "DELETE FROM rate_windows WHERE window_start < ?1",
                [ms(before)],
            )
        })
        .map(|n| n as u64)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.run(move |db| db.ping()).await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = id.to_owned();
        let name = name.to_owned();
        let key_hash = key_hash.to_owned();
        self.run(move |db| db.insert_api_key(&id, &name, &key_hash, at))
            .await
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        let key_hash = key_hash.to_owned();
        self.run(move |db| db.api_key_by_hash(&key_hash)).await
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.run(move |db| db.api_keys()).await
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let id = id.to_owned();
        self.run(move |db| db.revoke_api_key(&id, at)).await
    }

    async fn signing_keys(
        &self,
        candidate: (String, Vec<u8>),
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.run(move |db| db.signing_keys(candidate)).await
    }

    async fn add_signing_key(&self, kid: &str, pkcs8: &[u8]) -> StoreResult<()> {
        let kid = kid.to_owned();
        let pkcs8 = pkcs8.to_vec();
        self.run(move |db| db.add_signing_key(&kid, &pkcs8)).await
    }
}

#[async_trait]
impl CheckStore for SqliteStore {
    async fn insert_check(&self, check: &Check) -> StoreResult<()> {
        let check = check.clone();
        self.run(move |db| db.insert_check(&check)).await
    }

    async fn check(&self, id: &str) -> StoreResult<Option<Check>> {
        let id = id.to_owned();
        self.run(move |db| db.check(&id)).await
    }

    async fn check_by_token(&self, token: &str) -> StoreResult<Option<Check>> {
        let token = token.to_owned();
        self.run(move |db| db.check_by_token(&token)).await
    }

    async fn check_by_link(&self, link: &str) -> StoreResult<Option<Check>> {
        let link = link.to_owned();
        self.run(move |db| db.check_by_link(&link)).await
    }

    async fn checks_by_user(
        &self,
        api_key_id: &str,
        user_id: &str,
        photo_sessions_only: bool,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<Check>, u64)> {
        let api_key_id = api_key_id.to_owned();
        let user_id = user_id.to_owned();
        self.run(move |db| {
            db.checks_by_user(&api_key_id, &user_id, photo_sessions_only, offset, limit)
        })
        .await
    }

    async fn list_checks(
        &self,
        api_key_id: &str,
        filter: &CheckFilter,
        limit: u32,
    ) -> StoreResult<Vec<Check>> {
        let api_key_id = api_key_id.to_owned();
        let filter = filter.clone();
        self.run(move |db| db.list_checks(&api_key_id, &filter, limit))
            .await
    }

    async fn claim(
        &self,
        check_id: &str,
        client_token_hash: &str,
        at: DateTime<Utc>,
        capture: &CaptureState,
    ) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        let client_token_hash = client_token_hash.to_owned();
        let capture = capture.clone();
        self.run(move |db| db.claim(&check_id, &client_token_hash, at, &capture))
            .await
    }

    async fn add_frame(
        &self,
        check_id: &str,
        expected_seq: u32,
        chain: &ChainState,
        capture: &CaptureState,
        frame: &StoredFrame,
        max_bytes: u64,
    ) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        let chain = chain.clone();
        let capture = capture.clone();
        let frame = frame.clone();
        self.run(move |db| {
            db.add_frame(&check_id, expected_seq, &chain, &capture, &frame, max_bytes)
        })
        .await
    }

    async fn begin_finish(
        &self,
        check_id: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.begin_finish(&check_id, at, stale_before))
            .await
    }

    async fn end_finish(&self, check_id: &str) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.end_finish(&check_id)).await
    }

    async fn end_attempt(&self, check_id: &str, attempts: &[Outcome]) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        let attempts = attempts.to_vec();
        self.run(move |db| db.end_attempt(&check_id, &attempts))
            .await
    }

    async fn next_attempt(
        &self,
        check_id: &str,
        next: NextAttempt,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.next_attempt(&check_id, next, at))
            .await
    }

    async fn frame_refs(&self, check_id: &str) -> StoreResult<Vec<FrameRef>> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.frame_refs(&check_id)).await
    }

    async fn frame_bytes(&self, check_id: &str, seq: u32) -> StoreResult<Vec<u8>> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.frame_bytes(&check_id, seq)).await
    }

    async fn frames(&self, check_id: &str) -> StoreResult<Vec<StoredFrame>> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.frames(&check_id)).await
    }

    async fn transition(&self, t: Transition) -> StoreResult<()> {
        self.run(move |db| db.transition(t)).await
    }

    async fn overdue_checks(&self, now: DateTime<Utc>) -> StoreResult<Vec<Check>> {
        self.run(move |db| db.overdue_checks(now)).await
    }

    async fn image(
        &self,
        check_id: &str,
        kind: ImageKind,
        index: u32,
    ) -> StoreResult<Option<StoredImage>> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.image(&check_id, kind, index)).await
    }

    async fn image_counts(&self, check_id: &str) -> StoreResult<(bool, u32)> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.image_counts(&check_id)).await
    }

    async fn erase_audit_images(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |db| db.erase_audit_images(before)).await
    }

    async fn erase_check(&self, check_id: &str, at: DateTime<Utc>) -> StoreResult<Erased> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.erase_check(&check_id, at)).await
    }

    async fn set_reference(
        &self,
        check_id: &str,
        reference: &FaceDescriptor,
        outcome: Option<&Outcome>,
    ) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        let reference = reference.clone();
        let outcome = outcome.cloned();
        self.run(move |db| db.set_reference(&check_id, &reference, outcome.as_ref()))
            .await
    }

    async fn redeem_token(&self, jti: &str, check_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let jti = jti.to_owned();
        let check_id = check_id.to_owned();
        self.run(move |db| db.redeem_token(&jti, &check_id, at))
            .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, session: &LivenessSession) -> StoreResult<()> {
        let session = session.clone();
        self.run(move |db| db.insert_session(&session)).await
    }

    async fn session(&self, by: SessionKey) -> StoreResult<Option<LivenessSession>> {
        self.run(move |db| db.session(by)).await
    }

    async fn update_session(&self, session: &LivenessSession) -> StoreResult<()> {
        let session = session.clone();
        self.run(move |db| db.update_session(&session)).await
    }

    async fn start_attempt(
        &self,
        session: &LivenessSession,
        quick_link: &str,
        check: &Check,
    ) -> StoreResult<()> {
        let session = session.clone();
        let quick_link = quick_link.to_owned();
        let check = check.clone();
        self.run(move |db| db.start_attempt(&session, &quick_link, &check))
            .await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        per_url: u32,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        self.run(move |db| db.due_deliveries(now, per_url, limit))
            .await
    }

    async fn lease_delivery(
        &self,
        delivery_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let delivery_id = delivery_id.to_owned();
        self.run(move |db| db.lease_delivery(&delivery_id, now, until))
            .await
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        attempt: &Attempt,
        state: DeliveryState,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let delivery_id = delivery_id.to_owned();
        let attempt = attempt.clone();
        self.run(move |db| db.record_attempt(&delivery_id, &attempt, state, next_attempt_at))
            .await
    }

    async fn deliveries(&self, check_id: &str) -> StoreResult<Vec<(Delivery, Vec<Attempt>)>> {
        let check_id = check_id.to_owned();
        self.run(move |db| db.deliveries(&check_id)).await
    }

    async fn retry_delivery(
        &self,
        check_id: &str,
        delivery_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let check_id = check_id.to_owned();
        let delivery_id = delivery_id.to_owned();
        self.run(move |db| db.retry_delivery(&check_id, &delivery_id, now))
            .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        request: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Idempotent> {
        let scope = scope.to_owned();
        let key = key.to_owned();
        let request = request.to_owned();
        self.run(move |db| {
            db.begin_idempotent(&scope, &key, &request, now, stale_before, expired_before)
        })
        .await
    }

    async fn finish_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        let scope = scope.to_owned();
        let key = key.to_owned();
        let body = body.to_vec();
        self.run(move |db| db.finish_idempotent(&scope, &key, status, &body))
            .await
    }

    async fn abandon_idempotent(&self, scope: &str, key: &str) -> StoreResult<()> {
        let scope = scope.to_owned();
        let key = key.to_owned();
        self.run(move |db| db.abandon_idempotent(&scope, &key))
            .await
    }

    async fn erase_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |db| db.erase_idempotency_keys(before)).await
    }
}

#[async_trait]
impl RateStore for SqliteStore {
    async fn count_request(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<(u32, DateTime<Utc>)> {
        let key = key.to_owned();
        self.run(move |db| db.count_request(&key, now, window))
            .await
    }

    async fn erase_rate_windows(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.run(move |db| db.erase_rate_windows(before)).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use crate::store::contract::check;

    use super::*;

    /// A store with the test's API key `k` in it.
    pub(crate) async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.insert_api_key("k", "test", "hash", Utc::now())
            .await
            .unwrap();
        (dir, s)
    }
}
