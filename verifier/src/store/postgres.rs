//! The PostgreSQL store (`store.url = "postgres://…"`): the store several verifiers share
//! behind a load balancer. tokio-postgres connections in a deadpool pool, driven by a
//! small runtime of the store's own: the `Store` trait is synchronous and is called on
//! the blocking pool, where waiting on that runtime is allowed. Versioned migrations run
//! at open under an advisory lock, so replicas starting together migrate once.
//!
//! Times are milliseconds since the epoch (`BIGINT`), as in the SQLite store; JSON
//! values are text. What coordinates replicas is done in single statements or in
//! transactions that lock what they read: conditional updates for claims, frames, the
//! finish lease and transitions; `FOR UPDATE SKIP LOCKED` for the outbox.

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use livecheck_core::face_match::FaceDescriptor;
use livecheck_core::protocol::ChainState;
use tokio_postgres::Row;

use super::sealed::{open, open_text, seal, seal_text, Sealer};
use super::{
    CheckFilter, CheckStore, Erased, IdempotencyStore, Idempotent, KeyStore, NextAttempt,
    OutboxStore, RateStore, SessionKey, SessionStore, Store, StoreError, StoreResult, Transition,
};
use crate::model::{
    ApiKey, Attempt, CaptureState, Check, Delivery, DeliveryState, FrameRef, ImageKind,
    LivenessSession, Outcome, ReturnParams, Status, StoredFrame, StoredImage,
};

/// Schema versions, applied in order; `schema_migrations` records which ran.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    pkcs8 BYTEA NOT NULL,
    created_at BIGINT NOT NULL
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
    threshold BIGINT NOT NULL,
    audit_images BIGINT NOT NULL,
    challenges TEXT NOT NULL,
    user_id TEXT,
    metadata TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    claimed_at BIGINT,
    client_token_hash TEXT,
    frame_key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    chain TEXT NOT NULL,
    frames BIGINT NOT NULL DEFAULT 0,
    outcome TEXT,
    completed_at BIGINT,
    erased_at BIGINT,
    reference_descriptor TEXT,
    photo_session BOOLEAN NOT NULL DEFAULT FALSE,
    light_challenge BOOLEAN NOT NULL DEFAULT FALSE,
    capture TEXT,
    finishing_at BIGINT,
    frame_bytes BIGINT NOT NULL DEFAULT 0,
    return_params TEXT,
    max_attempts BIGINT NOT NULL DEFAULT 1,
    attempts TEXT,
    awaiting_retry BOOLEAN NOT NULL DEFAULT FALSE,
    locale TEXT
);
CREATE INDEX checks_user ON checks (api_key_id, user_id, created_at);
CREATE INDEX checks_open ON checks (status, expires_at);
CREATE INDEX checks_listed ON checks (api_key_id, created_at, id);
CREATE TABLE frames (
    check_id TEXT NOT NULL REFERENCES checks(id),
    seq BIGINT NOT NULL,
    t_ms BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (check_id, seq)
);
CREATE TABLE images (
    check_id TEXT NOT NULL REFERENCES checks(id),
    kind TEXT NOT NULL,
    idx BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (check_id, kind, idx)
);
CREATE TABLE tokens (
    jti TEXT PRIMARY KEY,
    check_id TEXT NOT NULL REFERENCES checks(id),
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT
);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    check_id TEXT NOT NULL REFERENCES checks(id),
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    secret TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    leased_until BIGINT
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_check ON deliveries (check_id);
CREATE TABLE attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries(id),
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    n BIGSERIAL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, at);
CREATE TABLE liveness_sessions (
    id TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys(id),
    token_hash TEXT NOT NULL UNIQUE,
    quick_link TEXT UNIQUE,
    used_quick_link TEXT,
    body TEXT NOT NULL,
    revision BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX liveness_sessions_used_quick_link ON liveness_sessions (used_quick_link);
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    status BIGINT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE TABLE rate_windows (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
);
"#];

/// The advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x6c69_7665_6368_6b31;

pub struct PostgresStore {
    pool: Pool,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    sealer: Option<Sealer>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Dropped at exit, perhaps on an async thread, where a runtime may not block.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
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

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(db)
}

fn parse_opt<T: serde::de::DeserializeOwned>(s: Option<String>) -> StoreResult<Option<T>> {
    s.as_deref().map(parse).transpose()
}

const CHECK_COLUMNS: &str = "id, api_key_id, token, link, secret, webhook_url, return_url, \
    cancel_url, threshold, audit_images, challenges, user_id, metadata, status, created_at, \
    expires_at, claimed_at, client_token_hash, frame_key, nonce, chain, frames, outcome, \
    completed_at, erased_at, reference_descriptor, photo_session, light_challenge, capture, \
    finishing_at, frame_bytes, return_params, max_attempts, attempts, awaiting_retry, locale";

fn api_key_row(r: &Row) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: r.try_get(0).map_err(db)?,
        name: r.try_get(1).map_err(db)?,
        created_at: time(r.try_get(2).map_err(db)?),
        revoked_at: r.try_get::<_, Option<i64>>(3).map_err(db)?.map(time),
    })
}

