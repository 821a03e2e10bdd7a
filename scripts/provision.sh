#!/usr/bin/env bash
# Makes the pinned servers this project runs against available, building each once into a cache
# outside the checkout. Called by `npm run dev`, `npm test` and `.ci/run`.
#
# stdout: one KEY=value line per tool (what scripts/dev.ts and the tests read); progress: stderr.
# Resolution order per tool: an explicit setting -> a binary on PATH -> the cache -> build with Go.
set -euo pipefail

CACHE="${BUCKET_SYNCS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bucket-syncs}"
TEMPORAL_CLI_VERSION=v1.5.1
FERRETDB_VERSION=v1.24.2

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

resolve_temporal() {
  if [ -n "${TEMPORAL_ADDRESS:-}" ] && [ -z "${TEMPORAL_CLI_PATH:-}" ]; then
    say "TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS is set: using that server, no Temporal CLI needed"
    return
  fi
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
    [ -x "$TEMPORAL_CLI_PATH" ] || { say "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file"; exit 3; }
    echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH"; return
  fi
  if command -v temporal >/dev/null 2>&1; then
    echo "TEMPORAL_CLI_PATH=$(command -v temporal)"; return
  fi
  local bin="$CACHE/temporal-$TEMPORAL_CLI_VERSION/temporal"
  if [ ! -x "$bin" ]; then
    need_go "The Temporal CLI" TEMPORAL_CLI_PATH
    say "building the Temporal CLI $TEMPORAL_CLI_VERSION into $CACHE, first run only (a few minutes)..."
    local tmp; tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
    GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2
    mkdir -p "$(dirname "$bin")" && mv "$tmp/temporal" "$bin" && rm -rf "$tmp"
    say "built $bin"
  fi
  echo "TEMPORAL_CLI_PATH=$bin"
}

resolve_ferretdb() {
  if [ -n "${MONGODB_URI:-}" ]; then
    say "MONGODB_URI is set: using that server, no FerretDB needed"
    return
  fi
  if [ -n "${FERRETDB_PATH:-}" ]; then
    [ -x "$FERRETDB_PATH" ] || { say "FERRETDB_PATH=$FERRETDB_PATH is not an executable file"; exit 3; }
    echo "FERRETDB_PATH=$FERRETDB_PATH"; return
  fi
  if command -v ferretdb >/dev/null 2>&1; then
    echo "FERRETDB_PATH=$(command -v ferretdb)"; return
  fi
  local bin="$CACHE/ferretdb-$FERRETDB_VERSION/ferretdb"
  if [ ! -x "$bin" ]; then
    need_go "FerretDB" FERRETDB_PATH
    say "building FerretDB $FERRETDB_VERSION (SQLite backend) into $CACHE, first run only (a few minutes)..."
    # The module as published lacks build/version/version.txt (generated from git in FerretDB's own
    # build), and a binary built without it exits at start. Build from a copy with the file written.
    local dir tmp
    dir="$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$dir" ] || { say "could not download github.com/FerretDB/FerretDB@$FERRETDB_VERSION"; exit 3; }
    tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
    cp -r "$dir/." "$tmp/src" 2>/dev/null || cp -r "$dir" "$tmp/src"
    chmod -R u+w "$tmp/src"
    echo "$FERRETDB_VERSION" > "$tmp/src/build/version/version.txt"
    (cd "$tmp/src" && GOFLAGS=-buildvcs=false go build -o "$tmp/ferretdb" ./cmd/ferretdb) >&2
    mkdir -p "$(dirname "$bin")" && mv "$tmp/ferretdb" "$bin" && rm -rf "$tmp"
    say "built $bin"
  fi
  echo "FERRETDB_PATH=$bin"
}

resolve_temporal
resolve_ferretdb
