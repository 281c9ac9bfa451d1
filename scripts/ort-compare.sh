#!/usr/bin/env bash
# onnxruntime against livecheck, model by model, one thread, the same input
# (core's `model::bench_input`): onnxruntime from PyPI against core's tract natively,
# and onnxruntime-web's SIMD wasm under Node against core compiled to wasm32 under Node.
# ROUNDS rounds (default 7), the four runtimes interleaved in each; prints the median
# of the rounds' medians per model with the ratios, and the rounds' range.
#
#   scripts/ort-compare.sh [ROUNDS] [--no-wasm]
#
# Installs its tools once under $LIVECHECK_TOOLS (default /var/tmp/livecheck-tools): a
# Python venv with onnxruntime, and onnxruntime-web. The wasm32 column builds core's
# tests for wasm32 in release the first time (many CPU-minutes); --no-wasm skips both
# wasm columns.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=7
WASM=1
for arg in "$@"; do
  case "$arg" in
    --no-wasm) WASM=0 ;;
    *) ROUNDS=$arg ;;
  esac
done
TOOLS=${LIVECHECK_TOOLS:-/var/tmp/livecheck-tools}
ORT_VERSION=1.32.0
ORT_WEB_VERSION=1.31.1
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TOOLS"
models/fetch.sh >/dev/null

PY="$TOOLS/ort-venv/bin/python"
if ! "$PY" -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
  echo "installing onnxruntime $ORT_VERSION into $TOOLS/ort-venv" >&2
  python3 -m venv "$TOOLS/ort-venv"
  "$PY" -m pip install -q "onnxruntime==$ORT_VERSION" "numpy<3"
fi
if [ "$(node -p "try { require('$TOOLS/ort-web/node_modules/onnxruntime-web/package.json').version } catch { '' }")" != "$ORT_WEB_VERSION" ]; then
  echo "installing onnxruntime-web $ORT_WEB_VERSION into $TOOLS/ort-web" >&2
  npm install -s --no-audit --no-fund --prefix "$TOOLS/ort-web" "onnxruntime-web@$ORT_WEB_VERSION" >/dev/null
fi
cargo build -q --release -p livecheck-core --example model_timing
if [ "$WASM" = 1 ]; then
  cargo test -q --release -p livecheck-core --target wasm32-unknown-unknown --test stage_timing --no-run 2>/dev/null
fi

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  "$PY" tests/bench/ort/ort_native.py models/cache 21 | sed "s/^/$round /" >>"$LOG"
  # glibc's dynamic thresholds return a timing loop's freed tensors to the kernel on some
  # runs and fault them back in on the next: YuNet's median read 4.8 ms in some processes
  # and 7.2 in others of the same build. Fixed thresholds keep them, as onnxruntime's own
  # arena does; the verifier showed no such cost (`evaluate`'s CPU and `decide_load`'s CPU
  # a frame were the same with and without these).
  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456 \
    "$TARGET/release/examples/model_timing" 21 | sed "s/^/$round /" >>"$LOG"
  if [ "$WASM" = 1 ]; then
    node tests/bench/ort/ort_web.mjs "$TOOLS/ort-web" models/cache 21 | sed "s/^/$round /" >>"$LOG"
    cargo test --release -p livecheck-core --target wasm32-unknown-unknown --test stage_timing \
      -- --include-ignored --nocapture 2>&1 | grep -o 'wasm32 model .*' | sed "s/^/$round /" >>"$LOG"
  fi
done
"$PY" tests/bench/ort/table.py "$LOG"
