#!/usr/bin/env bash
# A throwaway PostgreSQL cluster from Debian's server packages, for the tests:
#   scripts/postgres.sh start DIR   initialises DIR, starts the server on a free
#                                   127.0.0.1 port and prints its URL (a superuser, no
#                                   password: loopback only, trust authentication)
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
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
      start >/dev/null
    echo "postgres://livecheck@127.0.0.1:$port/postgres"
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
