#!/usr/bin/env bash
# tools/test.sh — run every test of the redcache workspace.
#
# It starts its own throw-away Redis servers on free loopback ports (one
# standalone server and a 3-primary Redis Cluster), hands them to the tests
# through REDCACHE_TEST_REDIS, REDCACHE_TEST_CLUSTER and REDCACHE_TEST_REQUIRE=1
# (see conn/conntest/env.go), then runs, stopping at the first failure:
#
#   1. gofmt -l over the repository's Go files (must print nothing)
#   2. go vet over every workspace module
#   3. go test -race -count=1 over every workspace module (go.work)
#   4. per module, with GOWORK=off: go build, go vet, go test -count=1
#      (proves each module builds and tests on its own)
#   5. the comparison harness in its quick mode (redcache bench --quick),
#      against the standalone server, into the temp folder: the harness
#      stays runnable, and its targets are printed (never asserted)
#
# Whatever happens, the servers are stopped and their temp folder removed.
#
# Usage:
#   bash tools/test.sh [--quick] [go test flags...]
#   bash tools/test.sh --servers-only        (alias: serve)
#
#   --quick             skip steps 4 and 5 (same as REDCACHE_TEST_SHORT=1)
#   --servers-only      start the servers, print the export lines, wait for Ctrl-C
#   go test flags       passed to every go test run, e.g. -run TestX -v
#
# Needs go, redis-server and redis-cli (>= 6; on Debian, when run as root and
# they are missing, it installs redis-server and redis-tools with apt-get,
# and gcc + libc6-dev when no C compiler is there for go test -race).
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# The workspace steps use ./go.work; a GOWORK inherited from the caller
# (e.g. GOWORK=off) would silently change what they test.
unset GOWORK

QUICK=${REDCACHE_TEST_SHORT:-0}
[[ $QUICK == 1 ]] || QUICK=0
SERVE=0
GO_TEST_ARGS=()
if [[ ${1:-} == serve ]]; then
	SERVE=1
	shift
fi
while (($#)); do
	case $1 in
	--quick | --short) QUICK=1 ;;
	--servers-only | --serve) SERVE=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		GO_TEST_ARGS+=("$@")
		break
		;;
	*) GO_TEST_ARGS+=("$1") ;;
	esac
	shift
done

log() { printf '%s\n' "$*"; }
die() {
	printf 'tools/test.sh: %s\n' "$*" >&2
	exit 1
}
section() {
	STEP=$1
	printf '\n== %s\n' "$1"
}

STEP="setup"
START=$SECONDS
TMP=""
PIDS=()

# ---------------------------------------------------------------- cleanup

# is_ours PID: PID is a live (non-zombie) child of this shell. Guards against
# signalling a recycled PID.
is_ours() {
	local stat rest state ppid
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	read -r state ppid _ <<<"$rest"
	[[ $state != Z && $ppid == "$$" ]]
}

