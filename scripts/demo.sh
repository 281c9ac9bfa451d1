#!/usr/bin/env bash
# The README's first command: the verifier with the hosted demo page, embedded defaults,
# no configuration. Prints `listening on http://HOST:PORT` and `demo api key: KEY`.
# Extra arguments go to `serve` (e.g. --bind 127.0.0.1:0).
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh >&2
exec cargo run --quiet -p livecheck-verifier -- serve --demo "$@"
