#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL: a temporary data directory, an unprivileged user, a random free
# port and the unix socket in the temporary directory; TRACELET_PG_URL points at it; the server is stopped and
# the directory removed when the command ends, whatever way it ends. Fails (never skips) if the server cannot
# start. Debian's postgresql package is installed only when no PostgreSQL binaries are found.
#   .ci/with-postgres.sh make test
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

bindir="$(find_bindir || true)"
if [ -z "$bindir" ]; then
  echo "postgres: no PostgreSQL binaries; installing Debian's postgresql package" >&2
  apt-get update && apt-get install -y postgresql
  bindir="$(find_bindir)"
fi

dir="$(mktemp -d /tmp/tracelet-pg.XXXXXX)"
chmod 0755 "$dir"
as_user=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the server runs as postgres (Debian's package creates it) or nobody.
  user=postgres
  getent passwd postgres > /dev/null || user=nobody
  chown "$user" "$dir"
  as_user=(runuser -u "$user" --)
fi

stop() {
  "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"${as_user[@]}" "$bindir/initdb" -D "$dir/data" -U tracelet --auth=trust -E UTF8 --no-locale > "$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  echo "postgres: initdb failed" >&2
  exit 1
}
# Durability is not what tests measure: fsync off keeps the many small test databases fast.
if ! "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" > /dev/null; then
  cat "$dir/server.log" >&2 || true
  echo "postgres: the server did not start" >&2
  exit 1
fi
export TRACELET_PG_URL="postgres://tracelet@127.0.0.1:$port/postgres"
echo "postgres: $("$bindir/postgres" --version) on port $port (data in $dir)" >&2
"$@"
