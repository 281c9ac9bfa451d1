#!/usr/bin/env bash
# Runs the verifier's fuzz targets (frame envelope, image decode, HEIC decode, multipart,
# lc_token) for SECONDS each (default 60), all at once, keeping inputs that reach a new outcome in
# verifier/tests/fuzz/corpus/. A crash, hang or broken property stops its target and
# names the saved input. `cargo test` runs the same targets for 3 s each.
#   scripts/fuzz.sh [SECONDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
export LIVECHECK_FUZZ_SECS="$secs" LIVECHECK_FUZZ_SAVE=1
if [ -n "${2:-}" ]; then export LIVECHECK_FUZZ_SEED="$2"; fi
# --workspace: the features `cargo test --workspace` builds with (no rebuild).
cargo test --workspace --test fuzz -- --nocapture --test-threads 4 2>&1 | grep -E '^fuzz |panicked|FAILED|test result'