fn check_row(r: &Row) -> StoreResult<Check> {
    let get_i = |i: usize| r.try_get::<_, i64>(i).map_err(db);
    let get_t = |i: usize| r.try_get::<_, Option<i64>>(i).map_err(db);
    let get_s = |i: usize| r.try_get::<_, String>(i).map_err(db);
    let get_os = |i: usize| r.try_get::<_, Option<String>>(i).map_err(db);
    let get_b = |i: usize| r.try_get::<_, bool>(i).map_err(db);
    Ok(Check {
        id: get_s(0)?,
        api_key_id: get_s(1)?,
        token: get_s(2)?,
        link: get_s(3)?,
        secret: get_s(4)?,
        webhook_url: get_os(5)?,
        return_url: get_s(6)?,
        cancel_url: get_os(7)?,
        threshold: get_i(8)? as u8,
        audit_images: get_i(9)? as u8,
        challenges: parse(&get_s(10)?)?,
        user_id: get_os(11)?,
        metadata: parse_opt(get_os(12)?)?,
        status: Status::parse(&get_s(13)?).unwrap_or(Status::Failed),
        created_at: time(get_i(14)?),
        expires_at: time(get_i(15)?),
        claimed_at: get_t(16)?.map(time),
        client_token_hash: get_os(17)?,
        frame_key: get_s(18)?,
        nonce: get_s(19)?,
        chain: parse(&get_s(20)?)?,
        frames: get_i(21)? as u32,
        outcome: parse_opt(get_os(22)?)?,
        completed_at: get_t(23)?.map(time),
        erased_at: get_t(24)?.map(time),
        reference: parse_opt(get_os(25)?)?,
        photo_session: get_b(26)?,
        light_challenge: get_b(27)?,
        capture: parse_opt(get_os(28)?)?.unwrap_or_default(),
        finishing_at: get_t(29)?.map(time),
        frame_bytes: get_i(30)? as u64,
        return_params: parse_opt(get_os(31)?)?.unwrap_or_default(),
        max_attempts: get_i(32)? as u8,
        attempts: parse_opt(get_os(33)?)?.unwrap_or_default(),
        awaiting_retry: get_b(34)?,
        locale: get_os(35)?,
    })
}

const DELIVERY_COLUMNS: &str =
    "id, check_id, event, url, body, secret, state, attempts, next_attempt_at, created_at";

fn delivery_row(r: &Row) -> StoreResult<Delivery> {
    let state: String = r.try_get(6).map_err(db)?;
    Ok(Delivery {
        id: r.try_get(0).map_err(db)?,
        check_id: r.try_get(1).map_err(db)?,
        event: r.try_get(2).map_err(db)?,
        url: r.try_get(3).map_err(db)?,
        body: r.try_get(4).map_err(db)?,
        secret: r.try_get(5).map_err(db)?,
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
        attempts: r.try_get::<_, i64>(7).map_err(db)? as u32,
        next_attempt_at: r.try_get::<_, Option<i64>>(8).map_err(db)?.map(time),
        created_at: time(r.try_get(9).map_err(db)?),
    })
}

/// A check's column values, serialised once, for an INSERT inside any transaction.
struct CheckRow {
    id: String,
    api_key_id: String,
    token: String,
    link: String,
    secret: String,
    webhook_url: Option<String>,
    return_url: String,
    cancel_url: Option<String>,
    threshold: i64,
    audit_images: i64,
    challenges: String,
    user_id: Option<String>,
    metadata: Option<String>,
    status: &'static str,
    created_at: i64,
    expires_at: i64,
    frame_key: String,
    nonce: String,
    chain: String,
    reference: Option<String>,
    photo_session: bool,
    light_challenge: bool,
    return_params: Option<String>,
    max_attempts: i64,
    locale: Option<String>,
}

impl CheckRow {
    fn of(k: &Check, sealer: Option<&Sealer>) -> StoreResult<Self> {
        Ok(Self {
            id: k.id.clone(),
            api_key_id: k.api_key_id.clone(),
            token: k.token.clone(),
            link: k.link.clone(),
            secret: seal_text(sealer, &format!("checks.secret:{}", k.id), &k.secret),
            webhook_url: k.webhook_url.clone(),
            return_url: k.return_url.clone(),
            cancel_url: k.cancel_url.clone(),
            threshold: i64::from(k.threshold),
            audit_images: i64::from(k.audit_images),
            challenges: json(&k.challenges)?,
            user_id: k.user_id.clone(),
            metadata: k.metadata.as_ref().map(json).transpose()?,
            status: k.status.as_str(),
            created_at: ms(k.created_at),
            expires_at: ms(k.expires_at),
            frame_key: seal_text(sealer, &format!("checks.frame_key:{}", k.id), &k.frame_key),
            nonce: k.nonce.clone(),
            chain: json(&k.chain)?,
            reference: k.reference.as_ref().map(json).transpose()?,
            photo_session: k.photo_session,
            light_challenge: k.light_challenge,
            return_params: (k.return_params != ReturnParams::default())
                .then(|| json(&k.return_params))
                .transpose()?,
            max_attempts: i64::from(k.max_attempts),
            locale: k.locale.clone(),
        })
    }

