# Azurite (blob service only): the Azure Blob emulator the `azure_blob` provider's conformance suite
# runs against. It is an npm devDependency (pinned in package.json), not built with Go.
AZURITE_PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

resolve_azurite() {
  if [ -n "${AZURITE_BLOB_PATH:-}" ]; then
    [ -x "$AZURITE_BLOB_PATH" ] || { say "AZURITE_BLOB_PATH=$AZURITE_BLOB_PATH is not an executable file"; exit 3; }
    echo "AZURITE_BLOB_PATH=$AZURITE_BLOB_PATH"; return
  fi
  local bin="$AZURITE_PROJECT_ROOT/node_modules/.bin/azurite-blob"
  if [ ! -x "$bin" ]; then
    say "azurite-blob is not installed at $bin: run \`npm install\` in $AZURITE_PROJECT_ROOT"
    say "(azurite is a devDependency), or point AZURITE_BLOB_PATH at an azurite-blob executable."
    exit 3
  fi
  echo "AZURITE_BLOB_PATH=$bin"
}
