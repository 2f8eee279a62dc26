#!/usr/bin/env bash
# tools/release.sh — release every module of the workspace at one version.
#
# The modules follow go-redis's extra/ scheme: each folder with a go.mod is a
# module of its own, tagged FOLDER/VERSION (conn/v0.1.0, conn/goredis/v0.1.0,
# core/v0.1.0, ...), and the modules require each other at that VERSION.
# Their replace ../x lines stay: they serve work inside the repository, and
# the go command ignores them in a module that is a dependency.
#
# Steps (docs/releasing.md tells the whole story, with what to push):
#
#   1. checks: VERSION is vMAJOR.MINOR.PATCH[-PRE] with MAJOR 0 or 1 (v2 and
#      later change every module path); the work tree is clean; no tag of
#      this release exists yet
#   2. bumps every require of a sibling module, in every go.mod of go.work
#      (test-only modules included), to VERSION; each such require must have
#      a replace line to its folder
#   3. checks that every module builds alone and is tidy, with GOWORK=off:
#      go vet ./... (compiles what each package imports and type-checks
#      every package and test file, with the module's own go.mod; it skips
#      linking the example programs, which costs minutes, and finds what
#      the runner's vet would) and go mod tidy -diff
#   4. commits the go.mod files ("release VERSION"), when they changed
#   5. tags that commit FOLDER/VERSION for every module but the test-only
#      ones (a folder named tests), with annotated tags
#   6. prints the push command: the branch and every tag, at once
#
# It pushes nothing.
#
# Usage:
#   bash tools/release.sh [--dry-run] [-C REPO] VERSION
#
#   --dry-run   do all of it in a throw-away clone of REPO's HEAD and print
#               what it would do: the go.mod changes, the checks, the commit
#               and the tags; REPO is left as it is
#   -C REPO     the repository to release (default: the one holding this
#               script)
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
die() {
	printf 'tools/release.sh: %s\n' "$*" >&2
	exit 1
}
log() { printf '%s\n' "$*"; }

DRY=0
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=""
while (($#)); do
	case $1 in
	--dry-run | -n) DRY=1 ;;
	-C)
		(($# >= 2)) || die "-C needs a folder"
		REPO=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	-*) die "unknown flag $1 (see --help)" ;;
	*)
		[[ -z $VERSION ]] || die "one VERSION only (see --help)"
		VERSION=$1
		;;
	esac
	shift
done
[[ -n $VERSION ]] || die "VERSION is missing, e.g. bash tools/release.sh --dry-run v0.1.0"
[[ $VERSION =~ ^v(0|1)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
	die "VERSION $VERSION is not vMAJOR.MINOR.PATCH[-PRE] with MAJOR 0 or 1 (v2 and later need /v2 in every module path)"
command -v go >/dev/null || die "go is not on PATH"
command -v git >/dev/null || die "git is not on PATH"

REPO=$(cd "$REPO" && git rev-parse --show-toplevel) || die "$REPO is not in a git repository"
[[ -f $REPO/go.work ]] || die "$REPO has no go.work: it lists the modules to release"
# The workspace is the one of REPO, whatever the caller's GOWORK says.
unset GOWORK

TMP=""
cleanup() {
	[[ -n $TMP && -d $TMP ]] && chmod -R u+w "$TMP" 2>/dev/null
	[[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
	return 0
}
trap cleanup EXIT

if ((DRY)); then
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcache-release.XXXXXX")
	log "dry run: rehearsing in a throw-away clone of $REPO at $(git -C "$REPO" rev-parse --short HEAD) ($TMP/repo);"
	log "         what is not committed in $REPO is not part of it"
	git clone -q --no-hardlinks "$REPO" "$TMP/repo"
	WORK=$TMP/repo
	# The clone's commit and tags need a name, which a CI machine may lack.
	export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-redcache release rehearsal} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-release@invalid}
	export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME} GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}
else
	WORK=$REPO
	[[ -z $(git -C "$WORK" status --porcelain) ]] ||
		die "the work tree of $WORK is not clean: commit or remove these first:
$(git -C "$WORK" status --short)"
fi
cd "$WORK"

# ------------------------------------------------------------------ modules

