#!/usr/bin/env bash
# tools/test.sh — run every test of the redcache workspace.
#
# It starts its own throw-away Redis servers on free loopback ports, in
# parallel, and hands them to the tests through environment variables:
#
#   REDCACHE_TEST_REDIS          a standalone server (host:port)
#   REDCACHE_TEST_CLUSTER        a 3-primary Redis Cluster (primaries, comma-separated)
#   REDCACHE_TEST_CLUSTER_HA     a 3+3 Redis Cluster (3 primaries with a replica
#                                each, cluster-node-timeout 2000): its primaries
#   REDCACHE_TEST_CLUSTER_HA_NODES  a file naming each of its nodes, one a line:
#                                "127.0.0.1:PORT PID redis-server CONFIG"; a test
#                                that kills a node restarts it with that command
#                                (same port, config and node id), and holds an
#                                exclusive flock on this file's name + ".lock"
#                                meanwhile (go test runs packages at once)
#   REDCACHE_TEST_TLS            a TLS-only server (--port 0, --tls-port), host:port,
#   REDCACHE_TEST_TLS_CA         with a certificate for 127.0.0.1/localhost signed
#                                by this CA (PEM file, made with openssl),
#   REDCACHE_TEST_TLS_USER       and one ACL user (the default user is off):
#   REDCACHE_TEST_TLS_PASSWORD   ~cache:* &* +@read +@write +@connection
#                                +@scripting +@pubsub -@dangerous
#   REDCACHE_TEST_REQUIRE=1      a missing server fails a test instead of skipping it
#
# (see conn/conntest/env.go), then runs, stopping at the first failure:
#
#   1. gofmt -l over the repository's Go files (must print nothing)
#   2. packaging (also alone: --packaging):
#      - sibling versions: every go.mod requires its sibling modules at one
#        real version (never v0.0.0), as docs/releasing.md says
#      - build lists: for each library module of go.work (all but docs,
#        tools and */tests), a consumer module in the temp folder imports
#        its packages and one driver (conn/goredis, then conn/radix) through
#        a go.work, as README.md's "Use it from a clone" does; its
#        go list -m all must name no other driver module, no other
#        driver's client (go-redis, radix, gopher-lua) and no miniredis
#      - README.md's "Use it from a clone": its blocks marked clone-check run
#        as written in the temp folder (the clone is a link to this tree),
#        the program against the standalone Redis, then go vet and go build
#      - a release rehearsal (skipped by --quick): tools/release.sh for real
#        in a throw-away clone of HEAD, at the next patch version with a
#        -rehearsal suffix; then go get core and conn/goredis at that
#        version from the clone's tags (docs/releasing.md)
#   3. go vet over every workspace module
#   4. go test -race -count=1 over every workspace module (go.work)
#   5. per module, with GOWORK=off: go build, go vet, go test -count=1
#      (proves each module builds and tests on its own)
#   6. the consistency soak, short (tools/cmd/soak, 25 s; REDCACHE_SOAK sets
#      another duration): two worker processes, one per driver, against a
#      cache Redis the soak kills and restarts; fails on any wrong value
#   7. the comparison harness in its quick mode (redcache-bench --quick),
#      against the standalone server, into the temp folder: the harness
#      stays runnable, and its targets are printed (never asserted)
#
# The fault suite (tools/internal/faults) runs in step 4, in its fast mode;
# step 5 skips it (REDCACHE_FAULTS=off), as it already ran under -race.
#
# Whatever happens, the servers (and any node a test restarted) are stopped
# and their temp folder removed.
#
# Usage:
#   bash tools/test.sh [--quick] [--faults-long] [go test flags...]
#   bash tools/test.sh --servers-only        (alias: serve)
#   bash tools/test.sh --soak DURATION       (e.g. --soak 10m: only the soak)
#   bash tools/test.sh --packaging           (only step 2, without servers:
#                                             the README's program is built,
#                                             not run, unless REDCACHE_TEST_REDIS
#                                             names a Redis)
#
#   --quick             skip the release rehearsal and steps 5, 6 and 7
#                       (same as REDCACHE_TEST_SHORT=1)
#   --faults-long       the fault suite's long mode (REDCACHE_FAULTS_LONG=1):
#                       longer loads and more rounds per fault
#   --soak DURATION     run only the consistency soak, for DURATION
#   --servers-only      start the servers, print the export lines, wait for Ctrl-C
#   go test flags       passed to every go test run, e.g. -run TestX -v
#
# Needs go, redis-server and redis-cli (>= 6, built with TLS) and openssl; on
# Debian, when run as root and they are missing, it installs redis-server,
# redis-tools and openssl with apt-get, and gcc + libc6-dev when no C
# compiler is there for go test -race.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# PostgreSQL for sqlcache's tests: pg_start_bg, pg_wait, pg_stop.
# shellcheck source=tools/postgres.sh
source "$ROOT/tools/postgres.sh"
# The workspace steps use ./go.work; a GOWORK inherited from the caller
# (e.g. GOWORK=off) would silently change what they test.
unset GOWORK

