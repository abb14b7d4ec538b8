# Sourced by the scripts that need a Postgres of their own: a throwaway cluster (trust auth,
# 127.0.0.1 only, a free port, a temp dir) from the installed PostgreSQL binaries, installed
# with apt when they are missing, and removed at exit.

find_pg_bindir() {
    local dir
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Starts the cluster; arguments are extra server options ("-c name=value ..."). Sets PG_URL,
# PG_BINDIR and PG_CTL (pg_ctl as the cluster's owner), and stops it at exit.
start_throwaway_postgres() {
    local bindir port
    bindir=$(find_pg_bindir)
    if [ ! -x "$bindir/initdb" ]; then
        echo "installing PostgreSQL with apt" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bindir=$(find_pg_bindir)
    fi
    PG_DIR=$(mktemp -d /tmp/clientd-pg.XXXXXX)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # As root, PostgreSQL's tools refuse to run: they run as the postgres user instead.
    local as_owner=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR"
        as_owner=(runuser -u postgres --)
    fi
    PG_CTL=("${as_owner[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data")
    "${as_owner[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync >/dev/null
    trap stop_throwaway_postgres EXIT
    "${PG_CTL[@]}" -l "$PG_DIR/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR \
        -c max_connections=500 $*" start >/dev/null
    PG_BINDIR=$bindir
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "throwaway PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

stop_throwaway_postgres() {
    "${PG_CTL[@]}" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
