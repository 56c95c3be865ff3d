#!/bin/sh
# A throwaway PostgreSQL server for the store's tests, on 127.0.0.1:55432 only.
#
#   eval "$(.ci/postgres.sh)"        # start (or find running) and export CPXL_TEST_POSTGRES
#   .ci/postgres.sh stop             # stop it and delete its files
#
# Idempotent: a second call finds the running server and only re-checks the role and database.
# Runs as root on Debian (the server then runs as the `postgres` user) or as any other user
# (the server then runs as that user). Only the export line goes to stdout; the rest to stderr.
set -eu
# runuser and the server programs live in sbin folders, which a plain user's PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"

PORT=55432
ROLE=cpxl
PASSWORD=cpxl
DATABASE=cpxl_test
BASE="${CPXL_PG_DIR:-${TMPDIR:-/tmp}/cpxl-postgres-$PORT}"
DATA="$BASE/data"

say() { echo "postgres.sh: $*" >&2; }

# Debian's postgresql package puts the server binaries under /usr/lib/postgresql/<version>/bin;
# pg_ctlcluster manages clusters under /etc/postgresql, which a throwaway cluster must not join.
BIN=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then BIN="$dir"; break; fi
done
if [ -z "$BIN" ] && command -v pg_config >/dev/null 2>&1; then
    candidate="$(pg_config --bindir)"
    if [ -x "$candidate/initdb" ]; then BIN="$candidate"; fi
fi
if [ -z "$BIN" ] && command -v initdb >/dev/null 2>&1; then
    BIN="$(dirname "$(command -v initdb)")"
fi
if [ -z "$BIN" ]; then
    say "PostgreSQL server programs (initdb, pg_ctl) not found."
    say "On Debian, install them as root with: apt-get install postgresql"
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    OWNER=postgres
    if ! id "$OWNER" >/dev/null 2>&1; then
        say "running as root but there is no 'postgres' user; install Debian's postgresql package"
        exit 1
    fi
    as_owner() { runuser -u "$OWNER" -- "$@"; }
else
    OWNER="$(id -un)"
    as_owner() { "$@"; }
fi

if [ "${1:-}" = stop ]; then
    if [ -f "$DATA/PG_VERSION" ]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
    fi
    rm -rf "$BASE"
    say "stopped and removed $BASE"
    exit 0
fi

mkdir -p "$BASE"
chown "$OWNER" "$BASE"
chmod 700 "$BASE"

if [ ! -f "$DATA/PG_VERSION" ]; then
    say "creating a throwaway cluster in $DATA with $BIN/initdb"
    rm -rf "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >&2
    # Listen on the loopback address only; the socket lives in the cluster's own folder.
    # Durability settings are off because the cluster holds nothing worth keeping.
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$BASE'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
EOF
fi

if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "server already running in $DATA"
else
    say "starting the server on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 start >&2
fi

psql_admin() {
    as_owner "$BIN/psql" -h "$BASE" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi
say "database $DATABASE ready for role $ROLE"

echo "export CPXL_TEST_POSTGRES=postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
