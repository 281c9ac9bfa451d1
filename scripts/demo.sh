#!/usr/bin/env bash
# The README's first command: the verifier with the hosted demo page (/demo), embedded
# defaults, no configuration. Sets up what it needs (wasm32 target, wasm-bindgen-cli,
# models) and builds the browser SDK first. Prints `listening on http://HOST:PORT` and
# `demo api key: KEY`.
# Extra arguments go to `serve` (e.g. --bind 127.0.0.1:0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --demo >&2
scripts/build-sdk.sh --release >&2
# The build the test command makes (scripts/check.sh): `--workspace --bins --tests`
# resolves dependency features as `cargo test --workspace` does, so one build serves
# both (`cargo run -p livecheck-verifier` resolved others and rebuilt tract, image and
# reqwest: 22.6 minutes, silently). Cargo's progress goes to stderr.
cargo build --workspace --bins --tests >&2
exec "${CARGO_TARGET_DIR:-target}/debug/livecheck-verifier" serve --demo "$@"
