#!/usr/bin/env bash
# A throwaway PostgreSQL cluster from Debian's server packages, for the tests:
#   scripts/postgres.sh start DIR [--tls]
#                                   initialises DIR, starts the server on a free
#                                   127.0.0.1 port and prints its URL (a superuser, no
#                                   password: loopback only, trust authentication);
#                                   --tls: TLS only, its certificate for 127.0.0.1
#                                   signed by a CA of its own, DIR/ca.pem (the URL
#                                   says sslmode=require)
#   scripts/postgres.sh stop DIR    stops it (the directory can then go)
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
# Durability is off (fsync, synchronous_commit): the data is thrown away.
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: no PostgreSQL server (scripts/setup.sh installs it)" >&2; exit 2; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U livecheck --auth=trust -E UTF8 >"$dir/initdb.log"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    tls="" query=""
    if [ "${3:-}" = --tls ]; then
      # A CA of its own (DIR/ca.pem) and the server's certificate for 127.0.0.1 from it.
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=livecheck test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
        -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
      openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
      chmod 600 "$dir/server.key"
      [ "$(id -u)" = 0 ] && chown postgres: "$dir/server.key" "$dir/server.crt"
      # Plain connections refused: only hostssl lines.
      echo "hostssl all all 127.0.0.1/32 trust" >"$dir/hba.conf"
      [ "$(id -u)" = 0 ] && chown postgres: "$dir/hba.conf"
      tls="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key -c hba_file=$dir/hba.conf"
      query="?sslmode=require"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 $tls" \
      start >/dev/null
    echo "postgres://livecheck@127.0.0.1:$port/postgres$query"
    ;;
  stop)
    dir=$(cd "$dir" && pwd)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  *)
    echo "postgres.sh: start or stop" >&2
    exit 2
    ;;
esac
