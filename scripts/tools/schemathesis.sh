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
  # The newest python3 found: CPython 3.11's ast.parse raises a spurious SystemError
  # (python/cpython#106905) inside hypothesis on some of our operations; 3.12 does not.
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then
    for c in python3.13 python3.12 python3; do
      if command -v "$c" >/dev/null 2>&1 && "$c" -c '' >/dev/null 2>&1; then py="$c"; break; fi
    done
  fi
  if [ -z "$py" ] || ! command -v "$py" >/dev/null 2>&1; then
    say "schemathesis needs python3 (>= 3.9, with venv; 3.12+ preferred): install it, or point SCHEMATHESIS_PATH at a binary."
    exit 3
  fi
  local pyver; pyver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  # The venv's name carries a hash of the pins and the interpreter's version, so changing either
  # builds a fresh one.
  local sum; sum="$(sha256sum "$reqs" | cut -c1-12)"
  local venv="$CACHE/schemathesis-$SCHEMATHESIS_VERSION-py$pyver-$sum"
  # Built in place (a venv's scripts name their interpreter by absolute path, so it cannot be
  # moved); `.complete` marks a finished install, and a half-built one is started again.
  if [ ! -f "$venv/.complete" ]; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into a venv in $CACHE, first run only..."
    rm -rf "$venv"
    "$py" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$reqs" >&2
    "$venv/bin/schemathesis" --version >&2 || { say "schemathesis did not install"; exit 3; }
    touch "$venv/.complete"
  fi
  echo "SCHEMATHESIS_PATH=$venv/bin/schemathesis"
}
