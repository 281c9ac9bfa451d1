//! Wiring: routes, the request-id middleware, background workers (webhook outbox,
//! expiry and retention sweeper), model loading and graceful start and stop.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use chrono::Utc;
use livecheck_core::manifest::ModelFiles;
use livecheck_core::Engine;

use crate::api::{assets, capture, checks, demo, dialects, meta, pages};
use crate::checks::lifecycle::{self, Ended};
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::idempotency::idempotent;
use crate::lc_token::TokenIssuer;
use crate::state::{AppState, ModelsFailed};
use crate::store::{SqliteStore, Store};
use crate::webhooks::Deliverer;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("signing key: {0}")]
    Token(#[from] crate::lc_token::TokenError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct RequestId(pub String);

/// Gives every request an id (in the `x-request-id` header and every error body), logs
/// one line per request without query strings or path credentials, and turns every
/// error into the API's JSON shape.
async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = crate::secrets::new_id()[..16].to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let started = Instant::now();
    let res = next.call(req).await?;
    // The route pattern, not the path: capture links are credentials.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".into());
    let api_error = res.response().error().map(|e| {
        e.as_error::<ApiError>().cloned().unwrap_or_else(|| {
            ApiError::from_status(e.as_response_error().status_code(), e.to_string())
        })
    });
    let mut res = match api_error {
        Some(err) => {
            let (req, _) = res.into_parts();
            ServiceResponse::new(req, err.response(&id)).map_into_boxed_body()
        }
        None => res.map_into_boxed_body(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(res)
}

/// Paths a page on another origin may call (an integrator serving the SDK itself):
/// the capture API is authorised by the link and a bearer client token, never by
/// cookies, so any origin may use it; models and SDK files are public.
/// The JWKS (to read an lc_token's claims in the page) and the API description (an
/// OpenAPI viewer) are public too.
const OPEN_TO_ALL_ORIGINS: [&str; 5] = [
    "/capture/",
    "/models/",
    "/sdk/",
    "/.well-known/jwks.json",
    "/openapi.json",
];

async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let open = OPEN_TO_ALL_ORIGINS
        .iter()
        .any(|p| req.path().starts_with(p));
    if open && req.method() == actix_web::http::Method::OPTIONS {
        let preflight = actix_web::HttpResponse::NoContent()
            .insert_header(("access-control-allow-origin", "*"))
            .insert_header(("access-control-allow-methods", "GET, POST"))
            .insert_header((
                "access-control-allow-headers",
                "authorization, content-type, livecheck-envelope",
            ))
            .insert_header(("access-control-max-age", "600"))
            .finish();
        return Ok(req.into_response(preflight));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if open {
        res.headers_mut().insert(
            HeaderName::from_static("access-control-allow-origin"),
            HeaderValue::from_static("*"),
        );
    }
    Ok(res)
}

fn json_error(
    err: impl std::fmt::Display,
    status: actix_web::http::StatusCode,
) -> actix_web::Error {
    ApiError::from_status(status, err.to_string()).into()
}

/// A path whose other methods answer 405 `method_not_allowed` with `Allow: <allow>`.
pub(crate) fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("this path takes {allow}, not that method"),
            )
            .with_header("allow", allow),
        )
    }))
}

/// `at!(path, GET => handler, POST => handler)`: a resource with its routes, whose
/// `Allow` on 405 is built from the same list, so the two cannot disagree.
macro_rules! at {
    ($path:expr, $m1:ident => $h1:expr $(, $m:ident => $h:expr)* $(,)?) => {
        $crate::server::resource($path, concat!(stringify!($m1) $(, ", ", stringify!($m))*))
            .route(
                actix_web::web::route()
                    .method(actix_web::http::Method::$m1)
                    .to($h1),
            )
            $(.route(actix_web::web::route().method(actix_web::http::Method::$m).to($h)))*
    };
}
pub(crate) use at;

/// JSON bodies up to `limit` bytes, with errors in the API's own shape.
fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|e, _| {
            let status = match &e {
                actix_web::error::JsonPayloadError::ContentType => {
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                }
                _ => actix_web::http::StatusCode::BAD_REQUEST,
            };
            json_error(e, status)
        })
}