    async fn insert(&self, c: &impl deadpool_postgres::GenericClient) -> StoreResult<()> {
        c.execute(
            "INSERT INTO checks (id, api_key_id, token, link, secret, webhook_url, return_url, \
             cancel_url, threshold, audit_images, challenges, user_id, metadata, status, \
             created_at, expires_at, frame_key, nonce, chain, reference_descriptor, photo_session, \
             light_challenge, return_params, max_attempts, locale) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24, $25)",
            &[
                &self.id,
                &self.api_key_id,
                &self.token,
                &self.link,
                &self.secret,
                &self.webhook_url,
                &self.return_url,
                &self.cancel_url,
                &self.threshold,
                &self.audit_images,
                &self.challenges,
                &self.user_id,
                &self.metadata,
                &self.status,
                &self.created_at,
                &self.expires_at,
                &self.frame_key,
                &self.nonce,
                &self.chain,
                &self.reference,
                &self.photo_session,
                &self.light_challenge,
                &self.return_params,
                &self.max_attempts,
                &self.locale,
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }
}

/// The TLS connector: rustls with ring, trusting `ca_file`'s certificates or webpki's.
fn tls(ca_file: Option<&std::path::Path>) -> StoreResult<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| db(format!("{}: {e}", path.display())))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| db(format!("{}: {e}", path.display())))?;
                roots.add(cert).map_err(db)?;
            }
            if roots.is_empty() {
                return Err(db(format!("{}: no certificate", path.display())));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(db)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`, or a socket directory
    /// as `host=/run/postgresql`) with a pool of `max_connections`, and runs pending
    /// migrations.
    ///
    /// TLS follows the URL's `sslmode` (`prefer` when absent: TLS when the server offers
    /// it; `require` refuses a server without it); the server's certificate is checked
    /// against `ca_file` (PEM) when given, else against webpki's roots.
    pub fn open(
        url: &str,
        max_connections: usize,
        ca_file: Option<&std::path::Path>,
    ) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(db)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("livecheck-postgres")
            .enable_all()
            .build()
            .map_err(db)?;
        let manager = Manager::from_config(
            config,
            tls(ca_file)?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(db)?;
        let store = Self {
            pool,
            runtime: Some(runtime),
            sealer: None,
        };
        store.block(store.migrate())?;
        Ok(store)
    }

    /// Seals the secrets written from now on with `sealer`, and opens sealed ones.
    pub fn sealed_with(mut self, sealer: Option<Sealer>) -> Self {
        self.sealer = sealer;
        self
    }

    /// Runs `f` on the store's runtime and waits for it (at start, outside an async
    /// context).
    fn block<T>(&self, f: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        match &self.runtime {
            Some(rt) => rt.block_on(f),
            None => Err(db("the store is closed")),
        }
    }

    /// A pooled connection. New ones are opened on the store's runtime, where their
    /// connection tasks then live: a caller's runtime (an HTTP worker's, a test's) may
    /// end before the pool does.
    async fn conn(&self) -> StoreResult<deadpool_postgres::Object> {
        let Some(rt) = &self.runtime else {
            return Err(db("the store is closed"));
        };
        let pool = self.pool.clone();
        rt.spawn(async move { pool.get().await })
            .await
            .map_err(db)?
            .map_err(db)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        let fresh = tx
            .query_one("SELECT to_regclass('schema_migrations') IS NULL", &[])
            .await
            .map_err(db)?
            .try_get::<_, bool>(0)
            .map_err(db)?;
        if fresh {
            tx.batch_execute(
                "CREATE TABLE schema_migrations \
                 (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await
            .map_err(db)?;
        }
        let done: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
            tx.batch_execute(sql).await.map_err(db)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&(i as i64 + 1), &ms(Utc::now())],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

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

    fn checks(&self, rows: Vec<Row>) -> StoreResult<Vec<Check>> {
        rows.iter()
            .map(|r| check_row(r).and_then(|k| self.opened(k)))
            .collect()
    }

    async fn one_check(&self, column: &str, value: &str) -> StoreResult<Option<Check>> {
        let row = async {
            self.conn()
                .await?
                .query_opt(
                    &format!("SELECT {CHECK_COLUMNS} FROM checks WHERE {column} = $1"),
                    &[&value],
                )
                .await
                .map_err(db)
        }
        .await?;
        row.map(|r| check_row(&r).and_then(|k| self.opened(k)))
            .transpose()
    }

    /// One statement; the number of rows it changed.
    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<u64> {
        async { self.conn().await?.execute(sql, params).await.map_err(db) }.await
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        async { self.conn().await?.query(sql, params).await.map_err(db) }.await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        async { self.conn().await?.query_opt(sql, params).await.map_err(db) }.await
    }
}

/// Images cross the connection at most this much per message: a pooled connection keeps
/// buffers as large as the largest message it carried, so whole frames (up to
/// `checks.max_frame_bytes`) would leave each of them holding that much.
const CHUNK: usize = 1 << 20;

/// `bytes` of the one row of `table` that `filter` selects, read a chunk at a time;
/// `None` when there is no such row (or it went meanwhile).
async fn read_blob(
    c: &impl deadpool_postgres::GenericClient,
    table: &str,
    filter: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Option<Vec<u8>>> {
    // The length and the first chunk in one round trip: most frames fit in one.
    let Some(row) = c
        .query_opt(
            &format!(
                "SELECT octet_length(bytes), substring(bytes FROM 1 FOR {CHUNK}) \
                 FROM {table} WHERE {filter}"
            ),
            params,
        )
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let len = row.try_get::<_, i32>(0).map_err(db)? as usize;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(row.try_get::<_, &[u8]>(1).map_err(db)?);
    while out.len() < len {
        let sql = format!(
            "SELECT substring(bytes FROM {} FOR {CHUNK}) FROM {table} WHERE {filter}",
            out.len() + 1
        );
        let Some(row) = c.query_opt(&sql, params).await.map_err(db)? else {
            return Ok(None);
        };
        let chunk: &[u8] = row.try_get(0).map_err(db)?;
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(chunk);
    }
    Ok(Some(out))
}

/// Appends `rest` (an image's bytes after its first chunk) to the row of `table` that
/// `filter` selects, a chunk at a time (`$1` is each chunk; `filter` names `$2…`).
async fn append_blob(
    c: &impl deadpool_postgres::GenericClient,
    table: &str,
    filter: &str,
    key: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    rest: &[u8],
) -> StoreResult<()> {
    let sql = format!("UPDATE {table} SET bytes = bytes || $1 WHERE {filter}");
    for chunk in rest.chunks(CHUNK) {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&chunk];
        params.extend_from_slice(key);
        c.execute(&sql, &params).await.map_err(db)?;
    }
    Ok(())
}

/// An image's first chunk and the rest.
fn first_chunk(bytes: &[u8]) -> (&[u8], &[u8]) {
    bytes.split_at(bytes.len().min(CHUNK))
}

fn conflict_unless(changed: bool, why: &str) -> StoreResult<()> {
    if changed {
        Ok(())
    } else {
        Err(StoreError::Conflict(why.into()))
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        self.query("SELECT 1", &[]).await.map(|_| ())
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO api_keys (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &name, &key_hash, &ms(at)],
        )
        .await
        .map(|_| ())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        self.query_opt(
            "SELECT id, name, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
            &[&key_hash],
        )
        .await?
        .map(|r| api_key_row(&r))
        .transpose()
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.query(
            "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
            &[],
        )
        .await?
        .iter()
        .map(api_key_row)
        .collect()
    }

    async fn revoke_api_key(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                &[&id, &ms(at)],
            )
            .await?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn signing_keys(
        &self,
        candidate: (String, Vec<u8>),
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let sealer = self.sealer.as_ref();
        let newest = "SELECT kid, pkcs8 FROM signing_keys ORDER BY created_at DESC, kid LIMIT 2";
        let stored: Vec<(String, Vec<u8>)> = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            // Replicas starting at once on an empty store make one key between them.
            tx.execute("LOCK TABLE signing_keys IN EXCLUSIVE MODE", &[])
                .await
                .map_err(db)?;
            let mut rows = tx.query(newest, &[]).await.map_err(db)?;
            if rows.is_empty() {
                let (kid, pkcs8) = candidate;
                let sealed = seal(sealer, &format!("signing_keys.pkcs8:{kid}"), &pkcs8);
                tx.execute(
                    "INSERT INTO signing_keys (kid, pkcs8, created_at) VALUES ($1, $2, $3)",
                    &[&kid, &sealed, &ms(Utc::now())],
                )
                .await
                .map_err(db)?;
                rows = tx.query(newest, &[]).await.map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            rows.iter()
                .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
                .collect::<StoreResult<_>>()
        }
        .await?;
        stored
            .into_iter()
            .map(|(kid, pkcs8)| {
                let plain = open(sealer, &format!("signing_keys.pkcs8:{kid}"), &pkcs8)?;
                Ok((kid, plain))
            })
            .collect()
    }

    async fn add_signing_key(&self, kid: &str, pkcs8: &[u8]) -> StoreResult<()> {
        let sealed = seal(
            self.sealer.as_ref(),
            &format!("signing_keys.pkcs8:{kid}"),
            pkcs8,
        );
        async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            tx.execute("LOCK TABLE signing_keys IN EXCLUSIVE MODE", &[])
                .await
                .map_err(db)?;
            let newest: Option<i64> = tx
                .query_one("SELECT MAX(created_at) FROM signing_keys", &[])
                .await
                .map_err(db)?
                .try_get(0)
                .map_err(db)?;
            // Strictly newer than every key so far, whatever the clock says.
            let at = ms(Utc::now()).max(newest.map_or(0, |n| n + 1));
            tx.execute(
                "INSERT INTO signing_keys (kid, pkcs8, created_at) VALUES ($1, $2, $3)",
                &[&kid, &sealed, &at],
            )
            .await
            .map_err(db)?;
            // Only the new key and the one before it are kept (and published).
            tx.execute(
                "DELETE FROM signing_keys WHERE kid NOT IN \
                 (SELECT kid FROM signing_keys ORDER BY created_at DESC, kid LIMIT 2)",
                &[],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)
        }
        .await
    }
}

#[async_trait]
impl CheckStore for PostgresStore {
    async fn insert_check(&self, k: &Check) -> StoreResult<()> {
        let row = CheckRow::of(k, self.sealer.as_ref())?;
        async {
            let c = self.conn().await?;
            row.insert(&c).await
        }
        .await
    }

    async fn check(&self, id: &str) -> StoreResult<Option<Check>> {
        self.one_check("id", id).await
    }

    async fn check_by_token(&self, token: &str) -> StoreResult<Option<Check>> {
        self.one_check("token", token).await
    }

    async fn check_by_link(&self, link: &str) -> StoreResult<Option<Check>> {
        // A photo session has no browser capture: its link opens nothing.
        Ok(self
            .one_check("link", link)
            .await?
            .filter(|c| !c.photo_session))
    }

    async fn checks_by_user(
        &self,
        api_key_id: &str,
        user_id: &str,
        photo_sessions_only: bool,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<Check>, u64)> {
        let filter = "api_key_id = $1 AND user_id = $2 AND (NOT $3 OR photo_session)";
        let total: i64 = self
            .query_opt(
                &format!("SELECT COUNT(*) FROM checks WHERE {filter}"),
                &[&api_key_id, &user_id, &photo_sessions_only],
            )
            .await?
            .map(|r| r.try_get(0).map_err(db))
            .transpose()?
            .unwrap_or(0);
        let rows = self
            .query(
                &format!(
                    "SELECT {CHECK_COLUMNS} FROM checks WHERE {filter} \
                 ORDER BY created_at DESC, id LIMIT $4 OFFSET $5"
                ),
                &[
                    &api_key_id,
                    &user_id,
                    &photo_sessions_only,
                    &i64::from(limit),
                    &i64::from(offset),
                ],
            )
            .await?;
        Ok((self.checks(rows)?, total as u64))
    }

    async fn list_checks(
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
        let rows = self
            .query(
                &format!(
                    "SELECT {CHECK_COLUMNS} FROM checks WHERE api_key_id = $1 \
                 AND ($2::TEXT IS NULL \
                      OR ($2 = 'expired' AND (status = 'expired' \
                          OR (status IN ('pending', 'in_progress') AND expires_at <= $3))) \
                      OR ($2 IN ('pending', 'in_progress') AND status = $2 AND expires_at > $3) \
                      OR ($2 NOT IN ('expired', 'pending', 'in_progress') AND status = $2)) \
                 AND ($4::BIGINT IS NULL OR created_at >= $4) \
                 AND ($5::BIGINT IS NULL OR created_at < $5) \
                 AND ($6::BIGINT IS NULL OR created_at < $6 OR (created_at = $6 AND id < $7)) \
                 ORDER BY created_at DESC, id DESC LIMIT $8"
                ),
                &[
                    &api_key_id,
                    &status,
                    &now,
                    &from,
                    &before,
                    &after_ms,
                    &after_id,
                    &i64::from(limit),
                ],
            )
            .await?;
        self.checks(rows)
    }

    async fn claim(
        &self,
        check_id: &str,
        client_token_hash: &str,
        at: DateTime<Utc>,
        capture: &CaptureState,
    ) -> StoreResult<()> {
        let capture = json(capture)?;
        let n = self.execute(
            "UPDATE checks SET status = 'in_progress', claimed_at = $2, client_token_hash = $3, \
             capture = $4 \
             WHERE id = $1 AND status = 'pending' AND client_token_hash IS NULL",
            &[&check_id, &ms(at), &client_token_hash, &capture],
        ).await?;
        conflict_unless(n == 1, "link already claimed")
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
        let chain = json(chain)?;
        let capture = json(capture)?;
        let won = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE checks SET chain = $2, capture = $4, frames = frames + 1, \
                     frame_bytes = frame_bytes + $5 \
                     WHERE id = $1 AND frames = $3 AND status = 'in_progress' \
                     AND finishing_at IS NULL AND frame_bytes + $5 <= $6",
                    &[
                        &check_id,
                        &chain,
                        &i64::from(expected_seq),
                        &capture,
                        &(frame.bytes.len() as i64),
                        &(max_bytes.min(i64::MAX as u64) as i64),
                    ],
                )
                .await
                .map_err(db)?;
            if n != 1 {
                return Ok(false);
            }
            let (first, rest) = first_chunk(&frame.bytes);
            let seq = i64::from(frame.seq);
            tx.execute(
                "INSERT INTO frames (check_id, seq, t_ms, content_type, bytes) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &check_id,
                    &seq,
                    &(frame.t_ms as i64),
                    &frame.content_type,
                    &first,
                ],
            )
            .await
            .map_err(db)?;
            append_blob(
                &tx,
                "frames",
                "check_id = $2 AND seq = $3",
                &[&check_id, &seq],
                rest,
            )
            .await?;
            tx.commit().await.map_err(db)?;
            Ok(true)
        }
        .await?;
        conflict_unless(won, "the session moved on (concurrent upload or finished)")
    }

    async fn begin_finish(
        &self,
        check_id: &str,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE checks SET finishing_at = $2 WHERE id = $1 AND status = 'in_progress' \
             AND (finishing_at IS NULL OR finishing_at < $3)",
                &[&check_id, &ms(at), &ms(stale_before)],
            )
            .await?;
        conflict_unless(
            n == 1,
            "the check is already being finished, or not in progress",
        )
    }

    async fn end_finish(&self, check_id: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE checks SET finishing_at = NULL WHERE id = $1 AND status = 'in_progress'",
            &[&check_id],
        )
        .await
        .map(|_| ())
    }

    async fn end_attempt(&self, check_id: &str, attempts: &[Outcome]) -> StoreResult<()> {
        let attempts = json(&attempts)?;
        let won = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE checks SET attempts = $2, awaiting_retry = TRUE, finishing_at = NULL, \
                     frames = 0, frame_bytes = 0 \
                     WHERE id = $1 AND status = 'in_progress' AND finishing_at IS NOT NULL \
                     AND NOT awaiting_retry",
                    &[&check_id, &attempts],
                )
                .await
                .map_err(db)?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute("DELETE FROM frames WHERE check_id = $1", &[&check_id])
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(true)
        }
        .await?;
        conflict_unless(won, "the check is not being finished")
    }

    async fn next_attempt(
        &self,
        check_id: &str,
        next: NextAttempt,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let challenges = json(&next.challenges)?;
        let chain = json(&next.chain)?;
        let capture = json(&next.capture)?;
        let n = self
            .execute(
                "UPDATE checks SET challenges = $2, nonce = $3, chain = $4, capture = $5, \
             claimed_at = $6, awaiting_retry = FALSE \
             WHERE id = $1 AND status = 'in_progress' AND awaiting_retry",
                &[
                    &check_id,
                    &challenges,
                    &next.nonce,
                    &chain,
                    &capture,
                    &ms(at),
                ],
            )
            .await?;
        conflict_unless(n == 1, "no attempt is awaited")
    }

    async fn frame_refs(&self, check_id: &str) -> StoreResult<Vec<FrameRef>> {
        self.query(
            "SELECT seq, t_ms, content_type FROM frames WHERE check_id = $1 ORDER BY seq",
            &[&check_id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(FrameRef {
                seq: r.try_get::<_, i64>(0).map_err(db)? as u32,
                t_ms: r.try_get::<_, i64>(1).map_err(db)? as u64,
                content_type: r.try_get(2).map_err(db)?,
            })
        })
        .collect()
    }

    async fn frame_bytes(&self, check_id: &str, seq: u32) -> StoreResult<Vec<u8>> {
        let seq = i64::from(seq);
        async {
            let c = self.conn().await?;
            read_blob(
                &c,
                "frames",
                "check_id = $1 AND seq = $2",
                &[&check_id, &seq],
            )
            .await
        }
        .await?
        .ok_or(StoreError::NotFound)
    }

    async fn frames(&self, check_id: &str) -> StoreResult<Vec<StoredFrame>> {
        async {
            let c = self.conn().await?;
            let rows = c
                .query(
                    "SELECT seq, t_ms, content_type FROM frames WHERE check_id = $1 ORDER BY seq",
                    &[&check_id],
                )
                .await
                .map_err(db)?;
            let mut frames = Vec::with_capacity(rows.len());
            for r in &rows {
                let seq: i64 = r.try_get(0).map_err(db)?;
                let bytes = read_blob(
                    &c,
                    "frames",
                    "check_id = $1 AND seq = $2",
                    &[&check_id, &seq],
                )
                .await?
                .ok_or(StoreError::NotFound)?;
                frames.push(StoredFrame {
                    seq: seq as u32,
                    t_ms: r.try_get::<_, i64>(1).map_err(db)? as u64,
                    content_type: r.try_get(2).map_err(db)?,
                    bytes,
                });
            }
            Ok(frames)
        }
        .await
    }

    async fn transition(&self, t: Transition) -> StoreResult<()> {
        let outcome = t.outcome.as_ref().map(json).transpose()?;
        let sealer = self.sealer.as_ref();
        let won = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE checks SET status = $2, outcome = COALESCE($3, outcome), \
                     completed_at = $4 \
                     WHERE id = $1 AND status IN ('pending', 'in_progress')",
                    &[&t.check_id, &t.to.as_str(), &outcome, &ms(t.at)],
                )
                .await
                .map_err(db)?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute("DELETE FROM frames WHERE check_id = $1", &[&t.check_id])
                .await
                .map_err(db)?;
            for img in t.images {
                let (first, rest) = first_chunk(&img.bytes);
                let (kind, index) = (img.kind.as_str(), i64::from(img.index));
                tx.execute(
                    "INSERT INTO images (check_id, kind, idx, content_type, bytes) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&t.check_id, &kind, &index, &img.content_type, &first],
                )
                .await
                .map_err(db)?;
                append_blob(
                    &tx,
                    "images",
                    "check_id = $2 AND kind = $3 AND idx = $4",
                    &[&t.check_id, &kind, &index],
                    rest,
                )
                .await?;
            }
            if let Some((jti, exp)) = &t.token {
                tx.execute(
                    "INSERT INTO tokens (jti, check_id, expires_at) VALUES ($1, $2, $3)",
                    &[jti, &t.check_id, &ms(*exp)],
                )
                .await
                .map_err(db)?;
            }
            for d in &t.events {
                let secret = seal_text(sealer, &format!("deliveries.secret:{}", d.id), &d.secret);
                tx.execute(
                    "INSERT INTO deliveries (id, check_id, event, url, body, secret, state, \
                     next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
                    &[
                        &d.id,
                        &t.check_id,
                        &d.event,
                        &d.url,
                        &d.body,
                        &secret,
                        &ms(t.at),
                    ],
                )
                .await
                .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            Ok(true)
        }
        .await?;
        conflict_unless(won, "the check is already finished")
    }

    async fn overdue_checks(&self, now: DateTime<Utc>) -> StoreResult<Vec<Check>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {CHECK_COLUMNS} FROM checks \
                 WHERE status IN ('pending', 'in_progress') AND expires_at <= $1 LIMIT 500"
                ),
                &[&ms(now)],
            )
            .await?;
        self.checks(rows)
    }

    async fn image(
        &self,
        check_id: &str,
        kind: ImageKind,
        index: u32,
    ) -> StoreResult<Option<StoredImage>> {
        let (kind_s, idx) = (kind.as_str(), i64::from(index));
        async {
            let c = self.conn().await?;
            let filter = "check_id = $1 AND kind = $2 AND idx = $3";
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                [&check_id, &kind_s, &idx];
            let Some(row) = c
                .query_opt(
                    &format!("SELECT content_type FROM images WHERE {filter}"),
                    &params,
                )
                .await
                .map_err(db)?
            else {
                return Ok(None);
            };
            let Some(bytes) = read_blob(&c, "images", filter, &params).await? else {
                return Ok(None);
            };
            Ok(Some(StoredImage {
                kind,
                index,
                content_type: row.try_get(0).map_err(db)?,
                bytes,
            }))
        }
        .await
    }

    async fn image_counts(&self, check_id: &str) -> StoreResult<(bool, u32)> {
        let r = self
            .query_opt(
                "SELECT COUNT(*) FILTER (WHERE kind = 'probe'), \
                 COUNT(*) FILTER (WHERE kind = 'audit') FROM images WHERE check_id = $1",
                &[&check_id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let probe: i64 = r.try_get(0).map_err(db)?;
        let audit: i64 = r.try_get(1).map_err(db)?;
        Ok((probe > 0, audit as u32))
    }

    async fn erase_audit_images(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM images WHERE kind = 'audit' AND check_id IN \
             (SELECT id FROM checks WHERE completed_at IS NOT NULL AND completed_at <= $1)",
            &[&ms(before)],
        )
        .await
    }

    async fn erase_check(&self, check_id: &str, at: DateTime<Utc>) -> StoreResult<Erased> {
        let check = self.check(check_id).await?.ok_or(StoreError::NotFound)?;
        // Keep only what an auditor needs: whether each attempt passed and why not.
        let minimal = check.outcome.as_ref().map(Outcome::minimal);
        let minimal = minimal.as_ref().map(json).transpose()?;
        let attempts: Vec<Outcome> = check.attempts.iter().map(Outcome::minimal).collect();
        let attempts = (!attempts.is_empty())
            .then(|| json(&attempts))
            .transpose()?;
        let (frames, probe, audit) = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            let frames = tx
                .execute("DELETE FROM frames WHERE check_id = $1", &[&check_id])
                .await
                .map_err(db)?;
            let probe = tx
                .execute(
                    "DELETE FROM images WHERE check_id = $1 AND kind = 'probe'",
                    &[&check_id],
                )
                .await
                .map_err(db)?;
            let audit = tx
                .execute(
                    "DELETE FROM images WHERE check_id = $1 AND kind = 'audit'",
                    &[&check_id],
                )
                .await
                .map_err(db)?;
            // An open check ends here (cancelled): nothing can be claimed, uploaded or
            // decided into it afterwards, so no finish racing the erasure stores anything.
            tx.execute(
                "UPDATE checks SET outcome = $2, user_id = NULL, metadata = NULL, erased_at = $3, \
                 frames = 0, reference_descriptor = NULL, attempts = $4, awaiting_retry = FALSE, \
                 status = CASE WHEN status IN ('pending', 'in_progress') THEN 'cancelled' \
                 ELSE status END, completed_at = COALESCE(completed_at, $3) WHERE id = $1",
                &[&check_id, &minimal, &ms(at), &attempts],
            )
            .await
            .map_err(db)?;
            // The outbox too: an event sent again after the erasure carries no user id
            // or metadata.
            tx.execute(
                "UPDATE deliveries SET body = jsonb_set(jsonb_set(body::jsonb, \
                 '{data,user_id}', 'null'::jsonb), '{data,metadata}', 'null'::jsonb)::text \
                 WHERE check_id = $1 AND (body::jsonb) ? 'data'",
                &[&check_id],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok((frames, probe, audit))
        }
        .await?;
        Ok(Erased {
            frames: frames as u32,
            probe_image: probe > 0,
            audit_images: audit as u32,
            biometric_results: check
                .outcome
                .as_ref()
                .is_some_and(|o| o.anti_spoof_score.is_some() || !o.challenges.is_empty()),
            reference: check.reference.is_some(),
            user_id: check.user_id.is_some(),
            metadata: check.metadata.is_some(),
        })
    }

    async fn set_reference(
        &self,
        check_id: &str,
        reference: &FaceDescriptor,
        outcome: Option<&Outcome>,
    ) -> StoreResult<()> {
        let reference = json(reference)?;
        let outcome = outcome.map(json).transpose()?;
        let n = self
            .execute(
                "UPDATE checks SET reference_descriptor = $2, outcome = COALESCE($3, outcome) \
             WHERE id = $1 AND erased_at IS NULL",
                &[&check_id, &reference, &outcome],
            )
            .await?;
        conflict_unless(n == 1, "the check was erased")
    }

    async fn redeem_token(&self, jti: &str, check_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE tokens SET redeemed_at = $3 \
             WHERE jti = $1 AND check_id = $2 AND redeemed_at IS NULL",
                &[&jti, &check_id, &ms(at)],
            )
            .await?;
        if n == 1 {
            return Ok(());
        }
        let known = self
            .query_opt(
                "SELECT 1 FROM tokens WHERE jti = $1 AND check_id = $2",
                &[&jti, &check_id],
            )
            .await?
            .is_some();
        Err(if known {
            StoreError::Conflict("already redeemed".into())
        } else {
            StoreError::NotFound
        })
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, session: &LivenessSession) -> StoreResult<()> {
        let body = json(session)?;
        self.execute(
            "INSERT INTO liveness_sessions (id, api_key_id, token_hash, quick_link, body) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &session.id,
                &session.api_key_id,
                &session.token_hash,
                &session.quick_link,
                &body,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn session(&self, by: SessionKey) -> StoreResult<Option<LivenessSession>> {
        let (column, value) = match by {
            SessionKey::Id(v) => ("id", v),
            SessionKey::TokenHash(v) => ("token_hash", v),
            SessionKey::QuickLink(v) => ("quick_link", v),
            SessionKey::UsedQuickLink(v) => ("used_quick_link", v),
        };
        self.query_opt(
            &format!("SELECT body, revision FROM liveness_sessions WHERE {column} = $1"),
            &[&value],
        )
        .await?
        .map(|r| {
            let mut session: LivenessSession = parse(&r.try_get::<_, String>(0).map_err(db)?)?;
            session.revision = r.try_get::<_, i64>(1).map_err(db)? as u64;
            Ok(session)
        })
        .transpose()
    }

    async fn update_session(&self, session: &LivenessSession) -> StoreResult<()> {
        let body = json(session)?;
        let n = self
            .execute(
                "UPDATE liveness_sessions SET quick_link = $2, body = $3, revision = revision + 1 \
             WHERE id = $1 AND revision = $4",
                &[
                    &session.id,
                    &session.quick_link,
                    &body,
                    &(session.revision as i64),
                ],
            )
            .await?;
        conflict_unless(n == 1, "the session changed meanwhile")
    }

    async fn start_attempt(
        &self,
        session: &LivenessSession,
        quick_link: &str,
        check: &Check,
    ) -> StoreResult<()> {
        let body = json(session)?;
        let row = CheckRow::of(check, self.sealer.as_ref())?;
        let won = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE liveness_sessions SET quick_link = NULL, used_quick_link = $2, \
                     body = $3, revision = revision + 1 \
                     WHERE id = $1 AND quick_link = $2 AND revision = $4",
                    &[&session.id, &quick_link, &body, &(session.revision as i64)],
                )
                .await
                .map_err(db)?;
            if n != 1 {
                return Ok(false);
            }
            row.insert(&tx).await?;
            tx.commit().await.map_err(db)?;
            Ok(true)
        }
        .await?;
        conflict_unless(won, "the link was already used")
    }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        per_url: u32,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        // The oldest few of each URL: a receiver with a long backlog takes no more of
        // the batch than one with a single event.
        let rows = self
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER \
                 (PARTITION BY url ORDER BY next_attempt_at, id) AS nth FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= $1 \
                 AND (leased_until IS NULL OR leased_until <= $1)) AS due \
                 WHERE nth <= $2 ORDER BY next_attempt_at LIMIT $3"
                ),
                &[&ms(now), &i64::from(per_url), &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| delivery_row(r).and_then(|d| self.opened_delivery(d)))
            .collect()
    }

    async fn lease_delivery(
        &self,
        delivery_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // The row is locked while it is leased; a replica leasing it at the same moment
        // skips it rather than waiting to find it taken.
        let n = self
            .execute(
                "UPDATE deliveries SET leased_until = $3 WHERE id = \
             (SELECT id FROM deliveries WHERE id = $1 AND state = 'pending' \
              AND (leased_until IS NULL OR leased_until <= $2) FOR UPDATE SKIP LOCKED)",
                &[&delivery_id, &ms(now), &ms(until)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        attempt: &Attempt,
        state: DeliveryState,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            tx.execute(
                "INSERT INTO attempts (delivery_id, at, status, error, duration_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &delivery_id,
                    &ms(attempt.at),
                    &attempt.status.map(i64::from),
                    &attempt.error,
                    &(attempt.duration_ms as i64),
                ],
            )
            .await
            .map_err(db)?;
            tx.execute(
                "UPDATE deliveries SET attempts = attempts + 1, state = $2, next_attempt_at = $3, \
                 leased_until = NULL WHERE id = $1",
                &[&delivery_id, &state.as_str(), &next_attempt_at.map(ms)],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)
        }
        .await
    }

    async fn deliveries(&self, check_id: &str) -> StoreResult<Vec<(Delivery, Vec<Attempt>)>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE check_id = $1 \
                 ORDER BY created_at, id"
                ),
                &[&check_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let d = self.opened_delivery(delivery_row(r)?)?;
            let attempts = self
                .query(
                    "SELECT at, status, error, duration_ms FROM attempts WHERE delivery_id = $1 \
                     ORDER BY at, n",
                    &[&d.id],
                )
                .await?
                .iter()
                .map(|a| {
                    Ok(Attempt {
                        at: time(a.try_get(0).map_err(db)?),
                        status: a
                            .try_get::<_, Option<i64>>(1)
                            .map_err(db)?
                            .map(|s| s as u16),
                        error: a.try_get(2).map_err(db)?,
                        duration_ms: a.try_get::<_, i64>(3).map_err(db)? as u64,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            out.push((d, attempts));
        }
        Ok(out)
    }

    async fn retry_delivery(
        &self,
        check_id: &str,
        delivery_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = $3 \
             WHERE id = $2 AND check_id = $1",
                &[&check_id, &delivery_id, &ms(now)],
            )
            .await?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        request: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Idempotent> {
        let found: Option<(String, Option<i64>, Option<String>)> = async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await.map_err(db)?;
            // One (scope, key) at a time across replicas, from the read to the claim.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(10) || $2, 0))",
                &[&scope, &key],
            )
            .await
            .map_err(db)?;
            let row = tx
                .query_opt(
                    "SELECT request, status, body, created_at FROM idempotency_keys \
                     WHERE scope = $1 AND key = $2",
                    &[&scope, &key],
                )
                .await
                .map_err(db)?;
            let row = row
                .map(|r| -> StoreResult<_> {
                    Ok((
                        r.try_get::<_, String>(0).map_err(db)?,
                        r.try_get::<_, Option<i64>>(1).map_err(db)?,
                        r.try_get::<_, Option<String>>(2).map_err(db)?,
                        r.try_get::<_, i64>(3).map_err(db)?,
                    ))
                })
                .transpose()?;
            // Past its day, or claimed by a request that never answered: new again.
            let found = row.filter(|(_, status, _, created)| {
                *created >= ms(expired_before) && (status.is_some() || *created >= ms(stale_before))
            });
            if let Some((req, status, body, _)) = found {
                return Ok(Some((req, status, body)));
            }
            tx.execute(
                "INSERT INTO idempotency_keys (scope, key, request, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO UPDATE SET \
                 request = excluded.request, status = NULL, body = NULL, \
                 created_at = excluded.created_at",
                &[&scope, &key, &request, &ms(now)],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(None)
        }
        .await?;
        Ok(match found {
            None => Idempotent::Claimed,
            Some((req, _, _)) if req != request => Idempotent::Mismatch,
            Some((_, None, _)) => Idempotent::InFlight,
            Some((_, Some(status), body)) => {
                let place = format!("idempotency_keys.body:{scope}:{key}");
                let body = open_text(self.sealer.as_ref(), &place, body.unwrap_or_default())?;
                Idempotent::Answered {
                    status: status as u16,
                    body: body.into_bytes(),
                }
            }
        })
    }

    async fn finish_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        // The answer holds credentials (a check's token, link and webhook secret).
        let place = format!("idempotency_keys.body:{scope}:{key}");
        let body = seal_text(self.sealer.as_ref(), &place, &String::from_utf8_lossy(body));
        self.execute(
            "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2",
            &[&scope, &key, &i64::from(status), &body],
        )
        .await
        .map(|_| ())
    }

    async fn abandon_idempotent(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL",
            &[&scope, &key],
        )
        .await
        .map(|_| ())
    }

    async fn erase_idempotency_keys(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM idempotency_keys WHERE created_at < $1",
            &[&ms(before)],
        )
        .await
    }
}

#[async_trait]
impl RateStore for PostgresStore {
    async fn count_request(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> StoreResult<(u32, DateTime<Utc>)> {
        let r = self
            .query_opt(
                "INSERT INTO rate_windows AS w (key, window_start, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 count = CASE WHEN w.window_start > $3 THEN w.count + 1 ELSE 1 END, \
                 window_start = CASE WHEN w.window_start > $3 THEN w.window_start ELSE $2 END \
                 RETURNING count, window_start",
                &[&key, &ms(now), &ms(now - window)],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let count: i64 = r.try_get(0).map_err(db)?;
        Ok((count as u32, time(r.try_get(1).map_err(db)?)))
    }

    async fn erase_rate_windows(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM rate_windows WHERE window_start < $1",
            &[&ms(before)],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster that takes TLS only (`scripts/postgres.sh start DIR --tls`), stopped
    /// when dropped.
    struct TlsCluster {
        dir: tempfile::TempDir,
        url: String,
    }

    impl TlsCluster {
        fn script() -> std::path::PathBuf {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh")
        }

        /// `None` where no PostgreSQL runs for the tests (never in CI).
        fn start() -> Option<Self> {
            crate::store::contract::postgres_admin_url()?;
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new(Self::script())
                .arg("start")
                .arg(dir.path())
                .arg("--tls")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
            Some(Self { dir, url })
        }
    }

    impl Drop for TlsCluster {
        fn drop(&mut self) {
            let _ = std::process::Command::new(Self::script())
                .arg("stop")
                .arg(self.dir.path())
                .status();
        }
    }

    #[test]
    fn tls_is_used_and_the_servers_certificate_is_checked() {
        let Some(cluster) = TlsCluster::start() else {
            return;
        };
        let ca = cluster.dir.path().join("ca.pem");
        let store = PostgresStore::open(&cluster.url, 2, Some(&ca)).unwrap();
        let ssl: bool = store
            .block(store.query_opt(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            ))
            .unwrap()
            .unwrap()
            .get(0);
        assert!(ssl, "the connection is encrypted");
        // A server whose certificate no trusted authority signed (an interceptor's, as
        // far as the verifier can tell: here, webpki's roots do not know this CA) is
        // refused.
        let Err(e) = PostgresStore::open(&cluster.url, 2, None) else {
            panic!("a certificate from an unknown CA was trusted");
        };
        assert!(e.to_string().contains("TLS handshake"), "{e}");
        // And so is plain text where the URL requires TLS: this server refuses it.
        let plain = cluster.url.replace("sslmode=require", "sslmode=disable");
        assert!(PostgresStore::open(&plain, 2, Some(&ca)).is_err());
    }
}
