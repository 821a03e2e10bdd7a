#!/usr/bin/env bash
# Makes the pinned servers this project runs against available, building each once into a cache
# outside the checkout. Called by `npm run dev`, `npm test` and `.ci/run`.
#
# stdout: one KEY=value line per tool (what scripts/dev.ts and the tests read); progress: stderr.
# Resolution order per tool: an explicit setting -> a binary on PATH -> the cache -> build with Go.
#
# Each tool is one file in scripts/tools/<name>.sh defining `resolve_<name>`; its pinned version
# lives there. `provision.sh` alone provisions every tool but the opt-in ones (a tool script adds its
# name to OPT_IN_TOOLS: rclone, for the benchmarks); `provision.sh temporal ferretdb` only those.
set -euo pipefail
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)/tools"

CACHE="${BUCKET_SYNCS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bucket-syncs}"

say() { printf 'provision: %s\n' "$*" >&2; }

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    say "$1 is not available and Go is not installed to build it."
    say "Either install Go >= 1.24 (https://go.dev/dl/) and run this again, or point $2 at a binary."
    exit 3
  fi
}

# Serialise builds between concurrent callers (dev + test at once).
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# go_install_pinned NAME MODULE@VERSION BINARY SETTING -> builds into $CACHE/NAME/BINARY once and
# prints the path; SETTING is the variable that points at a binary instead (named when Go is missing).
go_install_pinned() {
  local name="$1" module="$2" binary="$3" setting="$4"
  local bin="$CACHE/$name/$binary"
  if [ ! -x "$bin" ]; then
    need_go "$name" "$setting"
    say "building $module into $CACHE, first run only..."
    local tmp; tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
    GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "$module" >&2
    mkdir -p "$(dirname "$bin")" && mv "$tmp/$binary" "$bin" && rm -rf "$tmp"
    say "built $bin"
  fi
  printf '%s' "$bin"
}

OPT_IN_TOOLS=""
for f in "$TOOLS_DIR"/*.sh; do
  # shellcheck source=/dev/null
  source "$f"
done

if [ "$#" -eq 0 ]; then
  set -- $(for f in "$TOOLS_DIR"/*.sh; do
    name="$(basename "$f" .sh)"
    case " $OPT_IN_TOOLS " in *" $name "*) ;; *) echo "$name" ;; esac
  done)
fi
for tool in "$@"; do
  "resolve_${tool//-/_}"
done
