# moto: an AWS look-alike server (PyPI `moto`, S3 + SQS only, with flask for its server mode), for
# the SQS change-feed test (test/integration/event-driven-sqs.test.ts): its S3 sends bucket event
# notifications to its SQS queues, as AWS does. A Python virtual environment under the cache with
# the pinned packages of moto-requirements.txt (~140 MB, ~30-40 s to install once); needs python3 >= 3.9
# with venv. MOTO_SERVER_PATH points at a `moto_server` binary instead.
MOTO_VERSION=5.2.5

resolve_moto() {
  if [ -n "${MOTO_SERVER_PATH:-}" ]; then
    [ -x "$MOTO_SERVER_PATH" ] || { say "MOTO_SERVER_PATH=$MOTO_SERVER_PATH is not an executable file"; exit 3; }
    echo "MOTO_SERVER_PATH=$MOTO_SERVER_PATH"; return
  fi
  local reqs="$TOOLS_DIR/moto-requirements.txt"
  local py="${PYTHON:-python3}"
  if ! command -v "$py" >/dev/null 2>&1 \
    || ! "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    say "moto needs Python >= 3.9 with the venv module ($py is missing or unfit): install python3 and"
    say "python3-venv, point PYTHON at such an interpreter, or MOTO_SERVER_PATH at a moto_server binary."
    exit 3
  fi
  # The venv's name carries a hash of the pins and the Python version, so changing either builds a
  # fresh one; `.complete` marks a finished install (a half-built one is started again).
  local sum; sum="$( { cat "$reqs"; "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-12)"
  local venv="$CACHE/moto-$MOTO_VERSION-$sum"
  if [ ! -f "$venv/.complete" ]; then
    say "installing moto $MOTO_VERSION into a venv in $CACHE, first run only..."
    rm -rf "$venv"
    "$py" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$reqs" >&2 \
      || { rm -rf "$venv"; say "installing $reqs failed"; exit 3; }
    [ -x "$venv/bin/moto_server" ] || { rm -rf "$venv"; say "moto_server did not install"; exit 3; }
    touch "$venv/.complete"
    say "built $venv"
  fi
  echo "MOTO_SERVER_PATH=$venv/bin/moto_server"
}
