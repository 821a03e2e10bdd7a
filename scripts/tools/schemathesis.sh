# schemathesis: the property-based API fuzzer the chaos suite runs against GET /openapi.json
# (test/chaos/api-fuzz.test.ts). A Python virtual environment under the cache with the pinned
# packages of schemathesis-requirements.txt (PyPI); needs python3 >= 3.9 with venv. Opt-in:
# `provision.sh schemathesis` (the fuzz test asks for it), not part of a plain `provision.sh`.
SCHEMATHESIS_VERSION=4.32.5
OPT_IN_TOOLS="${OPT_IN_TOOLS:-} schemathesis"

resolve_schemathesis() {
  if [ -n "${SCHEMATHESIS_PATH:-}" ]; then
    [ -x "$SCHEMATHESIS_PATH" ] || { say "SCHEMATHESIS_PATH=$SCHEMATHESIS_PATH is not an executable file"; exit 3; }
    echo "SCHEMATHESIS_PATH=$SCHEMATHESIS_PATH"; return
  fi
  local reqs="$TOOLS_DIR/schemathesis-requirements.txt"
  # The venv's name carries a hash of the pins, so changing a pin builds a fresh one.
  local sum; sum="$(sha256sum "$reqs" | cut -c1-12)"
  local venv="$CACHE/schemathesis-$SCHEMATHESIS_VERSION-$sum"
  # Built in place (a venv's scripts name their interpreter by absolute path, so it cannot be
  # moved); `.complete` marks a finished install, and a half-built one is started again.
  if [ ! -f "$venv/.complete" ]; then
    local py="${PYTHON:-python3}"
    if ! command -v "$py" >/dev/null 2>&1; then
      say "schemathesis needs python3 (>= 3.9, with venv): install it, or point SCHEMATHESIS_PATH at a binary."
      exit 3
    fi
    say "installing schemathesis $SCHEMATHESIS_VERSION into a venv in $CACHE, first run only..."
    rm -rf "$venv"
    "$py" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$reqs" >&2
    "$venv/bin/schemathesis" --version >&2 || { say "schemathesis did not install"; exit 3; }
    touch "$venv/.complete"
  fi
  echo "SCHEMATHESIS_PATH=$venv/bin/schemathesis"
}
