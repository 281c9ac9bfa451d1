//! The verifier end to end over real HTTP: the real binary on port 0, real SQLite in a
//! temp dir, real models, a webhook receiver on 127.0.0.1:0.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

mod assets;
mod attacks;
mod azure;
mod conformance;
mod deploy;
mod devset;
mod errors;
mod evaluate;
mod face_match;
mod flows;
mod glair;
mod harness;
mod idempotency;
mod keys;
mod limits;
mod passive;
mod replicas;
mod retry;
mod verifyhq;
mod webhooks;

use std::sync::{Arc, Mutex};

use harness::Verifier;

/// One verifier shared by the tests that need no special configuration. It lives while
/// some test holds it and is stopped by the last one (a static would outlive the test
/// process and leave the server running).
pub fn shared() -> Arc<Verifier> {
    static SLOT: Mutex<std::sync::Weak<Verifier>> = Mutex::new(std::sync::Weak::new());
    let mut slot = SLOT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = slot.upgrade() {
        return v;
    }
    let v = Arc::new(Verifier::start_temp(&[]));
    *slot = Arc::downgrade(&v);
    v
}
