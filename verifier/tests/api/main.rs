//! The verifier end to end over real HTTP: the real binary on port 0, real SQLite in a
//! temp dir, real models, a webhook receiver on 127.0.0.1:0.

mod errors;
mod flows;
mod harness;
mod webhooks;

use std::sync::OnceLock;

use harness::Verifier;

/// One verifier shared by the tests that need no special configuration.
pub fn shared() -> &'static Verifier {
    static V: OnceLock<(tempfile::TempDir, Verifier)> = OnceLock::new();
    &V.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let v = Verifier::start(dir.path(), &[]);
        (dir, v)
    })
    .1
}
