#!/usr/bin/env bash
# Create-check throughput on the embedded store, measured with wrk on loopback:
#   verifier/benches/load.sh [SECONDS] [CONNECTIONS]
# Starts a release verifier on a free port with a fresh data dir and the create rate
# limit off, then runs wrk (Debian package `wrk`) against POST /liveness_check.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-16}
command -v wrk >/dev/null || { echo "install wrk (apt-get install -y wrk)" >&2; exit 2; }
cargo build --release -q -p livecheck-verifier
dir=$(mktemp -d)
out="$dir/out"
LIVECHECK_LIMITS_CREATES_PER_MINUTE=0 LIVECHECK_LOG=warn \
  target/release/livecheck-verifier serve --bind 127.0.0.1:0 --demo --data-dir "$dir" >"$out" &
pid=$!
trap 'kill $pid; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "demo api key" "$out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$out")
export LIVECHECK_KEY=$(sed -n 's/^demo api key: //p' "$out")
wrk -t1 -c"$conns" -d"${secs}s" -s verifier/benches/create_checks.lua "$base/liveness_check"
