#!/usr/bin/env bash
# Core's per-stage cost per frame, natively and in wasm32 (SIMD128, under Node), from the
# same code (core/tests/stage_timing.rs), in release builds. Slow to build the first
# time: tract for wasm32 in release takes many CPU-minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh >/dev/null
cargo test --release -q -p livecheck-core --test stage_timing -- --ignored --nocapture 2>/dev/null | grep '^native'
cargo test --release -p livecheck-core --target wasm32-unknown-unknown --test stage_timing -- --include-ignored --nocapture 2>&1 | grep -o 'wasm32 .*'
