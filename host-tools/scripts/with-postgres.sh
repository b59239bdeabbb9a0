#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL for the authority's PostgreSQL tests: a temporary data directory, an
# unprivileged user, a random free port and the unix socket in the temporary directory; TRACELET_PG_URL points at
# it; the server is stopped and the directory removed when the command ends, whatever way it ends.
# - TRACELET_PG_URL already set: the command runs against that server, nothing is started.
# - In CI (CI=true): Debian's postgresql package is installed when no PostgreSQL binaries are found, and a server
#   that cannot start fails the run (CI never skips these tests).
# - Elsewhere, without PostgreSQL binaries or when the server cannot start: one line says so, and the command runs
#   without it (the PostgreSQL variants of the tests skip, each file saying why in one line).
#   host-tools/scripts/with-postgres.sh npx jest test/authority
# - TRACELET_PG_DURABLE=1: the server keeps PostgreSQL's durable defaults (fsync, synchronous_commit and
#   full_page_writes on), for benchmarks whose figures should hold for a real deployment:
#   TRACELET_PG_DURABLE=1 host-tools/scripts/with-postgres.sh npx tracelet bench --only authority-postgres
set -euo pipefail

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if [ -n "${TRACELET_PG_URL:-}" ]; then
  exec "$@"
fi
ci="${CI:-}"
cmd=("$@")
without() {
  if [ "$ci" = true ]; then
    echo "postgres: $1 (CI runs the PostgreSQL tests: failing)" >&2
    exit 1
  fi
  echo "postgres: $1: the authority's PostgreSQL tests will skip" >&2
  exec "${cmd[@]}"
}

bindir="$(find_bindir || true)"
if [ -z "$bindir" ] && [ "$ci" = true ]; then
  echo "postgres: no PostgreSQL binaries; installing Debian's postgresql package" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo > /dev/null; then sudo=sudo; fi
  $sudo apt-get update >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  bindir="$(find_bindir || true)"
fi
[ -n "$bindir" ] || without "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)"

dir="$(mktemp -d /tmp/tracelet-pg.XXXXXX)"
chmod 0755 "$dir"
as_user=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the server runs as postgres (Debian's package creates it) or nobody.
  user=postgres
  getent passwd postgres > /dev/null || user=nobody
  chown "$user" "$dir"
  # From /: the caller's directory may be one the server's user cannot enter (a clone in a 0700 temp directory).
  as_user=(runuser -u "$user" -- env --chdir=/)
fi

stop() {
  "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"${as_user[@]}" "$bindir/initdb" -D "$dir/data" -U tracelet --auth=trust -E UTF8 --no-locale > "$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  stop
  trap - EXIT
  without "initdb failed"
}
# Durability is not what tests measure: fsync off keeps the many small test databases fast.
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${TRACELET_PG_DURABLE:-}" = 1 ] && durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
if ! "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $durability -c max_connections=300" > /dev/null; then
  cat "$dir/server.log" >&2 || true
  stop
  trap - EXIT
  without "the server did not start"
fi
export TRACELET_PG_URL="postgres://tracelet@127.0.0.1:$port/postgres"
echo "postgres: $("$bindir/postgres" --version) on port $port (data in $dir)" >&2
"${cmd[@]}"
