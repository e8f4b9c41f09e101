#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests that run on the PostgreSQL
# store: `start DIR PORT` makes and starts one in DIR (unix socket only: no
# TCP port is opened), `stop DIR` stops it and removes DIR. ctest runs these
# as the setup and cleanup of the "postgres" fixture.
# PostgreSQL refuses to run as root: as root the server runs as the
# `postgres` user (Debian's package makes it).
set -euo pipefail

action=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "postgres_cluster: no PostgreSQL server (/usr/lib/postgresql/*/bin): run scripts/deps.sh" >&2
  exit 1
fi
as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

case "$action" in
  start)
    port=$3
    if [ -f "$dir/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ ${#as_owner[@]} -gt 0 ]; then chown postgres: "$dir"; fi
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U asicmon --auth=trust -E UTF8 \
      --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # Sized for tests and benches on a small machine; fsync off: the cluster
    # is thrown away.
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-k $dir -p $port -c listen_addresses= -c fsync=off -c max_connections=200 \
          -c shared_buffers=128MB" start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres_cluster: running in $dir (socket port $port)"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
