#!/usr/bin/env bash
# Installs what the checks need on a fresh machine (idempotent): the pinned Rust
# toolchain with the wasm32 target, wasm-bindgen-cli at the exact version in
# Cargo.lock, Debian's libheif-dev (the verifier decodes HEIC photos with it),
# Chromium for the browser tests, nginx for the deployment test, ffmpeg for the
# false-reject guard's clips, PostgreSQL for the shared store's tests, the npm packages
# (package-lock.json) and the models (copied from the mirror and checked by sha256).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup show active-toolchain >/dev/null          # installs the rust-toolchain.toml channel
rustup target add wasm32-unknown-unknown >/dev/null

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (several minutes)"
  cargo install wasm-bindgen-cli --version "$want"
fi

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# The verifier links libheif (found by pkg-config): the demo needs it too.
if ! pkg-config --exists 'libheif >= 1.14' 2>/dev/null; then
  echo "setup: installing Debian's libheif-dev and pkg-config"
  apt_install libheif-dev pkg-config
fi

# `--demo`: only what the demo needs (no browser, no proxy, no npm packages).
if [ "${1:-}" != "--demo" ] && ! command -v chromium >/dev/null; then
  echo "setup: installing Debian's chromium"
  apt_install chromium
fi
# The deployment test runs deploy/nginx.conf in Debian's nginx (and openssl for its
# certificate).
if [ "${1:-}" != "--demo" ] && { [ ! -x /usr/sbin/nginx ] || ! command -v openssl >/dev/null; }; then
  echo "setup: installing Debian's nginx and openssl"
  apt_install nginx openssl
fi

# The PostgreSQL store's tests run a throwaway cluster of Debian's PostgreSQL server
# (scripts/postgres.sh).
if [ "${1:-}" != "--demo" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing Debian's postgresql"
  apt_install postgresql
fi

# The false-reject guard plays the development set's mp4 clips: Debian's ffmpeg decodes them.
if [ "${1:-}" != "--demo" ] && ! command -v ffmpeg >/dev/null; then
  echo "setup: installing Debian's ffmpeg"
  apt_install ffmpeg
fi

# Node runs the browser tests, the type and size checks and check.sh's steps that read
# cargo's JSON; Debian's is enough where the machine has none.
if [ "${1:-}" != "--demo" ] && ! command -v npm >/dev/null; then
  echo "setup: installing Debian's nodejs and npm"
  apt_install nodejs npm
fi

if [ "${1:-}" != "--demo" ] && { [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  npm ci --no-audit --no-fund
fi

models/fetch.sh
