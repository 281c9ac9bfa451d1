//! livecheck-verifier: the only authority on a liveness result. Customers create checks
//! with an API key; a browser claims the single-use link, uploads signed frames and
//! finishes; the verifier re-runs `livecheck-core` on the pixels it received, decides,
//! and reports through the result API, a signed `lc_token` and signed webhooks.

pub mod api;
pub mod asset_cache;
pub mod checks;
pub mod config;
pub mod deadline;
pub mod error;
pub mod evaluate;
pub mod heic;
pub mod i18n;
pub mod idempotency;
pub mod judge;
pub mod lc_token;
pub mod model;
pub mod openapi;
pub mod proxy;
pub mod reference;
pub mod risk;
pub mod secrets;
pub mod server;
pub mod state;
pub mod store;
pub mod webhooks;
