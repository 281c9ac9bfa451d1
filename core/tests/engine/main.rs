//! Real models on real fixtures (`../shared/testdata`, beside the repository).
//! Models come from `models/cache` (run `models/fetch.sh`) or `LIVECHECK_MODELS_DIR`.

#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod helpers;
mod passive;

mod challenges;
mod decisions;
mod face_match;
mod golden;
mod injection;
mod photos;
mod planes;
mod robustness;
mod tracking;
