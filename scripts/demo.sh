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
# The binaries alone, with the workspace's dependency features (`--workspace`): the
# test command's build (scripts/check.sh) already holds every dependency, so after it
# only the project's two crates compile again (about 20 s), and a fresh clone skips the
# test targets (`cargo run -p livecheck-verifier` resolved other features and rebuilt
# tract, image and reqwest: 22.6 minutes, silently). Cargo's progress goes to stderr.
cargo build --workspace --bins >&2
exec "${CARGO_TARGET_DIR:-target}/debug/livecheck-verifier" serve --demo "$@"
