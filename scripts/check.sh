#!/usr/bin/env bash
# The one test command (README): set-up, then every check in order. CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p livecheck-sdk --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p livecheck-wasm-kernels --all-targets --target wasm32-unknown-unknown -- -D warnings

# A throwaway PostgreSQL cluster for the shared store's tests (they fail in CI without it).
pg_dir=$(mktemp -d /tmp/livecheck-pg.XXXXXX)
LIVECHECK_TEST_POSTGRES_URL=$(scripts/postgres.sh start "$pg_dir")
export LIVECHECK_TEST_POSTGRES_URL
trap 'scripts/postgres.sh stop "$pg_dir" || true; rm -rf "$pg_dir"' EXIT

step "native tests (core, verifier, SDK flow: unit, real models on fixtures, property tests, the verifier over HTTP; the store contract and the replicas on SQLite and PostgreSQL)"
cargo test --workspace

step "the verifier over HTTP again, every check kept in PostgreSQL"
# The HTTP suite's binary the step above built, run again (from its package, as cargo
# runs it): `cargo test --workspace --test api` resolves other dependency features and,
# from a clean cache, built tract and 80 other crates a second time.
api=$(cargo test --workspace --no-run --message-format=json 2>/dev/null | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean).map(JSON.parse);
  const api = lines.filter((m) => m.reason === "compiler-artifact" && m.target.kind.includes("test") && m.target.name === "api");
  if (api.length !== 1 || !api[0].executable) process.exit(1);
  console.log(api[0].executable);')
(cd verifier && LIVECHECK_TEST_STORE=postgres "$api")

step "core for wasm32, its wasm kernels, and the same fixtures through them under Node"
cargo build -p livecheck-core --target wasm32-unknown-unknown
# One invocation for both, so tract is built once with one feature set (alone, the kernels'
# tests resolve other features and rebuild it: 3.6 min). `--lib` also builds core's unit
# tests for wasm32; they are plain #[test]s, so Node reports "no tests to run!" for them.
cargo test -p livecheck-wasm-kernels -p livecheck-core --target wasm32-unknown-unknown --lib --test wasm

step "browser SDK (wasm32) and the end-to-end tests in headless Chromium"
# The verifier binary the tests start. `--workspace --tests` resolves dependency features as
# `cargo test --workspace` did, so it is already built; `-p livecheck-verifier` would pick
# narrower features and rebuild every dependency (7.5 min of a clean 50 here).
cargo build --workspace --bins --tests
scripts/build-sdk.sh --release   # the tests run what ships
step "the SDK package: types under strict TypeScript (ES2020 + DOM), download budgets"
npm run test:types
node scripts/size-budget.mjs
step "end-to-end tests in headless Chromium"
npm run test:e2e
