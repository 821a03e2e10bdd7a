# The Temporal CLI (its `server start-dev` is the dev and test server). Later tags carry a
# `replace` directive and cannot be `go install`ed.
TEMPORAL_CLI_VERSION=v1.5.1

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
  local bin
  bin="$(go_install_pinned "temporal-$TEMPORAL_CLI_VERSION" "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" temporal TEMPORAL_CLI_PATH)"
  echo "TEMPORAL_CLI_PATH=$bin"
}