stop_servers() {
	local pid i alive
	((${#PIDS[@]})) || return 0
	for pid in "${PIDS[@]}"; do
		if is_ours "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
	done
	for ((i = 0; i < 100; i++)); do
		alive=0
		for pid in "${PIDS[@]}"; do
			is_ours "$pid" && alive=1
		done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		if is_ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	stop_servers
	[[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
	if ((SERVE)) && [[ $STEP == serving ]] && ((rc == 130 || rc == 143)); then
		printf '\n== servers stopped\n'
	elif ((rc != 0)); then
		printf '\n== FAILED during: %s (exit %d, %ds)\n' "$STEP" "$rc" $((SECONDS - START)) >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------- prerequisites

section "checking tools"
command -v go >/dev/null || die "go is not on PATH (install Go from https://go.dev/dl/)"
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-cli)
pkgs=()
((${#missing[@]})) && pkgs+=(redis-server redis-tools)
# go test -race needs cgo, hence a C compiler.
if ! command -v "$(go env CC 2>/dev/null || echo gcc)" >/dev/null 2>&1; then
	missing+=("C compiler (for go test -race)")
	pkgs+=(gcc libc6-dev)
fi
if ((${#pkgs[@]})); then
	if [[ $(id -u) != 0 ]]; then
		die "missing: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${pkgs[*]}) or run as root to let this script do it."
	fi
	command -v apt-get >/dev/null || die "missing: ${missing[*]}, and apt-get is not available to install them; install them by hand."
	log "installing ${pkgs[*]} with apt-get (missing: ${missing[*]})"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		die "redis-server/redis-cli still missing after apt-get install"
	fi
fi
log "$(go version)"
log "$(redis-server --version)"

# ---------------------------------------------------------------- servers

TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcache-test.XXXXXX")

CHOSEN=" "
# port_free PORT: nothing listens on PORT (checked with ss when present,
# and by trying to connect on 127.0.0.1).
port_free() {
	local p=$1
	if command -v ss >/dev/null; then
		ss -Htln "sport = :$p" 2>/dev/null | grep -q . && return 1
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		return 1
	fi
	return 0
}

# pick_port: sets PORT to a free port in 10000-19999 whose cluster bus port
# (PORT+10000, so 20000-29999) is free too. Both ranges sit below Linux's
# default ephemeral range (32768-60999) and never overlap each other.
pick_port() {
	local i p
	for ((i = 0; i < 200; i++)); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % 10000))
		[[ $CHOSEN == *" $p "* ]] && continue
		if ! port_free "$p" || ! port_free $((p + 10000)); then continue; fi
		CHOSEN+="$p "
		PORT=$p
		return 0
	done
	die "could not find a free port pair on 127.0.0.1"
}

rcli() { timeout 5 redis-cli -h 127.0.0.1 "$@"; }

# start_redis NAME standalone|cluster: starts a redis-server (a cluster node
# for "cluster") on a free port, waits until it answers PING and is really the
# process we started, sets PORT and appends its PID to PIDS. Retries on
# another port if the port was taken in the meantime.
start_redis() {
	local name=$1 kind=$2 attempt pid dir logf i ready
	local args
	for ((attempt = 1; attempt <= 10; attempt++)); do
		pick_port
		dir=$TMP/$name-$PORT
		logf=$TMP/$name-$PORT.log
		mkdir -p "$dir"
		args=(--port "$PORT" --bind 127.0.0.1 --daemonize no
			--save '' --appendonly no --dir "$dir" --logfile "$logf"
			"${REDIS_EXTRA[@]}")
		if [[ $kind == cluster ]]; then
			args+=(--cluster-enabled yes
				--cluster-config-file "$TMP/nodes-$PORT.conf"
				--cluster-node-timeout 5000)
		fi
		redis-server "${args[@]}" </dev/null >>"$logf" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		ready=0
		for ((i = 0; i < 100; i++)); do # 10 s
			if ! is_ours "$pid"; then
				ready=2
				break
			fi
			if [[ $(rcli -p "$PORT" ping 2>/dev/null) == PONG ]] &&
				rcli -p "$PORT" info server 2>/dev/null | grep -q "^process_id:$pid"; then
				ready=1
				break
			fi
			sleep 0.1
		done
		if ((ready == 1)); then
			log "$name: 127.0.0.1:$PORT (pid $pid)"
			return 0
		fi
		if ((ready == 2)) && grep -qi 'address already in use' "$logf"; then
			wait "$pid" 2>/dev/null || true
			unset 'PIDS[${#PIDS[@]}-1]'
			log "$name: port $PORT was taken, trying another"
			continue
		fi
		log "$name: redis-server on port $PORT did not come up; its log:" >&2
		tail -n 30 "$logf" >&2 || true
		die "could not start redis-server ($name)"
	done
	die "could not start redis-server ($name): no free port after 10 attempts"
}

section "starting redis"
REDIS_EXTRA=()
# Redis >= 7 disables DEBUG by default; allow it from loopback so tests can
# use DEBUG SLEEP and friends to simulate slow or stuck servers.
redis_major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
if [[ ${redis_major:-0} -ge 7 ]]; then
	REDIS_EXTRA+=(--enable-debug-command local)
fi

start_redis standalone standalone
REDIS_PORT=$PORT

CLUSTER_PORTS=()
CLUSTER_ADDRS=()
for n in 1 2 3; do
	start_redis "cluster$n" cluster
	CLUSTER_PORTS+=("$PORT")
	CLUSTER_ADDRS+=("127.0.0.1:$PORT")
done

STEP="creating the cluster"
if ! timeout 60 redis-cli --cluster create "${CLUSTER_ADDRS[@]}" \
	--cluster-replicas 0 --cluster-yes >"$TMP/cluster-create.log" 2>&1; then
	cat "$TMP/cluster-create.log" >&2
	die "redis-cli --cluster create failed"
fi

# Wait (at most 30 s) until every node reports cluster_state:ok and sees
# all three primaries.
cluster_ok() {
	local p info
	for p in "${CLUSTER_PORTS[@]}"; do
		info=$(rcli -p "$p" cluster info 2>/dev/null | tr -d '\r') || return 1
		grep -qx 'cluster_state:ok' <<<"$info" || return 1
		grep -qx 'cluster_known_nodes:3' <<<"$info" || return 1
		grep -qx 'cluster_slots_ok:16384' <<<"$info" || return 1
	done
}
for ((i = 0; i < 300; i++)); do
	cluster_ok && break
	sleep 0.1
done
if ! cluster_ok; then
	for p in "${CLUSTER_PORTS[@]}"; do
		echo "-- node $p" >&2
		rcli -p "$p" cluster info >&2 || true
	done
	die "the cluster did not reach cluster_state:ok within 30 s"
fi
CLUSTER=$(
	IFS=,
	echo "${CLUSTER_ADDRS[*]}"
)
log "cluster: $CLUSTER (cluster_state:ok)"

export REDCACHE_TEST_REDIS="127.0.0.1:$REDIS_PORT"
export REDCACHE_TEST_CLUSTER="$CLUSTER"
export REDCACHE_TEST_REQUIRE=1

if ((SERVE)); then
	STEP="serving"
	printf '\n== servers are up; in another shell run:\n\n'
	printf 'export REDCACHE_TEST_REDIS=%s\n' "$REDCACHE_TEST_REDIS"
	printf 'export REDCACHE_TEST_CLUSTER=%s\n' "$REDCACHE_TEST_CLUSTER"
	printf 'export REDCACHE_TEST_REQUIRE=%s\n' "$REDCACHE_TEST_REQUIRE"
	printf '\n== press Ctrl-C to stop them\n'
	# Returns when a server dies, or at once on Ctrl-C (the trap then exits).
	wait -n "${PIDS[@]}" || true
	die "a redis-server exited unexpectedly; logs were in $TMP"
fi

# ------------------------------------------------------------------ checks

section "gofmt"
# Every Go file, skipping the folders the go command ignores too.
unformatted=$(find . \( -name '.?*' -o -name '_*' -o -name testdata -o -name vendor \) -prune \
	-o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l)
if [[ -n $unformatted ]]; then
	printf '%s\n' "$unformatted" >&2
	die "these files need gofmt (run: gofmt -w <file>)"
fi
log "ok"

# Module folders listed in go.work.
mods=$(go list -m -f '{{.Dir}}') || die "go list -m failed: is go.work consistent (every listed folder has a go.mod)?"
mapfile -t MODULES <<<"$mods"
[[ -n $mods ]] || die "go list -m found no workspace modules"

# The "work" pattern (every package of every workspace module) exists since
# Go 1.25; fall back to one dir/... pattern per module.
if go list work >/dev/null 2>&1; then
	PATTERNS=(work)
else
	PATTERNS=()
	for d in "${MODULES[@]}"; do PATTERNS+=("$d/..."); done
fi

section "go vet (workspace)"
go vet "${PATTERNS[@]}"
log "ok"

section "go test -race (workspace)"
go test -race -count=1 "${PATTERNS[@]}" "${GO_TEST_ARGS[@]}"

if ((QUICK)); then
	section "GOWORK=off pass skipped (--quick / REDCACHE_TEST_SHORT=1)"
else
	for d in "${MODULES[@]}"; do
		rel=${d#"$ROOT"/}
		section "module $rel alone (GOWORK=off): build, vet, test"
		(
			cd "$d"
			export GOWORK=off
			go build ./...
			go vet ./...
			go test -count=1 ./... "${GO_TEST_ARGS[@]}"
		)
	done
fi

if ((!QUICK)); then
	section "redcache bench --quick (figures only; nothing is asserted on them)"
	go run ./tools/cmd/redcache bench --quick --redis "$REDCACHE_TEST_REDIS" \
		--out "$TMP/performance.md" --svg "$TMP/performance.svg"
	sed -n '/^## Targets/,/^## Machine/p' "$TMP/performance.md" | sed '$d'
fi

STEP="done"
if ((QUICK)); then
	standalone="GOWORK=off pass and bench skipped"
else
	standalone="${#MODULES[@]} modules built and tested alone; bench --quick ran"
fi
printf '\n== PASS: gofmt, go vet, go test -race over %d workspace modules; %s (%ds)\n' \
	"${#MODULES[@]}" "$standalone" $((SECONDS - START))
