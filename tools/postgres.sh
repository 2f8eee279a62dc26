#!/usr/bin/env bash
# tools/postgres.sh — a throw-away PostgreSQL server for sqlcache's tests.
#
# Source it, then:
#
#   pg_start DIR     installs PostgreSQL when it is missing and we are root
#                    (apt-get install postgresql), then starts a server in
#                    DIR/pg (initdb + pg_ctl) on a free loopback port, with a
#                    trusted superuser "redcache", and exports
#                    REDCACHE_TEST_POSTGRES=postgres://redcache@127.0.0.1:PORT/postgres?sslmode=disable
#   pg_start_bg DIR  the same in the background (call pg_wait for the result),
#                    so that it starts while the Redis servers do
#   pg_wait          waits for pg_start_bg; exports REDCACHE_TEST_POSTGRES
#                    or returns 1 with the reason on stderr
#   pg_stop          stops the server (pg_ctl stop -m immediate, then a kill
#                    of its postmaster); safe to call more than once, and
#                    from an EXIT trap whatever happened
#
# initdb refuses to run as root: as root, the server runs as the "postgres"
# user (created by the Debian package) and DIR/pg is given to it. The server
# listens on 127.0.0.1 only, keeps its socket in DIR/pg, and runs with
# fsync off (a test database is thrown away).
#
# Run alone, it starts a server, prints the export line and waits for
# Ctrl-C:  bash tools/postgres.sh

PG_DATA=""
PG_RUNAS=()
PG_BG_PID=""
PG_STATUS=""

# pg_bin NAME: the path of a PostgreSQL server program (initdb, pg_ctl).
pg_bin() {
	local d
	if command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
		return 0
	fi
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/$1 ]] && {
			echo "$d/$1"
			return 0
		}
	done
	return 1
}

# pg_install: apt-get install postgresql when initdb is missing and we are root.
pg_install() {
	pg_bin initdb >/dev/null && pg_bin pg_ctl >/dev/null && return 0
	if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
		echo "postgres: initdb/pg_ctl missing; install PostgreSQL (Debian: apt-get install postgresql)" >&2
		return 1
	fi
	echo "postgres: installing postgresql with apt-get" >&2
	apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
	pg_bin initdb >/dev/null
}

# pg_port: a free loopback port.
pg_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pg_start() {
	local dir=$1 initdb pg_ctl port attempt
	pg_install || return 1
	initdb=$(pg_bin initdb) && pg_ctl=$(pg_bin pg_ctl) || return 1
	PG_DATA=$dir/pg
	mkdir -p "$PG_DATA" || return 1
	PG_RUNAS=()
	if [[ $(id -u) == 0 ]]; then
		id postgres >/dev/null 2>&1 || {
			echo "postgres: running as root and there is no postgres user to run the server as" >&2
			return 1
		}
		chown postgres "$PG_DATA" && chmod 700 "$PG_DATA" || return 1
		# The server's user must be able to reach DIR/pg.
		chmod o+x "$dir" 2>/dev/null || true
		PG_RUNAS=(runuser -u postgres --)
	fi
	"${PG_RUNAS[@]}" "$initdb" -D "$PG_DATA/data" -U redcache -A trust -E UTF8 --no-sync \
		>"$dir/pg-initdb.log" 2>&1 || {
		cat "$dir/pg-initdb.log" >&2
		return 1
	}
	for attempt in 1 2 3 4 5; do
		port=$(pg_port) || return 1
		if "${PG_RUNAS[@]}" "$pg_ctl" -D "$PG_DATA/data" -l "$PG_DATA/server.log" -w -t 30 \
			-o "-h 127.0.0.1 -p $port -k $PG_DATA -c fsync=off -c full_page_writes=off -c max_connections=200" \
			start >"$dir/pg-ctl.log" 2>&1; then
			export REDCACHE_TEST_POSTGRES="postgres://redcache@127.0.0.1:$port/postgres?sslmode=disable"
			return 0
		fi
		grep -qi 'already in use' "$PG_DATA/server.log" 2>/dev/null || break
	done
	cat "$dir/pg-ctl.log" "$PG_DATA/server.log" >&2 2>/dev/null
	return 1
}

pg_start_bg() {
	PG_DATA=$1/pg
	PG_STATUS=$1/pg.status
	rm -f "$PG_STATUS"
	(
		if pg_start "$1"; then
			echo "$REDCACHE_TEST_POSTGRES" >"$PG_STATUS.tmp" && mv "$PG_STATUS.tmp" "$PG_STATUS"
		else
			exit 1
		fi
	) &
	PG_BG_PID=$!
}

pg_wait() {
	[[ -n $PG_BG_PID ]] || return 1
	wait "$PG_BG_PID" || {
		PG_BG_PID=""
		return 1
	}
	PG_BG_PID=""
	[[ -s $PG_STATUS ]] || return 1
	REDCACHE_TEST_POSTGRES=$(cat "$PG_STATUS")
	export REDCACHE_TEST_POSTGRES
	[[ $(id -u) == 0 ]] && PG_RUNAS=(runuser -u postgres --)
	return 0
}

pg_stop() {
	local pg_ctl pid
	[[ -n $PG_DATA ]] || return 0
	if [[ -n $PG_BG_PID ]]; then
		wait "$PG_BG_PID" 2>/dev/null
		PG_BG_PID=""
	fi
	[[ -f $PG_DATA/data/postmaster.pid ]] || return 0
	[[ $(id -u) == 0 ]] && PG_RUNAS=(runuser -u postgres --)
	pg_ctl=$(pg_bin pg_ctl) &&
		"${PG_RUNAS[@]}" "$pg_ctl" -D "$PG_DATA/data" -m immediate -w -t 10 stop >/dev/null 2>&1
	pid=$(head -n 1 "$PG_DATA/data/postmaster.pid" 2>/dev/null)
	if [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
		kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -u
	PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcache-pg.XXXXXX")
	trap 'pg_stop; rm -rf -- "$PG_TMP"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pg_start "$PG_TMP" || exit 1
	printf 'export REDCACHE_TEST_POSTGRES=%s\n' "$REDCACHE_TEST_POSTGRES"
	printf '== press Ctrl-C to stop it\n'
	while [[ -f $PG_DATA/data/postmaster.pid ]]; do sleep 1; done
fi
