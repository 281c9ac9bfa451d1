#!/usr/bin/env bash
# Builds the browser SDK into sdk-wasm/pkg: ES module, TypeScript types, the .wasm and
# the npm package.json. The verifier serves that folder at /sdk/.
#   scripts/build-sdk.sh            dev profile (dependencies optimised; shares the wasm
#                                   build of tract with core's wasm test)
#   scripts/build-sdk.sh --release  the size-oriented `wasm-release` profile, then
#                                   wasm-opt -Oz when binaryen is installed
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dev
dir=debug
strip=()
if [ "${1:-}" = "--release" ]; then
  profile=wasm-release
  dir=wasm-release
  strip=(--remove-name-section --remove-producers-section)
fi
cargo build -p livecheck-sdk --target wasm32-unknown-unknown --profile "$profile"
out=sdk-wasm/pkg
rm -rf "$out"
wasm-bindgen --target web "${strip[@]}" --out-dir "$out" "target/wasm32-unknown-unknown/$dir/livecheck_sdk.wasm"
cp sdk-wasm/package.json sdk-wasm/README.md "$out/"
if [ "$profile" = wasm-release ] && command -v wasm-opt >/dev/null; then
  wasm-opt -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals \
    "$out/livecheck_sdk_bg.wasm" -o "$out/livecheck_sdk_bg.wasm"
fi
ls -l "$out" >&2
