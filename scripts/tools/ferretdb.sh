# FerretDB with its SQLite backend: the embedded MongoDB-compatible store.
FERRETDB_VERSION=v1.24.2
# Applied to the module source before building (see the patch's header): makes the SQLite backend's
# `_id` queries (internal/backends/sqlite/metadata/metadata.go, IDColumn) use the unique `_id` index
# that internal/backends/sqlite/metadata/registry.go creates, and pushes `_id` `$in`, `_id`-and-more
# filters and `_id` ranges with an `_id` sort and a limit down to it, and writes a multi-statement
# update by `_id` in one transaction without holding a pool connection per statement (the patch's
# header). The cache folder carries the patch's hash, so a changed patch builds anew.
FERRETDB_PATCH="$(dirname "${BASH_SOURCE[0]}")/../patches/ferretdb-sqlite-id-index.patch"

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
    say "using ferretdb from PATH; without scripts/patches/$(basename "$FERRETDB_PATCH") its _id lookups scan"
    echo "FERRETDB_PATH=$(command -v ferretdb)"; return
  fi
  local patch_hash
  patch_hash="$(sha256sum "$FERRETDB_PATCH" | cut -c1-12)"
  local bin="$CACHE/ferretdb-$FERRETDB_VERSION-$patch_hash/ferretdb"
  if [ ! -x "$bin" ]; then
    need_go "FerretDB" FERRETDB_PATH
    say "building FerretDB $FERRETDB_VERSION (SQLite backend, patched) into $CACHE, first run only (a few minutes)..."
    # The module as published lacks build/version/version.txt (generated from git in FerretDB's own
    # build), and a binary built without it exits at start. Build from a copy with the file written.
    local dir tmp
    dir="$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$dir" ] || { say "could not download github.com/FerretDB/FerretDB@$FERRETDB_VERSION"; exit 3; }
    tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
    cp -r "$dir/." "$tmp/src" 2>/dev/null || cp -r "$dir" "$tmp/src"
    chmod -R u+w "$tmp/src"
    echo "$FERRETDB_VERSION" > "$tmp/src/build/version/version.txt"
    (cd "$tmp/src" && patch -p1 --forward --quiet) < "$FERRETDB_PATCH" >&2 \
      || { say "scripts/patches/$(basename "$FERRETDB_PATCH") does not apply to FerretDB $FERRETDB_VERSION"; exit 3; }
    (cd "$tmp/src" && GOFLAGS=-buildvcs=false go build -o "$tmp/ferretdb" ./cmd/ferretdb) >&2
    mkdir -p "$(dirname "$bin")" && mv "$tmp/ferretdb" "$bin" && rm -rf "$tmp"
    say "built $bin"
  fi
  echo "FERRETDB_PATH=$bin"
}
