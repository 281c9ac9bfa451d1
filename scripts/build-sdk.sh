#!/usr/bin/env bash
# Builds the browser SDK into sdk-wasm/pkg: ES module, TypeScript types, the .wasm and
# the npm package.json. The verifier serves that folder at /sdk/.
#   scripts/build-sdk.sh            dev profile (dependencies optimised; shares the wasm
#                                   build of tract with core's wasm test)
#   scripts/build-sdk.sh --release  the size-oriented `wasm-release` profile. No wasm-opt:
#                                   Debian's binaryen (108) made it 12% smaller raw
#                                   but 4% larger gzipped, which is what is downloaded.
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
wasm-bindgen --target web "${strip[@]}" --out-dir "$out" "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$dir/livecheck_sdk.wasm"
# wasm-bindgen declares `[Symbol.dispose]` on exported classes, which only type-checks
# with TypeScript's ESNext library; `Livecheck` is never constructed (it has a static
# `start` alone), so its declaration is dropped and the package checks under ES2020 +
# DOM (`npm run test:types`). The method itself stays where the runtime has the symbol.
sed -i '/^    \[Symbol\.dispose\](): void;$/d' "$out/livecheck_sdk.d.ts"
# `LivecheckError` is a class of its own module (`sdk-wasm/js/error.js`), which the wasm
# glue imports from `snippets/<crate>-<hash>/`. It is moved beside the entry (the
# verifier serves plain file names only) and the entry exports that same class, so
# `instanceof` holds.
mv "$out"/snippets/*/js/error.js "$out/error.js"
rm -r "$out/snippets"
sed -i "s|\./snippets/livecheck-sdk-[0-9a-f]*/js/error\.js|./error.js|" "$out/livecheck_sdk.js"
printf '\nexport { LivecheckError } from "./error.js";\n' >> "$out/livecheck_sdk.js"
# The custom element, and the package's files.
cp sdk-wasm/js/element.js sdk-wasm/js/element.d.ts "$out/"
cp sdk-wasm/package.json sdk-wasm/README.md LICENSE "$out/"
# The React wrapper package (`npm pack ./sdk-wasm/react`) ships the licence too.
cp LICENSE sdk-wasm/react/
# The two files every capture downloads, brotli-compressed for browsers that take it
# (the wasm: 0.89 MB against 1.25 MB gzipped; 15 s the first time, then from the cache
# while the bytes stay the same). The dev build is not worth it; without Node, the
# verifier serves gzip.
if [ "$profile" = wasm-release ] && command -v node >/dev/null; then
  LIVECHECK_BROTLI_CACHE="${CARGO_TARGET_DIR:-target}/brotli" \
    node scripts/brotli.mjs "$out/livecheck_sdk_bg.wasm" "$out/livecheck_sdk.js"
fi
ls -l "$out" >&2
