//! livecheck-sdk: the browser side of a liveness check, compiled to WebAssembly.
//!
//! `Livecheck.start({ link, … })` opens the front camera, prompts the server's
//! challenges, runs core's first-pass check on every frame it can, and uploads the
//! frames it picks, each signed with the session key, then asks the verifier to
//! decide. Everything the SDK concludes is advisory: the verifier re-runs the models
//! on the pixels it received. The flow and guidance are plain Rust (`flow`,
//! `guidance`) and tested natively; the rest is the browser glue.

pub mod error;
pub mod flow;
pub mod guidance;

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
pub use browser::*;
