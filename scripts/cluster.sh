#!/usr/bin/env bash
# livecheck scaled out on one machine: a throwaway PostgreSQL cluster, two verifiers on
# one database, and Debian's nginx balancing them round-robin on one port.
#   scripts/cluster.sh [PORT]     (default 8080; stop with Ctrl-C or SIGTERM)
# Prints `listening on http://127.0.0.1:PORT`, `demo api key: KEY` and
# `access log: FILE` (each request's upstream, method and kind of route, no links).
# Builds like scripts/demo.sh unless LIVECHECK_BIN names a built verifier (the tests'
# run). The Chromium test tests/e2e/cluster.test.mjs captures through it.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-8080}

if [ -z "${LIVECHECK_BIN:-}" ]; then
  scripts/setup.sh --demo >&2
  scripts/build-sdk.sh --release >&2
  cargo build --workspace --bins >&2
  LIVECHECK_BIN="${CARGO_TARGET_DIR:-target}/debug/livecheck-verifier"
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "cluster.sh: no nginx (scripts/setup.sh installs it)" >&2; exit 2; }

dir=$(mktemp -d /tmp/livecheck-cluster.XXXXXX)
chmod 755 "$dir"   # the postgres user reaches its own directory inside
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/postgres.sh stop "$dir/pg" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

admin=$(scripts/postgres.sh start "$dir/pg")
psql -q "$admin" -c "CREATE DATABASE livecheck" >/dev/null
export LIVECHECK_STORE_URL="${admin%/*}/livecheck"
export LIVECHECK_SERVER_PUBLIC_URL="http://127.0.0.1:$port"
export LIVECHECK_SERVER_TRUSTED_PROXIES=127.0.0.1
export LIVECHECK_LOG="${LIVECHECK_LOG:-warn}"
# This checkout's SDK and models, named (a binary's default is the folder it was built from).
export LIVECHECK_SDK_DIR="${LIVECHECK_SDK_DIR:-$PWD/sdk-wasm/pkg}"
export LIVECHECK_MODELS_DIR="${LIVECHECK_MODELS_DIR:-$PWD/models/cache}"

# Two verifiers on one data directory (the second reuses the demo key the first made).
upstreams=""
for name in a b; do
  "$LIVECHECK_BIN" serve --demo --bind 127.0.0.1:0 --data-dir "$dir/data" >"$dir/$name.out" 2>"$dir/$name.log" &
  pids+=($!)
  for _ in $(seq 600); do grep -q "^demo api key:" "$dir/$name.out" && break; sleep 0.1; done
  addr=$(sed -n 's|^listening on http://||p' "$dir/$name.out")
  [ -n "$addr" ] || { echo "cluster.sh: verifier $name did not start:" >&2; cat "$dir/$name.log" >&2; exit 1; }
  upstreams+="    server $addr;"$'\n'
done

mkdir -p "$dir/nginx"
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$dir/nginx/nginx.conf" <<EOF
$user
daemon off;
master_process off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events {}
http {
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  # Which verifier served what kind of request; capture links are credentials and stay
  # out of the log.
  map \$uri \$route {
    ~^/capture/[^/]+/(?<step>[a-z]+)\$ capture_\$step;
    ~^/l/ page;
    default other;
  }
  log_format upstream '\$upstream_addr \$request_method \$route \$status';
  access_log $dir/nginx/access.log upstream;
  upstream livecheck {
$upstreams  }
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 16m;
    location / {
      proxy_pass http://livecheck;
      proxy_http_version 1.1;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_read_timeout 130s;
      proxy_request_buffering off;
    }
  }
}
EOF
"$nginx" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" 2>"$dir/nginx/stderr.log" &
pids+=($!)
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
echo "listening on http://127.0.0.1:$port"
sed -n 's/^demo api key: /demo api key: /p' "$dir/a.out"
echo "access log: $dir/nginx/access.log"
wait