pub fn routes(cfg: &mut web::ServiceConfig, max_frame_bytes: usize) {
    cfg.app_data(json_config(64 * 1024))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| json_error(e, actix_web::http::StatusCode::BAD_REQUEST)),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| json_error(e, actix_web::http::StatusCode::NOT_FOUND)),
        )
        // First: a dialect may claim a guarded part of a shared path (Azure's `/?s=`).
        .configure(dialects::configure)
        .service(at!("/", GET => pages::index))
        .service(at!("/end", GET => pages::end))
        .service(at!("/healthz", GET => meta::healthz))
        .service(at!("/readyz", GET => meta::readyz))
        .service(at!("/openapi.json", GET => crate::openapi::serve))
        .service(at!("/.well-known/jwks.json", GET => meta::jwks))
        .service(
            at!("/liveness_check", POST => checks::create, GET => checks::get_by_token)
                // Room for a base64 reference_image of the largest accepted upload.
                .app_data(json_config(max_frame_bytes / 3 * 4 + 64 * 1024))
                .wrap(from_fn(idempotent)),
        )
        .service(at!("/liveness_checks", GET => checks::list))
        .service(at!("/liveness_check/redeem", POST => checks::redeem))
        .service(at!("/liveness_check/user/{user_id}", GET => checks::by_user))
        .service(at!("/liveness_check/{id}", GET => checks::get_by_id, DELETE => checks::erase))
        .service(
            at!("/liveness_check/{id}/reference", PUT => checks::put_reference)
                .app_data(web::PayloadConfig::new(max_frame_bytes)),
        )
        .service(at!("/liveness_check/{id}/images/probe", GET => checks::probe_image))
        .service(at!("/liveness_check/{id}/images/audit/{index}", GET => checks::audit_image))
        .service(at!("/liveness_check/{id}/deliveries", GET => checks::deliveries))
        .service(at!(
            "/liveness_check/{id}/deliveries/{delivery_id}/retry",
            POST => checks::retry_delivery
        ))
        .service(at!("/l/{link}", GET => pages::capture_page))
        .service(at!("/l/{link}/cancel", POST => pages::cancel_form))
        .service(at!("/capture/{link}/claim", POST => capture::claim))
        .service(
            at!("/capture/{link}/frames", POST => capture::upload_frame)
                .app_data(web::PayloadConfig::new(max_frame_bytes)),
        )
        .service(at!("/capture/{link}/finish", POST => capture::finish))
        .service(at!("/capture/{link}/retry", POST => capture::retry))
        .service(at!("/capture/{link}/cancel", POST => capture::cancel))
        .service(at!("/sdk/{file}", GET => assets::sdk_file))
        .service(at!("/models/{file}", GET => assets::model_file))
        .service(at!("/web/{file}", GET => assets::web_file))
        .service(at!("/demo", GET => demo::home))
        .service(at!("/demo/start", POST => demo::start))
        .service(at!("/demo/done", GET => demo::done));
}

/// The configured store: PostgreSQL when `store.url` names one, else SQLite in the data
/// directory. Not from an async context (PostgreSQL waits on its own runtime).
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    let sealer = config.secrets.sealer()?;
    Ok(match config.store.postgres() {
        Some(url) => Arc::new(
            crate::store::PostgresStore::open(
                url,
                config.store.max_connections,
                (!config.store.ca_file.is_empty())
                    .then(|| std::path::Path::new(&config.store.ca_file)),
            )?
            .sealed_with(sealer),
        ),
        None => Arc::new(SqliteStore::open(&config.server.data_dir)?.sealed_with(sealer)),
    })
}

/// Creates an API key; returns the key (shown once) and its id.
pub async fn create_api_key(store: &dyn Store, name: &str) -> Result<(String, String), StartError> {
    let key = crate::secrets::new_api_key();
    let id = crate::secrets::new_id();
    let hash = crate::secrets::digest_hex(&key);
    store.insert_api_key(&id, name, &hash, Utc::now()).await?;
    Ok((key, id))
}

/// The demo's API key: the one kept in `DATA_DIR/demo-api-key` while it is valid (not
/// revoked), else a new one written there, readable by this user alone. A restarted
/// demo keeps the key it printed before instead of adding one more each start.
async fn demo_api_key(store: &dyn Store, data_dir: &std::path::Path) -> Result<String, StartError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // With PostgreSQL nothing else made the data directory.
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("demo-api-key");
    if let Ok(kept) = std::fs::read_to_string(&path) {
        let kept = kept.trim();
        let hash = crate::secrets::digest_hex(kept);
        if store.api_key_by_hash(&hash).await?.is_some() {
            return Ok(kept.to_string());
        }
    }
    let (key, _) = create_api_key(store, "demo").await?;
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "{key}")?;
    Ok(key)
}

fn load_engine(config: &Config, slot: Arc<OnceLock<Result<Engine, ModelsFailed>>>) {
    let dir = config.server.models_dir();
    std::thread::spawn(move || {
        let started = Instant::now();
        let loaded = ModelFiles::load_dir(&dir)
            .and_then(|files| Engine::from_model_bytes(&files.model_bytes()));
        match loaded {
            Ok(engine) => {
                let _ = slot.set(Ok(engine));
                tracing::info!(ms = started.elapsed().as_millis() as u64, "models loaded");
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    dir = %dir.display(),
                    "models failed to load (run models/fetch.sh and restart); /readyz stays 503"
                );
                let _ = slot.set(Err(ModelsFailed));
            }
        }
    });
}