MOD_PATHS=()
MOD_DIRS=() # relative to WORK: "conn", "conn/goredis", "core/tests", ...
mods=$(go list -m -f '{{.Path}} {{.Dir}}') || die "go list -m failed in $WORK: is go.work consistent?"
while read -r path dir; do
	[[ -n $path ]] || continue
	rel=${dir#"$WORK"}
	rel=${rel#/}
	MOD_PATHS+=("$path")
	MOD_DIRS+=("${rel:-.}")
done <<<"$mods"
((${#MOD_PATHS[@]})) || die "go.work lists no module"

is_ours() {
	local p
	for p in "${MOD_PATHS[@]}"; do [[ $p == "$1" ]] && return 0; done
	return 1
}

test_only() { [[ $1 == tests || $1 == */tests ]]; }

tag_of() {
	if [[ $1 == . ]]; then printf '%s\n' "$VERSION"; else printf '%s/%s\n' "$1" "$VERSION"; fi
}

# sibling_requires DIR: the sibling modules that DIR's go.mod requires.
sibling_requires() {
	local p
	for p in $(cd "$1" && go mod edit -json | awk '
		/^\t"Require": \[/ { in_req = 1; next }
		in_req && /^\t\]/ { in_req = 0 }
		in_req && /"Path":/ { gsub(/[",]/, "", $2); print $2 }'); do
		is_ours "$p" && printf '%s\n' "$p"
	done
	return 0
}

# has_dir_replace DIR PATH: DIR's go.mod replaces PATH with a folder.
has_dir_replace() {
	(cd "$1" && go mod edit -print) | grep -Eq "^(replace )?[[:space:]]*$2 => \.\.?(/[^ ]*)?\$"
}

# Release order: a module after the siblings it requires (a module proxy
# asked for core@VERSION before conn@VERSION exists may remember the miss).
ORDER=()
placed=" "
for ((pass = 0; pass < ${#MOD_PATHS[@]} + 1; pass++)); do
	for ((i = 0; i < ${#MOD_PATHS[@]}; i++)); do
		[[ $placed == *" ${MOD_PATHS[i]} "* ]] && continue
		ready=1
		for r in $(sibling_requires "${MOD_DIRS[i]}"); do
			[[ $placed == *" $r "* ]] || ready=0
		done
		if ((ready)); then
			ORDER+=("$i")
			placed+="${MOD_PATHS[i]} "
		fi
	done
done
((${#ORDER[@]} == ${#MOD_PATHS[@]})) || die "the modules require each other in a cycle; go.work: ${MOD_PATHS[*]}"

TAGS=()
for i in "${ORDER[@]}"; do
	test_only "${MOD_DIRS[i]}" && continue
	TAGS+=("$(tag_of "${MOD_DIRS[i]}")")
done
for t in "${TAGS[@]}"; do
	if git rev-parse -q --verify "refs/tags/$t" >/dev/null; then
		die "tag $t exists already: $VERSION was released (pick the next version)"
	fi
done

log "release $VERSION of ${#TAGS[@]} modules (test-only modules are bumped, not tagged):"
for i in "${ORDER[@]}"; do
	if test_only "${MOD_DIRS[i]}"; then
		log "  ${MOD_PATHS[i]} (test-only: no tag)"
	else
		log "  ${MOD_PATHS[i]} -> tag $(tag_of "${MOD_DIRS[i]}")"
	fi
done

# -------------------------------------------------------------------- bump

log ""
log "== bumping the sibling requires to $VERSION"
CHANGED=()
for i in "${ORDER[@]}"; do
	d=${MOD_DIRS[i]}
	for r in $(sibling_requires "$d"); do
		has_dir_replace "$d" "$r" ||
			die "$d/go.mod requires $r without a replace line to its folder; add one (go mod edit -replace $r=<relative folder>) so the module builds from the repository"
		(cd "$d" && go mod edit -require="$r@$VERSION")
	done
	if ! git diff --quiet -- "$d/go.mod"; then
		CHANGED+=("$d/go.mod")
		log "  $d/go.mod"
	fi
done
((${#CHANGED[@]})) || log "  (every sibling require is at $VERSION already)"

# ------------------------------------------------------------------ checks

log ""
log "== every module alone (GOWORK=off): go vet ./... and go mod tidy -diff"
for i in "${ORDER[@]}"; do
	d=${MOD_DIRS[i]}
	started=$SECONDS
	(
		cd "$d"
		export GOWORK=off
		go vet ./... || die "$d does not build alone (GOWORK=off go vet ./..., above)"
		if ! diff=$(go mod tidy -diff 2>&1); then
			printf '%s\n' "$diff" >&2
			die "$d is not tidy (GOWORK=off go mod tidy -diff, above): run go mod tidy there and commit"
		fi
	)
	log "  $d: builds, tidy ($((SECONDS - started))s)"
done

# ---------------------------------------------------------- commit and tag

log ""
if ((${#CHANGED[@]})); then
	git commit -q -m "release $VERSION: the modules require each other at $VERSION" -- "${CHANGED[@]}"
	log "== committed $(git rev-parse --short HEAD): release $VERSION"
else
	log "== nothing to commit: the tags go on $(git rev-parse --short HEAD)"
fi
for i in "${ORDER[@]}"; do
	test_only "${MOD_DIRS[i]}" && continue
	git tag -a "$(tag_of "${MOD_DIRS[i]}")" -m "${MOD_PATHS[i]} $VERSION"
done
log "== tagged: ${TAGS[*]}"

branch=$(git symbolic-ref -q --short HEAD || echo HEAD)
log ""
if ((DRY)); then
	if ((${#CHANGED[@]})); then
		log "== the release commit's changes:"
		git --no-pager diff HEAD~1 HEAD -- "${CHANGED[@]}" | sed 's/^/    /'
		log ""
	fi
	log "== dry run: $REPO is unchanged; a real run makes the commit and the tags above in it"
	log ""
fi
log "== to publish, push the branch and every tag in one go (docs/releasing.md):"
log ""
log "    git push --atomic origin $branch ${TAGS[*]}"
log ""
log "   then check that it resolves from outside:"
log ""
log "    GOFLAGS=-mod=mod go list -m github.com/redcache/redcache/core@$VERSION"