log() { printf '%s\n' "$*"; }
die() {
	printf 'tools/test.sh: %s\n' "$*" >&2
	exit 1
}

QUICK=${REDCACHE_TEST_SHORT:-0}
[[ $QUICK == 1 ]] || QUICK=0
SERVE=0
PACKAGING=0
SOAK=""
GO_TEST_ARGS=()
if [[ ${1:-} == serve ]]; then
	SERVE=1
	shift
fi
while (($#)); do
	case $1 in
	--quick | --short) QUICK=1 ;;
	--servers-only | --serve) SERVE=1 ;;
	--faults-long) export REDCACHE_FAULTS_LONG=1 ;;
	--packaging) PACKAGING=1 ;;
	--soak)
		(($# >= 2)) || die "--soak needs a duration, e.g. --soak 10m"
		SOAK=$2
		shift
		;;
	--soak=*) SOAK=${1#--soak=} ;;
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

section() {
	STEP=$1
	printf '\n== %s (at %ds)\n' "$1" $((SECONDS - START))
}

STEP="setup"
START=$SECONDS
TMP=""
PIDS=()
HA_PORTS=()

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

# stop_leftovers: a node of the 3+3 cluster that a test killed and started
# again is not a child of this shell; stop whatever redis-server listens on
# those ports.
stop_leftovers() {
	local port pid
	((${#HA_PORTS[@]})) || return 0
	command -v ss >/dev/null || return 0
	for port in "${HA_PORTS[@]}"; do
		for pid in $(ss -Htlnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server ]] && kill -KILL "$pid" 2>/dev/null
		done
	done
	return 0
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	stop_servers
	stop_leftovers
	pg_stop
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
if [[ -z $SOAK ]] && ! command -v openssl >/dev/null; then
	missing+=(openssl)
	pkgs+=(openssl)
fi
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

# run_soak DURATION: builds the soak (with -race) and runs it; it starts and
# owns its own redis-servers (a cache it kills and restarts, and a source).
run_soak() {
	section "consistency soak ($1, both drivers)"
	go build -race -o "$TMP/soak" ./tools/cmd/soak
	"$TMP/soak" -duration "$1" -dir "$TMP/soak.d"
}

# ------------------------------------------------------------- packaging

# The driver modules, each with the client library it brings. A program
# that imports a library module and one driver must not download another
# driver, another driver's client, nor the embedded Redis of the demo.
DRIVER_MODULES=(
	"github.com/redcache/redcache/conn/goredis github.com/redis/go-redis/v9"
	"github.com/redcache/redcache/conn/radix github.com/mediocregopher/radix/v4"
	"github.com/redcache/redcache/conn/memory github.com/yuin/gopher-lua"
)
NEVER_IN_A_BUILD_LIST=(github.com/alicebob/miniredis/v2)
# The drivers a consumer picks, one at a time.
CONSUMER_DRIVERS=(github.com/redcache/redcache/conn/goredis github.com/redcache/redcache/conn/radix)

# workspace_modules: sets WS_PATHS and WS_DIRS to the modules of go.work.
workspace_modules() {
	local out path dir
	out=$(go list -m -f '{{.Path}} {{.Dir}}') || die "go list -m failed: is go.work consistent (every listed folder has a go.mod)?"
	WS_PATHS=()
	WS_DIRS=()
	while read -r path dir; do
		[[ -n $path ]] || continue
		WS_PATHS+=("$path")
		WS_DIRS+=("$dir")
	done <<<"$out"
	((${#WS_PATHS[@]})) || die "go list -m found no workspace modules"
}

# is_library DIR: the module in DIR is a library module: not docs, not
# tools, not a test-only module (a folder named tests).
is_library() {
	local rel=${1#"$ROOT"/}
	[[ $rel != docs && $rel != tools && $rel != tests && $rel != */tests && $rel != "$ROOT" ]]
}

# module_dir PATH: prints the folder of the workspace module PATH.
module_dir() {
	local i
	for ((i = 0; i < ${#WS_PATHS[@]}; i++)); do
		[[ ${WS_PATHS[i]} == "$1" ]] && {
			printf '%s\n' "${WS_DIRS[i]}"
			return 0
		}
	done
	return 1
}

# check_build_list MODULE DIR DRIVER WORK: a consumer module in WORK (a temp
# folder outside the repository) imports every package of MODULE (but its
# internal and main packages) and DRIVER, resolving our modules as the
# README's "Use it from a clone" does: a go.work that uses the consumer, the
# module's folder and the driver's folder (their go.mod files replace the
# siblings they require). Its build list (go list -m all) must name no
# other driver, no other driver's client library and no embedded Redis.
check_build_list() {
	local mod=$1 dir=$2 driver=$3 work=$4 pkgs entry dmod dlib line m via
	local -a forbidden=("${NEVER_IN_A_BUILD_LIST[@]}") uses=("$dir")
	for entry in "${DRIVER_MODULES[@]}"; do
		read -r dmod dlib <<<"$entry"
		[[ $dmod == "$driver" || $dmod == "$mod" ]] && continue
		forbidden+=("$dmod" "$dlib")
	done
	if [[ $driver != "$mod" ]]; then
		dmod=$(module_dir "$driver") || die "build lists: the driver $driver is not a module of go.work"
		uses+=("$dmod")
	fi
	# mod/... also matches the packages of nested modules (conn/... holds
	# conn/goredis): keep the module's own.
	pkgs=$(go list -e -f '{{if and .Module (eq .Module.Path "'"$mod"'") (ne .Name "main") .GoFiles (not .Error)}}{{.ImportPath}}{{end}}' "$mod/..." |
		grep -Ev '/internal(/|$)' || true)
	[[ -n $pkgs ]] || die "build lists: $mod has no package a program can import"
	mkdir -p "$work"
	(
		cd "$work"
		{
			printf 'module example.com/consumer\n\ngo 1.24\n'
		} >go.mod
		{
			printf '// A program that imports %s and %s.\npackage main\n\nimport (\n' "$mod" "$driver"
			for m in $pkgs "$driver"; do printf '\t_ "%s"\n' "$m"; done
			printf ')\n\nfunc main() {}\n'
		} >main.go
		go work init . "${uses[@]}"
		go list -deps . >/dev/null
	) || die "build lists: a consumer of $mod with $driver does not load (in $work)"
	BUILD_LIST=$(cd "$work" && go list -m all) || die "build lists: go list -m all failed for a consumer of $mod with $driver (in $work)"
	for m in "${forbidden[@]}"; do
		while read -r line _; do
			if [[ $line == "$m" ]]; then
				via=$(cd "$work" && go mod graph | awk -v m="$m" '{ split($2, a, "@") } a[1] == m { sub(/@.*/, "", $1); print $1 }' | sort -u | paste -sd, -)
				die "build lists: a program that imports $mod and $driver gets $m in its build list (go list -m all), required by: ${via:-?}. A library module's go.mod requires only what its own packages and in-module tests import: move the code that needs $m into a test-only module (e.g. $mod/tests)"
			fi
		done <<<"$BUILD_LIST"
	done
}

# check_build_lists: check_build_list for every library module of go.work
# (derived, so a new module is checked without editing this script), once
# per consumer driver; a driver module is checked alone.
check_build_lists() {
	local i mod dir driver n=0 is_driver entry
	workspace_modules
	for ((i = 0; i < ${#WS_PATHS[@]}; i++)); do
		mod=${WS_PATHS[i]}
		dir=${WS_DIRS[i]}
		is_library "$dir" || continue
		is_driver=0
		for entry in "${DRIVER_MODULES[@]}"; do
			[[ ${entry%% *} == "$mod" ]] && is_driver=1
		done
		if ((is_driver)); then
			check_build_list "$mod" "$dir" "$mod" "$TMP/buildlist/$n"
			log "$mod alone: $(wc -l <<<"$BUILD_LIST") modules, no other driver"
			n=$((n + 1))
			continue
		fi
		for driver in "${CONSUMER_DRIVERS[@]}"; do
			check_build_list "$mod" "$dir" "$driver" "$TMP/buildlist/$n"
			log "$mod + ${driver#github.com/redcache/redcache/}: $(wc -l <<<"$BUILD_LIST") modules, no other driver"
			n=$((n + 1))
		done
	done
}

# clone_section_script: README.md's blocks marked for the from-a-clone
# check, as one bash script. The comment line before a fenced block marks it:
#   <!-- clone-check: run ... -->             its commands run (in order)
#   <!-- clone-check: file PATH -->           written to PATH (from the start folder)
#   <!-- clone-check: run-with-redis ... -->  run only when a Redis is up
# The clone (git clone https://github.com/redcache/redcache...) becomes a
# link to this work tree, so the check sees the code as it is now.
clone_section_script() {
	awk '
		/^<!-- clone-check: / { mode = $3; path = $4; next }
		mode != "" && !inblock && /^```/ {
			inblock = 1
			if (mode == "file") printf "cat >\"$CLONE_START/%s\" <<'\''README_EOF'\''\n", path
			else if (mode == "run-with-redis") print "if [[ -n ${REDIS_URL:-} ]]; then"
			next
		}
		inblock && /^```/ {
			if (mode == "file") print "README_EOF"
			else if (mode == "run-with-redis") print "fi"
			inblock = 0
			mode = ""
			next
		}
		inblock { print }
	' "$ROOT/README.md" |
		sed -E 's#^git clone https://github\.com/redcache/redcache(\.git)?( [^ ]+)?$#ln -s "$CLONE_REPO" \2#; s#^ln -s "\$CLONE_REPO" $#ln -s "$CLONE_REPO" redcache#'
}

# check_clone_section: runs README.md's "Use it from a clone" in a temp
# folder outside the repository, against the standalone Redis when the
# servers are up (else it builds and vets the program), so the section
# cannot rot.
check_clone_section() {
	local script dir out
	script=$(clone_section_script)
	grep -q '^ln -s "$CLONE_REPO"' <<<"$script" ||
		die "README.md: the blocks marked clone-check clone no repository (git clone https://github.com/redcache/redcache.git)"
	grep -q '^cat >"$CLONE_START/' <<<"$script" ||
		die "README.md: no block marked clone-check: file PATH (the program)"
	dir=$TMP/from-a-clone
	mkdir -p "$dir"
	printf '%s\n' "$script" >"$dir/section.sh"
	out=$(cd "$dir" && CLONE_START=$dir CLONE_REPO=$ROOT bash -euo pipefail section.sh 2>&1) || {
		printf '%s\n' "$out" >&2
		die "README.md's \"Use it from a clone\" fails as written (its commands: $dir/section.sh)"
	}
	[[ -z $out ]] || printf '%s\n' "$out"
	# The program itself: it must vet and build wherever the section left it.
	local app
	app=$(cd "$dir" && find . -mindepth 2 -maxdepth 2 -name go.mod ! -path './redcache/*' -printf '%h\n' | head -1)
	[[ -n $app ]] || die "README.md's \"Use it from a clone\" made no module next to the clone"
	(cd "$dir/$app" && go vet ./... && go build -o /dev/null .) ||
		die "README.md's \"Use it from a clone\": the program does not vet or build ($dir/$app)"
	log "ok (README.md's from-a-clone section${REDIS_URL:+, run against $REDIS_URL})"
}

# check_release: rehearses tools/release.sh on a throw-away clone of HEAD,
# for real there (the next patch version, "-rehearsal": a bump of every
# sibling require, the build and tidy checks, a commit and the tags), then
# resolves core and a driver at that version from the clone's tags with
# go get, as a user will once they are pushed: git serves the clone in
# place of github.com/redcache/redcache, a throw-away module cache holds
# what it downloads, and the other modules come from the local module cache.
check_release() {
	local rel=$TMP/release cur next t mods i
	if ! git -C "$ROOT" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		log "skipped: $ROOT is not a git clone with a commit (a release is made from one)"
		return 0
	fi
	rm -rf "$rel"
	mkdir -p "$rel"
	git clone -q "$ROOT" "$rel/repo" || die "release rehearsal: could not clone $ROOT"
	cur=$(cd "$rel/repo/core" && go mod edit -json |
		awk '/"Path": "github.com\/redcache\/redcache\/conn"/ { getline; gsub(/[",]/, "", $2); print $2; exit }')
	[[ $cur =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+) ]] ||
		die "release rehearsal: core/go.mod requires conn at '$cur', not a release version (the modules require each other at real versions: bash tools/release.sh)"
	next=v${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$((BASH_REMATCH[3] + 1))-rehearsal
	if ! GIT_AUTHOR_NAME="release rehearsal" GIT_AUTHOR_EMAIL=rehearsal@invalid \
		GIT_COMMITTER_NAME="release rehearsal" GIT_COMMITTER_EMAIL=rehearsal@invalid \
		bash "$ROOT/tools/release.sh" -C "$rel/repo" "$next" >"$rel/release.log" 2>&1; then
		cat "$rel/release.log" >&2
		die "release rehearsal: tools/release.sh $next failed in a clone ($rel/repo)"
	fi
	# Every module but the test-only ones is tagged, on a commit whose
	# go.mod files require the siblings at that version.
	mods=$(cd "$rel/repo" && go list -m -f '{{.Dir}}') || die "release rehearsal: go list -m failed in the clone"
	while read -r i; do
		i=${i#"$rel/repo"/}
		[[ $i == tests || $i == */tests ]] && continue
		t=$i/$next
		git -C "$rel/repo" rev-parse -q --verify "refs/tags/$t" >/dev/null ||
			die "release rehearsal: tools/release.sh $next made no tag $t"
		if git -C "$rel/repo" show "$t:$i/go.mod" | grep -E '^\s*(require )?github\.com/redcache/redcache/\S+ v' |
			grep -v "=>" | grep -Ev " $next( // indirect)?\$" >&2; then
			die "release rehearsal: at tag $t, $i/go.mod requires a sibling at another version than $next (above)"
		fi
	done <<<"$mods"
	log "tools/release.sh $next in a clone: committed, tagged $(git -C "$rel/repo" tag -l "*/$next" | wc -l) modules"

	# go get core and a driver at that version, from the tags.
	printf '[url "file://%s"]\n\tinsteadOf = https://github.com/redcache/redcache\n' "$rel/repo" >"$rel/gitconfig"
	mkdir -p "$rel/app"
	printf 'package main\n\nimport (\n\t"fmt"\n\n\t"github.com/redcache/redcache/conn/goredis"\n\t"github.com/redcache/redcache/core"\n)\n\nfunc main() { fmt.Println(core.Default != nil, goredis.New != nil) }\n' >"$rel/app/main.go"
	if ! (
		cd "$rel/app"
		export GOWORK=off GIT_CONFIG_GLOBAL=$rel/gitconfig GIT_CONFIG_NOSYSTEM=1
		export GOPROXY="file://$(go env GOMODCACHE)/cache/download" GOPRIVATE=github.com/redcache/redcache
		export GOSUMDB=off GOMODCACHE=$rel/modcache GOFLAGS="-modcacherw -buildvcs=false"
		go mod init example.com/app
		go get "github.com/redcache/redcache/core@$next" "github.com/redcache/redcache/conn/goredis@$next"
		# Loads every package, from the downloaded zips (compiling them is
		# the other steps' job: here it would start from an empty cache).
		go list -deps . >/dev/null
		! go list -m all | grep -E '^github\.com/(redcache/redcache/conn/radix|mediocregopher/radix/v4|alicebob/miniredis/v2|yuin/gopher-lua) '
	) >"$rel/get.log" 2>&1; then
		cat "$rel/get.log" >&2
		die "release rehearsal: go get github.com/redcache/redcache/core@$next (from the clone's tags) failed, or brought another driver (above)"
	fi
	chmod -R u+w "$rel/modcache" 2>/dev/null || true
	log "go get core@$next and conn/goredis@$next resolve from the tags, with no other driver"
}

# check_sibling_versions: every go.mod of go.work requires its siblings at
# one real version, the current release's (docs/releasing.md): never
# v0.0.0, which a program that imports the module could not resolve.
check_sibling_versions() {
	local i path ver want="" where="" bad=""
	workspace_modules
	for ((i = 0; i < ${#WS_DIRS[@]}; i++)); do
		while read -r path ver; do
			[[ -n $path ]] || continue
			if [[ -z $want && $ver != v0.0.0 ]]; then
				want=$ver
				where="${WS_DIRS[i]#"$ROOT"/}/go.mod requires $path $ver"
			fi
			if [[ $ver == v0.0.0 || $ver != "$want" ]]; then
				bad+="  ${WS_DIRS[i]#"$ROOT"/}/go.mod: $path $ver"$'\n'
			fi
		done < <(cd "${WS_DIRS[i]}" && go mod edit -json | awk '
			/^\t"Require": \[/ { in_req = 1; next }
			in_req && /^\t\]/ { in_req = 0 }
			in_req && /"Path": "github.com\/redcache\/redcache\// { gsub(/[",]/, "", $2); p = $2 }
			in_req && /"Version":/ && p != "" { gsub(/[",]/, "", $2); print p, $2; p = "" }')
	done
	if [[ -n $bad ]]; then
		printf '%s' "$bad" >&2
		die "sibling versions: these requires differ from ${want:-a release version} ($where) or are v0.0.0; the modules require each other at the current release's version, with a replace line each (docs/releasing.md): go mod edit -require=PATH@$want"
	fi
	log "ok: every sibling require is at $want"
}

# run_packaging: the checks that the modules install as the README says.
run_packaging() {
	section "sibling versions"
	check_sibling_versions
	section "build lists: a program gets only the driver it imports"
	check_build_lists
	section "README.md: use it from a clone"
	if [[ -n ${REDCACHE_TEST_REDIS:-} ]]; then
		REDIS_URL=redis://$REDCACHE_TEST_REDIS/0 check_clone_section
	else
		REDIS_URL="" check_clone_section
	fi
	if ((QUICK)); then
		section "release rehearsal skipped (--quick)"
	else
		section "release rehearsal: tools/release.sh in a clone, then go get from its tags"
		check_release
	fi
}

if ((PACKAGING)); then
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcache-test.XXXXXX")
	run_packaging
	STEP="done"
	printf '\n== PASS: packaging checks (%ds)\n' $((SECONDS - START))
	exit 0
fi

if [[ -n $SOAK ]]; then
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcache-test.XXXXXX")
	run_soak "$SOAK"
	STEP="done"
	printf '\n== PASS: consistency soak (%ds)\n' $((SECONDS - START))
	exit 0
fi

# ---------------------------------------------------------------- servers

TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcache-test.XXXXXX")
# The control file of the 3+3 cluster is split on spaces.
[[ $TMP != *[[:space:]]* ]] || die "the temp folder $TMP has a space in its path; set TMPDIR to one without"

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

# The servers are started in parallel: launch_redis forks a redis-server and
# records it (R_* arrays, indexed by its number), await_redis waits until it
# answers, starting it again on another port if its port was taken meanwhile.
R_NAME=()
R_KIND=()
R_PORT=()
R_PID=()
R_LOG=()

# redis_args I: the command line of server I, in ARGS. Cluster nodes of the
# 3+3 cluster ("ha") and the TLS server get a config file, so that a test can
# restart a node with the exact command line from the control file.
redis_args() {
	local i=$1 port=${R_PORT[$1]} kind=${R_KIND[$1]} dir conf
	dir=$TMP/${R_NAME[$i]}-$port
	mkdir -p "$dir"
	case $kind in
	standalone | cluster)
		ARGS=(--port "$port" --bind 127.0.0.1 --daemonize no
			--save '' --appendonly no --dir "$dir" --logfile "${R_LOG[$i]}"
			"${REDIS_EXTRA[@]}")
		if [[ $kind == cluster ]]; then
			ARGS+=(--cluster-enabled yes
				--cluster-config-file "$TMP/nodes-$port.conf"
				--cluster-node-timeout 5000)
		fi
		;;
	ha | tls)
		conf=$dir/redis.conf
		{
			printf 'bind 127.0.0.1\ndaemonize no\nsave ""\nappendonly no\n'
			printf 'dir %s\nlogfile %s\n' "$dir" "${R_LOG[$i]}"
			((${#REDIS_EXTRA[@]})) && printf 'enable-debug-command local\n'
			if [[ $kind == ha ]]; then
				printf 'port %s\ncluster-enabled yes\n' "$port"
				printf 'cluster-config-file %s/nodes.conf\n' "$dir"
				printf 'cluster-node-timeout 2000\n'
				# A replica may always take over: tests kill primaries
				# one after another, and a replica's data age would
				# otherwise forbid a failover after a few of them.
				printf 'cluster-replica-validity-factor 0\n'
				# Replicas sync at once instead of waiting 5 s for company.
				printf 'repl-diskless-sync-delay 0\n'
			else
				printf 'port 0\ntls-port %s\n' "$port"
				printf 'tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n' \
					"$TLS_DIR/server.crt" "$TLS_DIR/server.key" "$TLS_DIR/ca.crt"
				printf 'tls-auth-clients no\n'
				printf 'user default off\n'
				printf 'user %s on >%s ~cache:* &* +@read +@write +@connection +@scripting +@pubsub -@dangerous\n' \
					"$TLS_USER" "$TLS_PASSWORD"
			fi
		} >"$conf"
		ARGS=("$conf")
		;;
	esac
}

# launch_redis NAME KIND: forks a redis-server of KIND (standalone, cluster,
# ha or tls) on a free port; sets I to its number.
launch_redis() {
	I=${#R_NAME[@]}
	R_NAME[I]=$1
	R_KIND[I]=$2
	relaunch_redis "$I"
}

relaunch_redis() {
	local i=$1 pid
	pick_port
	R_PORT[i]=$PORT
	R_LOG[i]=$TMP/${R_NAME[$i]}-$PORT.log
	redis_args "$i"
	redis-server "${ARGS[@]}" </dev/null >>"${R_LOG[$i]}" 2>&1 &
	pid=$!
	R_PID[i]=$pid
	PIDS+=("$pid")
}

# answers I: server I answers PING, and is really the process we started
# (the TLS server lets only its ACL user in, who may not run INFO; a foreign
# server could not show our certificate and user anyway).
answers() {
	local i=$1 port=${R_PORT[$1]} pid=${R_PID[$1]}
	if [[ ${R_KIND[$i]} == tls ]]; then
		[[ $(REDISCLI_AUTH=$TLS_PASSWORD rcli --tls --cacert "$TLS_DIR/ca.crt" \
			--user "$TLS_USER" -p "$port" ping 2>/dev/null) == PONG ]]
		return
	fi
	[[ $(rcli -p "$port" ping 2>/dev/null) == PONG ]] &&
		rcli -p "$port" info server 2>/dev/null | grep -q "^process_id:$pid"
}

# await_redis I: waits (10 s) until server I is up; starts it again on
# another port when its port was taken in the meantime (10 attempts).
await_redis() {
	local i=$1 attempt j ready
	for ((attempt = 1; attempt <= 10; attempt++)); do
		ready=0
		for ((j = 0; j < 100; j++)); do
			if ! is_ours "${R_PID[$i]}"; then
				ready=2
				break
			fi
			if answers "$i"; then
				ready=1
				break
			fi
			sleep 0.1
		done
		if ((ready == 1)); then
			log "${R_NAME[$i]}: 127.0.0.1:${R_PORT[$i]} (pid ${R_PID[$i]})"
			return 0
		fi
		if ((ready == 2)) && grep -qi 'address already in use' "${R_LOG[$i]}"; then
			wait "${R_PID[$i]}" 2>/dev/null || true
			log "${R_NAME[$i]}: port ${R_PORT[$i]} was taken, trying another"
			relaunch_redis "$i"
			continue
		fi
		log "${R_NAME[$i]}: redis-server on port ${R_PORT[$i]} did not come up; its log:" >&2
		tail -n 30 "${R_LOG[$i]}" >&2 || true
		die "could not start redis-server (${R_NAME[$i]})"
	done
	die "could not start redis-server (${R_NAME[$i]}): no free port after 10 attempts"
}

# make_certs: a CA and a server certificate for 127.0.0.1 and localhost,
# signed by it, in TLS_DIR (EC keys: generated in milliseconds).
make_certs() {
	mkdir -p "$TLS_DIR"
	(
		cd "$TLS_DIR"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 2 -subj "/CN=redcache test CA"
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout server.key -out server.csr -subj "/CN=localhost"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out server.crt -days 2 -extfile server.ext
	) >"$TMP/openssl.log" 2>&1 || {
		cat "$TMP/openssl.log" >&2
		die "openssl could not make the test certificates"
	}
}

# create_cluster NAME REPLICAS EXPECTED_NODES ADDR...: redis-cli --cluster
# create, then waits (at most 30 s) until every node reports cluster_state:ok,
# knows every node and serves every slot.
create_cluster() {
	local name=$1 replicas=$2 nodes=$3 i a
	shift 3
	STEP="creating the cluster ($name)"
	if ! timeout 60 redis-cli --cluster create "$@" \
		--cluster-replicas "$replicas" --cluster-yes >"$TMP/$name-create.log" 2>&1; then
		cat "$TMP/$name-create.log" >&2
		die "redis-cli --cluster create failed ($name)"
	fi
	cluster_ok() {
		local a info
		for a in "$@"; do
			info=$(rcli -p "${a##*:}" cluster info 2>/dev/null | tr -d '\r') || return 1
			grep -qx 'cluster_state:ok' <<<"$info" || return 1
			grep -qx "cluster_known_nodes:$nodes" <<<"$info" || return 1
			grep -qx 'cluster_slots_ok:16384' <<<"$info" || return 1
		done
	}
	for ((i = 0; i < 300; i++)); do
		cluster_ok "$@" && return 0
		sleep 0.1
	done
	for a in "$@"; do
		echo "-- node $a" >&2
		rcli -p "${a##*:}" cluster info >&2 || true
	done
	die "the cluster $name did not reach cluster_state:ok within 30 s"
}

# A replica syncs in the background after the cluster is created; a test
# that kills a primary needs its replica to be in sync to take over.
replicas_synced() {
	local a
	for a in "$@"; do
		rcli -p "${a##*:}" info replication 2>/dev/null | tr -d '\r' | grep -qx 'role:master' || continue
		rcli -p "${a##*:}" info replication 2>/dev/null | tr -d '\r' |
			grep -q '^slave0:.*state=online' || return 1
	done
}

section "starting redis"
REDIS_EXTRA=()
# Redis >= 7 disables DEBUG by default; allow it from loopback so tests can
# use DEBUG SLEEP and friends to simulate slow or stuck servers.
redis_major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
if [[ ${redis_major:-0} -ge 7 ]]; then
	REDIS_EXTRA+=(--enable-debug-command local)
fi

TLS_DIR=$TMP/tls
TLS_USER=cacheuser
TLS_PASSWORD=$(openssl rand -hex 16)
make_certs

# PostgreSQL starts while the Redis servers do (tools/postgres.sh).
pg_start_bg "$TMP"
launch_redis standalone standalone
I_STANDALONE=$I
I_CLUSTER=()
for n in 1 2 3; do
	launch_redis "cluster$n" cluster
	I_CLUSTER+=("$I")
done
I_HA=()
for n in 1 2 3 4 5 6; do
	launch_redis "ha$n" ha
	I_HA+=("$I")
done
launch_redis tls tls
I_TLS=$I
for ((i = 0; i < ${#R_NAME[@]}; i++)); do
	await_redis "$i"
done

REDIS_PORT=${R_PORT[I_STANDALONE]}
CLUSTER_ADDRS=()
for i in "${I_CLUSTER[@]}"; do CLUSTER_ADDRS+=("127.0.0.1:${R_PORT[i]}"); done
HA_ADDRS=()
for i in "${I_HA[@]}"; do
	HA_ADDRS+=("127.0.0.1:${R_PORT[i]}")
	HA_PORTS+=("${R_PORT[i]}")
done

# Both clusters are created at once: each waits for its gossip.
create_cluster cluster 0 3 "${CLUSTER_ADDRS[@]}" &
create_pid=$!
create_cluster cluster-ha 1 6 "${HA_ADDRS[@]}" || die "the 3+3 cluster failed"
wait "$create_pid" || die "the 3-primary cluster failed"
STEP="waiting for the 3+3 cluster's replicas"
for ((i = 0; i < 300; i++)); do
	replicas_synced "${HA_ADDRS[@]}" && break
	sleep 0.1
done
replicas_synced "${HA_ADDRS[@]}" || die "the 3+3 cluster's replicas did not sync within 30 s"
STEP="starting redis"

CLUSTER=$(
	IFS=,
	echo "${CLUSTER_ADDRS[*]}"
)
log "cluster: $CLUSTER (cluster_state:ok)"

# The 3+3 cluster's primaries, and a control file naming every node with
# its pid and the command that restarts it as it was (same port, config and
# node id):  127.0.0.1:PORT PID redis-server CONFIG
HA_PRIMARIES=()
HA_CONTROL=$TMP/cluster-ha.nodes
: >"$HA_CONTROL"
for i in "${I_HA[@]}"; do
	redis_args "$i" >/dev/null
	printf '127.0.0.1:%s %s redis-server %s\n' "${R_PORT[i]}" "${R_PID[i]}" "${ARGS[*]}" >>"$HA_CONTROL"
	if rcli -p "${R_PORT[i]}" info replication 2>/dev/null | tr -d '\r' | grep -qx 'role:master'; then
		HA_PRIMARIES+=("127.0.0.1:${R_PORT[i]}")
	fi
done
CLUSTER_HA=$(
	IFS=,
	echo "${HA_PRIMARIES[*]}"
)
log "cluster-ha: $CLUSTER_HA (3 primaries + 3 replicas, node timeout 2 s; nodes in $HA_CONTROL)"
log "tls: 127.0.0.1:${R_PORT[I_TLS]} (user $TLS_USER, CA $TLS_DIR/ca.crt)"

export REDCACHE_TEST_REDIS="127.0.0.1:$REDIS_PORT"
export REDCACHE_TEST_CLUSTER="$CLUSTER"
export REDCACHE_TEST_CLUSTER_HA="$CLUSTER_HA"
export REDCACHE_TEST_CLUSTER_HA_NODES="$HA_CONTROL"
export REDCACHE_TEST_TLS="127.0.0.1:${R_PORT[I_TLS]}"
export REDCACHE_TEST_TLS_CA="$TLS_DIR/ca.crt"
export REDCACHE_TEST_TLS_USER="$TLS_USER"
export REDCACHE_TEST_TLS_PASSWORD="$TLS_PASSWORD"
export REDCACHE_TEST_REQUIRE=1
STEP="starting postgres"
pg_wait || die "PostgreSQL did not start (tools/postgres.sh; its logs are in $TMP)"
log "postgres: $REDCACHE_TEST_POSTGRES"
STEP="starting redis"
log "servers up in $((SECONDS - START))s"

if ((SERVE)); then
	STEP="serving"
	printf '\n== servers are up; in another shell run:\n\n'
	printf 'export REDCACHE_TEST_REDIS=%s\n' "$REDCACHE_TEST_REDIS"
	printf 'export REDCACHE_TEST_CLUSTER=%s\n' "$REDCACHE_TEST_CLUSTER"
	for v in REDCACHE_TEST_CLUSTER_HA REDCACHE_TEST_CLUSTER_HA_NODES REDCACHE_TEST_TLS \
		REDCACHE_TEST_TLS_CA REDCACHE_TEST_TLS_USER REDCACHE_TEST_TLS_PASSWORD \
		REDCACHE_TEST_POSTGRES REDCACHE_TEST_REQUIRE; do
		printf 'export %s=%s\n' "$v" "${!v}"
	done
	printf '\n== press Ctrl-C to stop them\n'
	# Returns when a server dies, or at once on Ctrl-C (the trap then exits).
	# The 3+3 cluster's nodes are not watched: tests kill and restart them.
	watch=()
	for ((i = 0; i < ${#R_PID[@]}; i++)); do
		[[ ${R_KIND[i]} == ha ]] || watch+=("${R_PID[i]}")
	done
	wait -n "${watch[@]}" || true
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

run_packaging

section "go vet (workspace)"
go vet "${PATTERNS[@]}"
log "ok"

section "go test -race (workspace)"
# A package's tests may run past go test's default 10 minutes on two
# busy cores (core/tests holds most of the suite): the bound is CI's.
go test -race -count=1 -timeout 25m "${PATTERNS[@]}" "${GO_TEST_ARGS[@]}"

if ((QUICK)); then
	section "GOWORK=off pass skipped (--quick / REDCACHE_TEST_SHORT=1)"
else
	for d in "${MODULES[@]}"; do
		rel=${d#"$ROOT"/}
		section "module $rel alone (GOWORK=off): build, vet, test"
		(
			cd "$d"
			export GOWORK=off REDCACHE_FAULTS=off
			go build ./...
			go vet ./...
			go test -count=1 -timeout 25m ./... "${GO_TEST_ARGS[@]}"
		)
	done
fi

if ((!QUICK)); then
	run_soak "${REDCACHE_SOAK:-25s}"
fi

if ((!QUICK)); then
	section "redcache-bench --quick (figures only; nothing is asserted on them)"
	# It prints the targets once, labelled as information.
	go run ./tools/cmd/redcache-bench --quick --url "$REDCACHE_TEST_REDIS" \
		--out "$TMP/performance.md" --svg "$TMP/performance.svg"
fi

STEP="done"
if ((QUICK)); then
	standalone="GOWORK=off pass and bench skipped"
else
	standalone="${#MODULES[@]} modules built and tested alone; soak and bench --quick ran"
fi
printf '\n== PASS: gofmt, go vet, go test -race over %d workspace modules; %s (%ds)\n' \
	"${#MODULES[@]}" "$standalone" $((SECONDS - START))