/// Expires overdue checks (firing `expired`) and erases audit images past retention.
async fn sweep(state: web::Data<AppState>) {
    loop {
        match sweep_once(&state).await {
            Ok((0, 0)) => {}
            Ok((expired, erased)) => {
                tracing::info!(expired, audit_images_erased = erased, "sweep")
            }
            Err(e) => tracing::error!(error = %e, "sweep failed"),
        }
        // A key rotation by another process: sign with the new key from now on.
        match state.tokens.refresh(state.store.as_ref()).await {
            Ok(true) => tracing::info!("signing keys reloaded"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "signing keys"),
        }
        tokio::time::sleep(state.config.checks.sweep_interval).await;
    }
}

/// One sweep: how many checks it expired and audit images it erased.
async fn sweep_once(state: &AppState) -> Result<(usize, u64), crate::store::StoreError> {
    let store = state.store.as_ref();
    let now = Utc::now();
    let mut expired = 0;
    for check in store.overdue_checks(now).await? {
        // Finished or cancelled meanwhile: nothing to expire.
        if lifecycle::expire(store, &check, now).await? == Ended::Now {
            expired += 1;
        }
    }
    let retention =
        chrono::Duration::from_std(state.config.checks.audit_retention).unwrap_or_default();
    let erased = store.erase_audit_images(now - retention).await?;
    store
        .erase_idempotency_keys(now - crate::idempotency::KEEP)
        .await?;
    store
        .erase_rate_windows(crate::checks::rate_limit::ended_before(now))
        .await?;
    Ok((expired, erased))
}

/// Runs the verifier until SIGINT/SIGTERM. `on_listen` gets the bound address before
/// requests are served (the CLI prints it).
pub async fn serve(
    config: Config,
    demo: bool,
    on_listen: impl FnOnce(SocketAddr, Option<&str>),
) -> Result<(), StartError> {
    let listener = TcpListener::bind(&config.server.bind).map_err(|source| StartError::Bind {
        addr: config.server.bind.clone(),
        source,
    })?;
    let addr = listener.local_addr()?;
    let public_url = if config.server.public_url.is_empty() {
        let host = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        format!("http://{host}")
    } else {
        config.server.public_url.trim_end_matches('/').to_string()
    };
    // Opening the store (its migrations) off the async threads: it blocks.
    let store = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || open_store(&config))
            .await
            .map_err(std::io::Error::other)??
    };
    let tokens = TokenIssuer::load(
        store.as_ref(),
        public_url.clone(),
        config.tokens.audience.clone(),
        config.tokens.lc_token_ttl,
    )
    .await?;
    let demo_key = if demo {
        Some(demo_api_key(store.as_ref(), &config.server.data_dir).await?)
    } else {
        None
    };
    let engine = Arc::new(OnceLock::new());
    load_engine(&config, engine.clone());
    // Decodes and decisions each run at most one per core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let state = web::Data::new(AppState {
        config: config.clone(),
        public_url,
        store: store.clone(),
        engine,
        models: checks::model_refs(),
        tokens,
        judging: tokio::sync::Semaphore::new(cores),
        decoding: tokio::sync::Semaphore::new(cores),
        uploading: Default::default(),
        // Validated when the configuration was loaded.
        proxies: crate::proxy::TrustedProxies::parse(&config.server.trusted_proxies)
            .unwrap_or_default(),
        demo_key: demo_key.clone(),
        assets: Default::default(),
    });

    let deliverer = Deliverer::new(
        store.clone(),
        config.webhooks.retry_schedule.clone(),
        config.webhooks.timeout,
        config.webhooks.allow_private_targets,
    );
    let outbox = actix_web::rt::spawn(deliverer.run(config.webhooks.poll_interval));
    let sweeper = actix_web::rt::spawn(sweep(state.clone()));
    actix_web::rt::spawn(assets::warm(state.clone()));

    let max_frame = config.checks.max_frame_bytes;
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .wrap(from_fn(crate::deadline::body_deadline))
            .wrap(from_fn(cors))
            .wrap(from_fn(request_context))
            .configure(|cfg| routes(cfg, max_frame))
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::not_found("route"))
            }))
    })
    .listen(listener)?
    .shutdown_timeout(config.server.shutdown_grace.as_secs().max(1))
    .run();
    on_listen(addr, demo_key.as_deref());
    tracing::info!(%addr, "verifier started");
    let result = server.await;
    outbox.abort();
    sweeper.abort();
    tracing::info!("verifier stopped");
    Ok(result?)
}
