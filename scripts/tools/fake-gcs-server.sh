# fake-gcs-server: the GCS emulator the `gcs` provider's conformance suite runs against. v1.55.1's
# go.mod has no `replace` directive, so a plain `go install` builds it.
FAKE_GCS_SERVER_VERSION=v1.55.1

resolve_fake_gcs_server() {
  if [ -n "${FAKE_GCS_SERVER_PATH:-}" ]; then
    [ -x "$FAKE_GCS_SERVER_PATH" ] || { say "FAKE_GCS_SERVER_PATH=$FAKE_GCS_SERVER_PATH is not an executable file"; exit 3; }
    echo "FAKE_GCS_SERVER_PATH=$FAKE_GCS_SERVER_PATH"; return
  fi
  if command -v fake-gcs-server >/dev/null 2>&1; then
    echo "FAKE_GCS_SERVER_PATH=$(command -v fake-gcs-server)"; return
  fi
  local bin
  bin="$(go_install_pinned "fake-gcs-server-$FAKE_GCS_SERVER_VERSION" "github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION" fake-gcs-server FAKE_GCS_SERVER_PATH)"
  echo "FAKE_GCS_SERVER_PATH=$bin"
}
